package asset

// The subset of Cloud Asset's query language the emulator understands.
//
// A query is terms separated by spaces, all of which must hold (a literal
// AND between terms is accepted). A term is FIELD:VALUE (contains, case
// insensitive; a trailing * is a prefix wildcard and is dropped),
// FIELD=VALUE (equals, case insensitive) or a bare VALUE (contained in any
// searchable field); VALUE may be double-quoted. OR, NOT and parentheses
// are refused with 400 rather than misread.
//
// searchAllIamPolicies fields:
//   - policy: a binding's role or one of its members contains VALUE;
//   - policy.role.permissions: the binding's role carries a permission
//     equal to VALUE (with a trailing *: starting with it);
//   - roles: the binding's role equals VALUE;
//   - memberTypes: a member is of type VALUE (user, serviceAccount, group,
//     domain, ...);
//   - resource: the resource's full name contains (:) or equals (=) VALUE.
//
// Binding terms select bindings: a result keeps only the bindings that meet
// every binding term, and is left out when none does — as Google does.
//
// searchAllResources fields: name, displayName, description, location,
// state, and labels.KEY (labels.KEY:VALUE; labels:KEY or labels:VALUE for
// any label).

import (
	"net/http"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// term is one parsed query term.
type term struct {
	field string // "" for a bare value
	exact bool   // FIELD=VALUE
	value string // lower-cased, quotes and a trailing * removed
	glob  bool   // the value ended with *
}

// matches compares s with the term's value.
func (t term) matches(s string) bool {
	s = strings.ToLower(s)
	if t.exact {
		return s == t.value
	}
	return strings.Contains(s, t.value)
}

// parseQuery splits q into terms over the allowed fields.
func parseQuery(q string, allowed func(field string) bool) ([]term, *httpx.Error) {
	var terms []term
	for _, tok := range tokenize(q) {
		if tok == "AND" {
			continue
		}
		if tok == "OR" || tok == "NOT" || strings.ContainsAny(tok, "()") || strings.HasPrefix(tok, "-") {
			return nil, httpx.ErrInvalid("Invalid query %q: the emulator supports terms joined by AND only (no OR, NOT or parentheses).", q)
		}
		var t term
		val := tok
		if i := strings.IndexAny(tok, ":="); i > 0 && !strings.HasPrefix(tok, `"`) {
			t.field, t.exact, val = tok[:i], tok[i] == '=', tok[i+1:]
			if !allowed(t.field) {
				return nil, httpx.ErrInvalid("Invalid query %q: field %q is not supported by the emulator.", q, t.field)
			}
		}
		val = strings.Trim(val, `"`)
		if strings.HasSuffix(val, "*") {
			t.glob, val = true, strings.TrimSuffix(val, "*")
		}
		if val == "" {
			return nil, httpx.ErrInvalid("Invalid query %q: a term has no value.", q)
		}
		t.value = strings.ToLower(val)
		terms = append(terms, t)
	}
	return terms, nil
}

// tokenize splits on spaces outside double quotes.
func tokenize(q string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range q {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case (r == ' ' || r == '\t') && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// iamFields are the searchAllIamPolicies query fields.
func iamFields(f string) bool {
	switch f {
	case "policy", "policy.role.permissions", "roles", "memberTypes", "resource":
		return true
	}
	return false
}

// resourceFields are the searchAllResources query fields.
func resourceFields(f string) bool {
	switch f {
	case "name", "displayName", "description", "location", "state", "labels":
		return true
	}
	return strings.HasPrefix(f, "labels.")
}

// policyMatcher filters one resource's bindings by the query's terms.
type policyMatcher struct {
	terms []term
	// perms lists the permissions a role carries (predefined or custom).
	perms func(role string) []string
}

// resourceOK applies the resource-level terms to the resource's full name.
func (m policyMatcher) resourceOK(name string) bool {
	for _, t := range m.terms {
		if t.field == "resource" && !t.matches(name) {
			return false
		}
	}
	return true
}

// bindings returns the bindings that meet every binding-level term (for a
// bare term: the binding or the resource name contains it).
func (m policyMatcher) bindings(resource string, bs []*model.Binding) []*model.Binding {
	var out []*model.Binding
	for _, b := range bs {
		ok := true
		for _, t := range m.terms {
			if !m.bindingOK(t, resource, b) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, b)
		}
	}
	return out
}

func (m policyMatcher) bindingOK(t term, resource string, b *model.Binding) bool {
	anyMember := func(f func(string) bool) bool {
		for _, mem := range b.Members {
			if f(mem) {
				return true
			}
		}
		return false
	}
	switch t.field {
	case "resource":
		return true
	case "roles":
		return strings.EqualFold(b.Role, t.value) || (!t.exact && t.matches(b.Role))
	case "memberTypes":
		return anyMember(func(mem string) bool {
			kind, _, _ := strings.Cut(mem, ":")
			return strings.EqualFold(kind, t.value)
		})
	case "policy.role.permissions":
		for _, p := range m.perms(b.Role) {
			p = strings.ToLower(p)
			if p == t.value || t.glob && strings.HasPrefix(p, t.value) {
				return true
			}
		}
		return false
	case "policy":
		return t.matches(b.Role) || anyMember(t.matches)
	default: // a bare value
		return t.matches(b.Role) || anyMember(t.matches) || t.matches(resource)
	}
}

// resourceMatches applies searchAllResources terms to an item.
func resourceMatches(terms []term, it *item) bool {
	for _, t := range terms {
		ok := false
		switch {
		case t.field == "name":
			ok = t.matches(it.name)
		case t.field == "displayName":
			ok = t.matches(it.displayName)
		case t.field == "description":
			ok = t.matches(it.description)
		case t.field == "location":
			ok = t.matches(it.location)
		case t.field == "state":
			ok = t.matches(it.state)
		case t.field == "labels":
			for k, v := range it.labels {
				ok = ok || t.matches(k) || t.matches(v)
			}
		case strings.HasPrefix(t.field, "labels."):
			v, has := it.labels[strings.TrimPrefix(t.field, "labels.")]
			ok = has && t.matches(v)
		default:
			ok = t.matches(it.name) || t.matches(it.displayName) || t.matches(it.description)
		}
		if !ok {
			return false
		}
	}
	return true
}

// queryOf is the request's query parameter.
func queryOf(r *http.Request) string { return strings.TrimSpace(r.URL.Query().Get("query")) }
