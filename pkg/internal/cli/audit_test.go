package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
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
		{"folder on the project engine", []string{"--folder", "123", "--engine", "project"}, cmdutil.ExitUsage, "need the asset engine"},
		{"organization on the project engine", []string{"--organization", "456", "--project", "p", "--engine", "project"}, cmdutil.ExitUsage, "need the asset engine"},
		{"unknown engine", []string{"--project", "p", "--engine", "search"}, cmdutil.ExitUsage, "want project or asset"},
		{"folder id with a slash", []string{"--folder", "folders/1/2"}, cmdutil.ExitUsage, "not a folder id"},
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

// The engine each scope picks, and the scope the asset engine is given.
func TestAuditEngineChoice(t *testing.T) {
	tests := []struct {
		args        []string
		wantEngine  string
		wantParents string
	}{
		{[]string{"--project", "p"}, "project", "projects/p"},
		{[]string{"--project", "p", "--engine", "asset"}, "asset", "projects/p"},
		{[]string{"--folder", "12", "--folder", "folders/12"}, "asset", "folders/12"},
		{[]string{"--organization", "organizations/9", "--project", "p"}, "asset", "organizations/9,projects/p"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *AuditOptions
			ios, _, _, _ := iostreams.Test()
			cmd := NewCmdAudit(testFactory(t, ios, inProcess{}), func(o *AuditOptions) error {
				got = o
				return o.validate()
			})
			cmd.SetArgs(tt.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Engine != tt.wantEngine || strings.Join(got.parents, ",") != tt.wantParents {
				t.Errorf("engine %q parents %v, want %q %s", got.Engine, got.parents, tt.wantEngine, tt.wantParents)
			}
		})
	}
}

// auditHierarchySeed is an organization with a folder holding one project,
// and a second project directly under the organization.
const auditHierarchySeed = `
organizations:
  - id: "4242"
    policy: [{role: roles/run.invoker, members: [group:everyone@example.com]}]
folders:
  - {id: "100", parent: organizations/4242}
projects:
  - id: team-a-prod
    parent: folders/100
  - id: team-c-prod
    parent: organizations/4242
defaults: {location: us-central1}
services:
  - {name: api-a, project: team-a-prod}
  - {name: api-c, project: team-c-prod}
`

// audit --folder and --organization run the asset engine end to end: the
// scope's services only, with the organization's grant inherited; and
// --engine asset on a project prints what the project engine prints.
func TestAuditAssetEngineCommand(t *testing.T) {
	emu := testutil.StartSeeded(t, auditHierarchySeed)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"folder", []string{"--folder", "100"}, []string{"api-a"}},
		{"organization", []string{"--organization", "4242"}, []string{"api-a", "api-c"}},
		{"project through assets", []string{"--project", "team-c-prod", "--engine", "asset"}, []string{"api-c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runInProcess(t, inProcess{Env: emuEnv(emu)}, append([]string{"audit", "--emulator=" + emu.URL(), "--format", "json"}, tt.args...)...)
			wantExit(t, r, cmdutil.ExitOK, tt.name)
			var rep audit.Report
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("stdout is not the JSON report: %v\n%s", err, r.Stdout)
			}
			var got []string
			for _, s := range rep.Services {
				got = append(got, s.ID)
				if !slices.ContainsFunc(s.Grants, func(g audit.Grant) bool { return g.Path.Resource == "organizations/4242" }) {
					t.Errorf("%s lacks the organization's grant: %+v", s.Name, s.Grants)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("services %v, want %v", got, tt.want)
			}
		})
	}
	byProject := runInProcess(t, inProcess{Env: emuEnv(emu)}, "audit", "--emulator="+emu.URL(), "--project", "team-c-prod")
	byAsset := runInProcess(t, inProcess{Env: emuEnv(emu)}, "audit", "--emulator="+emu.URL(), "--project", "team-c-prod", "--engine", "asset")
	if byProject.Stdout != byAsset.Stdout || byProject.Stdout == "" {
		t.Errorf("the engines print different tables:\nproject:\n%s\nasset:\n%s", byProject.Stdout, byAsset.Stdout)
	}
}
