package config

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/invokerctl/invokerctl/pkg/internal/member"
	"go.yaml.in/yaml/v3"
)

// FuzzMember fuzzes the member checks of the declaration parser, the one
// that judges user input: a member string goes into a public grant of an
// otherwise valid declaration. Parse must not panic, must accept exactly the
// grantable IAM members (short names are undeclared here, so refused), must
// resolve them to members the IAM grammar accepts, and must agree with the
// JSON Schema about the member's syntax. Seeds: testdata/fuzz/FuzzMember and
// the agreement cases.
func FuzzMember(f *testing.F) {
	for _, c := range memberCases {
		f.Add(c.s)
	}
	schema := compileSchema(f)
	f.Fuzz(func(t *testing.T, s string) {
		src, err := yaml.Marshal(map[string]any{
			"apiVersion": APIVersion, "project": "demo-project", "location": "us-central1",
			"grants": []any{map[string]any{"service": "orders-api", "public": true, "members": []string{s}, "invoke": map[string]any{"skip": true}}},
		})
		if err != nil {
			t.Skip("not representable in YAML")
		}
		short, checkErr := checkMember(s)
		d, err := Parse("fuzz.yaml", src)
		var ve *ValidationError
		switch {
		case err != nil && !errors.As(err, &ve):
			t.Fatalf("Parse error is %T, want *ValidationError", err)
		case err != nil && checkErr == nil && !short:
			t.Fatalf("member %q passes the member check but Parse refused it: %v", s, err)
		case err == nil && (checkErr != nil || short):
			t.Fatalf("Parse accepted %q (check: short=%v err=%v)", s, short, checkErr)
		case err == nil:
			r := d.Grants[0].ResolvedMembers
			if len(r) != 1 {
				t.Fatalf("resolved %v from %q", r, s)
			}
			m, perr := member.Parse(r[0])
			if perr != nil || !m.Grantable() || r[0] != member.Normalize(s) {
				t.Fatalf("%q resolved to %q (%v)", s, r[0], perr)
			}
		}
		// The schema sees the same string only if it survives JSON as is.
		if !utf8.ValidString(s) {
			return
		}
		inst := jsonInstance(t, map[string]any{
			"apiVersion": APIVersion, "project": "demo-project", "location": "us-central1",
			"grants": []any{map[string]any{"service": "orders-api", "public": true, "members": []string{s}}},
		})
		if schemaOK := schema.Validate(inst) == nil; schemaOK != (checkErr == nil) {
			t.Fatalf("member %q: JSON Schema accepts=%v, Go parser error=%v", s, schemaOK, checkErr)
		}
	})
}
