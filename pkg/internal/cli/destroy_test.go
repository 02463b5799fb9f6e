package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// seedFor builds an emulator seed holding the project and every service and
// function a declaration grants on.
func seedFor(d *config.Declaration) *emulator.Seed {
	s := &emulator.Seed{
		Defaults: emulator.SeedDefaults{Project: d.Project, Location: d.Location},
		Projects: []emulator.SeedProject{{ID: d.Project}},
	}
	for _, g := range d.Grants {
		if g.Kind == config.KindFunction {
			s.Functions = append(s.Functions, emulator.SeedFunction{Project: d.Project, Location: g.Location, Name: g.Name, Runtime: "go125", EntryPoint: "Main"})
		} else {
			s.Services = append(s.Services, emulator.SeedService{Project: d.Project, Location: g.Location, Name: g.Name})
		}
	}
	return s
}

// Every example under examples/ is applied against an emulator holding its
// services, checked through the Run Admin and IAM APIs, re-planned (no
// changes) and destroyed (nothing of it left).
func TestEveryExampleAppliesAndDestroys(t *testing.T) {
	needTerraformE2E(t)
	files, err := filepath.Glob(filepath.Join(repoRoot(), "examples", "*", "invokers.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, src := range files {
		name := filepath.Base(filepath.Dir(src))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := config.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			emu, err := emulator.New(emulator.Options{Project: d.Project, Seed: seedFor(d)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { emu.Close() })
			seeded := accountsIn(t, emu, d.Project)
			file := filepath.Join(t.TempDir(), "invokers.yaml")
			copyFile(t, src, file)
			env, flag := emuEnv(emu), "--emulator="+emu.URL()

			r := runBin(t, env, "apply", "-f", file, flag, "--auto-approve", "--json")
			if r.code != 0 {
				t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
			}
			var res provisionResult
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Applied == nil || !*res.Applied {
				t.Fatalf("apply --json: %v\n%s", err, r.stdout)
			}
			if d.Terraform.Backend != nil && !strings.Contains(r.stderr, "backend is not used against the emulator") {
				t.Errorf("no note about the ignored %s backend", d.Terraform.Backend.Type)
			}
			for _, g := range d.Grants {
				got := invokersAt(t, emu, d.Project, g.Location, g.Name)
				want := append([]string(nil), g.ResolvedMembers...)
				sort.Strings(want)
				if g.Authoritative {
					if !eq(got, want) {
						t.Errorf("%s: invokers %v, want exactly %v", g.Key(), got, want)
					}
					continue
				}
				for _, m := range want {
					if !strings.Contains(strings.Join(got, " "), m) {
						t.Errorf("%s: %s not granted (have %v)", g.Key(), m, got)
					}
				}
			}
			if tc := d.SmokeTest.TokenCreator; tc != "" {
				iamSvc, _ := iam.NewService(context.Background(), googleOpts(emu)...)
				for _, sa := range d.ServiceAccounts {
					p, err := iamSvc.Projects.ServiceAccounts.GetIamPolicy("projects/" + d.Project + "/serviceAccounts/" + sa.Email(d.Project)).Do()
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, b := range p.Bindings {
						found = found || (b.Role == config.TokenCreatorRole && strings.Contains(strings.Join(b.Members, " "), tc))
					}
					if !found {
						t.Errorf("%s lacks %s for %s: %+v", sa.Name, config.TokenCreatorRole, tc, p.Bindings)
					}
				}
			}
			if r = runBin(t, env, "plan", "-f", file, flag); r.code != 0 {
				t.Errorf("plan after apply: exit %d\n%s", r.code, r.stdout)
			}

			r = runBin(t, env, "destroy", "-f", file, flag, "--auto-approve", "--json")
			if r.code != 0 {
				t.Fatalf("destroy: exit %d\n%s", r.code, r.stderr)
			}
			if got := accountsIn(t, emu, d.Project); !eq(got, seeded) {
				t.Errorf("accounts after destroy: %v, want %v", got, seeded)
			}
			for _, g := range d.Grants {
				got := strings.Join(invokersAt(t, emu, d.Project, g.Location, g.Name), " ")
				for _, m := range g.ResolvedMembers {
					if strings.Contains(got, m) {
						t.Errorf("%s: %s still granted after destroy", g.Key(), m)
					}
				}
			}
			if r = runBin(t, env, "plan", "-f", file, flag); r.code != 2 {
				t.Errorf("plan after destroy should want to create everything again: exit %d", r.code)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
