package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const good = `apiVersion: invokerctl/v1
project: my-project
location: us-central1
serviceAccounts:
  - name: orders-caller
    displayName: Orders caller
  - name: audit
    accountId: audit-bot-1
grants:
  - service: orders-api
    members: [orders-caller, "serviceAccount:X@other.iam.gserviceaccount.com", "group:team@example.com"]
    invoke:
      refusedCaller: audit
  - function: resize
    location: europe-west1
    members: [audit]
`

func TestParseResolves(t *testing.T) {
	d, err := Parse("invokers.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.ServiceAccounts[0].AccountID, "orders-caller"; got != want {
		t.Errorf("accountId default = %q, want %q", got, want)
	}
	g := d.Grants[0]
	want := []string{
		"serviceAccount:orders-caller@my-project.iam.gserviceaccount.com",
		"serviceAccount:x@other.iam.gserviceaccount.com",
		"group:team@example.com",
	}
	if !reflect.DeepEqual(g.ResolvedMembers, want) {
		t.Errorf("resolved = %q, want %q", g.ResolvedMembers, want)
	}
	if g.Key() != "service/us-central1/orders-api" {
		t.Errorf("key = %q", g.Key())
	}
	if g.Invoke.Method != "GET" || g.Invoke.Path != "/" || g.Invoke.ExpectStatus != 200 {
		t.Errorf("invoke defaults = %+v", g.Invoke)
	}
	if g.Invoke.Caller != want[0] {
		t.Errorf("default caller = %q, want the first serviceAccount member", g.Invoke.Caller)
	}
	if g.Invoke.RefusedMember != "serviceAccount:audit-bot-1@my-project.iam.gserviceaccount.com" {
		t.Errorf("refused = %q", g.Invoke.RefusedMember)
	}
	f := d.Grants[1]
	if f.Kind != KindFunction || f.Location != "europe-west1" || f.Key() != "function/europe-west1/resize" {
		t.Errorf("function grant = %+v", f)
	}
	if sa, ok := d.AccountByMember(f.ResolvedMembers[0]); !ok || sa.Name != "audit" {
		t.Errorf("AccountByMember = %+v %v", sa, ok)
	}
}

// The message format is part of the contract with users: file:line:col,
// field path, the value and the rule.
func TestPositionedMessage(t *testing.T) {
	src := `apiVersion: invokerctl/v1
project: my-project
location: us-central1
serviceAccounts:
  - name: foo-caller
grants:
  - service: a
    members: [foo-caller]
  - service: b
    members:
      - foo-caller
      - sa:foo
`
	_, err := Parse("invokers.yaml", []byte(src))
	want := `invokers.yaml:12:9: grants[1].members[1]: "sa:foo" is not a valid IAM member (want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Line != 12 || ve.Errors[0].Column != 9 {
		t.Fatalf("not a positioned *ValidationError: %#v", err)
	}
}

func TestAllErrorsReported(t *testing.T) {
	src := `apiVersion: invokerctl/v2
project: My_Project
location: mars
colour: blue
serviceAccounts:
  - name: short
  - name: dup-account
  - name: dup-account
grants:
  - service: orders-api
    members: [nobody, allUsers, "user:a@example.com", "user:A@example.com"]
    invoke:
      method: FETCH
      expectStatus: 42
      body: x
  - service: orders-api
    members: [dup-account]
  - function: f1
    service: s1
    members: [dup-account]
  - service: pay
    members: [dup-account]
    invoke:
      refusedCaller: dup-account
`
	_, err := Parse("bad.yaml", []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	msgs := err.Error()
	for _, want := range []string{
		`bad.yaml:1:13: apiVersion: "invokerctl/v2" is not supported`,
		`bad.yaml:2:10: project: "My_Project" is not a valid project id`,
		`bad.yaml:3:11: location: "mars" is not a valid location`,
		`bad.yaml:4:1: colour: unknown field "colour"`,
		`bad.yaml:6:11: serviceAccounts[0].name: account id "short" must be 6-30 characters long (it is 5)`,
		`bad.yaml:8:11: serviceAccounts[2].name: duplicate account name "dup-account" (first declared at line 7)`,
		`bad.yaml:11:15: grants[0].members[0]: unknown short name "nobody"`,
		`bad.yaml:11:23: grants[0].members[1]: "allUsers" makes the target public; set public: true`,
		`bad.yaml:11:55: grants[0].members[3]: "user:A@example.com" is listed twice (also members[2])`,
		`bad.yaml:13:15: grants[0].invoke.method: "FETCH" is not an HTTP method`,
		`bad.yaml:14:21: grants[0].invoke.expectStatus: 42 is not an HTTP status`,
		`bad.yaml:16:5: grants[1]: duplicate grant: service "orders-api" in mars is already granted by grants[0] (line 10)`,
		`bad.yaml:18:15: grants[2]: set exactly one of service or function, not both`,
		`bad.yaml:24:22: grants[3].invoke.refusedCaller: "dup-account" is granted on this service`,
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("missing %q in\n%s", want, msgs)
		}
	}
	if strings.Contains(msgs, `duplicate account id "dup-account"`) {
		t.Errorf("a duplicate name is reported once, not again as a duplicate id:\n%s", msgs)
	}
	if !strings.HasPrefix(msgs, "bad.yaml: ") || !strings.Contains(strings.SplitN(msgs, "\n", 2)[0], "problems") {
		t.Errorf("first line should count the problems: %q", strings.SplitN(msgs, "\n", 2)[0])
	}
	// Errors come in file order.
	for i := 1; i < len(ve.Errors); i++ {
		if ve.Errors[i].Line < ve.Errors[i-1].Line {
			t.Errorf("errors out of order at %d: %v then %v", i, ve.Errors[i-1], ve.Errors[i])
		}
	}
}

func TestRules(t *testing.T) {
	head := "apiVersion: invokerctl/v1\nproject: my-project\nlocation: us-central1\nserviceAccounts:\n  - name: caller-one\n"
	cases := []struct {
		name, body, want string // want "" means valid
	}{
		{"public with flag", "grants:\n  - service: www\n    public: true\n    members: [allUsers, allAuthenticatedUsers]\n", ""},
		{"principal", "grants:\n  - service: s\n    members: [\"principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/subject/x\", caller-one]\n", ""},
		{"principalSet", "grants:\n  - service: s\n    members: [\"principalSet://iam.googleapis.com/locations/global/workforcePools/p/group/g\", caller-one]\n", ""},
		{"workload identity", "grants:\n  - service: s\n    members: [\"serviceAccount:my-project.svc.id.goog[ns/ksa]\"]\n", ""},
		{"domain", "grants:\n  - service: s\n    members: [\"domain:example.com\", caller-one]\n", ""},
		{"deleted member", "grants:\n  - service: s\n    members: [\"deleted:serviceAccount:a@b.iam.gserviceaccount.com?uid=1\"]\n", "names a deleted principal"},
		{"bad email", "grants:\n  - service: s\n    members: [\"user:nobody\"]\n", `"user:nobody" is not a valid IAM member`},
		{"empty member", "grants:\n  - service: s\n    members: [\"\"]\n", "grants[0].members[0]: must not be empty"},
		{"no members", "grants:\n  - service: s\n    members: []\n", "grants[0].members: at least one member is required"},
		{"neither target", "grants:\n  - members: [caller-one]\n", "set exactly one of service or function"},
		{"bad service name", "grants:\n  - service: Orders_API\n    members: [caller-one]\n", `"Orders_API" is not a valid Cloud Run service name`},
		{"bad grant location", "grants:\n  - service: s\n    location: europe\n    members: [caller-one]\n", `grants[0].location: "europe" is not a valid location`},
		{"same service other location", "grants:\n  - service: s\n    members: [caller-one]\n  - service: s\n    location: europe-west1\n    members: [caller-one]\n", ""},
		{"service and function same name", "grants:\n  - service: s\n    members: [caller-one]\n  - function: s\n    members: [caller-one]\n", ""},
		{"group only needs as or skip", "grants:\n  - service: s\n    members: [\"group:g@example.com\"]\n", "no serviceAccount member to call as"},
		{"group only skip", "grants:\n  - service: s\n    members: [\"group:g@example.com\"]\n    invoke: {skip: true}\n", ""},
		{"as user refused", "grants:\n  - service: s\n    members: [\"user:u@example.com\"]\n    invoke: {as: \"user:u@example.com\"}\n", "cannot be a caller"},
		{"refused on public", "grants:\n  - service: s\n    public: true\n    members: [allAuthenticatedUsers]\n    invoke: {refusedCaller: caller-one}\n", "is public"},
		{"body with GET", "grants:\n  - service: s\n    members: [caller-one]\n    invoke: {body: hi}\n", "a GET request carries no body"},
		{"path", "grants:\n  - service: s\n    members: [caller-one]\n    invoke: {path: health}\n", `"health" must start with /`},
		{"wrong type", "grants:\n  - service: s\n    members: [caller-one]\n    authoritative: \"yes\"\n", "grants[0].authoritative: want true or false, got a string"},
		{"members not a list", "grants:\n  - service: s\n    members: caller-one\n", "grants[0].members: want a list, got a string"},
		{"duplicate key", "grants:\n  - service: s\n    service: t\n    members: [caller-one]\n", `grants[0].service: duplicate key "service"`},
		{"token creator", "smokeTest:\n  tokenCreator: allUsers\n", "would let anyone mint"},
		{"token creator short", "smokeTest:\n  tokenCreator: caller-one\n", ""},
		{"backend", "terraform:\n  backend:\n    type: gcs\n    config: {bucket: b, prefix: p}\n", ""},
		{"bad backend", "terraform:\n  backend:\n    type: gcss\n", `terraform.backend.type: "gcss" is not a Terraform backend`},
		{"backend unknown key", "terraform:\n  backend:\n    type: gcs\n    bucket: b\n", `terraform.backend.bucket: unknown field "bucket"`},
		{"merge keys", "grants:\n  - &base\n    service: s\n    members: [caller-one]\n    invoke: {path: /a}\n  - <<: *base\n    service: t\n", ""},
		{"merge of a scalar", "grants:\n  - <<: 3\n    service: s\n    members: [caller-one]\n", "a merge key (<<) needs a mapping"},
		{"account id pattern", "  - name: x\n    accountId: ends-with-\n", `account id "ends-with-" must match`},
		{"duplicate account id", "  - name: other\n    accountId: caller-one\n", `duplicate account id "caller-one"`},
		{"long display name", "  - name: caller-two\n    displayName: " + strings.Repeat("x", 101) + "\n", "at most 100 are allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(head+tc.body))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("not a *ValidationError: %T", err)
			}
			for _, fe := range ve.Errors {
				if fe.Line == 0 {
					t.Errorf("error without a position: %v", fe)
				}
			}
		})
	}
}

func TestBadYAML(t *testing.T) {
	for name, src := range map[string]string{
		"empty":     "",
		"syntax":    "apiVersion: invokerctl/v1\nproject: [unclosed\n",
		"two docs":  "apiVersion: invokerctl/v1\n---\nproject: x\n",
		"not a map": "- a\n- b\n",
	} {
		_, err := Parse("f.yaml", []byte(src))
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "f.yaml:") {
			t.Errorf("%s: want a positioned *ValidationError, got %v", name, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want not-exist, got %v", err)
	}
}

func TestMemberKind(t *testing.T) {
	for m, want := range map[string]string{
		"user:a@example.com":                         "user",
		"group:g@example.com":                        "group",
		"serviceAccount:s@p.iam.gserviceaccount.com": "serviceAccount",
		"domain:example.com":                         "domain",
		"allUsers":                                   "allUsers",
		"allAuthenticatedUsers":                      "allAuthenticatedUsers",
		"allusers":                                   "",
		"user:":                                      "",
		"sa:foo":                                     "",
		"principal://iam.googleapis.com/x":           "",
		"principal://iam.googleapis.com/locations/global/workforcePools/staff/subject/a@example.com": "principal",
		"deleted:user:a@example.com?uid=123": "",
		"principal://evil.example.com/x":     "",
		"projectOwners":                      "",
	} {
		if got := MemberKind(m); got != want {
			t.Errorf("MemberKind(%q) = %q, want %q", m, got, want)
		}
	}
}

func TestMergeKeys(t *testing.T) {
	src := `apiVersion: invokerctl/v1
project: my-project
location: us-central1
serviceAccounts:
  - name: caller-one
grants:
  - &base
    service: orders-api
    members: [caller-one]
    invoke: {path: /healthz, expectStatus: 204}
  - <<: *base
    service: billing-api
`
	d, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g := d.Grants[1]
	if g.Name != "billing-api" || g.Invoke.Path != "/healthz" || g.Invoke.ExpectStatus != 204 || len(g.ResolvedMembers) != 1 {
		t.Fatalf("merged grant: %+v", g)
	}
}
