package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

func init() { register(newApplyCmd) }

// ErrNotConfirmed is returned when apply or destroy was not confirmed.
var ErrNotConfirmed = errors.New("not confirmed: nothing was changed")

// errNoTerminal is returned when confirmation is needed but cannot be asked.
var errNoTerminal = errors.New("refusing to change anything without confirmation: standard input is not a terminal; pass --auto-approve")

func newApplyCmd(ios *iostreams.IOStreams) *cobra.Command {
	o := &provisionOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--auto-approve]",
		Short: "Provision a declaration: create its accounts and grant roles/run.invoker",
		Long: `Validate the declaration, plan, show the grant changes and, once confirmed, apply exactly
that plan. Without --auto-approve the confirmation is asked on the terminal; when standard
input is not a terminal, apply refuses. After applying, the accounts and the bindings
Terraform manages are listed (or printed as JSON with --json).

State is kept in the working directory (or the declared backend) and never deleted: a
failed apply is resumed by running apply again.

Exit codes: 0 applied or nothing to do, 1 error or not confirmed.`,
		Example: `  invokerctl apply -f invokers.yaml
  invokerctl apply -f invokers.yaml --auto-approve --json
  invokerctl apply -f invokers.yaml --emulator=http://127.0.0.1:8080 --auto-approve`,
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), ios, o, defaultProvisionDeps())
		},
	}
	addProvisionFlags(cmd, o, true)
	return cmd
}

func runApply(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, deps provisionDeps) error {
	return planAndApply(ctx, ios, o, deps, false)
}

// planAndApply is apply, or destroy when destroy is set: plan, show,
// confirm, apply that plan file.
func planAndApply(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, deps provisionDeps, destroy bool) error {
	if o.File != "" && !o.AutoApprove && !deps.isTerminal(ios.In) {
		// Checked before anything runs, so a CI job without the flag
		// fails fast instead of after a plan.
		return errNoTerminal
	}
	s, err := openProvision(ctx, ios, o, deps)
	if err != nil {
		return err
	}
	defer s.Close()
	out, err := s.planApply(ctx, ios, o, destroy)
	if o.JSON && out != nil {
		if jerr := writeJSON(ios.Out, out); err == nil {
			err = jerr
		}
	}
	if err != nil || o.JSON {
		return err
	}
	applied := *out.Applied
	switch {
	case destroy && applied:
		fmt.Fprintln(ios.Out, "Destroyed: the accounts and grants of this declaration are gone.")
	case applied:
		fmt.Fprintln(ios.Out, "Applied.")
		renderOutputs(ios.Out, out.Outputs)
	case !destroy:
		renderOutputs(ios.Out, out.Outputs)
	}
	return nil
}

// planApply runs init, plan, shows the summary, confirms (unless
// --auto-approve) and applies exactly that plan file, then reads the
// outputs. The result is nil when nothing was planned; after a failed apply
// it is returned with the error so --json still reports what happened.
func (s *provisionSession) planApply(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, destroy bool) (*provisionResult, error) {
	if err := s.runner.Init(ctx); err != nil {
		return nil, err
	}
	res, err := s.runner.Plan(ctx, destroy)
	if err != nil {
		return nil, err
	}
	out := s.result(res)
	applied := false
	out.Applied = &applied
	if !o.JSON || !o.AutoApprove {
		res.Summary.Render(humanOut(ios, o))
	}
	if res.Changes {
		if !o.AutoApprove {
			verb := "Apply these changes"
			if destroy {
				verb = "Destroy everything listed above"
			}
			ok, err := confirm(ios.In, humanOut(ios, o), verb)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, ErrNotConfirmed
			}
		}
		if err := s.runner.Apply(ctx, res.PlanFile); err != nil {
			return out, err
		}
		applied = true
	}
	if !destroy {
		if out.Outputs, err = s.runner.Outputs(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

// humanOut is where prompts and summaries go: stdout, or stderr when stdout
// carries JSON.
func humanOut(ios *iostreams.IOStreams, o *provisionOptions) io.Writer {
	if o.JSON || o.humanToStderr {
		return ios.ErrOut
	}
	return ios.Out
}

// confirm asks a y/N question on in.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s? Only 'y' or 'yes' confirms. [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(out)
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func renderOutputs(w io.Writer, o *tf.Outputs) {
	if o == nil {
		return
	}
	if len(o.ServiceAccountEmails) > 0 {
		fmt.Fprintln(w, "Service accounts:")
		for _, k := range sortedKeys(o.ServiceAccountEmails) {
			fmt.Fprintf(w, "  %s  %s\n", k, o.ServiceAccountEmails[k])
		}
	}
	type line struct{ target, member, mode string }
	var lines []line
	for _, m := range o.InvokerMembers {
		lines = append(lines, line{m.Project + "/" + m.Location + "/" + m.Service, m.Member, ""})
	}
	for _, b := range o.InvokerBindings {
		for _, m := range b.Members {
			lines = append(lines, line{b.Project + "/" + b.Location + "/" + b.Service, m, " (authoritative)"})
		}
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].target != lines[j].target {
			return lines[i].target < lines[j].target
		}
		return lines[i].member < lines[j].member
	})
	if len(lines) > 0 {
		fmt.Fprintln(w, "roles/run.invoker managed by this declaration:")
		for _, l := range lines {
			fmt.Fprintf(w, "  %s  %s%s\n", l.target, l.member, l.mode)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
