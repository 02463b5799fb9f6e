package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
)

// The flags parse into AuditOptions, and every flag problem is a usage
// error before anything is read.
func TestAuditFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no scope", nil, cmdutil.ExitUsage, "--project"},
		{"folder", []string{"--folder", "123"}, cmdutil.ExitUsage, "Cloud Asset engine, not built yet"},
		{"organization", []string{"--organization", "456", "--project", "p"}, cmdutil.ExitUsage, "Cloud Asset engine, not built yet"},
		{"format", []string{"--project", "p", "--format", "xml"}, cmdutil.ExitUsage, "unknown format"},
		{"fail-on", []string{"--project", "p", "--fail-on", "severe"}, cmdutil.ExitUsage, "--fail-on"},
		{"rate", []string{"--project", "p", "--rate", "0"}, cmdutil.ExitUsage, "--rate"},
		{"seed without in-process emulator", []string{"--project", "p", "--seed", "s.yaml"}, cmdutil.ExitUsage, "--seed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runInProcess(t, inProcess{}, append([]string{"audit"}, tt.args...)...)
			wantExit(t, r, tt.code, tt.name)
			if !strings.Contains(r.Stderr, tt.err) {
				t.Errorf("stderr %q lacks %q", r.Stderr, tt.err)
			}
		})
	}
	var got *AuditOptions
	ios, _, _, _ := iostreams.Test()
	cmd := NewCmdAudit(testFactory(t, ios, inProcess{}), func(o *AuditOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--project", "a", "--project", "b", "-f", "x.yaml", "-f", "y.yaml", "--location", "europe-west1", "--format", "sarif", "--fail-on", "high"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Projects, ",") != "a,b" || strings.Join(got.Files, ",") != "x.yaml,y.yaml" || got.Location != "europe-west1" || got.Format != "sarif" || got.FailOn != "high" {
		t.Errorf("options %+v", got)
	}
}

// The exit codes of audit on the example estates: 0 clean, 5 with
// findings at or above --fail-on, 0 when they are all below it.
func TestAuditExitCodes(t *testing.T) {
	tests := []struct {
		name, seed, project, decl string
		failOn                    string
		code                      int
	}{
		{"clean", audittest.CleanSeed, audittest.CleanProject, audittest.CleanDeclaration, "low", cmdutil.ExitOK},
		{"findings at or above", audittest.FullSeed, audittest.FullProject, audittest.FullDeclaration, "critical", cmdutil.ExitFindings},
		{"findings without --fail-on", audittest.FullSeed, audittest.FullProject, audittest.FullDeclaration, "", cmdutil.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := audittest.Start(t, tt.seed, emulator.Options{})
			args := []string{"audit", "--emulator=" + emu.URL(), "--project", tt.project, "-f", audittest.Example(tt.decl), "--format", "json"}
			if tt.failOn != "" {
				args = append(args, "--fail-on", tt.failOn)
			}
			r := runInProcess(t, inProcess{Env: emuEnv(emu)}, args...)
			wantExit(t, r, tt.code, tt.name)
			var rep audit.Report
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.Stdout)
			}
			if len(rep.Services) == 0 {
				t.Error("no service in the report")
			}
		})
	}
}

// A policy the principal may not read: exit 1, an error naming the
// resource, and the report of everything else on stdout.
func TestAuditUnreadablePolicy(t *testing.T) {
	emu := audittest.Start(t, audittest.FullSeed, emulator.Options{})
	const denied = "/v2/projects/audit-project/locations/us-central1/services/orders-api:getIamPolicy"
	emu.InjectFault(emulator.Fault{Path: denied, Count: 1000, Status: 403, Message: "Permission 'run.services.getIamPolicy' denied on resource"})
	r := runInProcess(t, inProcess{Env: emuEnv(emu)}, "audit", "--emulator="+emu.URL(), "--project", audittest.FullProject, "--format", "json")
	wantExit(t, r, cmdutil.ExitError, "unreadable policy")
	const name = "projects/audit-project/locations/us-central1/services/orders-api"
	if !strings.Contains(r.Stderr, name) || !strings.Contains(r.Stderr, "403") {
		t.Errorf("stderr does not name %s and the denial:\n%s", name, r.Stderr)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, r.Stdout)
	}
	if len(rep.Services) != 8 || len(rep.Errors) != 1 || rep.Errors[0].Resource != name {
		t.Fatalf("report: %d services, errors %+v", len(rep.Services), rep.Errors)
	}
	for _, s := range rep.Services {
		if (s.Name == name) != s.Incomplete {
			t.Errorf("%s incomplete = %v", s.Name, s.Incomplete)
		}
		if s.Name != name && len(s.Grants) == 0 && !s.Exposure.InvokerIAMDisabled {
			t.Errorf("%s lost its grants", s.Name)
		}
	}
}

// Progress goes to stderr only when it is a terminal; stdout holds the
// report alone either way.
func TestAuditProgressOnTerminal(t *testing.T) {
	emu := audittest.Start(t, audittest.CleanSeed, emulator.Options{})
	for _, tty := range []bool{false, true} {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStderrTTY(tty)
		code := Run(context.Background(), testFactory(t, ios, inProcess{Env: emuEnv(emu)}), []string{"audit", "--emulator=" + emu.URL(), "--project", audittest.CleanProject})
		if code != 0 {
			t.Fatalf("tty=%v: exit %d\n%s", tty, code, errOut)
		}
		if got := strings.Contains(errOut.String(), " reads"); got != tty {
			t.Errorf("tty=%v: progress shown %v:\n%q", tty, got, errOut)
		}
		if !strings.Contains(out.String(), "service orders-api (clean-project/us-central1)") || strings.Contains(out.String(), "reads") {
			t.Errorf("tty=%v: stdout:\n%s", tty, out)
		}
	}
}
