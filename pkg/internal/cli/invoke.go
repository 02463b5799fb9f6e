package cli

import (
	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
)

// InvokeOptions are the inputs of `invokerctl invoke`.
type InvokeOptions struct {
	cmdEnv
	TargetFlags
	ProofFlags
}

// NewCmdInvoke builds `invoke`; runF replaces invokeRun in tests.
func NewCmdInvoke(f *cmdutil.Factory, runF func(*InvokeOptions) error) *cobra.Command {
	opts := &InvokeOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "invoke -f FILE",
		Short: "Call each declared service with its caller's ID token, and prove refusals",
		Long: `For every grant, mint the caller's Google-signed ID token for the service's audience and
call the service (method, path, body and expected status from the grant's invoke block).
A 403 right after a grant is IAM propagation: it is retried with backoff for up to
--max-wait, and the time the grant took to become effective is reported. The service must
also refuse an unauthenticated call (unless the grant is public) and, when the grant names
a refusedCaller, that caller. Event-driven functions can only be called by their event
source and are skipped with that reason.

Tokens come from impersonation by default (the operator needs
roles/iam.serviceAccountTokenCreator on the caller); --credentials picks another source per
caller. Tokens are never printed, logged or written to disk. With --format markdown the
report is a summary made for a pull-request comment; the same summary is appended to
$GITHUB_STEP_SUMMARY when that is set, whatever the format.

Exit codes: 0 every check passed, 4 a service gave the wrong answer (a declared caller refused,
or a caller without a grant allowed), 1 a check could not be completed (token minting, network,
API errors, timeouts), the run was interrupted, or any other error.`,
		Example: `  invokerctl invoke -f invokers.yaml
  invokerctl invoke -f invokers.yaml --credentials orders-caller=key:./orders-caller.json
  invokerctl invoke -f invokers.yaml --credentials '*=token-env:ID_TOKEN' --format junit`,
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, invokeRun),
	}
	addTargetFlags(cmd, &opts.TargetFlags)
	addProofFlags(cmd, &opts.ProofFlags, true)
	return cmd
}

func invokeRun(opts *InvokeOptions) error {
	opts.command = "invoke"
	p, stop, err := openProof(opts.cmdEnv, &opts.TargetFlags, &opts.ProofFlags)
	if err != nil {
		return err
	}
	defer stop()
	if err := opts.checkCredentials(p.decl); err != nil {
		return err
	}
	// The service reads of verify give each target's URLs and kind.
	if err := p.runVerify(); err != nil {
		return err
	}
	if err := p.runInvoke(); err != nil {
		return err
	}
	// invoke reports only its own stage; verify problems are verify's job.
	p.verify = nil
	failed := ""
	if pipeline.Failed(p.invoke) {
		failed = "invoke"
	}
	if err := p.write(opts.IO.Out, failed, nil); err != nil {
		return err
	}
	return p.invokeVerdict()
}
