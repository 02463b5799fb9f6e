package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2/google"
)

// gitlabPath is the GitLab CI file, relative to exampleDir.
const gitlabPath = ".gitlab-ci.yml"

// glJob is the part of a GitLab CI job the tests read, after `extends:`
// and `!reference` tags are resolved.
type glJob struct {
	Stage         string   `yaml:"stage"`
	Extends       string   `yaml:"extends"`
	Image         string   `yaml:"image"`
	BeforeScript  []string `yaml:"before_script"`
	Script        []string `yaml:"script"`
	ResourceGroup string   `yaml:"resource_group"`
	IDTokens      map[string]struct {
		Aud string `yaml:"aud"`
	} `yaml:"id_tokens"`
	Rules     []glRule `yaml:"rules"`
	Artifacts struct {
		Paths    []string `yaml:"paths"`
		When     string   `yaml:"when"`
		ExposeAs string   `yaml:"expose_as"`
	} `yaml:"artifacts"`
}

// glRule is one entry of a job's rules.
type glRule struct {
	If      string   `yaml:"if"`
	Changes []string `yaml:"changes"`
}

// glConfig is a parsed .gitlab-ci.yml.
type glConfig struct {
	Stages   []string
	Workflow struct {
		Rules []struct {
			If string `yaml:"if"`
		} `yaml:"rules"`
	}
	Variables map[string]string
	// Jobs holds every job, hidden ones (".name") included.
	Jobs map[string]glJob
}

// glGlobalKeys are the top-level keys of a GitLab CI file that are not jobs.
var glGlobalKeys = []string{"stages", "workflow", "variables", "default", "include", "image", "services", "cache", "before_script", "after_script"}

// parseGitLab parses a GitLab CI file: YAML, `!reference [job, key]` tags
// resolved (a list inside a list is flattened, as GitLab does), and each
// job's `extends:` (one level, job keys merged shallowly: enough for this
// file) applied.
func parseGitLab(src []byte) (*glConfig, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a mapping of jobs")
	}
	top := doc.Content[0]
	if err := resolveReferences(top, top, 0); err != nil {
		return nil, err
	}
	cfg := &glConfig{Jobs: map[string]glJob{}}
	raw := map[string]*yaml.Node{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		var err error
		switch key {
		case "stages":
			err = val.Decode(&cfg.Stages)
		case "workflow":
			err = val.Decode(&cfg.Workflow)
		case "variables":
			err = val.Decode(&cfg.Variables)
		default:
			if !slices.Contains(glGlobalKeys, key) {
				raw[key] = val
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	for name, node := range raw {
		var j glJob
		if err := node.Decode(&j); err != nil {
			return nil, fmt.Errorf("job %s: %w", name, err)
		}
		if j.Extends != "" {
			parent, ok := raw[j.Extends]
			if !ok {
				return nil, fmt.Errorf("job %s extends %s, which is not defined", name, j.Extends)
			}
			// Decode the parent, then the job over it: the job's keys win.
			j = glJob{}
			if err := parent.Decode(&j); err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Extends, err)
			}
			if err := node.Decode(&j); err != nil {
				return nil, fmt.Errorf("job %s: %w", name, err)
			}
		}
		cfg.Jobs[name] = j
	}
	return cfg, nil
}

// readGitLab parses the example's .gitlab-ci.yml.
func readGitLab(t testing.TB) *glConfig {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(exampleDir, gitlabPath))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseGitLab(src)
	if err != nil {
		t.Fatalf("%s: %v", gitlabPath, err)
	}
	return cfg
}

// resolveReferences replaces each `!reference [job, key, ...]` below n by
// the node it names in top, flattening a referenced list into the list
// that holds the tag.
func resolveReferences(top, n *yaml.Node, depth int) error {
	if depth > 10 {
		return fmt.Errorf("!reference nested more than 10 levels")
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		if c.Tag != "!reference" {
			if err := resolveReferences(top, c, depth); err != nil {
				return err
			}
			out = append(out, c)
			continue
		}
		target, err := lookupReference(top, c)
		if err != nil {
			return err
		}
		if err := resolveReferences(top, target, depth+1); err != nil {
			return err
		}
		if n.Kind == yaml.SequenceNode && target.Kind == yaml.SequenceNode {
			out = append(out, target.Content...)
		} else {
			out = append(out, target)
		}
	}
	n.Content = out
	return nil
}

func lookupReference(top, ref *yaml.Node) (*yaml.Node, error) {
	var path []string
	if err := ref.Decode(&path); err != nil || len(path) == 0 {
		return nil, fmt.Errorf("line %d: !reference wants a list of keys", ref.Line)
	}
	n := top
	for _, k := range path {
		var next *yaml.Node
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil, fmt.Errorf("line %d: !reference %v: %q is not defined", ref.Line, path, k)
		}
		n = next
	}
	return n, nil
}

// needsCredentials matches a script running an invokerctl command that
// reads Google Cloud (validate and version read nothing there).
var needsCredentials = regexp.MustCompile(`invokerctl (plan|apply|destroy|verify|invoke|run|drift|audit|force-unlock)\b`)

// checkGitLab lists what is wrong with a GitLab CI file for this example:
// the pipeline must parse, every job sit in a declared stage with rules and
// a script, and the plan, apply and drift jobs run on their events with
// Workload Identity Federation, one resource group and their artifacts.
func checkGitLab(src []byte) []string {
	cfg, err := parseGitLab(src)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	addf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(cfg.Workflow.Rules) == 0 {
		addf("workflow: no rules (every push and merge request would run twice)")
	}
	for name, j := range cfg.Jobs {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !slices.Contains(cfg.Stages, j.Stage) {
			addf("job %s: stage %q is not in stages %v", name, j.Stage, cfg.Stages)
		}
		if len(j.Script) == 0 {
			addf("job %s: no script", name)
		}
		if len(j.Rules) == 0 {
			addf("job %s: no rules", name)
		}
		if needsCredentials.MatchString(strings.Join(j.Script, "\n")) {
			if j.IDTokens["GCP_ID_TOKEN"].Aud == "" {
				addf("job %s: runs invokerctl without an id_tokens GCP_ID_TOKEN audience", name)
			}
			if !strings.Contains(strings.Join(j.BeforeScript, "\n"), "GOOGLE_APPLICATION_CREDENTIALS") {
				addf("job %s: runs invokerctl without the external_account credentials", name)
			}
		}
	}
	want := []struct{ job, rule, script string }{
		{"validate", "merge_request_event", "invokerctl validate -f declarations/"},
		{"plan", "merge_request_event", "invokerctl plan -f declarations/ --out plans/"},
		{"apply", "$CI_DEFAULT_BRANCH", "invokerctl apply plans/"},
		{"drift", `"schedule"`, "invokerctl drift -f declarations/ --format sarif"},
	}
	for _, w := range want {
		j, ok := cfg.Jobs[w.job]
		if !ok {
			addf("no job %s", w.job)
			continue
		}
		if !slices.ContainsFunc(j.Rules, func(r glRule) bool { return strings.Contains(r.If, w.rule) }) {
			addf("job %s: no rule on %s", w.job, w.rule)
		}
		if !strings.Contains(strings.Join(j.Script, "\n"), w.script) {
			addf("job %s: script does not run %q", w.job, w.script)
		}
	}
	if a, d := cfg.Jobs["apply"].ResourceGroup, cfg.Jobs["drift"].ResourceGroup; a == "" || a != d {
		addf("apply and drift resource_group %q / %q: want one group", a, d)
	}
	if a := cfg.Jobs["drift"].Artifacts; a.When != "always" || !slices.Contains(a.Paths, "drift.sarif") {
		addf("drift artifacts %+v: want drift.sarif, kept when the job fails", a)
	}
	if a := cfg.Jobs["plan"].Artifacts; !slices.Contains(a.Paths, "plans/") || a.ExposeAs == "" {
		addf("plan artifacts %+v: want plans/, exposed in the merge request", a)
	}
	slices.Sort(problems)
	return problems
}

// The GitLab pipeline as shipped passes checkGitLab, and each way of
// breaking it below (in memory) is reported.
func TestGitLabPipeline(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(exampleDir, gitlabPath))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		old, new string
		want     string // in a reported problem; empty: none expected
	}{
		{name: "as shipped"},
		{"stage not declared", "stage: drift", "stage: nightly", `job drift: stage "nightly" is not in stages`},
		{"reference to a missing job", "!reference [.gcp-wif, script]", "!reference [.gcp-wf, script]", `".gcp-wf" is not defined`},
		{"extends a missing job", "extends: .invokerctl\n  stage: apply", "extends: .invokectl\n  stage: apply", "job apply extends .invokectl"},
		{"apply outside the resource group", "  resource_group: invokerctl-state\n  script:\n    # Planned", "  script:\n    # Planned", "resource_group"},
		{"drift not scheduled", `$CI_PIPELINE_SOURCE == "schedule"`, `$CI_PIPELINE_SOURCE == "push"`, `job drift: no rule on "schedule"`},
		{"no ID token", "GCP_ID_TOKEN:\n      aud:", "GCP_TOKEN:\n      aud:", "without an id_tokens GCP_ID_TOKEN audience"},
		{"drift report lost on failure", "    when: always\n", "", "drift artifacts"},
		{"not YAML", "stages: [validate, plan, apply, drift]", "stages: [validate, plan, apply, drift", "yaml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content := src
			if c.old != "" {
				if !bytes.Contains(src, []byte(c.old)) {
					t.Fatalf("%s no longer contains %q: update this case", gitlabPath, c.old)
				}
				content = bytes.Replace(src, []byte(c.old), []byte(c.new), 1)
			}
			problems := checkGitLab(content)
			if c.want == "" {
				if len(problems) != 0 {
					t.Fatalf("problems:\n%s", strings.Join(problems, "\n"))
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Fatalf("want a problem mentioning %q; got:\n%s", c.want, strings.Join(problems, "\n"))
			}
		})
	}
}

// The credentials file the GitLab jobs write is an external_account
// configuration Google's own Go client library accepts: GitLab's ID token
// read from a file only the job can read, exchanged at STS for the pool's
// audience, impersonating the CI account. (Nothing is exchanged here: the
// library only parses it until a token is asked for.)
func TestGitLabWorkloadIdentityCredentials(t *testing.T) {
	cfg := readGitLab(t)
	out := filepath.Join(t.TempDir(), "path")
	script := strings.Join(cfg.Jobs[".gcp-wif"].Script, "\n") + "\nprintf '%s' \"${GOOGLE_APPLICATION_CREDENTIALS}\" > " + out + "\n"
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir()}, glVariables...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".gcp-wif: %v\n%s", err, b)
	}
	path, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(string(path))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Type                           string `json:"type"`
		Audience                       string `json:"audience"`
		SubjectTokenType               string `json:"subject_token_type"`
		TokenURL                       string `json:"token_url"`
		ServiceAccountImpersonationURL string `json:"service_account_impersonation_url"`
		CredentialSource               struct {
			File string `json:"file"`
		} `json:"credential_source"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	env := map[string]string{}
	for _, kv := range glVariables {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	checks := []struct{ what, got, want string }{
		{"type", f.Type, "external_account"},
		{"audience", f.Audience, "//iam.googleapis.com/" + env["GCP_WORKLOAD_IDENTITY_PROVIDER"]},
		{"subject_token_type", f.SubjectTokenType, "urn:ietf:params:oauth:token-type:jwt"},
		{"token_url", f.TokenURL, "https://sts.googleapis.com/v1/token"},
		{"service_account_impersonation_url", f.ServiceAccountImpersonationURL,
			"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + ciAccount + ":generateAccessToken"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	token, err := os.ReadFile(f.CredentialSource.File)
	if err != nil || string(token) != env["GCP_ID_TOKEN"] {
		t.Errorf("credential_source.file holds %q (%v), want GitLab's ID token", token, err)
	}
	for _, p := range []string{string(path), f.CredentialSource.File} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (it holds a credential)", p, st.Mode().Perm())
		}
	}
	if _, err := google.CredentialsFromJSON(context.Background(), data, "https://www.googleapis.com/auth/cloud-platform"); err != nil {
		t.Errorf("Google's client library refuses the file: %v", err)
	}
}
