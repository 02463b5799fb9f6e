package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
)

func init() { register(newInvokeCmd) }

var errInvokeFailed = errors.New("invocation failed: a declared caller was refused, or a caller without a grant was allowed (see the report)")

func newInvokeCmd(ios *iostreams.IOStreams) *cobra.Command {
	to, po := &targetOptions{}, &proofOptions{}
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
caller. Tokens are never printed, logged or written to disk.

Exit codes: 0 every check passed, 4 a check failed, 1 any other error.`,
		Example: `  invokerctl invoke -f invokers.yaml
  invokerctl invoke -f invokers.yaml --credentials orders-caller=key:./orders-caller.json
  invokerctl invoke -f invokers.yaml --credentials '*=token-env:ID_TOKEN' --format junit`,
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInvoke(cmd.Context(), ios, to, po, defaultProvisionDeps(), defaultProofDeps())
		},
	}
	addTargetFlags(cmd, to)
	addProofFlags(cmd, po, true)
	return cmd
}

func runInvoke(ctx context.Context, ios *iostreams.IOStreams, to *targetOptions, po *proofOptions, deps provisionDeps, pdeps proofDeps) error {
	p, stop, err := openProof(ctx, ios, to, po, deps, pdeps)
	if err != nil {
		return err
	}
	defer stop()
	if err := po.checkCredentials(p.decl); err != nil {
		return err
	}
	// The service reads of verify give each target's URLs and kind.
	if err := p.runVerify(ctx); err != nil {
		return err
	}
	if err := p.runInvoke(ctx); err != nil {
		return err
	}
	// invoke reports only its own stage; verify problems are verify's job.
	p.verify = nil
	failed := ""
	if pipeline.Failed(p.invoke) {
		failed = "invoke"
	}
	if err := p.write(ios.Out, failed, nil); err != nil {
		return err
	}
	if failed != "" {
		return WithExitCode(ExitInvokeFailed, errInvokeFailed)
	}
	return nil
}
