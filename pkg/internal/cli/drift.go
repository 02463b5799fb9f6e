package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/render"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/declset"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/mdtext"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// DriftOptions are the inputs of `invokerctl drift`.
type DriftOptions struct {
	cmdEnv
	Files    []string
	Format   string
	Emulator string
	Seed     string

	format render.Format
}

// driftFormats are the formats drift writes.
var driftFormats = []render.Format{render.Table, render.JSON, render.Markdown, render.SARIF}

// NewCmdDrift builds `drift`; runF replaces driftRun in tests.
func NewCmdDrift(f *cmdutil.Factory, runF func(*DriftOptions) error) *cobra.Command {
	opts := &DriftOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "drift -f FILE|DIR [-f FILE|DIR...]",
		Short: "Compare what is live with the declarations, both ways, changing nothing",
		Long: `Read every declared target (the declared services and functions only) the way verify does,
and report what differs from the declarations, in both directions:
declared grants missing (INV070; a grant lost because the service was re-created says so),
invokers present that no declaration lists (INV071, click-ops), declared accounts deleted
(INV070) or disabled (INV072), deleted principals still bound (INV030), and public exposure
(allUsers, allAuthenticatedUsers, invokerIamDisabled) on a target no declaration marks
public: true (INV001-INV003). Nothing is changed.

-f takes declaration files and directories (every *.yaml and *.yml file in one with
apiVersion: invokerctl/v1); all of them are compared together, so a member one declaration
grants on a service is not reported as click-ops because another names that service too.

The Markdown summary is appended to $GITHUB_STEP_SUMMARY when it is set, whatever --format.

Exit codes: 0 no drift, 6 drift, 1 an error (a read failed: the report still comes out,
naming it), 64 a usage error.`,
		Example: `  invokerctl drift -f invokers.yaml
  invokerctl drift -f team-a.yaml -f team-b.yaml --format sarif > drift.sarif
  invokerctl drift -f invokers.yaml --format markdown
  invokerctl drift -f declarations/ --format sarif > drift.sarif`,
		Args: noArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, driftRun),
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.Files, "file", "f", nil, "declaration file, or a directory of them (repeatable)")
	fl.StringVar(&opts.Format, "format", "table", "output format: table, json, markdown or sarif")
	addEmulatorFlags(cmd, &opts.Emulator, &opts.Seed)
	return cmd
}

// validate turns every flag problem into a usage error, before any read.
func (o *DriftOptions) validate() error {
	if len(o.Files) == 0 {
		return cmdutil.Usage(errors.New("-f FILE is required: the declaration(s) to compare with"))
	}
	o.format = ""
	names := make([]string, len(driftFormats))
	for i, f := range driftFormats {
		names[i] = string(f)
		if string(f) == o.Format {
			o.format = f
		}
	}
	if o.format == "" {
		return cmdutil.Usagef("unknown format %q (want %s)", o.Format, strings.Join(names, ", "))
	}
	return checkSeedFlag(o.Emulator, o.Seed)
}

// loadDeclarations reads and validates the declarations of files and
// directories (declset.Load: every declaration of a directory), in order:
// the one place drift loads them. Drift compares all of them with the
// live policies together: a member one declaration grants is not
// click-ops on a service another declaration names too.
func loadDeclarations(env cmdEnv, files []string) ([]*config.Declaration, error) {
	set, err := cmdutil.Interruptible(env.Ctx, "reading the declarations", func() (*declset.Set, error) { return declset.Load(files) }, nil)
	if err != nil {
		return nil, nothingChanged(err)
	}
	for _, s := range set.Skipped {
		fmt.Fprintf(env.IO.ErrOut, "Note: skipped %s.\n", s)
	}
	return set.Decls, nil
}

// driftResult is what drift found, with what it was looking at.
type driftResult struct {
	decls  []*config.Declaration
	report *audit.Report
}

func driftRun(opts *DriftOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	decls, err := loadDeclarations(opts.cmdEnv, opts.Files)
	if err != nil {
		return err
	}
	t, stop, err := resolveTarget(opts.cmdEnv, opts.Emulator, opts.Seed, decls[0].Project)
	if err != nil {
		return err
	}
	defer stop()
	ctx, ios := opts.Ctx, opts.IO
	clients, err := gcp.New(ctx, gcp.Options{Endpoint: t.APIEndpoint(), TokenSource: t.TokenSource(), UserAgent: "invokerctl/" + Version})
	if err != nil {
		return err
	}
	var exps []verify.Expectation
	for _, d := range decls {
		exps = append(exps, pipeline.Expectations(d)...)
	}
	fmt.Fprintf(ios.ErrOut, "Comparing %d declared grant(s) of %s with %s...\n", len(exps), strings.Join(opts.Files, ", "), t)
	vrep, err := (&verify.Verifier{Clients: clients}).Verify(ctx, exps)
	if err != nil && ctx.Err() != nil {
		return cmdutil.Interrupted(ctx, "reading the policies", nil)
	}
	if err != nil {
		return err
	}
	rep := audit.DeclaredTargets(vrep)
	accounts, accErrs := audit.ReadAccounts(ctx, clients.IAM, audit.AccountEmails(exps))
	if ctx.Err() != nil {
		return cmdutil.Interrupted(ctx, "reading the declared accounts", nil)
	}
	rep.Errors = append(rep.Errors, accErrs...)
	apply := "invokerctl apply"
	for _, f := range opts.Files {
		apply += " -f " + f
	}
	rep.Findings = audit.DeclaredDrift(rep, audit.Declared{Expectations: exps, Accounts: accounts, Apply: apply})
	rep.Sort()
	res := &driftResult{decls: decls, report: rep}

	if opts.format == render.Markdown {
		err = res.writeMarkdown(ios.Out)
	} else {
		err = render.Write(ios.Out, opts.format, rep, render.Info{Version: Version, Tool: "invokerctl drift"})
	}
	if err != nil {
		return err
	}
	if err := opts.Factory.AppendStepSummary(res.writeMarkdown); err != nil {
		return err
	}
	if len(rep.Errors) > 0 {
		first := rep.Errors[0]
		return fmt.Errorf("drift incomplete: %d read(s) failed, first: could not %s %s: %s", len(rep.Errors), first.What, first.Resource, first.Message)
	}
	if n := len(rep.Findings); n > 0 {
		return cmdutil.WithExitCode(cmdutil.ExitDrift, fmt.Errorf("drift: %d finding(s): the live policies differ from the declaration(s) (see the report)", n))
	}
	return nil
}

// outcome is the summary's one-line outcome.
func (r *driftResult) outcome() string {
	rep := r.report
	var parts []string
	if n := len(rep.Errors); n > 0 {
		parts = append(parts, fmt.Sprintf("%d read error(s)", n))
	}
	if n := len(rep.Findings); n > 0 {
		bySeverity := map[audit.Severity]int{}
		for _, f := range rep.Findings {
			bySeverity[f.Severity]++
		}
		var sev []string
		for _, s := range []audit.Severity{audit.Critical, audit.High, audit.Medium, audit.Low} {
			if bySeverity[s] > 0 {
				sev = append(sev, fmt.Sprintf("%d %s", bySeverity[s], s))
			}
		}
		parts = append(parts, fmt.Sprintf("%d drift finding(s) (%s)", n, strings.Join(sev, ", ")))
	}
	if len(parts) == 0 {
		return "no drift"
	}
	return strings.Join(parts, "; ")
}

// writeMarkdown writes the summary: the outcome, what was compared, the
// read errors and findings (problems first), and the grants in force
// folded below.
func (r *driftResult) writeMarkdown(w io.Writer) error {
	rep := r.report
	fmt.Fprintf(w, "### invokerctl drift: %s\n\n", r.outcome())
	var files, projects []string
	seen := map[string]bool{}
	targets := 0
	for _, d := range r.decls {
		files = append(files, mdtext.Code(d.File))
		if !seen[d.Project] {
			seen[d.Project] = true
			projects = append(projects, mdtext.Code(d.Project))
		}
		targets += len(d.Grants)
	}
	fmt.Fprintf(w, "%s · project %s · %d declared target(s), %d service(s) read\n\n", strings.Join(files, ", "), strings.Join(projects, ", "), targets, len(rep.Services))
	if len(rep.Errors) > 0 {
		var rows [][]string
		for _, e := range rep.Errors {
			rows = append(rows, []string{e.What, mdtext.Code(e.Resource), e.Message})
		}
		mdtext.Table(w, []string{"read failed", "resource", "error"}, rows)
		fmt.Fprintln(w)
	}
	if len(rep.Findings) > 0 {
		var rows [][]string
		for _, f := range rep.Findings {
			rows = append(rows, []string{string(f.Severity), f.Rule + " " + f.Name, mdtext.Code(f.Service), f.Message, f.Fix})
		}
		mdtext.Table(w, []string{"severity", "rule", "target", "finding", "fix"}, rows)
		fmt.Fprintln(w)
	}
	var grants strings.Builder
	for _, s := range rep.Services {
		fmt.Fprintf(&grants, "%s\n", s.Label())
		if len(s.Grants) == 0 {
			fmt.Fprintln(&grants, "  no grant of run.routes.invoke")
		}
		for _, g := range s.Grants {
			fmt.Fprintf(&grants, "  %s  %s  %s\n", g.Principal, g.Role, g.Path)
		}
	}
	if grants.Len() > 0 {
		mdtext.Details(w, "Invokers in force on the declared targets", "", grants.String())
	}
	return nil
}
