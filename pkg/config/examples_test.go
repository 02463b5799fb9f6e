package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("invokers.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("invokers.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

// yamlToInstance converts YAML to the JSON value model the validator expects.
func yamlToInstance(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return jsonInstance(t, v)
}

// jsonInstance converts a Go value to the JSON value model the validator
// expects.
func jsonInstance(t testing.TB, v any) any {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func exampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*/invokers.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("expected at least three examples, found %v (%v)", files, err)
	}
	return files
}

// Every example parses, validates and matches the JSON Schema.
func TestExamples(t *testing.T) {
	schema := compileSchema(t)
	for _, f := range exampleFiles(t) {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			d, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Grants) == 0 {
				t.Fatal("an example without grants shows nothing")
			}
			data, _ := os.ReadFile(f)
			if err := schema.Validate(yamlToInstance(t, data)); err != nil {
				t.Fatalf("example does not match the schema: %v", err)
			}
		})
	}
}

func TestQuickstartContent(t *testing.T) {
	d, err := Load("../../examples/quickstart/invokers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Project != "demo-project" || d.Location != "us-central1" {
		t.Fatalf("project/location = %s/%s", d.Project, d.Location)
	}
	byKey := map[string]Grant{}
	for _, g := range d.Grants {
		byKey[g.Key()] = g
	}
	m := func(n string) string { return "serviceAccount:" + n + "@demo-project.iam.gserviceaccount.com" }
	checks := map[string][]string{
		"service/us-central1/orders-api":    {m("orders-caller")},
		"service/us-central1/billing-api":   {m("orders-caller"), m("billing-caller")},
		"function/us-central1/resize-image": {m("orders-caller")},
		"function/us-central1/on-upload":    {m("billing-caller")},
	}
	for k, want := range checks {
		g, ok := byKey[k]
		if !ok {
			t.Errorf("missing grant %s", k)
			continue
		}
		if strings.Join(g.ResolvedMembers, ",") != strings.Join(want, ",") {
			t.Errorf("%s members = %v, want %v", k, g.ResolvedMembers, want)
		}
	}
	if got := byKey["service/us-central1/orders-api"].Invoke.RefusedMember; got != m("audit-bot") {
		t.Errorf("orders-api refused caller = %q", got)
	}
}

// The schema is not a rubber stamp: it rejects what Parse rejects
// structurally.
func TestSchemaRejects(t *testing.T) {
	schema := compileSchema(t)
	for name, src := range map[string]string{
		"unknown key":     "apiVersion: invokerctl/v1\nproject: my-project\nlocation: us-central1\ncolour: red\n",
		"bad member":      "apiVersion: invokerctl/v1\nproject: my-project\nlocation: us-central1\ngrants:\n  - service: s\n    members: [\"sa:foo\"]\n",
		"both targets":    "apiVersion: invokerctl/v1\nproject: my-project\nlocation: us-central1\ngrants:\n  - service: s\n    function: f\n    members: [a-b]\n",
		"short account":   "apiVersion: invokerctl/v1\nproject: my-project\nlocation: us-central1\nserviceAccounts:\n  - name: x\n    accountId: abc\n",
		"missing project": "apiVersion: invokerctl/v1\nlocation: us-central1\n",
	} {
		if err := schema.Validate(yamlToInstance(t, []byte(src))); err == nil {
			t.Errorf("%s: schema accepted it", name)
		}
		if _, err := Parse("x.yaml", []byte(src)); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range exampleFiles(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(good))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("grants: [{service: s, members: [&m orders, *m]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			if d != nil {
				t.Fatal("declaration returned with an error")
			}
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			if len(ve.Errors) == 0 {
				t.Fatal("empty ValidationError")
			}
			for _, fe := range ve.Errors {
				if fe.Line < 1 || fe.Column < 1 {
					t.Fatalf("error without a position: %q", fe.Error())
				}
			}
			return
		}
		// Whatever passes must hold the invariants later stages rely on.
		if !projectRe.MatchString(d.Project) || !locationRe.MatchString(d.Location) {
			t.Fatalf("accepted project/location %q/%q", d.Project, d.Location)
		}
		keys := map[string]bool{}
		for _, g := range d.Grants {
			if keys[g.Key()] {
				t.Fatalf("duplicate grant %s accepted", g.Key())
			}
			keys[g.Key()] = true
			if len(g.ResolvedMembers) == 0 || len(g.ResolvedMembers) != len(g.Members) {
				t.Fatalf("grant %s resolved %v from %v", g.Key(), g.ResolvedMembers, g.Members)
			}
			for _, m := range g.ResolvedMembers {
				if MemberKind(m) == "" {
					t.Fatalf("grant %s has invalid resolved member %q", g.Key(), m)
				}
				if IsPublicMember(m) && !g.Public {
					t.Fatalf("public member accepted without public: true")
				}
			}
		}
		for _, sa := range d.ServiceAccounts {
			if len(sa.AccountID) < 6 || len(sa.AccountID) > 30 || !accountIDRe.MatchString(sa.AccountID) {
				t.Fatalf("accepted account id %q", sa.AccountID)
			}
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
	})
}
