package gitops

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// ghExpressions are the values the test gives the GitHub expressions
// (`${{ ... }}`) of the steps it runs. A step using any other fails the
// test: add it here with a value a real run would have.
var ghExpressions = map[string]string{
	"vars.INVOKERCTL_VERSION":            "v0.0.0-test",
	"github.event.pull_request.head.sha": "4a1f00d2c5e0b3a9e8d7c6b5a4f3e2d1c0b9a8f7",
	"github.event.pull_request.number":   "42",
	"github.token":                       "ghs_not-a-real-token",
	"github.workflow":                    "invokerctl",
}

// ghDefaultEnv are variables every GitHub-hosted runner sets that the
// steps read (besides $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY and
// $GITHUB_WORKSPACE, which the runner sets per directory).
var ghDefaultEnv = []string{
	"CI=true",
	"GITHUB_ACTIONS=true",
	"GITHUB_REPOSITORY=acme/platform-invokers",
	"GITHUB_SERVER_URL=https://github.com",
	"GITHUB_RUN_ID=1234567890",
	"GITHUB_SHA=9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c",
}

// expressionRe matches a GitHub expression in a script or an env value.
var expressionRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// ciRunner runs a pipeline's steps the way a fresh CI runner does: in a
// checkout of its own (a copy of this example without any working
// directory or state), with bash -eo pipefail, the built invokerctl on
// PATH and $INVOKERCTL_EMULATOR_URL/TOKEN pointing every command at emu.
type ciRunner struct {
	t       *testing.T
	dir     string // the checkout: $GITHUB_WORKSPACE
	env     []string
	summary string // $GITHUB_STEP_SUMMARY
}

// stepRun is what a step left: its exit code, outputs and the outputs it
// set through $GITHUB_OUTPUT.
type stepRun struct {
	Code           int
	Stdout, Stderr string
	Outputs        map[string]string
}

// newRunner lays out a fresh checkout of the example in a new directory.
func newRunner(t *testing.T, emu *emulator.Emulator, binDir string) *ciRunner {
	t.Helper()
	dir := t.TempDir()
	copyCheckout(t, exampleDir, dir)
	r := &ciRunner{t: t, dir: dir, summary: filepath.Join(t.TempDir(), "step-summary.md")}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !hasAnyPrefix(name, "GITHUB_", "RUNNER_", "CI_", "INVOKERCTL_", "GOOGLE_", "CLOUDSDK_", "GCE_METADATA", "TF_", "PATH") && name != "CI" {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, ghDefaultEnv...)
	r.env = append(r.env,
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GITHUB_WORKSPACE="+dir,
		"GITHUB_STEP_SUMMARY="+r.summary,
		"RUNNER_TEMP="+t.TempDir(),
		"INVOKERCTL_EMULATOR_URL="+emu.URL(),
		"INVOKERCTL_EMULATOR_TOKEN="+emu.BootstrapToken(),
	)
	return r
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// copyCheckout copies what a checkout of the copied repository holds:
// the declarations (their *.yaml files only: no working directory) and
// both pipelines.
func copyCheckout(t testing.TB, from, to string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(from, "declarations", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no declarations (%v)", err)
	}
	files = append(files, filepath.Join(from, workflowPath), filepath.Join(from, gitlabPath))
	for _, f := range files {
		rel, _ := filepath.Rel(from, f)
		copyFile(t, f, filepath.Join(to, rel), 0o644)
	}
}

func copyFile(t testing.TB, from, to string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// substitute replaces each GitHub expression in s from ghExpressions,
// or from env for `env.NAME`; an unknown expression fails the test.
func substitute(t testing.TB, s string, env map[string]string) string {
	t.Helper()
	return expressionRe.ReplaceAllStringFunc(s, func(m string) string {
		expr := expressionRe.FindStringSubmatch(m)[1]
		if name, ok := strings.CutPrefix(expr, "env."); ok {
			if v, ok := env[name]; ok {
				return v
			}
		}
		v, ok := ghExpressions[expr]
		if !ok {
			t.Fatalf("the step uses the expression ${{ %s }}, which the test has no value for: add it to ghExpressions", expr)
		}
		return v
	})
}

// runGitHubStep runs the `run:` script of job's step id with the
// workflow's, the job's and the step's env (expressions substituted).
func (r *ciRunner) runGitHubStep(w ghWorkflow, job, id string) stepRun {
	r.t.Helper()
	j, ok := w.Jobs[job]
	if !ok {
		r.t.Fatalf("no job %q", job)
	}
	s := j.step(r.t, id)
	if s.Run == "" {
		r.t.Fatalf("job %s step %s has no run: script", job, id)
	}
	env := map[string]string{}
	var extra []string
	for _, layer := range []map[string]string{w.Env, j.Env, s.Env} {
		for k, v := range layer {
			env[k] = substitute(r.t, v, env)
			extra = append(extra, k+"="+env[k])
		}
	}
	output := filepath.Join(r.t.TempDir(), "github-output")
	if err := os.WriteFile(output, nil, 0o600); err != nil {
		r.t.Fatal(err)
	}
	extra = append(extra, "GITHUB_OUTPUT="+output)
	res := r.bash(substitute(r.t, s.Run, env), extra)
	res.Outputs = readOutputs(r.t, output)
	r.t.Logf("%s/%s: exit %d, outputs %v", job, id, res.Code, res.Outputs)
	return res
}

// bash runs script as GitHub's `shell: bash` does (bash --noprofile
// --norc -eo pipefail), in the checkout, within five minutes.
func (r *ciRunner) bash(script string, extraEnv []string) stepRun {
	r.t.Helper()
	f := filepath.Join(r.t.TempDir(), "step.sh")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-eo", "pipefail", f)
	cmd.Dir = r.dir
	cmd.Env = append(append([]string{}, r.env...), extraEnv...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := stepRun{Stdout: out.String(), Stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("running the step: %v", err)
	}
	return res
}

// readOutputs parses a $GITHUB_OUTPUT file's NAME=VALUE lines.
func readOutputs(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
}

// read returns the content of a file in the checkout.
func (r *ciRunner) read(rel string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, rel))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// stepSummary is what the steps appended to $GITHUB_STEP_SUMMARY.
func (r *ciRunner) stepSummary() string {
	b, err := os.ReadFile(r.summary)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.t.Fatal(err)
	}
	return string(b)
}

// binDir is a directory holding only `invokerctl`, the built binary, to
// put first on PATH.
func binDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(testutil.Binary(t), filepath.Join(dir, "invokerctl")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// glVariables are the CI/CD variables (and the ID token GitLab issues)
// the test gives the GitLab jobs.
var glVariables = []string{
	"GCP_WORKLOAD_IDENTITY_PROVIDER=projects/123456789012/locations/global/workloadIdentityPools/ci/providers/gitlab",
	"GCP_SERVICE_ACCOUNT=" + ciAccount,
	"GCP_ID_TOKEN=eyJhbGciOiJSUzI1NiJ9.not-a-real-token.signature",
	"INVOKERCTL_VERSION=v0.0.0-test",
	"GITLAB_CI=true",
}

// runGitLabJob runs a GitLab job's script after the Workload Identity
// Federation part of its before_script (the rest installs invokerctl and
// Terraform, which the test provides), in one bash -eo pipefail shell as
// GitLab's runner does, with the file's variables and glVariables.
func (r *ciRunner) runGitLabJob(cfg *glConfig, job string) stepRun {
	r.t.Helper()
	j, ok := cfg.Jobs[job]
	if !ok {
		r.t.Fatalf("no GitLab job %q", job)
	}
	// A job with an ID token runs the Workload Identity part of its
	// before_script first; the install part is the built binary on PATH.
	var wif []string
	if _, ok := j.IDTokens["GCP_ID_TOKEN"]; ok {
		wif = cfg.Jobs[".gcp-wif"].Script
		for _, line := range wif {
			if !slices.Contains(j.BeforeScript, line) {
				r.t.Fatalf("GitLab job %s does not run .gcp-wif in its before_script", job)
			}
		}
	}
	env := append([]string{"CI_PROJECT_DIR=" + r.dir}, glVariables...)
	for k, v := range cfg.Variables {
		env = append(env, k+"="+v)
	}
	res := r.bash(strings.Join(append(slices.Clone(wif), j.Script...), "\n"), env)
	r.t.Logf("GitLab %s: exit %d", job, res.Code)
	return res
}
