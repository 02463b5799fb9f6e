// Package attrmap is the small part of CEL that workload identity
// providers use: an attributeMapping ("google.subject" = "assertion.sub",
// "attribute.repository" = "assertion.repository") turns an external
// token's claims into Google attributes, and an attributeCondition
// ("assertion.repository_owner == 'acme' && attribute.ref != 'x'") admits
// or rejects a token. Anything beyond that subset is refused when parsed,
// so a seed never silently means something other than what Google would
// evaluate.
package attrmap

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Subject, Groups: the Google attributes a mapping may set besides
// attribute.NAME.
const (
	Subject = "google.subject"
	Groups  = "google.groups"
)

// MaxSubjectBytes is the longest google.subject Google accepts.
const MaxSubjectBytes = 127

var (
	attrNameRe = regexp.MustCompile(`^attribute\.[a-z_][a-z0-9_]{0,99}$`)
	pathRe     = regexp.MustCompile(`^(assertion(\.[A-Za-z_][A-Za-z0-9_]*)+|attribute\.[a-z_][a-z0-9_]*|google\.(subject|groups))$`)
)

// operand is an assertion path, an attribute or a string literal.
type operand struct {
	path    []string // e.g. ["assertion", "sub"]; nil for a literal
	literal string
}

func parseOperand(s string, inMapping bool) (operand, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		v := s[1 : len(s)-1]
		if strings.ContainsRune(v, rune(s[0])) || strings.Contains(v, `\`) {
			return operand{}, fmt.Errorf("string %s: escapes are not supported", s)
		}
		return operand{literal: v}, nil
	}
	if !pathRe.MatchString(s) || (inMapping && !strings.HasPrefix(s, "assertion.")) {
		if inMapping {
			return operand{}, fmt.Errorf("%q: only assertion.CLAIM (or a quoted string) is supported", s)
		}
		return operand{}, fmt.Errorf("%q: only assertion.CLAIM, attribute.NAME, google.subject or a quoted string is supported", s)
	}
	return operand{path: strings.Split(s, ".")}, nil
}

// Mapping is a parsed attributeMapping.
type Mapping map[string]operand

// ParseMapping checks an attributeMapping: keys google.subject (required),
// google.groups or attribute.NAME; values assertion.CLAIM paths or quoted
// strings.
func ParseMapping(m map[string]string) (Mapping, error) {
	out := Mapping{}
	var errs []error
	for k, v := range m {
		if k != Subject && k != Groups && !attrNameRe.MatchString(k) {
			errs = append(errs, fmt.Errorf("attributeMapping key %q: want google.subject, google.groups or attribute.NAME (a-z, 0-9, _)", k))
			continue
		}
		op, err := parseOperand(v, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("attributeMapping %s: %w", k, err))
			continue
		}
		out[k] = op
	}
	if _, ok := m[Subject]; !ok && len(errs) == 0 {
		errs = append(errs, errors.New("attributeMapping must map google.subject (e.g. google.subject: assertion.sub)"))
	}
	return out, errors.Join(errs...)
}

// Identity is what a mapping made of one token's claims.
type Identity struct {
	Subject    string
	Groups     []string
	Attributes map[string]string // by NAME of attribute.NAME
}

// Apply maps claims; a mapped google.subject that is missing, empty or
// longer than MaxSubjectBytes is an error.
func (m Mapping) Apply(claims map[string]any) (Identity, error) {
	id := Identity{Attributes: map[string]string{}}
	for k, op := range m {
		v, ok := op.value(claims, nil)
		switch {
		case k == Subject:
			s, isStr := v.(string)
			if !ok || !isStr || s == "" {
				return Identity{}, errors.New("the attribute google.subject is not set: its mapping gives no value for this token")
			}
			if len(s) > MaxSubjectBytes {
				return Identity{}, fmt.Errorf("the mapped attribute google.subject exceeds the %d byte limit", MaxSubjectBytes)
			}
			id.Subject = s
		case k == Groups:
			switch g := v.(type) {
			case string:
				id.Groups = []string{g}
			case []any:
				for _, x := range g {
					if s, ok := x.(string); ok {
						id.Groups = append(id.Groups, s)
					}
				}
			}
		case ok:
			id.Attributes[strings.TrimPrefix(k, "attribute.")] = stringOf(v)
		}
	}
	return id, nil
}

// value resolves op over claims (assertion.*) and a mapped identity
// (attribute.*, google.*; nil inside a mapping).
func (op operand) value(claims map[string]any, id *Identity) (any, bool) {
	if op.path == nil {
		return op.literal, true
	}
	switch op.path[0] {
	case "assertion":
		var cur any = claims
		for _, seg := range op.path[1:] {
			obj, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = obj[seg]; !ok {
				return nil, false
			}
		}
		return cur, true
	case "attribute":
		if id == nil {
			return nil, false
		}
		v, ok := id.Attributes[op.path[1]]
		return v, ok
	default: // google.subject, google.groups
		if id == nil {
			return nil, false
		}
		if op.path[1] == "subject" {
			return id.Subject, true
		}
		return strings.Join(id.Groups, ","), true
	}
}

func stringOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// comparison is one "a == b" or "a != b".
type comparison struct {
	left, right operand
	negate      bool
}

// Condition is a parsed attributeCondition: comparisons joined by &&.
type Condition []comparison

// ParseCondition parses an attributeCondition; "" is no condition.
func ParseCondition(s string) (Condition, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out Condition
	for _, part := range strings.Split(s, "&&") {
		op, neg := "==", false
		if strings.Contains(part, "!=") {
			op, neg = "!=", true
		}
		l, r, ok := strings.Cut(part, op)
		if !ok || strings.Contains(r, "==") || strings.Contains(r, "!=") {
			return nil, fmt.Errorf("attributeCondition %q: only comparisons (a == b, a != b) joined by && are supported", s)
		}
		lo, err := parseOperand(l, false)
		if err != nil {
			return nil, fmt.Errorf("attributeCondition: %w", err)
		}
		ro, err := parseOperand(r, false)
		if err != nil {
			return nil, fmt.Errorf("attributeCondition: %w", err)
		}
		out = append(out, comparison{left: lo, right: ro, negate: neg})
	}
	return out, nil
}

// Admits reports whether the token (claims, and the identity mapped from
// them) satisfies the condition. A missing value makes its comparison
// false, as CEL's error does.
func (c Condition) Admits(claims map[string]any, id Identity) bool {
	for _, cmp := range c {
		l, lok := cmp.left.value(claims, &id)
		r, rok := cmp.right.value(claims, &id)
		if !lok || !rok || (stringOf(l) == stringOf(r)) == cmp.negate {
			return false
		}
	}
	return true
}
