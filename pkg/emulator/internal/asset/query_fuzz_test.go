package asset

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParseQuery feeds the Cloud Asset query parser arbitrary queries for
// both search methods: it never panics; a refusal is a 400 naming the
// query; an accepted query yields terms with a non-empty, lower-cased value
// over an allowed field, and parsing is deterministic.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{
		`policy:"roles/run.invoker"`,
		`policy.role.permissions:run.routes.invoke`,
		`policy.role.permissions:run.routes.* AND memberTypes:serviceAccount`,
		`roles=roles/run.invoker resource:projects/demo-project`,
		`name:orders labels.env:prod state=ACTIVE`,
		`"quoted value" plain`,
		`policy:allUsers OR policy:allAuthenticatedUsers`,
		`NOT policy:x`, `(policy:x)`, `-policy:x`, `policy:`, `policy:*`, `""`, `unknown:field`,
		"\t  AND  \t", `"unterminated`,
	} {
		f.Add(q)
	}
	fields := map[string]func(string) bool{"iam": iamFields, "resources": resourceFields}
	f.Fuzz(func(t *testing.T, q string) {
		for kind, allowed := range fields {
			terms, err := parseQuery(q, allowed)
			if err != nil {
				if err.Code != http.StatusBadRequest || !strings.Contains(err.Message, "Invalid query") {
					t.Fatalf("%s: %q refused with %d %q, want a 400 naming the query", kind, q, err.Code, err.Message)
				}
				continue
			}
			again, err2 := parseQuery(q, allowed)
			if err2 != nil || len(again) != len(terms) {
				t.Fatalf("%s: %q parsed differently the second time", kind, q)
			}
			for i, tm := range terms {
				if tm.value == "" || tm.value != strings.ToLower(tm.value) {
					t.Fatalf("%s: %q: term %d has value %q (want non-empty, lower-case)", kind, q, i, tm.value)
				}
				if tm.field != "" && !allowed(tm.field) {
					t.Fatalf("%s: %q: term %d over field %q, which is not allowed", kind, q, i, tm.field)
				}
				if tm != again[i] {
					t.Fatalf("%s: %q: term %d differs between two parses", kind, q, i)
				}
			}
		}
	})
}
