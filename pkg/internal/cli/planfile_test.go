package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// Reviewed plans end to end: plan --out with the gcs backend in one
// working directory, every refusal of apply PLAN (changing nothing), then
// apply PLAN from a fresh working directory, as a merge job on another
// runner would.

// gcsExample copies the authoritative example (it declares a gcs backend)
// and starts an emulator seeded for it; dir is for plan files and working
// directories, plan a plan file's path in it, flag the --emulator flag.
func gcsExample(t *testing.T) (file string, d *config.Declaration, emu *emulator.Emulator, dir, plan, flag string) {
	t.Helper()
	testutil.NeedTerraform(t)
	t.Parallel()
	src := filepath.Join(testutil.RepoRoot(), "examples", "authoritative", "invokers.yaml")
	d, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if b := d.Terraform.Backend; b == nil || b.Type != "gcs" {
		t.Fatalf("the authoritative example no longer declares a gcs backend: %+v", b)
	}
	emu = testutil.StartEmulator(t, emulator.Options{Project: d.Project, Seed: seedFor(d)})
	file = filepath.Join(t.TempDir(), "invokers.yaml")
	copyFile(t, src, file)
	dir = t.TempDir()
	return file, d, emu, dir, filepath.Join(dir, "reviewed.plan"), "--emulator=" + emu.URL()
}

// grantsSnapshot is what a refused apply must leave as it was: the
// project's accounts and the IAM policy of every declared service.
func grantsSnapshot(t *testing.T, emu *emulator.Emulator, d *config.Declaration) string {
	t.Helper()
	c := testutil.GCPClients(t, emu, gcp.RetryPolicy{})
	var b strings.Builder
	b.WriteString(strings.Join(testutil.Accounts(t, emu, d.Project), "\n"))
	for _, g := range d.Grants {
		name := "projects/" + d.Project + "/locations/" + g.Location + "/services/" + g.Name
		p, err := c.Run.Projects.Locations.Services.GetIamPolicy(name).Context(context.Background()).Do()
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(p.Bindings)
		b.WriteString("\n" + name + " " + string(j))
	}
	return b.String()
}

// withManifest rewrites a plan file's manifest with edit, keeping the rest.
func withManifest(t *testing.T, src, dst string, edit func(map[string]any)) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "manifest.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			data, _ = json.Marshal(m)
		}
		w, _ := zw.Create(f.Name)
		w.Write(data)
	}
	zw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReviewedPlanAppliedFromFreshWorkdir(t *testing.T) {
	file, d, emu, dir, plan, flag := gcsExample(t)
	summary := filepath.Join(dir, "step-summary.md")
	env := append(emuEnv(emu), "GITHUB_STEP_SUMMARY="+summary)

	r := runBin(t, env, "plan", "-f", file, flag, "--workdir", filepath.Join(dir, "pr-runner"), "--out", plan, "--format", "markdown")
	wantExit(t, r, 2, "plan --out")
	if !strings.Contains(r.Stderr, "Saved the plan to "+plan) || strings.Contains(r.Stderr, "needs remote state") {
		t.Errorf("plan --out with a gcs backend: stderr\n%s", r.Stderr)
	}
	if fi, err := os.Stat(plan); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("plan file: %v, mode %v; want 0600", err, fi)
	}
	// The Markdown: outcome heading, the declaration line, the grant table
	// (additions), Terraform's plan folded; the same appended to the step
	// summary.
	if !strings.HasPrefix(r.Stdout, "### invokerctl plan: ") {
		t.Errorf("plan Markdown does not start with its heading:\n%s", r.Stdout)
	}
	for _, want := range []string{
		" grants to add, 0 to remove, 2 accounts to create\n",
		"Declaration `" + file + "` · project `" + d.Project + "` · emulator at " + emu.URL(),
		"| Change | Member or account | On |\n| --- | --- | --- |\n",
		"| add roles/run.invoker | `serviceAccount:reporting@analytics-prod-7.iam.gserviceaccount.com` | service `ledger-api` in " + d.Project + "/europe-west4 |",
		"<details><summary>Terraform plan</summary>\n\n```\n",
		"Plan: ",
		"\n```\n\n</details>\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("plan Markdown lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "\x1b[") {
		t.Error("Terraform's plan text in the Markdown has color codes")
	}
	if b, err := os.ReadFile(summary); err != nil || string(b) != r.Stdout+"\n" {
		t.Errorf("$GITHUB_STEP_SUMMARY holds %q (%v), want the Markdown and a blank line", b, err)
	}

	before := grantsSnapshot(t, emu, d)
	random := filepath.Join(dir, "random.plan")
	os.WriteFile(random, []byte("apiVersion: invokerctl/v1\n"), 0o600)
	truncated := filepath.Join(dir, "truncated.plan")
	whole, _ := os.ReadFile(plan)
	os.WriteFile(truncated, whole[:len(whole)*2/3], 0o600)
	v99 := filepath.Join(dir, "v99.plan")
	withManifest(t, plan, v99, func(m map[string]any) { m["formatVersion"] = 99 })
	bare := filepath.Join(dir, "pr-runner", "invokers.tfplan") // Terraform's own plan, left in the working directory
	otherModule := filepath.Join(dir, "module.plan")
	withManifest(t, plan, otherModule, func(m map[string]any) { m["moduleDigest"] = strings.Repeat("0", 64) })
	otherBuild := filepath.Join(dir, "build.plan")
	withManifest(t, plan, otherBuild, func(m map[string]any) { m["invokerctlVersion"] = "0.0.1" })
	otherProvider := filepath.Join(dir, "provider.plan")
	withManifest(t, plan, otherProvider, func(m map[string]any) {
		m["providers"].([]any)[0].(map[string]any)["hashes"] = []string{"h1:another-build"}
	})
	other := testutil.StartEmulator(t, emulator.Options{Project: d.Project, Seed: seedFor(d)})
	fresh := filepath.Join(dir, "merge-runner")

	refusals := []struct {
		name string
		args []string
		env  []string
		edit bool // the declaration is edited for this one
		want string
		// init bool: refused after terraform init (the providers are
		// known only then), so the working directory is laid out
		init bool
	}{
		{"random file", []string{"apply", random, flag}, nil, false, "not an invokerctl plan file", false},
		{"bare terraform plan", []string{"apply", bare, flag}, nil, false, "bare Terraform plan file", false},
		{"truncated", []string{"apply", truncated, flag}, nil, false, "damaged or truncated", false},
		{"format version 99", []string{"apply", v99, flag}, nil, false, "format version 99; this invokerctl reads version 1", false},
		{"declaration edited", []string{"apply", plan, flag}, nil, true, "changed since the plan was made", false},
		{"another emulator", []string{"apply", plan, "--emulator=" + other.URL()}, []string{"INVOKERCTL_EMULATOR_TOKEN=" + other.BootstrapToken()}, false, "made for another target", false},
		{"the emulator by environment is another", []string{"apply", plan}, []string{"INVOKERCTL_EMULATOR_URL=" + other.URL(), "INVOKERCTL_EMULATOR_TOKEN=" + other.BootstrapToken()}, false, "made for another target", false},
		{"google", []string{"apply", plan}, []string{"INVOKERCTL_EMULATOR_URL="}, false, "this run: Google Cloud, project " + d.Project, false},
		{"other module", []string{"apply", otherModule, flag}, nil, false, "another version of the Terraform module", false},
		{"other invokerctl", []string{"apply", otherBuild, flag}, nil, false, "another invokerctl version", false},
		{"other provider build", []string{"apply", otherProvider, flag}, nil, false, "another provider build", true},
	}
	for _, tc := range refusals {
		orig, _ := os.ReadFile(file)
		if tc.edit {
			editFile(t, file, "displayName: Refunds worker", "displayName: Refunds")
		}
		wd := fresh
		if tc.init {
			wd = filepath.Join(dir, "init-runner")
		}
		args := append(tc.args, "--workdir", wd)
		r := runBin(t, append(emuEnv(emu), tc.env...), args...)
		os.WriteFile(file, orig, 0o644)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) || !strings.Contains(r.Stderr, "nothing was changed") {
			t.Errorf("%s: exit %d, want 1 with %q and \"nothing was changed\" in\n%s", tc.name, r.Code, tc.want, r.Stderr)
		}
		if after := grantsSnapshot(t, emu, d); after != before {
			t.Errorf("%s changed the grants:\n%s\nwas\n%s", tc.name, after, before)
		}
		if _, err := os.Stat(fresh); err == nil && !tc.init {
			t.Errorf("%s laid out the working directory", tc.name)
		}
	}
	if after := grantsSnapshot(t, other, d); after != grantsSnapshot(t, emu, d) {
		t.Errorf("the other emulator changed")
	}

	r = runBin(t, emuEnv(emu), "apply", plan, flag, "--workdir", fresh)
	wantExit(t, r, 0, "apply PLAN on a fresh working directory")
	if !strings.Contains(r.Stdout, "Applied.") {
		t.Errorf("apply PLAN stdout:\n%s", r.Stdout)
	}
	if grantsSnapshot(t, emu, d) == before {
		t.Error("apply PLAN changed nothing")
	}
	r = runBin(t, emuEnv(emu), "verify", "-f", file, flag)
	wantExit(t, r, 0, "verify after apply PLAN")
	r = runBin(t, emuEnv(emu), "plan", "-f", file, flag, "--workdir", filepath.Join(dir, "nightly-runner"))
	wantExit(t, r, 0, "plan after apply PLAN, on a third working directory")
}

// A plan whose state moved on (an apply -f ran since) is refused, naming
// the reason; the state and the grants stay as the apply -f left them.
func TestReviewedPlanStale(t *testing.T) {
	file, d, emu, dir, plan, flag := gcsExample(t)
	r := runBin(t, emuEnv(emu), "plan", "-f", file, flag, "--out", plan, "--json")
	wantExit(t, r, 2, "plan --out")
	var doc provisionResult
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || !doc.Changes {
		t.Fatalf("plan --json stdout is not the result document (%v):\n%s", err, r.Stdout)
	}
	r = runBin(t, emuEnv(emu), "apply", "-f", file, flag, "--auto-approve")
	wantExit(t, r, 0, "apply -f")
	before := grantsSnapshot(t, emu, d)
	r = runBin(t, emuEnv(emu), "apply", plan, flag, "--workdir", filepath.Join(dir, "merge-runner"), "--auto-approve")
	if r.Code != 1 || !strings.Contains(r.Stderr, "the state changed since this plan was made; plan again and review it") || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("apply of a stale plan: exit %d\n%s", r.Code, r.Stderr)
	}
	if after := grantsSnapshot(t, emu, d); after != before {
		t.Errorf("the stale apply changed the grants:\n%s\nwas\n%s", after, before)
	}
}

// Local state: plan --out says that applying elsewhere needs remote state.
func TestReviewedPlanLocalStateNote(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	_, file := quickstartCopy(t)
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	plan := filepath.Join(t.TempDir(), "reviewed.plan")
	r := runBin(t, emuEnv(emu), "plan", "-f", file, "--emulator="+emu.URL(), "--out", plan)
	wantExit(t, r, 2, "plan --out")
	if !strings.Contains(r.Stderr, "applying this plan on another machine needs remote state (terraform.backend in the declaration)") {
		t.Errorf("no local-state note:\n%s", r.Stderr)
	}
	r = runBin(t, emuEnv(emu), "apply", plan, "--emulator="+emu.URL(), "--json")
	wantExit(t, r, 0, "apply PLAN --json in the same working directory")
	var doc provisionResult
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || doc.Applied == nil || !*doc.Applied || doc.Outputs == nil || len(doc.Outputs.ServiceAccountEmails) == 0 {
		t.Fatalf("apply PLAN --json stdout is not an applied result with outputs (%v):\n%s", err, r.Stdout)
	}
}

// Usage errors, before anything is read.
func TestReviewedPlanUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"-f and PLAN", []string{"apply", "-f", "invokers.yaml", "reviewed.plan"}, "not both"},
		{"a declaration as PLAN", []string{"apply", "invokers.yaml"}, "a declaration is given with -f (apply -f invokers.yaml)"},
		{"two plans", []string{"apply", "a.plan", "b.plan"}, "one plan file"},
		{"--json and --format", []string{"plan", "-f", "invokers.yaml", "--json", "--format", "table"}, "--json and --format conflict"},
		{"--out and an in-process emulator", []string{"plan", "-f", "invokers.yaml", "--emulator", "--out", "reviewed.plan"}, "--out needs a target that outlives this command"},
		{"unknown format", []string{"plan", "-f", "invokers.yaml", "--format", "yaml"}, "unknown --format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runInProcess(t, inProcess{}, tc.args...)
			if r.Code != 64 || !strings.Contains(r.Stderr, tc.want) {
				t.Fatalf("exit %d, want 64 with %q:\n%s", r.Code, tc.want, r.Stderr)
			}
		})
	}
}
