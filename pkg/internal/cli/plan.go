package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/mdtext"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// PlanOptions are the inputs of `invokerctl plan`.
type PlanOptions struct {
	cmdEnv
	ProvisionFlags
	// Out is where --out saves the reviewed plan file ("" for none).
	Out string
	// Format is table, json or markdown ("" means table, or json with
	// --json).
	Format string
	// otherPlansNoted: the run over several declarations said which plan
	// files of the --out directory it leaves (see noteOtherPlans).
	otherPlansNoted bool
}

// Output formats of plan.
const (
	planFormatTable    = "table"
	planFormatJSON     = "json"
	planFormatMarkdown = "markdown"
)

// NewCmdPlan builds `plan`; runF replaces planRun in tests.
func NewCmdPlan(f *cmdutil.Factory, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "plan -f FILE|DIR [--out PLAN|DIR/] [--format table|json|markdown]",
		Short: "Show what provisioning a declaration would change",
		Long: `Validate the declaration, then run terraform init and plan in its working directory and
summarize the plan as grant changes: accounts to create or delete, invoker members to add
or remove per service. Terraform's own output goes to stderr as it runs.

--out PLAN saves the reviewed plan file (mode 0600: it can hold state values) for
'invokerctl apply PLAN' to apply exactly, later and on another runner; applying it
elsewhere needs remote state (terraform.backend in the declaration). --out DIR/ (a
directory: ending in / or existing) saves DIR/NAME.plan for the declaration NAME.yaml —
one per declaration with several -f or a directory of declarations — for
'invokerctl apply DIR/'.

--format markdown prints a summary for a pull-request comment: the grant changes, then
Terraform's full plan folded below. When $GITHUB_STEP_SUMMARY is set, that summary is
appended to it whatever the format.

Exit codes: 0 no changes, 2 changes present (like terraform plan -detailed-exitcode), 1 error.`,
		Example: `  invokerctl plan -f invokers.yaml
  invokerctl plan -f invokers.yaml --out reviewed.plan --format markdown
  invokerctl plan -f declarations/ --out plans/ --format markdown
  invokerctl plan -f examples/quickstart/invokers.yaml --emulator --seed examples/quickstart/seed.yaml
  invokerctl plan -f invokers.yaml --emulator=http://127.0.0.1:8080 --json`,
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, planRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, false)
	cmd.Flags().StringVar(&opts.Out, "out", "", "save the reviewed plan file to PLAN, for 'invokerctl apply PLAN'")
	cmd.Flags().StringVar(&opts.Format, "format", "", "output format: table, json or markdown (default table; --json is json)")
	return cmd
}

// planFormat resolves --format and --json; both together is a usage error.
func (opts *PlanOptions) planFormat() (string, error) {
	switch {
	case opts.Format != "" && opts.JSON:
		return "", cmdutil.Usage(errors.New("--json and --format conflict: --json is --format json"))
	case opts.JSON:
		return planFormatJSON, nil
	case opts.Format == "":
		return planFormatTable, nil
	}
	switch opts.Format {
	case planFormatTable, planFormatJSON, planFormatMarkdown:
		return opts.Format, nil
	}
	return "", cmdutil.Usagef("unknown --format %q: use table, json or markdown", opts.Format)
}

func planRun(opts *PlanOptions) error {
	format, err := opts.planFormat()
	if err != nil {
		return err
	}
	if opts.Out != "" && opts.Emulator == inProcessEmulator {
		// Its endpoint and its state end with this command: no apply
		// could ever match the plan.
		return cmdutil.Usage(errors.New("--out needs a target that outlives this command: Google, or a served emulator (--emulator=URL)"))
	}
	// JSON and Markdown go to stdout alone; notes and prompts to stderr.
	opts.JSON = format == planFormatJSON
	s, err := openProvision(opts.cmdEnv, &opts.ProvisionFlags)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.checkTargets(opts.cmdEnv); err != nil {
		return err
	}
	if err := s.runner.Init(opts.Ctx); err != nil {
		return tfInterrupted(opts.Ctx, "running terraform init", errNothingChanged, withUnlockHint(err, &opts.ProvisionFlags))
	}
	res, err := s.runner.Plan(opts.Ctx, false)
	if err != nil {
		return tfInterrupted(opts.Ctx, "running terraform plan", errNothingChanged, withUnlockHint(err, &opts.ProvisionFlags))
	}
	if opts.Out != "" {
		out, err := planOutPath(opts.Out, opts.File)
		if err != nil {
			return err
		}
		if out != opts.Out && !opts.otherPlansNoted {
			noteOtherPlans(opts.IO.ErrOut, opts.Out, []string{filepath.Base(out)})
		}
		if err := savePlan(opts.cmdEnv, s, &opts.ProvisionFlags, res, out); err != nil {
			return err
		}
	}
	var md []byte
	if format == planFormatMarkdown || opts.Factory.Getenv(cmdutil.StepSummaryEnv) != "" {
		text, err := s.runner.ShowPlanText(opts.Ctx, res.PlanFile)
		if err != nil {
			return tfInterrupted(opts.Ctx, "running terraform show", nil, err)
		}
		var buf bytes.Buffer
		writePlanMarkdown(&buf, s, res, text)
		md = buf.Bytes()
		if err := opts.Factory.AppendStepSummary(func(w io.Writer) error { _, err := w.Write(md); return err }); err != nil {
			return err
		}
	}
	switch format {
	case planFormatJSON:
		if err := writeJSON(opts.IO.Out, s.result(res)); err != nil {
			return err
		}
	case planFormatMarkdown:
		if _, err := opts.IO.Out.Write(md); err != nil {
			return err
		}
	default:
		res.Summary.Render(opts.IO.Out)
	}
	if res.Changes {
		return cmdutil.WithExitCode(cmdutil.ExitChanges, nil)
	}
	return nil
}

// writePlanMarkdown writes plan's Markdown summary: the outcome, the
// declaration, project and target, the grant changes (removals first),
// then Terraform's full plan folded.
func writePlanMarkdown(w io.Writer, s *provisionSession, res *tf.PlanResult, terraformPlan string) {
	fmt.Fprintf(w, "### invokerctl plan: %s\n\n", res.Summary.Outcome())
	fmt.Fprintf(w, "Declaration %s · project %s · %s\n\n", mdtext.Code(s.decl.File), mdtext.Code(s.decl.Project), s.target)
	res.Summary.RenderMarkdown(w)
	fmt.Fprintln(w)
	mdtext.Details(w, "Terraform plan", "", terraformPlan)
}
