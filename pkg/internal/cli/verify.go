package cli

import (
	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// VerifyOptions are the inputs of `invokerctl verify`.
type VerifyOptions struct {
	cmdEnv
	TargetFlags
	ProofFlags
}

// NewCmdVerify builds `verify`; runF replaces verifyRun in tests.
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{cmdEnv: newCmdEnv(f)}
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
With --format markdown the report is a summary made for a pull-request comment; the same
summary is appended to $GITHUB_STEP_SUMMARY when that is set, whatever the format.

Exit codes: 0 every grant in force, 3 a grant missing or a service public by accident,
1 any other error.`,
		Example: `  invokerctl verify -f invokers.yaml
  invokerctl verify -f invokers.yaml --format junit > verify.xml
  invokerctl verify -f invokers.yaml --format markdown > comment.md
  invokerctl verify -f invokers.yaml --emulator=http://127.0.0.1:8080 --format json`,
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, verifyRun),
	}
	addTargetFlags(cmd, &opts.TargetFlags)
	addProofFlags(cmd, &opts.ProofFlags, false)
	return cmd
}

func verifyRun(opts *VerifyOptions) error {
	opts.command = "verify"
	p, stop, err := openProof(opts.cmdEnv, &opts.TargetFlags, &opts.ProofFlags)
	if err != nil {
		return err
	}
	defer stop()
	if err := p.runVerify(); err != nil {
		return err
	}
	verr := verifyError(p.verify)
	failed := ""
	if verr != nil {
		failed = "verify"
	}
	if err := p.write(opts.IO.Out, failed, nil); err != nil {
		return err
	}
	return verr
}
