package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/declset"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/mdtext"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// Running a verb on several declarations (-f given several times, or a
// directory): every declaration is loaded and checked against the others
// first, and nothing runs if one fails; then the verb runs on each in
// turn, with its own working directory and state, each one's output under
// a header; then one combined summary (a table, one JSON document, or one
// Markdown document), and
// the worst exit code (cmdutil.WorstExitCode). With one declaration the
// verb runs exactly as it does on its own.
//
// apply and destroy confirm per declaration, right below its plan: each
// declaration is its own project and state, and the question is asked
// where its changes are on screen. A refused (or interrupted) confirmation
// stops the run there: that declaration and the ones after it are left
// unchanged and reported as not run.

// declRun runs a verb on one declaration, writing its output to
// env.IO.Out; the error it returns ends that declaration's run, with the
// exit code cmdutil.ExitCodeOf gives it.
type declRun func(env cmdEnv, d *config.Declaration) error

// manyVerb is how a verb runs on several declarations.
type manyVerb struct {
	// json: the verb writes one JSON document per declaration on stdout
	// (--json, --format json); the combined output is then one document.
	json bool
	// markdown: the verb writes a Markdown summary per declaration on
	// stdout (--format markdown); the combined output is then one Markdown
	// document, the table of outcomes first, then each declaration's.
	markdown bool
	// noCombine names the chosen output format when several documents of
	// it cannot be combined into one (junit): a usage error with several
	// declarations.
	noCombine string
	// workdir is --workdir: one directory cannot hold several states.
	workdir string
	// emulator is --emulator: the kind of target places the default
	// working directories.
	emulator string
	// check runs before any file is read: the verb's flag checks (usage
	// errors, a confirmation that cannot be asked).
	check func() error
	// checkDecl runs on every declaration before the verb runs on any
	// (invoke's --credentials callers).
	checkDecl func(*config.Declaration) error
	// checkSet runs on all the declarations, after checkDecl, before the
	// verb runs on any (plan's --out names one plan file per declaration).
	checkSet func([]*config.Declaration) error
}

// manyOptions is what eachDeclaration needs of a verb's options struct.
type manyOptions interface {
	// many says how the verb runs on several declarations.
	many() manyVerb
	// setEnv and useDeclaration point a copy of the options at one
	// declaration, writing to env.
	setEnv(cmdEnv)
	useDeclaration(*config.Declaration)
}

// eachDeclaration is the RunE of a verb that takes several declarations
// (see manyDeclarationVerbs): with one -f FILE, runE's (run, or runF in
// tests); with several -f or a directory, run on every declaration
// through runMany, each on its own copy of opts.
func eachDeclaration[T any, O interface {
	*T
	manyOptions
}](env *cmdEnv, opts O, runF, run func(O) error) func(*cobra.Command, []string) error {
	single := runE(env, opts, runF, run)
	return func(cmd *cobra.Command, args []string) error {
		files := declFiles(cmd)
		if runF != nil || !severalOrDir(files) {
			return single(cmd, args)
		}
		env.Ctx = cmd.Context()
		return untilStopped(env.Ctx, stopGrace, func() error {
			return runMany(*env, files, opts.many(), func(e cmdEnv, d *config.Declaration) error {
				c := *opts
				o := O(&c)
				o.setEnv(e)
				o.useDeclaration(d)
				return run(o)
			})
		})
	}
}

// severalOrDir says whether files are more than one file, or a directory.
func severalOrDir(files []string) bool {
	if len(files) != 1 {
		return len(files) > 1
	}
	info, err := os.Stat(files[0]) // does not open it: a FIFO is left for the verb
	return err == nil && info.IsDir()
}

// declOutcome is what one declaration's run came to.
type declOutcome struct {
	decl *config.Declaration
	ran  bool
	code int
	err  error
	// out is the verb's stdout when it was captured (JSON, Markdown).
	out []byte
}

// runMany runs run on every declaration of files (see the top of this
// file) and returns the worst outcome: nil, a silent exit code (each
// declaration's error was printed under it), or the interruption.
func runMany(env cmdEnv, files []string, v manyVerb, run declRun) error {
	if v.check != nil {
		if err := v.check(); err != nil {
			return err
		}
	}
	if err := v.severalUsage(len(files)); err != nil {
		return err
	}
	set, err := cmdutil.Interruptible(env.Ctx, "reading the declarations", func() (*declset.Set, error) { return declset.Load(files) }, nil)
	if err != nil {
		return nothingChanged(err)
	}
	for _, s := range set.Skipped {
		fmt.Fprintf(env.IO.ErrOut, "Note: skipped %s.\n", s)
	}
	if len(set.Decls) == 1 {
		return run(env, set.Decls[0])
	}
	kind := target.KindGoogle
	if v.emulator != "" || env.Factory.Getenv(target.URLEnv) != "" {
		kind = target.KindEmulator
	}
	return runTogether(env, v, set.Decls, set.Skipped, kind, run)
}

// workdirsOn places each declaration's default working directory for a
// target of kind: what declset.Check compares.
func workdirsOn(kind target.Kind) declset.Workdir {
	return func(d *config.Declaration) (string, error) { return tf.DefaultWorkdir(d.File, d.Project, kind) }
}

// runTogether refuses what cannot apply to several declarations and
// declarations that conflict (their working directories those of a
// target of kind), then runs run on every one of decls and returns the
// worst outcome (see runMany).
func runTogether(env cmdEnv, v manyVerb, decls []*config.Declaration, skipped []declset.Skipped, kind target.Kind, run declRun) error {
	if err := v.severalUsage(len(decls)); err != nil {
		return err
	}
	if err := declset.Check(decls, workdirsOn(kind)); err != nil {
		return fmt.Errorf("these declarations cannot run together; nothing was run:\n%w", err)
	}
	if v.checkDecl != nil {
		for _, d := range decls {
			if err := v.checkDecl(d); err != nil {
				return err
			}
		}
	}
	if v.checkSet != nil {
		if err := v.checkSet(decls); err != nil {
			return err
		}
	}
	outcomes := make([]*declOutcome, len(decls))
	stopped := false
	for i, d := range decls {
		o := &declOutcome{decl: d}
		outcomes[i] = o
		if stopped {
			continue
		}
		o.ran = true
		o.out, o.err = runOne(env, v, d, i, len(decls), run)
		if o.err != nil && env.Ctx.Err() != nil {
			// As Run does: what failed once interrupted failed because of it.
			o.err = cmdutil.Interrupted(env.Ctx, "", o.err)
		}
		o.code = cmdutil.ExitCodeOf(o.err)
		if o.err != nil && !cmdutil.IsSilent(o.err) {
			fmt.Fprintf(env.IO.ErrOut, "Error: %s: %v\n", d.File, o.err)
		}
		// A refused confirmation or an interrupt stops the run (see the
		// top of this file); so does a usage error, which every
		// declaration would repeat.
		stopped = cmdutil.IsInterrupted(o.err) || errors.Is(o.err, ErrNotConfirmed) || o.code == cmdutil.ExitUsage
	}
	codes := make([]int, 0, len(outcomes))
	var interrupted error
	for _, o := range outcomes {
		if o.ran {
			codes = append(codes, o.code)
		}
		if cmdutil.IsInterrupted(o.err) {
			interrupted = o.err
		}
	}
	worst := cmdutil.WorstExitCode(codes...)
	var err error
	switch {
	case v.json:
		err = writeJSON(env.IO.Out, manyJSON(outcomes, skipped, worst))
	case v.markdown:
		err = writeManyMarkdown(env.IO.Out, outcomes, worst)
	default:
		err = writeManyTable(env.IO.Out, outcomes, worst)
	}
	switch {
	case err != nil:
		return err
	case interrupted != nil:
		return interrupted
	case worst == cmdutil.ExitOK:
		return nil
	}
	return cmdutil.WithExitCode(worst, nil)
}

// severalUsage refuses, as usage errors, what cannot apply to n > 1
// declarations.
func (v manyVerb) severalUsage(n int) error {
	switch {
	case n <= 1:
		return nil
	case v.workdir != "":
		return cmdutil.Usagef("--workdir names one declaration's working directory: with several declarations each gets its own; drop --workdir")
	case v.noCombine != "":
		return cmdutil.Usagef("--format %s makes one document per declaration: with several declarations use --format json (or table)", v.noCombine)
	}
	return nil
}

// runOne runs the i-th of n declarations under its header: the verb's
// output goes to stdout, or when the output is JSON or Markdown into the
// returned buffer (the header then goes to stderr).
func runOne(env cmdEnv, v manyVerb, d *config.Declaration, i, n int, run declRun) ([]byte, error) {
	header := fmt.Sprintf("==> [%d/%d] %s (project %s)\n", i+1, n, d.File, d.Project)
	ios := *env.IO
	var buf bytes.Buffer
	if v.json || v.markdown {
		fmt.Fprint(env.IO.ErrOut, header)
		ios.Out = &buf
	} else {
		if i > 0 {
			fmt.Fprintln(env.IO.Out)
		}
		fmt.Fprint(env.IO.Out, header)
	}
	one := env
	one.IO = &ios
	err := run(one, d)
	return buf.Bytes(), err
}

// outcome names o for the summary.
func (o *declOutcome) outcome() string {
	switch {
	case !o.ran:
		return "not run"
	case errors.Is(o.err, ErrNotConfirmed):
		return "not confirmed"
	case cmdutil.IsInterrupted(o.err):
		return "interrupted"
	}
	switch o.code {
	case cmdutil.ExitOK:
		return "ok"
	case cmdutil.ExitChanges:
		return "changes"
	case cmdutil.ExitVerifyFailed:
		return "verify failed"
	case cmdutil.ExitInvokeFailed:
		return "invoke failed"
	case cmdutil.ExitFindings:
		return "findings"
	case cmdutil.ExitDrift:
		return "drift"
	case cmdutil.ExitUsage:
		return "usage error"
	}
	return "error"
}

// writeManyTable writes the final table: file, project, outcome and exit
// code of every declaration.
func writeManyTable(w io.Writer, outcomes []*declOutcome, worst int) error {
	fmt.Fprintf(w, "\n%d declarations, exit code %d (the worst):\n", len(outcomes), worst)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tPROJECT\tOUTCOME\tEXIT")
	for _, o := range outcomes {
		code := "-"
		if o.ran {
			code = fmt.Sprint(o.code)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.decl.File, o.decl.Project, o.outcome(), code)
	}
	return tw.Flush()
}

// writeManyMarkdown writes the Markdown document of a run on several
// declarations: the outcomes first (a pull-request comment is read from
// the top), then each declaration's own summary, in order.
func writeManyMarkdown(w io.Writer, outcomes []*declOutcome, worst int) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "**%d declarations**, exit code %d (the worst):\n\n", len(outcomes), worst)
	rows := make([][]string, 0, len(outcomes))
	for _, o := range outcomes {
		code := "-"
		if o.ran {
			code = fmt.Sprint(o.code)
		}
		rows = append(rows, []string{mdtext.Code(o.decl.File), mdtext.Code(o.decl.Project), o.outcome(), code})
	}
	mdtext.Table(&buf, []string{"declaration", "project", "outcome", "exit"}, rows)
	for _, o := range outcomes {
		if len(o.out) > 0 {
			buf.WriteString("\n")
			buf.Write(o.out)
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// manyDocument is the JSON document of a run on several declarations.
type manyDocument struct {
	// ExitCode is the command's: the worst of the declarations'.
	ExitCode     int             `json:"exitCode"`
	Declarations []manyJSONEntry `json:"declarations"`
	Skipped      []skippedJSON   `json:"skipped,omitempty"`
}

type manyJSONEntry struct {
	File    string `json:"file"`
	Project string `json:"project"`
	Ran     bool   `json:"ran"`
	Outcome string `json:"outcome"`
	// ExitCode is absent for a declaration that did not run.
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
	// Result is the verb's own JSON document for this declaration.
	Result json.RawMessage `json:"result,omitempty"`
}

type skippedJSON struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

func manyJSON(outcomes []*declOutcome, skipped []declset.Skipped, worst int) manyDocument {
	doc := manyDocument{ExitCode: worst, Declarations: []manyJSONEntry{}}
	for _, o := range outcomes {
		e := manyJSONEntry{File: o.decl.File, Project: o.decl.Project, Ran: o.ran, Outcome: o.outcome()}
		if o.ran {
			code := o.code
			e.ExitCode = &code
		}
		if o.err != nil && !cmdutil.IsSilent(o.err) {
			e.Error = idtoken.Redact(o.err.Error())
		}
		if out := bytes.TrimSpace(o.out); len(out) > 0 && json.Valid(out) {
			e.Result = out
		}
		doc.Declarations = append(doc.Declarations, e)
	}
	for _, s := range skipped {
		doc.Skipped = append(doc.Skipped, skippedJSON{File: s.Path, Reason: s.Reason})
	}
	return doc
}

// The options of each verb that takes several declarations.

func (e *cmdEnv) setEnv(env cmdEnv) { *e = env }

func (o *ProvisionFlags) useDeclaration(d *config.Declaration) { o.File, o.loaded = d.File, d }

func (o *TargetFlags) useDeclaration(d *config.Declaration) { o.File = d.File }

// provisionMany is manyVerb for plan (confirms false), apply and destroy.
func (o *ProvisionFlags) provisionMany(env cmdEnv, confirms bool) manyVerb {
	return manyVerb{json: o.JSON, workdir: o.Workdir, emulator: o.Emulator, check: func() error {
		if err := checkSeedFlag(o.Emulator, o.Seed); err != nil || !confirms {
			return err
		}
		return needConfirmation(env, o)
	}}
}

func (o *ApplyOptions) many() manyVerb   { return o.provisionMany(o.cmdEnv, true) }
func (o *DestroyOptions) many() manyVerb { return o.provisionMany(o.cmdEnv, true) }

// proofMany is manyVerb for verify and invoke.
func proofMany(to *TargetFlags, po *ProofFlags, checkDecl func(*config.Declaration) error) manyVerb {
	v := manyVerb{emulator: to.Emulator, checkDecl: checkDecl, check: func() error {
		if err := checkSeedFlag(to.Emulator, to.Seed); err != nil {
			return err
		}
		return po.validate()
	}}
	switch f, _ := report.ParseFormat(po.Format); f {
	case report.FormatJSON:
		v.json = true
	case report.FormatMarkdown:
		v.markdown = true
	case report.FormatJUnit:
		v.noCombine = po.Format
	}
	return v
}

func (o *VerifyOptions) many() manyVerb { return proofMany(&o.TargetFlags, &o.ProofFlags, nil) }
func (o *InvokeOptions) many() manyVerb {
	return proofMany(&o.TargetFlags, &o.ProofFlags, o.checkCredentials)
}
