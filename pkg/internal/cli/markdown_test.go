package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// verify, invoke and run --format markdown against the in-process
// emulator, and their Markdown summary appended to $GITHUB_STEP_SUMMARY
// whatever --format says: passing, failing (exit 3 and 4) and interrupted.

// stepSummary is a $GITHUB_STEP_SUMMARY file; next returns what the last
// command appended to it.
type stepSummary struct {
	path string
	read int
}

func newStepSummary(t *testing.T) *stepSummary {
	return &stepSummary{path: filepath.Join(t.TempDir(), "step-summary.md")}
}

func (s *stepSummary) env() string { return cmdutil.StepSummaryEnv + "=" + s.path }

func (s *stepSummary) next(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(b) < s.read {
		t.Fatalf("the step summary shrank from %d to %d bytes: it must be appended to", s.read, len(b))
	}
	added := string(b[s.read:])
	s.read = len(b)
	return added
}

// wantMarkdown checks a summary: its heading, and that every line of want
// (a row's cells, the file line) is in it.
func wantMarkdown(t *testing.T, what, md string, heading *regexp.Regexp, want ...string) {
	t.Helper()
	first, _, _ := strings.Cut(md, "\n")
	if !heading.MatchString(first) {
		t.Errorf("%s: heading %q does not match %s\n%s", what, first, heading, md)
	}
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, md)
		}
	}
}

func TestVerifyAndInvokeMarkdown(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: orders-caller
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
  - name: billing-api
`, `serviceAccounts:
  - name: orders-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: audit-bot
`)
	missing := proofWrite(t, filepath.Dir(file), "missing.yaml", readFile(t, file)+"  - service: billing-api\n    members: [orders-caller]\n")
	sum := newStepSummary(t)
	fileLine := func(f string) string { return "`" + f + "` · project `demo-project` · target emulator" }
	steps := []struct {
		name   string
		before func()
		args   []string
		code   int
		// heading is the first line's pattern; rows are problem rows
		// ("| FAIL | verify | service billing-api |") that must be there.
		heading *regexp.Regexp
		want    []string
	}{
		{name: "verify passes", args: []string{"verify", "-f", file, "--format", "markdown"}, code: 0,
			heading: regexp.MustCompile(`^### invokerctl verify: \d+ checks? passed$`),
			want:    []string{fileLine(file), "No failures, errors or warnings.", "<details><summary>", "present-direct via roles/run.invoker on the service"}},
		{name: "verify, a grant missing", args: []string{"verify", "-f", missing, "--format", "markdown"}, code: cmdutil.ExitVerifyFailed,
			heading: regexp.MustCompile(`^### invokerctl verify: 1 failed, \d+ passed$`),
			want:    []string{fileLine(missing), "| FAIL | verify | service billing-api (demo-project/us-central1) | grant " + sa("orders-caller") + " | " + sa("orders-caller") + " cannot invoke"}},
		{name: "verify in a table, the summary still written", args: []string{"verify", "-f", missing}, code: cmdutil.ExitVerifyFailed,
			heading: regexp.MustCompile(`^### invokerctl verify: 1 failed`)},
		{name: "invoke passes", args: []string{"invoke", "-f", file, "--format", "markdown"}, code: 0,
			heading: regexp.MustCompile(`^### invokerctl invoke: 3 checks passed$`),
			want:    []string{fileLine(file), "refuses " + sa("audit-bot"), "GET / → 403 (expected 403)"}},
		{name: "invoke, the refused caller let in", before: func() { addInvokerVia(t, p.opts(), "orders-api", sa("audit-bot")) },
			args: []string{"invoke", "-f", file, "--format", "markdown"}, code: cmdutil.ExitInvokeFailed,
			heading: regexp.MustCompile(`^### invokerctl invoke: 1 failed, 2 passed$`),
			want:    []string{"| FAIL | invoke | service orders-api (demo-project/us-central1) | refuses " + sa("audit-bot") + " | GET / → 200 (expected 403)"}},
		{name: "invoke as JSON, the summary still written", args: []string{"invoke", "-f", file, "--format", "json"}, code: cmdutil.ExitInvokeFailed,
			heading: regexp.MustCompile(`^### invokerctl invoke: 1 failed, 2 passed$`)},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		r := p.mustRun(t, s.code, []string{sum.env()}, s.args...)
		appended := sum.next(t)
		wantMarkdown(t, s.name+": the step summary", appended, s.heading, s.want...)
		if md := strings.Contains(strings.Join(s.args, " "), "--format markdown"); md {
			if appended != r.Stdout+"\n" {
				t.Errorf("%s: the step summary is not the report and a blank line:\nstdout:\n%s\nsummary:\n%s", s.name, r.Stdout, appended)
			}
		} else if strings.HasPrefix(r.Stdout, "###") {
			t.Errorf("%s: --format %s printed Markdown:\n%s", s.name, s.args[len(s.args)-1], r.Stdout)
		}
	}
	// Without the variable nothing is appended anywhere.
	p.mustRun(t, 0, nil, "verify", "-f", file, "--format", "markdown")
	if got := sum.next(t); got != "" {
		t.Errorf("appended without $%s: %q", cmdutil.StepSummaryEnv, got)
	}
}

// An interrupted invoke still writes its report, and its summary: the
// check in flight could not be completed.
func TestInterruptedInvokeWritesItsSummary(t *testing.T) {
	t.Parallel()
	p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: orders-caller
services:
  - name: orders-api
`, func(o *emulator.Options) { o.PropagationDelay = 10 * time.Minute })
	file := writeDecl(t, "serviceAccounts:\n  - name: orders-caller\ngrants:\n  - service: orders-api\n    members: [orders-caller]\n")
	addInvokerVia(t, p.opts(), "orders-api", sa("orders-caller"))
	sum := newStepSummary(t)
	out, errOut := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, testFactory(t, ios, inProcess{Env: p.env(sum.env())}),
			[]string{"invoke", "-f", file, "--emulator=" + p.URL, "--max-wait", "5m", "--format", "markdown"})
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(errOut.String(), "waiting for IAM propagation"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("invoke never waited for propagation:\n%s", errOut)
		}
	}
	cancel(&cmdutil.SignalError{Signal: syscall.SIGINT})
	var code int
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatal("invoke did not stop after the interrupt")
	}
	if code != 130 {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, out, errOut)
	}
	heading := regexp.MustCompile(`^### invokerctl invoke: 2 could not be completed$`)
	want := "| ERROR | invoke | service orders-api (demo-project/us-central1) | invoke as " + sa("orders-caller") + " (interrupted) | GET / → 403 (expected 200) interrupted after 1 attempt(s): SIGINT received |"
	wantMarkdown(t, "the report", out.String(), heading, want)
	wantMarkdown(t, "the step summary", sum.next(t), heading, want)
	p.check(t, "invoke", cliResult{Stdout: out.String(), Stderr: errOut.String(), Code: code})
}

// run --format markdown: provisioning, verify and invoke in one summary,
// which names what Terraform applied; the step summary is the same.
func TestRunMarkdown(t *testing.T) {
	testutil.NeedTerraform(t)
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: audit-bot
services:
  - name: orders-api
`, `serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
`)
	sum := newStepSummary(t)
	work := filepath.Join(t.TempDir(), "work")
	r := p.runWith(t, inProcess{Env: p.env(sum.env()), Terraform: true}, "run", "-f", file, "--workdir", work, "--auto-approve", "--format", "markdown")
	wantExit(t, r, 0, "run --format markdown")
	wantMarkdown(t, "run's report", r.Stdout, regexp.MustCompile(`^### invokerctl run: \d+ checks passed$`),
		"`"+file+"` · project `demo-project` · target emulator",
		"Provisioned: 1 service account(s) created, 1 invoker member(s) added.",
		"No failures, errors or warnings.", "invoke as "+sa("orders-caller"), "present-direct")
	if got := sum.next(t); got != r.Stdout+"\n" {
		t.Errorf("the step summary is not the report:\n%s", got)
	}
	// Again: nothing to apply; the table goes to stdout, the summary to
	// the file.
	r = p.runWith(t, inProcess{Env: p.env(sum.env()), Terraform: true}, "run", "-f", file, "--workdir", work, "--auto-approve")
	wantExit(t, r, 0, "run again")
	wantMarkdown(t, "run's second summary", sum.next(t), regexp.MustCompile(`^### invokerctl run: \d+ checks passed$`),
		"Provisioned: no changes, the grants already matched the declaration.")
	if !strings.HasPrefix(r.Stdout, "STAGE ") {
		t.Errorf("run without --format printed no table:\n%s", r.Stdout)
	}
}
