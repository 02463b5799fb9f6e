package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// memberClass is what a member string is, as the declaration sees it.
type memberClass int

const (
	classMember  memberClass = iota // an IAM member that names one identity or set
	classPublic                     // allUsers, allAuthenticatedUsers
	classShort                      // a short account name
	classDeleted                    // a deleted: member: IAM writes them, nobody grants them
	classInvalid
)

// memberCases are fed to the three member checks the project has: the Go
// parser behind Parse, the JSON Schema, and the Terraform module's variable
// validations. The two disagreements the parsers once had are settled by
// Google's principal identifiers reference (see pkg/internal/member):
// domain-scoped Kubernetes service accounts are IAM members, principal://
// outside iam.googleapis.com is not.
var memberCases = []struct {
	s     string
	class memberClass
}{
	{"user:a@example.com", classMember},
	{"user:Alice.O'Neil+ops@Example.COM", classMember},
	{"group:team@example.com", classMember},
	{"serviceAccount:orders@demo-project.iam.gserviceaccount.com", classMember},
	{"serviceAccount:demo-project.svc.id.goog[payments/api]", classMember},
	{"serviceAccount:example.com:demo-project.svc.id.goog[ns/ksa]", classMember},
	{"domain:example.com", classMember},
	{"principal://iam.googleapis.com/locations/global/workforcePools/staff-pool/subject/raha@altostrat.com", classMember},
	{"principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/subject/repo:org/app:ref:refs/heads/main", classMember},
	{"principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/demo-project.svc.id.goog/subject/ns/prod/sa/api", classMember},
	{"principalSet://iam.googleapis.com/locations/global/workforcePools/staff-pool/group/admins@altostrat.com", classMember},
	{"principalSet://iam.googleapis.com/locations/global/workforcePools/staff-pool/attribute.department/eng", classMember},
	{"principalSet://iam.googleapis.com/locations/global/workforcePools/staff-pool/*", classMember},
	{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci-pool/attribute.repository/my-org/my-repo", classMember},
	{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci-pool/*", classMember},
	{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/demo-project.svc.id.goog/namespace/prod", classMember},
	{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/demo-project.svc.id.goog/kubernetes.cluster/https://container.googleapis.com/v1/projects/demo-project/locations/us-central1/clusters/c1", classMember},
	{"principalSet://cloudresourcemanager.googleapis.com/folders/123/type/ServiceAccount", classMember},

	{"allUsers", classPublic},
	{"allAuthenticatedUsers", classPublic},

	{"orders-caller", classShort},
	{"a", classShort},
	{"allusers", classShort}, // a mistyped allUsers reads as a short name; Parse then finds no such account

	{"deleted:user:a@example.com?uid=123456789012345678901", classDeleted},
	{"deleted:serviceAccount:old@demo-project.iam.gserviceaccount.com?uid=1", classDeleted},

	{"", classInvalid},
	{"sa:foo", classInvalid},
	{"user:", classInvalid},
	{"user:nobody", classInvalid},
	{"user:a@localhost", classInvalid},
	{"user:a@example.com ", classInvalid},
	{"user:a@example.com\n", classInvalid},
	{"User:a@example.com", classInvalid},
	{"Orders-Caller", classInvalid},
	{"domain:localhost", classInvalid},
	{"serviceAccount:x", classInvalid},
	{"serviceAccount:demo-project.svc.id.goog[ns]", classInvalid},
	{"serviceAccount:Demo-Project.svc.id.goog[ns/ksa]", classInvalid},
	{"principal://example.com/x", classInvalid},
	{"principal://example.com/locations/global/workforcePools/staff-pool/subject/x", classInvalid},
	{"principal://iam.googleapis.com/x", classInvalid},
	{"principal://iam.googleapis.com/locations/global/workforcePools/staff-pool/subject/", classInvalid},
	{"principalSet://evil.example.com/locations/global/workforcePools/staff-pool/*", classInvalid},
	{"principalSet://iam.googleapis.com/locations/global/workforcePools/staff-pool/subject/x", classInvalid},
	{"principalSet://cloudresourcemanager.googleapis.com/projects/demo-project/type/ServiceAccount", classInvalid},
}

// verdict is whether one check accepts a case in a grant's members and as
// the smoke test's token creator.
type verdict struct{ grant, token bool }

// want is what every check must say about a class. Terraform gets the
// token creator already resolved, so the module refuses short names there.
func (c memberClass) want(module bool) verdict {
	switch c {
	case classMember:
		return verdict{true, true}
	case classPublic:
		return verdict{true, false}
	case classShort:
		return verdict{true, !module}
	}
	return verdict{}
}

// The Go parser, the JSON Schema and the module's validations agree on
// every member case.
func TestMemberGrammarAgreement(t *testing.T) {
	goSays := goVerdicts()
	schemaSays := schemaVerdicts(t)
	tfSays := terraformVerdicts(t)
	for i, c := range memberCases {
		if got, want := goSays[i], c.class.want(false); got != want {
			t.Errorf("Go parser on %q: %+v, want %+v", c.s, got, want)
		}
		if got, want := schemaSays[i], c.class.want(false); got != want {
			t.Errorf("JSON Schema on %q: %+v, want %+v", c.s, got, want)
		}
		if tfSays == nil {
			continue
		}
		if got, want := tfSays[i], c.class.want(true); got != want {
			t.Errorf("module validation on %q: %+v, want %+v", c.s, got, want)
		}
	}
	if tfSays == nil {
		t.Skip("terraform is not on PATH: the module's validations were not compared (the Go parser and the JSON Schema were)")
	}
}

// goVerdicts asks the checks Parse applies to every member field.
func goVerdicts() []verdict {
	out := make([]verdict, len(memberCases))
	for i, c := range memberCases {
		_, err := checkMember(c.s)
		out[i] = verdict{grant: err == nil, token: err == nil && !IsPublicMember(c.s)}
	}
	return out
}

// schemaVerdicts validates two documents per case against the schema: one
// with the case as a public grant's member, one with it as tokenCreator.
func schemaVerdicts(t *testing.T) []verdict {
	schema := compileSchema(t)
	valid := func(doc map[string]any) bool {
		doc["apiVersion"], doc["project"], doc["location"] = APIVersion, "demo-project", "us-central1"
		return schema.Validate(jsonInstance(t, doc)) == nil
	}
	out := make([]verdict, len(memberCases))
	for i, c := range memberCases {
		out[i] = verdict{
			grant: valid(map[string]any{"grants": []any{map[string]any{"service": "orders-api", "public": true, "members": []any{c.s}}}}),
			token: valid(map[string]any{"smokeTest": map[string]any{"tokenCreator": c.s}}),
		}
	}
	return out
}

// terraformVerdicts runs one `terraform validate` over a root module that
// calls the module twice per case: g_N with the case as a grant's member,
// t_N with it as token_creator_member. Only the module's variables.tf is
// copied: its validations depend on nothing else, so no provider is needed
// and nothing is downloaded. It returns nil when terraform is absent.
func terraformVerdicts(t *testing.T) []verdict {
	tfPath, err := exec.LookPath("terraform")
	if err != nil {
		return nil
	}
	dir := t.TempDir()
	vars, err := os.ReadFile(filepath.Join("..", "..", "terraform", "modules", "cloud-run-invokers", "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m", "variables.tf"), vars, 0o644); err != nil {
		t.Fatal(err)
	}
	var root strings.Builder
	for i, c := range memberCases {
		s := hclString(c.s)
		fmt.Fprintf(&root, "module \"g_%d\" {\n  source     = \"./m\"\n  project_id = \"demo-project\"\n  invoker_grants = { g = { service = \"orders-api\", location = \"us-central1\", members = [%s] } }\n}\n\n", i, s)
		fmt.Fprintf(&root, "module \"t_%d\" {\n  source               = \"./m\"\n  project_id           = \"demo-project\"\n  token_creator_member = %s\n}\n\n", i, s)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(root.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "TF_") && !strings.HasPrefix(strings.ToUpper(k), "HTTP") && k != "CHECKPOINT_DISABLE" {
			env = append(env, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, tfPath, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		return out, err
	}
	if out, err := run("init", "-backend=false", "-input=false", "-no-color"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	out, err := run("validate", "-json", "-no-color")
	var res struct {
		Diagnostics []struct {
			Severity, Summary, Detail string
			Snippet                   *struct{ Context string }
		}
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil {
		t.Fatalf("terraform validate printed no JSON (%v): %v\n%s", err, jerr, out)
	}
	rejected := map[string]bool{}
	callRe := regexp.MustCompile(`^module "([gt]_[0-9]+)"$`)
	for _, d := range res.Diagnostics {
		if d.Severity != "error" {
			continue
		}
		var call []string
		if d.Snippet != nil {
			call = callRe.FindStringSubmatch(d.Snippet.Context)
		}
		// Only the two member rules may refuse a case; anything else means
		// the root or the module is broken, not that a case was judged.
		rule := strings.HasPrefix(d.Detail, "Members must be IAM members") || strings.HasPrefix(d.Detail, "token_creator_member must be")
		if call == nil || d.Summary != "Invalid value for variable" || !rule || !strings.Contains(d.Detail, "m/variables.tf") {
			t.Fatalf("terraform validate: unexpected error %q: %s", d.Summary, d.Detail)
		}
		rejected[call[1]] = true
	}
	verdicts := make([]verdict, len(memberCases))
	for i := range memberCases {
		verdicts[i] = verdict{grant: !rejected[fmt.Sprintf("g_%d", i)], token: !rejected[fmt.Sprintf("t_%d", i)]}
	}
	return verdicts
}

// hclString quotes s as an HCL string literal: JSON escapes are HCL's, and
// template sequences are escaped so the value is taken literally.
func hclString(s string) string {
	b, _ := json.Marshal(s)
	q := strings.ReplaceAll(string(b), "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}
