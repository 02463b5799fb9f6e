package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

func init() { register(newVerifyCmd) }

// errVerifyFailed ends verify (and run) when a declared grant is not in force.
var errVerifyFailed = errors.New("verification failed: the policies in force do not match the declaration (see the report)")

// targetOptions select where the APIs are, for commands without Terraform.
type targetOptions struct {
	File     string
	Emulator string
	Seed     string
}

func addTargetFlags(cmd *cobra.Command, o *targetOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "", "declaration (invokers.yaml)")
	addEmulatorFlags(cmd, &o.Emulator, &o.Seed)
}

// addEmulatorFlags registers --emulator[=URL] and --seed.
func addEmulatorFlags(cmd *cobra.Command, emulatorURL, seed *string) {
	f := cmd.Flags()
	f.StringVar(emulatorURL, "emulator", "", "target the emulator at URL (token from $"+target.TokenEnv+"); with no URL, start one in-process (see --seed)")
	f.Lookup("emulator").NoOptDefVal = inProcessEmulator
	f.StringVar(seed, "seed", "", "seed file for the in-process emulator (--emulator without URL)")
}

func newVerifyCmd(ios *iostreams.IOStreams) *cobra.Command {
	to, po := &targetOptions{}, &proofOptions{}
	cmd := &cobra.Command{
		Use:   "verify -f FILE",
		Short: "Confirm through the Google APIs that every declared invoker grant is in force",
		Long: `Read, for every target of the declaration, the Cloud Run service's IAM policy (Run Admin
API v2), the project's policy (Resource Manager) and any custom roles (IAM), and report per
declared member whether it holds run.routes.invoke directly on the service
(present-direct), through the project (present-inherited), or not at all (missing).
Functions (2nd gen) are resolved to the Cloud Run service that backs them. Public
services (allUsers, allAuthenticatedUsers, invokerIamDisabled) fail unless the grant says
public: true; deleted principals and ingress settings that refuse callers are warned.

Exit codes: 0 every grant in force, 3 a grant missing or a service public by accident,
1 any other error.`,
		Example: `  invokerctl verify -f invokers.yaml
  invokerctl verify -f invokers.yaml --format junit > verify.xml
  invokerctl verify -f invokers.yaml --emulator=http://127.0.0.1:8080 --format json`,
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(cmd.Context(), ios, to, po, defaultProvisionDeps(), defaultProofDeps())
		},
	}
	addTargetFlags(cmd, to)
	addProofFlags(cmd, po, false)
	return cmd
}

// openProof loads the declaration and opens the proof stages.
func openProof(ctx context.Context, ios *iostreams.IOStreams, to *targetOptions, po *proofOptions, deps provisionDeps, pdeps proofDeps) (*proofStages, func(), error) {
	if to.File == "" {
		return nil, nil, &usageError{err: errors.New("-f FILE is required: the declaration")}
	}
	if err := checkSeedFlag(to.Emulator, to.Seed); err != nil {
		return nil, nil, err
	}
	if err := po.validate(); err != nil {
		return nil, nil, err
	}
	decl, err := config.Load(to.File)
	if err != nil {
		return nil, nil, err
	}
	t, stop, err := resolveTarget(ios, to.Emulator, to.Seed, decl.Project, deps)
	if err != nil {
		return nil, nil, err
	}
	p := &proofStages{ios: ios, decl: decl, target: t, o: po, deps: pdeps}
	if err := p.open(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return p, stop, nil
}

func runVerify(ctx context.Context, ios *iostreams.IOStreams, to *targetOptions, po *proofOptions, deps provisionDeps, pdeps proofDeps) error {
	p, stop, err := openProof(ctx, ios, to, po, deps, pdeps)
	if err != nil {
		return err
	}
	defer stop()
	if err := p.runVerify(ctx); err != nil {
		return err
	}
	verr := verifyError(p.verify)
	failed := ""
	if verr != nil {
		failed = "verify"
	}
	if err := p.write(ios.Out, failed, nil); err != nil {
		return err
	}
	return verr
}

// verifyError is how a verify report ends the command: nil when every
// grant is in force; exit 1 when a target's policies could not be read (an
// API failure: the verification is incomplete, not failed); else exit 3.
func verifyError(rep *verify.Report) error {
	unread := 0
	for _, r := range rep.Results {
		if r.Err != nil {
			unread++
		}
	}
	switch {
	case unread > 0:
		return fmt.Errorf("verification incomplete: the policies of %d target(s) could not be read (see the report)", unread)
	case !rep.OK():
		return WithExitCode(ExitVerifyFailed, errVerifyFailed)
	}
	return nil
}
