package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// Several declarations (-f repeated, or a directory): one run over all of
// them, one combined summary, the worst exit code; conflicts and usage
// mistakes refused before anything runs.

const manyHead = "apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"

// manyDir writes files (name -> content) into a new directory.
func manyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		proofWrite(t, dir, name, content)
	}
	return dir
}

// manyRow is one row of the final table.
type manyRow struct{ file, project, outcome, code string }

var manyRowRe = regexp.MustCompile(`^(\S+)\s+(\S+)\s+(.+?)\s+(\S+)$`)

// manyTable parses the final table of a run on several declarations.
func manyTable(t *testing.T, stdout string) (header string, rows []manyRow) {
	t.Helper()
	i := strings.LastIndex(stdout, "\nFILE ")
	if i < 0 {
		t.Fatalf("no final table in:\n%s", stdout)
	}
	before := strings.Split(strings.TrimRight(stdout[:i], "\n"), "\n")
	header = before[len(before)-1]
	for _, line := range strings.Split(strings.TrimSpace(stdout[i+1:]), "\n")[1:] {
		m := manyRowRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("table row %q", line)
		}
		rows = append(rows, manyRow{m[1], m[2], m[3], m[4]})
	}
	return header, rows
}

// manyDoc is the JSON document of a run on several declarations.
type manyDoc struct {
	ExitCode     int `json:"exitCode"`
	Declarations []struct {
		File     string          `json:"file"`
		Project  string          `json:"project"`
		Ran      bool            `json:"ran"`
		Outcome  string          `json:"outcome"`
		ExitCode *int            `json:"exitCode"`
		Error    string          `json:"error"`
		Result   json.RawMessage `json:"result"`
	} `json:"declarations"`
	Skipped []struct{ File, Reason string } `json:"skipped"`
}

func parseManyDoc(t *testing.T, r cliResult) manyDoc {
	t.Helper()
	var d manyDoc
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.Stdout)
	}
	return d
}

// verify and invoke on a directory of two declarations, one in force and
// one not: both run and are reported, under their headers, in one table or
// one JSON document, and the command exits with the worse code.
func TestManyVerifyAndInvoke(t *testing.T) {
	t.Parallel()
	p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: direct-caller
  - accountId: lonely-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
  - name: billing-api
`, nil)
	dir := manyDir(t, map[string]string{
		"a-orders.yaml":  manyHead + "serviceAccounts:\n  - name: direct-caller\ngrants:\n  - service: orders-api\n    members: [direct-caller]\n",
		"b-billing.yml":  manyHead + "serviceAccounts:\n  - name: lonely-caller\ngrants:\n  - service: billing-api\n    members: [lonely-caller]\n",
		"kustomize.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nresources: []\n",
	})
	a, b := filepath.Join(dir, "a-orders.yaml"), filepath.Join(dir, "b-billing.yml")

	r := p.mustRun(t, cmdutil.ExitVerifyFailed, nil, "verify", "-f", dir)
	ia, ib := strings.Index(r.Stdout, "==> [1/2] "+a+" (project demo-project)"), strings.Index(r.Stdout, "==> [2/2] "+b)
	if ia < 0 || ib < ia {
		t.Fatalf("no header per declaration, in order:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout[ia:ib], "PASS") || !strings.Contains(r.Stdout[ib:], "FAIL") {
		t.Errorf("each declaration's report does not follow its header:\n%s", r.Stdout)
	}
	header, rows := manyTable(t, r.Stdout)
	if header != "2 declarations, exit code 3 (the worst):" {
		t.Errorf("table header %q", header)
	}
	want := []manyRow{{a, "demo-project", "ok", "0"}, {b, "demo-project", "verify failed", "3"}}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("table %+v, want %+v", rows, want)
	}
	if !strings.Contains(r.Stderr, "Note: skipped "+filepath.Join(dir, "kustomize.yaml")+`: not a declaration (apiVersion "kustomize.config.k8s.io/v1beta1")`) {
		t.Errorf("no note about the skipped file:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "Error: "+b+": verification failed") {
		t.Errorf("the failure is not named with its file:\n%s", r.Stderr)
	}

	// --format json: one document, each declaration's report in it.
	r = p.mustRun(t, cmdutil.ExitVerifyFailed, nil, "verify", "-f", b, "-f", a, "--format", "json")
	d := parseManyDoc(t, r)
	if d.ExitCode != 3 || len(d.Declarations) != 2 || len(d.Skipped) != 0 {
		t.Fatalf("document %+v", d)
	}
	for i, w := range []struct {
		file    string
		code    int
		outcome string
		ok      bool
	}{{b, 3, "verify failed", false}, {a, 0, "ok", true}} {
		e := d.Declarations[i]
		var rep struct {
			File string `json:"file"`
			OK   bool   `json:"ok"`
		}
		if err := json.Unmarshal(e.Result, &rep); err != nil {
			t.Fatalf("declaration %d: result %s: %v", i, e.Result, err)
		}
		if e.File != w.file || !e.Ran || e.ExitCode == nil || *e.ExitCode != w.code || e.Outcome != w.outcome || rep.File != w.file || rep.OK != w.ok {
			t.Errorf("declaration %d: %+v (report %+v), want %s exit %d", i, e, rep, w.file, w.code)
		}
	}
	if !strings.Contains(r.Stderr, "==> [1/2] "+b) {
		t.Errorf("with JSON on stdout the headers go to stderr:\n%s", r.Stderr)
	}

	// invoke: billing-api refuses lonely-caller (exit 4); orders-api
	// lets direct-caller in.
	r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", dir, "--max-wait", "0")
	_, rows = manyTable(t, r.Stdout)
	want = []manyRow{{a, "demo-project", "ok", "0"}, {b, "demo-project", "invoke failed", "4"}}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("invoke table %+v, want %+v\n%s", rows, want, r.Stdout)
	}
	// A --credentials caller is checked in every declaration before any runs.
	r = p.mustRun(t, cmdutil.ExitUsage, nil, "invoke", "-f", dir, "--credentials", "direct-caller=metadata")
	if !strings.Contains(r.Stderr, `credentials for "direct-caller": no service account with that short name in `+b) || strings.Contains(r.Stdout, "==>") {
		t.Errorf("an unknown caller in one declaration:\n%s\n%s", r.Stdout, r.Stderr)
	}

	// One declaration (a directory holding one, or one file given twice)
	// runs exactly as it does alone.
	one := manyDir(t, map[string]string{"only.yaml": manyHead + "serviceAccounts:\n  - name: direct-caller\ngrants:\n  - service: orders-api\n    members: [direct-caller]\n"})
	alone := p.mustRun(t, 0, nil, "verify", "-f", filepath.Join(one, "only.yaml"), "--format", "json")
	for _, args := range [][]string{{"-f", one}, {"-f", filepath.Join(one, "only.yaml"), "-f", one}} {
		r = p.mustRun(t, 0, nil, append([]string{"verify", "--format", "json"}, args...)...)
		if r.Stdout != alone.Stdout {
			t.Errorf("verify %v differs from the file alone:\n%s\nwant:\n%s", args, r.Stdout, alone.Stdout)
		}
	}
}

// Declarations that conflict are refused, naming both files and the
// service, before Terraform runs or a working directory is made; so is a
// directory with no declaration, and what cannot apply to several.
func TestManyRefusedBeforeAnythingRuns(t *testing.T) {
	t.Parallel()
	emu := testutil.StartSeeded(t, seedHead+"services:\n  - name: orders-api\n")
	auth := manyHead + "grants:\n  - service: orders-api\n    authoritative: true\n    members: [serviceAccount:x@demo-project.iam.gserviceaccount.com]\n"
	member := manyHead + "grants:\n  - service: orders-api\n    members: [serviceAccount:y@demo-project.iam.gserviceaccount.com]\n"
	dir, _, fakeTF := badDeclBesideFakeTerraform(t, auth)
	proofWrite(t, dir, "team-b.yaml", member)
	proofWrite(t, dir, "team-c.yaml", auth)
	empty := manyDir(t, map[string]string{"notes.yaml": "kind: Notes\n"})
	a, b, c := filepath.Join(dir, "invokers.yaml"), filepath.Join(dir, "team-b.yaml"), filepath.Join(dir, "team-c.yaml")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"two authoritative claims", []string{"apply", "--auto-approve", "-f", a, "-f", c}, cmdutil.ExitError,
			[]string{"nothing was run", a + " and " + c + " both own the invoker binding of demo-project/service/us-central1/orders-api authoritatively"}},
		{"an authoritative claim beside a member-mode grant, through the directory", []string{"plan", "-f", dir}, cmdutil.ExitError,
			[]string{a + " owns the invoker binding of demo-project/service/us-central1/orders-api authoritatively and " + b + " grants members on it too",
				c + " owns"}},
		{"destroy too", []string{"destroy", "--auto-approve", "-f", b, "-f", c}, cmdutil.ExitError, []string{c + " owns", "and " + b + " grants"}},
		{"verify too", []string{"verify", "-f", dir}, cmdutil.ExitError, []string{"both own"}},
		{"a directory with no declaration", []string{"plan", "-f", empty, "-f", b}, cmdutil.ExitError,
			[]string{empty + ": no declaration in this directory", "skipped " + filepath.Join(empty, "notes.yaml") + ": not a declaration (no apiVersion)"}},
		{"--workdir with several -f", []string{"plan", "-f", a, "-f", b, "--workdir", filepath.Join(dir, "ws")}, cmdutil.ExitUsage,
			[]string{"--workdir names one declaration's working directory"}},
		{"--workdir with a directory of several", []string{"apply", "--auto-approve", "-f", dir, "--workdir", filepath.Join(dir, "ws")}, cmdutil.ExitUsage,
			[]string{"drop --workdir"}},
		{"--format junit with several", []string{"verify", "-f", a, "-f", b, "--format", "junit"}, cmdutil.ExitUsage, []string{"--format junit makes one document"}},
		{"apply without a terminal", []string{"apply", "-f", a, "-f", b}, cmdutil.ExitError, []string{"standard input is not a terminal"}},
		{"run takes one declaration", []string{"run", "--auto-approve", "-f", a, "-f", b}, cmdutil.ExitUsage, []string{"run takes one declaration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--emulator="+emu.URL())
			if tc.args[0] != "verify" {
				args = append(args, "--terraform", fakeTF)
			}
			r := runInProcess(t, inProcess{Env: emuEnv(emu)}, args...)
			if r.Code != tc.code {
				t.Errorf("exit %d, want %d\n%s", r.Code, tc.code, r.Stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, r.Stderr)
				}
			}
			if r.Stdout != "" {
				t.Errorf("stdout: %s", r.Stdout)
			}
		})
	}
	wantNoTerraformRun(t, dir)
}

// plan, apply and destroy on two declarations with real Terraform: each
// keeps its own working directory and state, one summary, the worst code.
func TestManyProvision(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartSeeded(t, seedHead+"services:\n  - name: orders-api\n  - name: billing-api\n")
	dir := manyDir(t, map[string]string{
		"orders.yaml":  manyHead + "serviceAccounts:\n  - name: orders-caller\ngrants:\n  - service: orders-api\n    members: [orders-caller]\n",
		"billing.yaml": manyHead + "serviceAccounts:\n  - name: billing-caller\ngrants:\n  - service: billing-api\n    authoritative: true\n    members: [billing-caller]\n  - service: orders-api\n    members: [billing-caller]\n",
	})
	orders, billing := filepath.Join(dir, "orders.yaml"), filepath.Join(dir, "billing.yaml")
	env, flag := inProcess{Env: emuEnv(emu), Terraform: true}, "--emulator="+emu.URL()

	r := runInProcess(t, env, "plan", "-f", dir, flag)
	wantExit(t, r, cmdutil.ExitChanges, "plan")
	_, rows := manyTable(t, r.Stdout)
	want := []manyRow{{billing, "demo-project", "changes", "2"}, {orders, "demo-project", "changes", "2"}}
	if len(rows) != 2 || rows[0] != want[0] || rows[1] != want[1] {
		t.Errorf("plan table %+v, want %+v\n%s", rows, want, r.Stdout)
	}

	// Reviewed plans of both: one plan file per declaration in a directory,
	// one Markdown document; a directory holding a plan file that is not
	// one is refused whole, nothing applied; then the plans are applied.
	plans := filepath.Join(t.TempDir(), "plans") + "/"
	r = runInProcess(t, env, "plan", "-f", dir, flag, "--out", plans, "--format", "markdown")
	wantExit(t, r, cmdutil.ExitChanges, "plan --out DIR/")
	if !strings.HasPrefix(r.Stdout, "**2 declarations**, exit code 2") || strings.Count(r.Stdout, "### invokerctl plan") != 2 {
		t.Errorf("plan --format markdown on two declarations:\n%s", r.Stdout)
	}
	for _, name := range []string{"billing.plan", "orders.plan"} {
		if info, err := os.Stat(filepath.Join(plans, name)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("plan file %s: %v %v", name, info, err)
		}
	}
	r = runInProcess(t, env, "plan", "-f", dir, flag, "--format", "json")
	wantExit(t, r, cmdutil.ExitChanges, "plan --format json")
	if d := parseManyDoc(t, r); d.ExitCode != cmdutil.ExitChanges || len(d.Declarations) != 2 {
		t.Errorf("plan --format json on two declarations: %+v", d)
	}
	// A plan of another target, a second plan of one declaration, or a
	// file that is not a plan: every plan refused, nothing applied.
	for _, tc := range []struct{ name, file, content, want string }{
		{"another target", "zz-other.plan", "", "made for another target"},
		{"one declaration twice", "zz-copy.plan", "copy", "are both plans of " + orders},
		{"not a plan", "notes.plan", "not a plan", "notes.plan"},
	} {
		extra := filepath.Join(plans, tc.file)
		switch tc.content {
		case "":
			withManifest(t, filepath.Join(plans, "orders.plan"), extra, func(m map[string]any) {
				m["target"].(map[string]any)["apiEndpoint"] = "http://127.0.0.1:1"
			})
		case "copy":
			copyFile(t, filepath.Join(plans, "orders.plan"), extra)
		default:
			proofWrite(t, plans, tc.file, tc.content)
		}
		r = runInProcess(t, env, "apply", plans, flag)
		wantExit(t, r, cmdutil.ExitError, "apply DIR: "+tc.name)
		if !strings.Contains(r.Stderr, "refusing every plan of") || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("apply DIR, %s: the refusal does not say %q:\n%s", tc.name, tc.want, r.Stderr)
		}
		if got := invokersAt(t, emu, "demo-project", "us-central1", "orders-api"); len(got) != 0 {
			t.Errorf("a refused apply DIR (%s) changed orders-api: %v", tc.name, got)
		}
		if err := os.Remove(extra); err != nil {
			t.Fatal(err)
		}
	}
	r = runInProcess(t, env, "apply", dir, flag)
	wantExit(t, r, cmdutil.ExitError, "apply DIR of declarations")
	if !strings.Contains(r.Stderr, "use 'invokerctl apply -f "+dir+"'") {
		t.Errorf("apply on a directory of declarations does not point at -f:\n%s", r.Stderr)
	}
	// A plan reached through a link is applied; other files are noted.
	moved := filepath.Join(t.TempDir(), "orders.plan")
	if err := os.Rename(filepath.Join(plans, "orders.plan"), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, filepath.Join(plans, "orders.plan")); err != nil {
		t.Fatal(err)
	}
	proofWrite(t, plans, "plan.md", "# the review")
	r = runInProcess(t, env, "apply", plans, flag, "--json")
	wantExit(t, r, 0, "apply DIR")
	if !strings.Contains(r.Stderr, "Note: skipped "+filepath.Join(plans, "plan.md")+": not a plan file") {
		t.Errorf("apply DIR does not note the file it skipped:\n%s", r.Stderr)
	}
	d := parseManyDoc(t, r)
	workdirs := map[string]bool{}
	for _, e := range d.Declarations {
		var res provisionResult
		if err := json.Unmarshal(e.Result, &res); err != nil || res.Applied == nil || !*res.Applied || res.File != e.File {
			t.Fatalf("apply result of %s: %v %s", e.File, err, e.Result)
		}
		if _, err := os.Stat(filepath.Join(res.Workdir, "terraform.tfstate")); err != nil {
			t.Errorf("%s: no state of its own: %v", e.File, err)
		}
		workdirs[res.Workdir] = true
	}
	if len(workdirs) != 2 {
		t.Errorf("the declarations shared a working directory: %v", workdirs)
	}
	if got := strings.Join(invokersAt(t, emu, "demo-project", "us-central1", "orders-api"), " "); got != sa("billing-caller")+" "+sa("orders-caller") {
		t.Errorf("orders-api invokers after apply: %s", got)
	}
	if got := strings.Join(invokersAt(t, emu, "demo-project", "us-central1", "billing-api"), " "); got != sa("billing-caller") {
		t.Errorf("billing-api invokers after apply: %s", got)
	}

	r = runInProcess(t, env, "plan", "-f", orders, "-f", billing, flag)
	wantExit(t, r, 0, "plan after apply")
	// Planning one declaration into the directory says which plan files
	// there it leaves, since apply DIR/ would apply them too.
	r = runInProcess(t, env, "plan", "-f", orders, flag, "--out", plans)
	wantExit(t, r, 0, "plan one declaration --out DIR/")
	if !strings.Contains(r.Stderr, "also holds "+filepath.Join(plans, "billing.plan")+", not made by this run") || strings.Contains(r.Stderr, "orders.plan, not made") {
		t.Errorf("plan --out DIR/ does not note the plan files it leaves:\n%s", r.Stderr)
	}

	// Refusing the confirmation changes nothing anywhere.
	r = runInProcess(t, inProcess{Env: env.Env, Terraform: true, TTY: true, Stdin: "no\n"}, "destroy", "-f", dir, flag)
	wantExit(t, r, cmdutil.ExitError, "destroy not confirmed")
	_, rows = manyTable(t, r.Stdout)
	if len(rows) != 2 || rows[0].outcome != "not confirmed" || rows[1].outcome != "not run" || rows[1].code != "-" {
		t.Errorf("refused destroy table %+v\n%s", rows, r.Stdout)
	}
	if got := invokersAt(t, emu, "demo-project", "us-central1", "billing-api"); len(got) != 1 {
		t.Errorf("a refused destroy changed billing-api: %v", got)
	}

	r = runInProcess(t, env, "destroy", "-f", dir, flag, "--auto-approve")
	wantExit(t, r, 0, "destroy")
	if got := invokersAt(t, emu, "demo-project", "us-central1", "orders-api"); len(got) != 0 {
		t.Errorf("orders-api invokers after destroy: %v", got)
	}
}

// runMany on three declarations with per-declaration functions that end
// as each case says: what runs, the table or document, the exit code.
func TestRunManyOutcomes(t *testing.T) {
	dir := manyDir(t, map[string]string{
		"a.yaml": manyHead + "grants:\n  - service: a\n    members: [serviceAccount:x@demo-project.iam.gserviceaccount.com]\n",
		"b.yaml": manyHead + "grants:\n  - service: b\n    members: [serviceAccount:x@demo-project.iam.gserviceaccount.com]\n",
		"c.yaml": manyHead + "grants:\n  - service: c\n    members: [serviceAccount:x@demo-project.iam.gserviceaccount.com]\n",
	})
	verifyFailed := cmdutil.WithExitCode(cmdutil.ExitVerifyFailed, errVerifyFailed)
	changes := cmdutil.WithExitCode(cmdutil.ExitChanges, nil)
	cases := []struct {
		name string
		// ends[i] is what the i-th declaration's run returns; cancel
		// cancels the command's context during the run that returns it.
		ends     []error
		cancelAt int
		json     bool
		markdown bool
		code     int
		outcomes []string // "outcome code" per declaration
		stderr   string
	}{
		{name: "all ok", ends: []error{nil, nil, nil}, cancelAt: -1, code: 0, outcomes: []string{"ok 0", "ok 0", "ok 0"}},
		{name: "the worst code, every declaration run", ends: []error{changes, verifyFailed, nil}, cancelAt: -1, code: 3,
			outcomes: []string{"changes 2", "verify failed 3", "ok 0"}, stderr: "Error: " + filepath.Join(dir, "b.yaml") + ": verification failed"},
		{name: "an error does not stop the others", ends: []error{errors.New("boom"), changes, nil}, cancelAt: -1, code: 1,
			outcomes: []string{"error 1", "changes 2", "ok 0"}},
		{name: "a refused confirmation stops the run", ends: []error{nil, ErrNotConfirmed, nil}, cancelAt: -1, code: 1,
			outcomes: []string{"ok 0", "not confirmed 1", "not run -"}, stderr: "not confirmed: nothing was changed"},
		{name: "a usage error stops the run", ends: []error{cmdutil.Usagef("bad flag"), nil, nil}, cancelAt: -1, code: 64,
			outcomes: []string{"usage error 64", "not run -", "not run -"}},
		{name: "an interrupt stops the run", ends: []error{changes, errors.New("terraform: signal: interrupt"), nil}, cancelAt: 1, code: cmdutil.ExitInterrupted,
			outcomes: []string{"changes 2", "interrupted 130", "not run -"}, stderr: "interrupted"},
		{name: "json: one document", ends: []error{verifyFailed, nil, changes}, cancelAt: -1, json: true, code: 3,
			outcomes: []string{"verify failed 3", "ok 0", "changes 2"}},
		{name: "markdown: the outcomes first, then each summary", ends: []error{nil, ErrNotConfirmed, nil}, cancelAt: -1, markdown: true, code: 1,
			outcomes: []string{"ok 0", "not confirmed 1", "not run -"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := cmdEnv{IO: ios, Factory: &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}, Ctx: ctx}
			i := 0
			err := runMany(env, []string{dir}, manyVerb{json: tc.json, markdown: tc.markdown, emulator: "http://127.0.0.1:1"}, func(e cmdEnv, d *config.Declaration) error {
				defer func() { i++ }()
				switch {
				case tc.markdown:
					fmt.Fprintf(e.IO.Out, "### report of %s\n", d.File)
				case tc.json:
					writeJSON(e.IO.Out, map[string]string{"file": d.File})
				default:
					fmt.Fprintf(e.IO.Out, "report of %s\n", d.File)
				}
				if i == tc.cancelAt {
					cancel()
				}
				return tc.ends[i]
			})
			if got := cmdutil.ExitCodeOf(err); got != tc.code {
				t.Errorf("exit %d (%v), want %d", got, err, tc.code)
			}
			var got []string
			switch {
			case tc.markdown:
				got = manyMarkdown(t, out.String(), dir, tc.code)
				if !strings.Contains(errOut.String(), "==> [1/3] "+filepath.Join(dir, "a.yaml")) {
					t.Errorf("the headers are not on stderr:\n%s", errOut)
				}
			case tc.json:
				d := parseManyDoc(t, cliResult{Stdout: out.String()})
				if d.ExitCode != tc.code {
					t.Errorf("document exitCode %d, want %d", d.ExitCode, tc.code)
				}
				for _, e := range d.Declarations {
					var res struct{ File string }
					if json.Unmarshal(e.Result, &res); res.File != e.File {
						t.Errorf("%s: result %s", e.File, e.Result)
					}
					got = append(got, fmt.Sprintf("%s %d", e.Outcome, *e.ExitCode))
				}
			default:
				_, rows := manyTable(t, out.String())
				for _, r := range rows {
					got = append(got, r.outcome+" "+r.code)
				}
				for n, o := range tc.outcomes {
					report := "report of " + filepath.Join(dir, string(rune('a'+n))+".yaml")
					if ran := !strings.HasPrefix(o, "not run"); strings.Contains(out.String(), report) != ran {
						t.Errorf("%q in stdout: %v, want %v", report, !ran, ran)
					}
				}
			}
			if strings.Join(got, ", ") != strings.Join(tc.outcomes, ", ") {
				t.Errorf("outcomes %v, want %v\n%s", got, tc.outcomes, out)
			}
			if !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tc.stderr, errOut)
			}
		})
	}
}

// manyMarkdown checks the Markdown document of a run on the declarations
// a.yaml, b.yaml and c.yaml of dir whose runs write "### report of FILE",
// and returns its "outcome code" rows.
func manyMarkdown(t *testing.T, md, dir string, code int) []string {
	t.Helper()
	if want := fmt.Sprintf("**3 declarations**, exit code %d (the worst):\n\n| declaration | project | outcome | exit |\n| --- | --- | --- | --- |\n", code); !strings.HasPrefix(md, want) {
		t.Fatalf("the document does not start with the outcomes table %q:\n%s", want, md)
	}
	if strings.Contains(md, "==>") {
		t.Errorf("a header is in the Markdown:\n%s", md)
	}
	var got []string
	lines := strings.Split(md, "\n")
	for _, l := range lines[4:7] {
		cells := strings.Split(strings.Trim(l, "| "), " | ")
		if len(cells) != 4 || cells[1] != "`demo-project`" {
			t.Fatalf("table row %q", l)
		}
		got = append(got, cells[2]+" "+cells[3])
	}
	// The summaries of the declarations that ran, in order, after the table.
	var reports []string
	for _, l := range lines[7:] {
		if strings.HasPrefix(l, "### ") {
			reports = append(reports, l)
		}
	}
	want := []string{"### report of " + filepath.Join(dir, "a.yaml"), "### report of " + filepath.Join(dir, "b.yaml")}
	if strings.Join(reports, "\n") != strings.Join(want, "\n") {
		t.Errorf("summaries after the table %q, want %q", reports, want)
	}
	return got
}

// plan --out with several declarations needs a directory in which each
// gets its own file.
func TestCheckPlanNames(t *testing.T) {
	dir := t.TempDir()
	decls := func(files ...string) []*config.Declaration {
		var out []*config.Declaration
		for _, f := range files {
			out = append(out, &config.Declaration{File: f})
		}
		return out
	}
	cases := []struct {
		name, out string
		decls     []*config.Declaration
		wantErr   string
	}{
		{name: "no --out", decls: decls("a.yaml", "b.yaml")},
		{name: "one declaration, one file", out: "reviewed.plan", decls: decls("a.yaml")},
		{name: "a directory by its slash", out: "plans/", decls: decls("teams/a.yaml", "teams/b.yaml")},
		{name: "an existing directory", out: dir, decls: decls("a.yaml", "b.yaml")},
		{name: "one file for two", out: "reviewed.plan", decls: decls("a.yaml", "b.yaml"),
			wantErr: "--out reviewed.plan names one plan file, and there are 2 declarations: give a directory (--out reviewed.plan/)"},
		{name: "two declarations of one name", out: "plans/", decls: decls("teams/a/invokers.yaml", "teams/b/invokers.yml"),
			wantErr: "teams/a/invokers.yaml and teams/b/invokers.yml would both be saved as plans/invokers.plan"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPlanNames(tc.out, tc.decls)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || cmdutil.ExitCodeOf(err) != cmdutil.ExitUsage {
				t.Errorf("err = %v, want a usage error containing %q", err, tc.wantErr)
			}
		})
	}
}
