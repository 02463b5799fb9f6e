package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// Declarations and seeds the tests write, and the checks that nothing ran
// for a bad one.

// seedHead is a seed's project, with the bootstrap owner allowed to
// mint every account's ID tokens (as smokeTest.tokenCreator would give it,
// and as an invoke stage needs). Further project bindings may follow it
// directly.
const seedHead = `defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
    policy:
      - role: roles/iam.serviceAccountTokenCreator
        members: [user:owner@example.com]
`

func sa(name string) string {
	return "serviceAccount:" + name + "@demo-project.iam.gserviceaccount.com"
}

func proofEmail(name string) string { return name + "@demo-project.iam.gserviceaccount.com" }

func quickstartCopy(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	src, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "examples", "quickstart", "invokers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "invokers.yaml")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func quickstartSeed() string {
	return filepath.Join(testutil.RepoRoot(), "examples", "quickstart", "seed.yaml")
}

func proofQuickstartSeed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(quickstartSeed())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func eq(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func proofWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeDecl writes a declaration for demo-project/us-central1 with body
// into a new directory.
func writeDecl(t *testing.T, body string) string {
	t.Helper()
	return proofWrite(t, t.TempDir(), "invokers.yaml", "apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"+body)
}

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
	if b := d.Terraform.Backend; b != nil && b.Type == "gcs" {
		// The state bucket, as it would exist in the project on Google.
		s.Buckets = append(s.Buckets, emulator.SeedBucket{Name: b.Config["bucket"], Project: d.Project})
	}
	return s
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

// badDeclBesideFakeTerraform writes decl as invokers.yaml into a new
// directory, beside a fake terraform that leaves a marker when it runs.
func badDeclBesideFakeTerraform(t *testing.T, decl string) (dir, file, fakeTF string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "invokers.yaml")
	os.WriteFile(file, []byte(decl), 0o644)
	fakeTF = filepath.Join(dir, "terraform")
	os.WriteFile(fakeTF, []byte("#!/bin/sh\ntouch "+filepath.Join(dir, "terraform-ran")+"\n"), 0o755)
	return dir, file, fakeTF
}

// wantNoTerraformRun fails when the fake terraform of dir ran or a working
// directory was created in dir.
func wantNoTerraformRun(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "terraform-ran")); err == nil {
		t.Error("terraform ran for a bad declaration")
	}
	if _, err := os.Stat(filepath.Join(dir, ".invokerctl")); !os.IsNotExist(err) {
		t.Error("a working directory was created for a bad declaration")
	}
}
