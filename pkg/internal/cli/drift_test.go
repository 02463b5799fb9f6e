package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// drift against live state seeded into the emulator and changed through
// the real Google Go clients, as a console user or another tool would.

const (
	driftOrders = "projects/demo-project/locations/us-central1/services/orders-api"
	// driftSeed: orders-api grants ok-caller; other-caller and off-caller
	// exist (off-caller disabled), and dev@example.com can only view.
	driftSeed = `serviceAccounts:
  - accountId: ok-caller
  - accountId: other-caller
  - accountId: off-caller
    disabled: true
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:ok-caller@demo-project.iam.gserviceaccount.com]
      - role: roles/run.viewer
        members: [user:dev@example.com]
`
	driftDecl = "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: orders-api\n    members: [ok-caller]\n"
)

// driftClients are the Go clients a test changes the live state with.
func driftClients(t *testing.T, p *proofEmu) *gcp.Clients {
	return testutil.GCPClients(t, p.Emulator, gcp.RetryPolicy{})
}

// setOrdersPolicy replaces orders-api's invoker members (the viewer
// binding stays) through the Run v2 client's setIamPolicy.
func setOrdersPolicy(t *testing.T, p *proofEmu, invokers ...string) {
	t.Helper()
	svcs := driftClients(t, p).Run.Projects.Locations.Services
	pol, err := svcs.GetIamPolicy(driftOrders).Do()
	if err != nil {
		t.Fatal(err)
	}
	var bindings []*run.GoogleIamV1Binding
	for _, b := range pol.Bindings {
		if b.Role != "roles/run.invoker" {
			bindings = append(bindings, b)
		}
	}
	if len(invokers) > 0 {
		bindings = append(bindings, &run.GoogleIamV1Binding{Role: "roles/run.invoker", Members: invokers})
	}
	pol.Bindings = bindings
	if _, err := svcs.SetIamPolicy(driftOrders, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
}

// driftFindings are the report's findings as "RULE service principal",
// sorted.
func driftFindings(t *testing.T, rep *audit.Report) []string {
	t.Helper()
	var out []string
	for _, f := range rep.Findings {
		out = append(out, f.Rule+" "+f.Service[strings.LastIndexByte(f.Service, '/')+1:]+" "+f.Principal)
	}
	slices.Sort(out)
	return out
}

func driftJSON(t *testing.T, r cliResult) *audit.Report {
	t.Helper()
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("drift --format json: %v\n%s", err, r.Stdout)
	}
	return &rep
}

func TestDrift(t *testing.T) {
	tests := []struct {
		name  string
		seed  string // after seedHead
		decl  string
		extra []string // more declarations (-f)
		// dir puts the declarations in one directory, with a YAML file that
		// is not one, and gives drift the directory.
		dir bool
		// change runs before drift, through the Go clients.
		change func(t *testing.T, p *proofEmu)
		code   int
		want   []string
		// wantMessage is in the message of some finding; notMessage in none.
		wantMessage, notMessage string
	}{
		{name: "none", seed: driftSeed, decl: driftDecl, code: cmdutil.ExitOK},
		{name: "grant missing", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) { setOrdersPolicy(t, p) },
			code:   cmdutil.ExitDrift, want: []string{"INV070 orders-api " + sa("ok-caller")},
			wantMessage: "holds no unconditional grant", notMessage: "re-created"},
		{name: "service re-created after the grant", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) {
				svcs := driftClients(t, p).Run.Projects.Locations.Services
				if _, err := svcs.Delete(driftOrders).Do(); err != nil {
					t.Fatal(err)
				}
				if _, err := svcs.Create("projects/demo-project/locations/us-central1", &run.GoogleCloudRunV2Service{}).ServiceId("orders-api").Do(); err != nil {
					t.Fatal(err)
				}
			},
			code: cmdutil.ExitDrift, want: []string{"INV070 orders-api " + sa("ok-caller")},
			wantMessage: "was re-created at 20"},
		{name: "click-ops invoker added", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) { setOrdersPolicy(t, p, sa("ok-caller"), sa("other-caller")) },
			code:   cmdutil.ExitDrift, want: []string{"INV071 orders-api " + sa("other-caller")}},
		{name: "account deleted", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) {
				if _, err := driftClients(t, p).IAM.Projects.ServiceAccounts.Delete("projects/-/serviceAccounts/" + proofEmail("ok-caller")).Do(); err != nil {
					t.Fatal(err)
				}
			},
			code: cmdutil.ExitDrift, want: []string{"INV030 orders-api deleted:" + sa("ok-caller") + "?uid=", "INV070 orders-api " + sa("ok-caller")},
			wantMessage: "was deleted"},
		{name: "account disabled", seed: strings.Replace(driftSeed, "ok-caller@", "off-caller@", 1),
			decl: "serviceAccounts:\n  - name: off-caller\ngrants:\n  - service: orders-api\n    members: [off-caller]\n",
			code: cmdutil.ExitDrift, want: []string{"INV072 orders-api " + sa("off-caller")}},
		{name: "allUsers not declared", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) { setOrdersPolicy(t, p, sa("ok-caller"), "allUsers") },
			code:   cmdutil.ExitDrift, want: []string{"INV001 orders-api allUsers"}},
		{name: "allUsers declared public: true", seed: driftSeed,
			decl:   "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: orders-api\n    public: true\n    members: [ok-caller, allUsers]\n",
			change: func(t *testing.T, p *proofEmu) { setOrdersPolicy(t, p, sa("ok-caller"), "allUsers") },
			code:   cmdutil.ExitOK},
		{name: "several declarations granting on one service in member mode", seed: driftSeed, decl: driftDecl,
			extra:  []string{"serviceAccounts:\n  - name: other-caller\ngrants:\n  - service: orders-api\n    members: [other-caller]\n"},
			change: func(t *testing.T, p *proofEmu) { setOrdersPolicy(t, p, sa("ok-caller"), sa("other-caller")) },
			code:   cmdutil.ExitOK},
		{name: "a directory of declarations is compared as one", seed: driftSeed, decl: driftDecl, dir: true,
			extra: []string{"serviceAccounts:\n  - name: other-caller\ngrants:\n  - service: orders-api\n    members: [other-caller]\n"},
			change: func(t *testing.T, p *proofEmu) {
				setOrdersPolicy(t, p, sa("ok-caller"), sa("other-caller"), "user:intern@example.com")
			},
			code: cmdutil.ExitDrift, want: []string{"INV071 orders-api user:intern@example.com"}},
		{name: "a declared service that does not exist", seed: driftSeed,
			decl: "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: gone-api\n    members: [ok-caller]\n",
			code: cmdutil.ExitDrift, want: []string{"INV070 gone-api "}},
		{name: "a read that fails is an error, the report still out", seed: driftSeed, decl: driftDecl,
			change: func(t *testing.T, p *proofEmu) {
				p.InjectFault(emulator.Fault{Path: "services/orders-api:getIamPolicy", Count: 1000, Status: 403, Message: "Permission 'run.services.getIamPolicy' denied"})
			},
			code: cmdutil.ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, decl := startProofCase(t, tt.seed, tt.decl)
			if tt.change != nil {
				tt.change(t, p)
			}
			args := []string{"drift", "-f", decl}
			for i, body := range tt.extra {
				if tt.dir {
					proofWrite(t, filepath.Dir(decl), fmt.Sprintf("extra-%d.yaml", i), "apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"+body)
				} else {
					args = append(args, "-f", writeDecl(t, body))
				}
			}
			if tt.dir {
				proofWrite(t, filepath.Dir(decl), "notes.yaml", "owner: platform\n")
				args = []string{"drift", "-f", filepath.Dir(decl)}
			}
			r := p.run(t, nil, append(args, "--format", "json")...)
			wantExit(t, r, tt.code, "invokerctl drift")
			rep := driftJSON(t, r)
			got := driftFindings(t, rep)
			// A deleted principal's uid varies: compare up to it.
			for i, g := range got {
				if j := strings.Index(g, "?uid="); j >= 0 {
					got[i] = g[:j+len("?uid=")]
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q, want %q\n%s", got, tt.want, r.Stdout)
			}
			if tt.dir && !strings.Contains(r.Stderr, "Note: skipped "+filepath.Join(filepath.Dir(decl), "notes.yaml")) {
				t.Errorf("stderr does not note the skipped YAML file:\n%s", r.Stderr)
			}
			if tt.wantMessage != "" && !strings.Contains(r.Stdout, tt.wantMessage) {
				t.Errorf("no finding says %q:\n%s", tt.wantMessage, r.Stdout)
			}
			if tt.notMessage != "" && strings.Contains(r.Stdout, tt.notMessage) {
				t.Errorf("a finding says %q:\n%s", tt.notMessage, r.Stdout)
			}
			if tt.code == cmdutil.ExitError {
				if len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].Resource, "orders-api") {
					t.Errorf("report errors = %+v, want the service named", rep.Errors)
				}
				if !strings.Contains(r.Stderr, "drift incomplete") {
					t.Errorf("stderr does not say the drift is incomplete:\n%s", r.Stderr)
				}
			}
		})
	}
}

func TestDriftUsage(t *testing.T) {
	t.Parallel()
	decl := writeDecl(t, driftDecl)
	for _, args := range [][]string{
		{"drift"},
		{"drift", "-f", decl, "--format", "csv"},
		{"drift", "-f", decl, "--emulator=http://127.0.0.1:1", "--seed", "seed.yaml"},
		{"drift", "-f", decl, "extra"},
	} {
		r := runInProcess(t, inProcess{}, args...)
		wantExit(t, r, cmdutil.ExitUsage, strings.Join(args, " "))
	}
}

// Every format of one drifted state, and the step summary.
func TestDriftFormats(t *testing.T) {
	p, decl := startProofCase(t, driftSeed, driftDecl)
	setOrdersPolicy(t, p, "allUsers", sa("other-caller"))
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, []byte("earlier step\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{cmdutil.StepSummaryEnv + "=" + summary}
	want := []string{"INV001 orders-api allUsers", "INV070 orders-api " + sa("ok-caller"), "INV071 orders-api " + sa("other-caller")}

	t.Run("json", func(t *testing.T) {
		r := p.mustRun(t, cmdutil.ExitDrift, nil, "drift", "-f", decl, "--format", "json")
		if got := driftFindings(t, driftJSON(t, r)); !slices.Equal(got, want) {
			t.Errorf("findings = %q, want %q", got, want)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		r := p.mustRun(t, cmdutil.ExitDrift, nil, "drift", "-f", decl, "--format", "sarif")
		audittest.ValidateSARIF(t, []byte(r.Stdout))
		var log struct {
			Runs []struct {
				Tool    struct{ Driver struct{ Name string } }
				Results []struct{ RuleID string }
			}
		}
		if err := json.Unmarshal([]byte(r.Stdout), &log); err != nil || len(log.Runs) != 1 {
			t.Fatalf("sarif: %v", err)
		}
		var rules []string
		for _, res := range log.Runs[0].Results {
			rules = append(rules, res.RuleID)
		}
		slices.Sort(rules)
		if !slices.Equal(rules, []string{"INV001", "INV070", "INV071"}) || log.Runs[0].Tool.Driver.Name != "invokerctl drift" {
			t.Errorf("sarif: tool %q, results %q", log.Runs[0].Tool.Driver.Name, rules)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := p.mustRun(t, cmdutil.ExitDrift, nil, "drift", "-f", decl)
		for _, s := range []string{"service orders-api (demo-project/us-central1)", "3 finding(s)", "CRITICAL  INV001", "HIGH      INV070", "MEDIUM    INV071"} {
			if !strings.Contains(r.Stdout, s) {
				t.Errorf("table lacks %q:\n%s", s, r.Stdout)
			}
		}
	})
	t.Run("markdown and the step summary", func(t *testing.T) {
		r := p.mustRun(t, cmdutil.ExitDrift, env, "drift", "-f", decl, "--format", "markdown")
		checkDriftMarkdown(t, r.Stdout, decl)
		b, err := os.ReadFile(summary)
		if err != nil {
			t.Fatal(err)
		}
		appended, ok := strings.CutPrefix(string(b), "earlier step\n")
		if !ok || strings.TrimSpace(appended) != strings.TrimSpace(r.Stdout) {
			t.Errorf("step summary = %q, want the earlier content then the markdown", b)
		}
		// Whatever --format says, the summary is appended.
		p.mustRun(t, cmdutil.ExitDrift, env, "drift", "-f", decl, "--format", "json")
		if b2, _ := os.ReadFile(summary); strings.Count(string(b2), "### invokerctl drift:") != 2 {
			t.Errorf("after a json run the step summary holds %d summaries, want 2", strings.Count(string(b2), "### invokerctl drift:"))
		}
	})
}

// checkDriftMarkdown checks the summary's structure: the heading with the
// outcome, the files and project line, the findings table (the critical
// first), the grants folded.
func checkDriftMarkdown(t *testing.T, md, decl string) {
	t.Helper()
	lines := strings.Split(md, "\n")
	if lines[0] != "### invokerctl drift: 3 drift finding(s) (1 critical, 1 high, 1 medium)" {
		t.Errorf("heading %q", lines[0])
	}
	if !strings.HasPrefix(lines[2], "`"+decl+"` · project `demo-project` · 1 declared target(s)") {
		t.Errorf("second line %q", lines[2])
	}
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "| ") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 5 || !strings.HasPrefix(rows[0], "| severity | rule | target |") || !strings.HasPrefix(rows[2], "| critical | INV001 public-allusers |") {
		t.Errorf("findings table:\n%s", strings.Join(rows, "\n"))
	}
	if !strings.Contains(md, "<details><summary>Invokers in force on the declared targets</summary>") || !strings.Contains(md, "allUsers  roles/run.invoker  service") {
		t.Errorf("no folded grants:\n%s", md)
	}
}

// The built binary, as a nightly job runs it: drift after a click-ops
// grant, SARIF on stdout, exit 6.
func TestDriftBinary(t *testing.T) {
	needE2E(t)
	p, decl := startProofCase(t, driftSeed, driftDecl)
	setOrdersPolicy(t, p, sa("ok-caller"), sa("other-caller"))
	r := p.mustRunBin(t, cmdutil.ExitDrift, nil, "drift", "-f", decl, "--format", "sarif")
	audittest.ValidateSARIF(t, []byte(r.Stdout))
	if !strings.Contains(r.Stdout, `"ruleId": "INV071"`) {
		t.Errorf("sarif lacks INV071:\n%s", r.Stdout)
	}
	setOrdersPolicy(t, p, sa("ok-caller"))
	p.mustRunBin(t, cmdutil.ExitOK, nil, "drift", "-f", decl)
}
