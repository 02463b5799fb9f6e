package gitops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/option"
	runv2 "google.golang.org/api/run/v2"
	storage "google.golang.org/api/storage/v1"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// ciAccount is the service account the pipelines impersonate through
// Workload Identity Federation; the test's emulator authenticates its
// token as this account, so every step runs as the CI would.
const ciAccount = "invokerctl-ci@acme-platform.iam.gserviceaccount.com"

// stateBucket is the declarations' gcs backend bucket.
const stateBucket = "acme-invokerctl-state"

// clickOpsMember is granted invoke by hand, outside the declarations.
const clickOpsMember = "user:intern@example.com"

// The pipelines' steps, run as shipped through the built binary against
// an emulator seeded like Google would be: the pull request's plan in
// one runner directory, the merge's apply of exactly those plan files in
// a fresh one (the state only in the emulator's bucket), verify and
// invoke; drift in a third: clean, then, after a grant made by hand
// through the Cloud Run API, exit 6 with the finding in the SARIF and in
// the step summary. The GitLab jobs' scripts run the same way.
func TestPipelineSteps(t *testing.T) {
	testutil.NeedTerraform(t)
	seed, err := emulator.LoadSeed(filepath.Join(exampleDir, "emulator-seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	emu := testutil.StartEmulator(t, emulator.Options{Seed: seed, BootstrapPrincipal: "serviceAccount:" + ciAccount})
	bin := binDir(t)
	w, _ := readWorkflow(t)

	// Pull request: validate (and a broken declaration refused with an
	// annotation on its line), plan, the comment body, the plans to upload.
	broken := newRunner(t, emu, bin)
	orders := filepath.Join(broken.dir, "declarations", "orders.yaml")
	b, err := os.ReadFile(orders)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orders, []byte(strings.Replace(string(b), "grants:\n", "grants:\n  - service: orders-api\n    members: [nobody]\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := broken.runGitHubStep(w, "validate", "validate"); res.Code != 1 || !strings.Contains(res.Stdout, "::error file=declarations/orders.yaml,line=") || !strings.Contains(res.Stdout, `unknown short name "nobody"`) {
		t.Errorf("validate step on a broken declaration: exit %d, want 1 with an annotation of its line\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	pr := newRunner(t, emu, bin)
	if res := pr.runGitHubStep(w, "validate", "validate"); res.Code != 0 {
		t.Fatalf("validate step: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	res := pr.runGitHubStep(w, "plan", "plan")
	if res.Code != 0 || res.Outputs["changes"] != "true" {
		t.Fatalf("plan step: exit %d, outputs %v, want 0 and changes=true\nstdout:\n%s\nstderr:\n%s", res.Code, res.Outputs, res.Stdout, res.Stderr)
	}
	comment := pr.read("comment.md")
	for _, want := range []string{"<!-- invokerctl-plan -->", "### invokerctl plan", "storefront-caller", "refunds-worker", "<details>", "Planned at " + ghExpressions["github.event.pull_request.head.sha"]} {
		if !strings.Contains(comment, want) {
			t.Errorf("comment body lacks %q:\n%s", want, comment)
		}
	}
	if !strings.HasPrefix(comment, "<!-- invokerctl-plan -->\n") {
		t.Errorf("comment body does not start with its marker (the comment step finds it by that):\n%.200s", comment)
	}
	if s := pr.stepSummary(); !strings.Contains(s, "### invokerctl plan") {
		t.Errorf("the plan did not write its step summary:\n%s", s)
	}
	plans := planFiles(t, filepath.Join(pr.dir, "plans"))
	if len(plans) != 2 {
		t.Fatalf("plans/: %v, want one plan file per declaration", plans)
	}

	// Merge: a fresh runner gets the artifact (plain files, modes not kept)
	// and applies it; the state is only in the bucket.
	merge := newRunner(t, emu, bin)
	for _, p := range plans {
		copyFile(t, filepath.Join(pr.dir, "plans", p), filepath.Join(merge.dir, "plans", p), 0o644)
	}
	for _, id := range []string{"apply", "verify", "invoke"} {
		if res := merge.runGitHubStep(w, "apply", id); res.Code != 0 {
			t.Fatalf("%s step: exit %d\nstdout:\n%s\nstderr:\n%s", id, res.Code, res.Stdout, res.Stderr)
		}
	}
	for _, want := range []string{"### invokerctl verify", "### invokerctl invoke"} {
		if s := merge.stepSummary(); !strings.Contains(s, want) {
			t.Errorf("step summary of the apply job lacks %q:\n%s", want, s)
		}
	}
	if got := invokers(t, emu, "acme-orders-prod", "europe-west1", "orders-api"); !slices.Contains(got, "serviceAccount:storefront-caller@acme-orders-prod.iam.gserviceaccount.com") {
		t.Errorf("orders-api invokers after apply: %v", got)
	}
	objs := stateObjects(t, emu)
	for _, want := range []string{"invokers/orders/default.tfstate", "invokers/payments/default.tfstate"} {
		if !slices.Contains(objs, want) {
			t.Errorf("state bucket holds %v, want %s", objs, want)
		}
	}

	// GitLab, on the state the GitHub pipeline left: a merge request's plan
	// and the default branch's plan-and-apply, each from a fresh checkout,
	// find no changes; the apply job's verify and invoke pass.
	gl := readGitLab(t)
	mr := newRunner(t, emu, bin)
	if res := mr.runGitLabJob(gl, "validate"); res.Code != 0 {
		t.Fatalf("GitLab validate job: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := mr.runGitLabJob(gl, "plan"); res.Code != 0 || !strings.Contains(mr.read("plan.md"), "### invokerctl plan") {
		t.Fatalf("GitLab plan job: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}
	if res := newRunner(t, emu, bin).runGitLabJob(gl, "apply"); res.Code != 0 {
		t.Fatalf("GitLab apply job: exit %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
	}

	// Nightly: no drift right after the apply, then a grant by hand.
	clean := newRunner(t, emu, bin)
	if res := clean.runGitHubStep(w, "drift", "drift"); res.Code != 0 || res.Outputs["exit-code"] != "0" {
		t.Fatalf("drift right after apply: exit %d, outputs %v, want no drift\nstdout:\n%s\nstderr:\n%s", res.Code, res.Outputs, res.Stdout, res.Stderr)
	}
	grantByHand(t, emu, "acme-orders-prod", "europe-west1", "orders-api", clickOpsMember)
	nightly := newRunner(t, emu, bin)
	res = nightly.runGitHubStep(w, "drift", "drift")
	if res.Code != 0 || res.Outputs["exit-code"] != "6" {
		t.Fatalf("drift step after a click-ops grant: exit %d, outputs %v, want the step to pass with exit-code=6 (the upload comes next)\nstderr:\n%s", res.Code, res.Outputs, res.Stderr)
	}
	checkSARIF(t, nightly.read("drift.sarif"), "intern@example.com")
	if s := nightly.stepSummary(); !strings.Contains(s, "### invokerctl drift") || !strings.Contains(s, "intern@example.com") {
		t.Errorf("drift step summary lacks the heading or the finding:\n%s", s)
	}
	if res := nightly.runGitHubStep(w, "drift", "drift-verdict"); res.Code != 6 {
		t.Errorf("drift-verdict: exit %d, want 6 (the job fails on drift)", res.Code)
	}
	glNightly := newRunner(t, emu, bin)
	if res := glNightly.runGitLabJob(gl, "drift"); res.Code != 6 {
		t.Errorf("GitLab drift job: exit %d, want 6\nstderr:\n%s", res.Code, res.Stderr)
	}
	checkSARIF(t, glNightly.read("drift.sarif"), "intern@example.com")
	if md := glNightly.read("drift.md"); !strings.Contains(md, "intern@example.com") {
		t.Errorf("GitLab drift.md lacks the finding:\n%s", md)
	}
}

// planFiles lists the regular files of dir.
func planFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names
}

func runService(t testing.TB, emu *emulator.Emulator) *runv2.Service {
	t.Helper()
	rs, err := runv2.NewService(context.Background(), testutil.EmulatorClientOptions(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func serviceName(project, location, service string) string {
	return "projects/" + project + "/locations/" + location + "/services/" + service
}

// invokers lists the members holding roles/run.invoker on the service.
func invokers(t testing.TB, emu *emulator.Emulator, project, location, service string) []string {
	t.Helper()
	p, err := runService(t, emu).Projects.Locations.Services.GetIamPolicy(serviceName(project, location, service)).Do()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range p.Bindings {
		if b.Role == "roles/run.invoker" {
			out = append(out, b.Members...)
		}
	}
	return out
}

// grantByHand adds member to the service's roles/run.invoker binding
// through the Cloud Run Admin API v2, as someone in the console would.
func grantByHand(t testing.TB, emu *emulator.Emulator, project, location, service, member string) {
	t.Helper()
	rs := runService(t, emu)
	name := serviceName(project, location, service)
	p, err := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &runv2.GoogleIamV1Binding{Role: "roles/run.invoker", Members: []string{member}})
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(name, &runv2.GoogleIamV1SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
}

// stateObjects lists the objects of the state bucket.
func stateObjects(t testing.TB, emu *emulator.Emulator) []string {
	t.Helper()
	opts := append(testutil.EmulatorClientOptions(emu), option.WithEndpoint(emu.URL()+"/storage/v1/"))
	s, err := storage.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Objects.List(stateBucket).Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list.Items {
		names = append(names, o.Name)
	}
	return names
}

// checkSARIF checks that doc is SARIF 2.1.0 with a result naming member.
func checkSARIF(t testing.TB, doc, member string) {
	t.Helper()
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []json.RawMessage `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(doc), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) == 0 {
		t.Fatalf("drift.sarif is not SARIF 2.1.0 (%v):\n%.500s", err, doc)
	}
	for _, r := range sarif.Runs[0].Results {
		if strings.Contains(string(r), member) {
			return
		}
	}
	t.Errorf("drift.sarif has no result naming %s:\n%s", member, doc)
}
