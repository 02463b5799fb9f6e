package gitops

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// exampleDir is the example's directory: the root of the repository a
// platform team would copy.
var exampleDir = filepath.Join(testutil.RepoRoot(), "examples", "gitops")

// workflowPath is the GitHub Actions workflow, relative to exampleDir.
var workflowPath = filepath.Join(".github", "workflows", "invokerctl.yml")

// ghWorkflow is the part of a GitHub Actions workflow the tests read.
// Decoding resolves the YAML anchors the jobs share.
type ghWorkflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Defaults    struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Jobs map[string]ghJob `yaml:"jobs"`
}

type ghJob struct {
	If          string            `yaml:"if"`
	Needs       any               `yaml:"needs"` // a job id or a list of them
	Permissions map[string]string `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Env   map[string]string `yaml:"env"`
	Steps []ghStep          `yaml:"steps"`
}

type ghStep struct {
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	With map[string]string `yaml:"with"`
}

// step returns the job's step with id, failing the test when there is none.
func (j ghJob) step(t testing.TB, id string) ghStep {
	t.Helper()
	for _, s := range j.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step with id %q", id)
	return ghStep{}
}

func readWorkflow(t testing.TB) (ghWorkflow, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(exampleDir, workflowPath))
	if err != nil {
		t.Fatal(err)
	}
	var w ghWorkflow
	if err := yaml.Unmarshal(src, &w); err != nil {
		t.Fatalf("%s: %v", workflowPath, err)
	}
	return w, src
}

// lint runs actionlint's checks on content as the workflow at
// workflowPath, in a project rooted at this directory (so local actions
// and a .github/actionlint.yaml would be found as in the copied
// repository). shellcheck and pyflakes are left off: they are external
// programs, not part of the Go module. It returns the errors and
// actionlint's own rendering of them.
func lint(t testing.TB, content []byte) ([]*actionlint.Error, string) {
	t.Helper()
	root, err := filepath.Abs(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Shellcheck: "", Pyflakes: "", WorkingDir: root})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(filepath.Join(root, workflowPath), content, proj)
	if err != nil {
		t.Fatalf("actionlint: %v", err)
	}
	return errs, out.String()
}

// The workflow as shipped passes actionlint, and each way of breaking it
// below (done in memory) is caught with the rule and text that name it.
func TestWorkflowLint(t *testing.T) {
	_, src := readWorkflow(t)
	cases := []struct {
		name     string
		old, new string // replaced once in the workflow; empty: as shipped
		wantKind string // actionlint's rule name
		wantText string // in the error's message
	}{
		{name: "as shipped"},
		{"misspelled input of google-github-actions/auth", "workload_identity_provider:", "workload_identity_providr:", "action", "workload_identity_providr"},
		{"download-artifact's run-id names no step", "steps.find-plans.outputs.run-id", "steps.find-plan.outputs.run-id", "expression", "find-plan"},
		{"unknown permission scope", "security-events: write", "security-event: write", "permissions", "security-event"},
		{"impossible cron", `"17 3 * * *"`, `"17 27 * * *"`, "events", "27"},
		{"unknown context", "${{ github.token }}", "${{ gihub.token }}", "expression", "gihub"},
		{"duplicate step id", "- id: verify", "- id: apply", "id", "apply"},
		{"unknown job key", "timeout-minutes: 60", "timeout-minute: 60", "syntax-check", "timeout-minute"},
		{"drift step's output misspelled", "steps.drift.outputs.exit-code", "steps.drift.output.exit-code", "expression", "output"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content := src
			if c.old != "" {
				if !bytes.Contains(src, []byte(c.old)) {
					t.Fatalf("the workflow no longer contains %q: update this case", c.old)
				}
				content = bytes.Replace(src, []byte(c.old), []byte(c.new), 1)
			}
			errs, rendered := lint(t, content)
			if c.wantKind == "" {
				if len(errs) != 0 {
					t.Fatalf("actionlint found %d problems:\n%s", len(errs), rendered)
				}
				return
			}
			for _, e := range errs {
				if e.Kind == c.wantKind && strings.Contains(e.Message, c.wantText) {
					return
				}
			}
			t.Fatalf("want a %q error mentioning %q; actionlint said:\n%s", c.wantKind, c.wantText, rendered)
		})
	}
}

// The workflow has the shape the README promises: four jobs on their
// events, least privileges per job, one concurrency group for applies and
// drift, and the steps the end-to-end test runs, found by id.
func TestWorkflowShape(t *testing.T) {
	w, _ := readWorkflow(t)
	for _, ev := range []string{"pull_request", "push", "schedule", "workflow_dispatch"} {
		if _, ok := w.On[ev]; !ok {
			t.Errorf("on: no %s trigger", ev)
		}
	}
	if len(w.Permissions) != 0 {
		t.Errorf("workflow permissions %v: want {} (each job asks for its own)", w.Permissions)
	}
	if w.Defaults.Run.Shell != "bash" {
		t.Errorf("defaults.run.shell %q: want bash (bash -eo pipefail, which the end-to-end test uses too)", w.Defaults.Run.Shell)
	}
	jobs := []struct {
		name, event string
		perms       map[string]string
		steps       []string
	}{
		{"validate", "pull_request", map[string]string{"contents": "read"},
			[]string{"install", "validate"}},
		{"plan", "pull_request", map[string]string{"contents": "read", "id-token": "write", "pull-requests": "write"},
			[]string{"gcp-auth", "install", "plan", "comment", "upload-plans"}},
		{"apply", "push", map[string]string{"contents": "read", "id-token": "write", "actions": "read", "pull-requests": "read"},
			[]string{"gcp-auth", "install", "find-plans", "download-plans", "apply", "verify", "invoke"}},
		{"drift", "schedule", map[string]string{"contents": "read", "id-token": "write", "security-events": "write", "actions": "read"},
			[]string{"gcp-auth", "install", "drift", "upload-sarif", "drift-verdict"}},
	}
	for _, want := range jobs {
		j, ok := w.Jobs[want.name]
		if !ok {
			t.Errorf("no job %q", want.name)
			continue
		}
		if !strings.Contains(j.If, want.event) {
			t.Errorf("job %s: if %q does not select %s", want.name, j.If, want.event)
		}
		if !maps.Equal(j.Permissions, want.perms) {
			t.Errorf("job %s: permissions %v, want exactly %v", want.name, j.Permissions, want.perms)
		}
		var ids []string
		for _, s := range j.Steps {
			ids = append(ids, s.ID)
		}
		for _, id := range want.steps {
			if !slices.Contains(ids, id) {
				t.Errorf("job %s: no step with id %q (ids: %v)", want.name, id, ids)
			}
		}
		if !strings.Contains(j.step(t, "install").Run, `go install "github.com/invokerctl/invokerctl/cmd/invokerctl@${INVOKERCTL_VERSION}"`) {
			t.Errorf("job %s: install does not go install invokerctl at a pinned version", want.name)
		}
		if want.perms["id-token"] == "" {
			continue // no credentials: no Workload Identity step
		}
		auth := j.step(t, "gcp-auth")
		if !strings.HasPrefix(auth.Uses, "google-github-actions/auth@") || auth.With["workload_identity_provider"] == "" || auth.With["service_account"] == "" {
			t.Errorf("job %s: gcp-auth is %q with %v, want google-github-actions/auth with workload_identity_provider and service_account", want.name, auth.Uses, auth.With)
		}
	}
	if n := w.Jobs["plan"].Needs; n != "validate" && !slices.Equal(toStrings(n), []string{"validate"}) {
		t.Errorf("plan needs %v: want validate (nothing is planned from an invalid declaration)", n)
	}
	apply, drift := w.Jobs["apply"], w.Jobs["drift"]
	if apply.Concurrency.Group == "" || apply.Concurrency.Group != drift.Concurrency.Group || apply.Concurrency.CancelInProgress {
		t.Errorf("apply and drift concurrency %+v / %+v: want one group, never cancelling a run in progress", apply.Concurrency, drift.Concurrency)
	}
	if v := drift.step(t, "drift-verdict").If; !strings.Contains(v, "'6'") {
		t.Errorf("drift-verdict runs if %q: want it on exit code 6 only", v)
	}
	for _, s := range append(append(w.Jobs["plan"].Steps, apply.Steps...), drift.Steps...) {
		if s.Uses != "" && !strings.Contains(s.Uses, "@v") {
			t.Errorf("step %q uses %q: pin a version", s.ID, s.Uses)
		}
	}
}

// toStrings is a YAML list of strings as []string (nil otherwise).
func toStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
