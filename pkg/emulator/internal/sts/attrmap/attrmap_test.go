package attrmap

import (
	"strings"
	"testing"
)

func TestMappingAndCondition(t *testing.T) {
	claims := map[string]any{"sub": "repo:acme/app:ref:refs/heads/main", "repository": "acme/app",
		"repository_owner": "acme", "run_number": 7.0, "groups": []any{"a", "b"}, "nested": map[string]any{"x": "y"}}
	m, err := ParseMapping(map[string]string{Subject: "assertion.sub", Groups: "assertion.groups",
		"attribute.repository": "assertion.repository", "attribute.run": "assertion.run_number",
		"attribute.x": "assertion.nested.x", "attribute.absent": "assertion.nope", "attribute.const": "'k'"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.Apply(claims)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != claims["sub"] || id.Attributes["repository"] != "acme/app" || id.Attributes["run"] != "7" ||
		id.Attributes["x"] != "y" || id.Attributes["const"] != "k" || strings.Join(id.Groups, ",") != "a,b" {
		t.Fatalf("mapped %+v", id)
	}
	if _, ok := id.Attributes["absent"]; ok {
		t.Error("a missing claim made an attribute")
	}
	tests := []struct {
		cond  string
		admit bool
	}{
		{"", true},
		{"assertion.repository_owner == 'acme'", true},
		{`assertion.repository_owner == "other"`, false},
		{"attribute.repository == 'acme/app' && assertion.repository_owner != 'evil'", true},
		{"attribute.repository == 'acme/app' && assertion.repository_owner != 'acme'", false},
		{"google.subject == 'repo:acme/app:ref:refs/heads/main'", true},
		{"assertion.missing == 'x'", false},
		{"assertion.missing != 'x'", false},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.cond)
		if err != nil {
			t.Fatalf("%q: %v", tt.cond, err)
		}
		if got := c.Admits(claims, id); got != tt.admit {
			t.Errorf("%q admits = %v, want %v", tt.cond, got, tt.admit)
		}
	}
}

func TestRefused(t *testing.T) {
	mappings := []map[string]string{
		{"attribute.repository": "assertion.repository"},                // no google.subject
		{Subject: "assertion.sub", "attribute.Bad-Name": "assertion.x"}, // key
		{Subject: "assertion.sub.startsWith('x')"},                      // beyond the subset
		{Subject: "attribute.x"},                                        // mapping reads assertions only
	}
	for _, m := range mappings {
		if _, err := ParseMapping(m); err == nil {
			t.Errorf("ParseMapping(%v) accepted", m)
		}
	}
	for _, c := range []string{"assertion.ref.startsWith('refs/')", "a || b", "assertion.x == 'a' || true", "assertion.x"} {
		if _, err := ParseCondition(c); err == nil {
			t.Errorf("ParseCondition(%q) accepted", c)
		}
	}
	m, _ := ParseMapping(map[string]string{Subject: "assertion.sub"})
	if _, err := m.Apply(map[string]any{"sub": strings.Repeat("s", MaxSubjectBytes+1)}); err == nil {
		t.Error("a 128-byte subject was accepted")
	}
	if _, err := m.Apply(map[string]any{}); err == nil {
		t.Error("a token without sub was accepted")
	}
}
