package audit

import (
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/internal/member"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// Drift compares the report with declared expectations (from
// pipeline.Expectations of each declaration) in both directions:
//
//   - RuleDriftMissing: a declared member without an unconditional grant of
//     run.routes.invoke on its target (on the service or inherited), or a
//     declared target the audit did not find;
//   - RuleDriftUndeclared: a principal bound on a declared target itself
//     (not inherited: ancestor grants have RuleAncestorInvoke) that no
//     declaration grants on that target. allUsers and allAuthenticatedUsers
//     are left to the public rules, deleted principals to RuleDeleted, and
//     an event-driven function's trigger account to its deployment.
//
// Targets outside the report's scope are skipped.
func Drift(r *Report, exps []verify.Expectation) []Finding {
	idx := indexTargets(r)
	inScope := map[string]bool{}
	for _, sc := range r.Scope {
		inScope[sc] = true
	}
	declared := map[*Service]map[string]bool{}
	var out []Finding
	for _, e := range exps {
		t := e.Target
		if !inScope["projects/"+t.Project] {
			continue
		}
		s := idx.find(t)
		if s == nil {
			missing := &Service{Name: fmt.Sprintf("projects/%s/locations/%s/%s", t.Project, t.Location, targetPath(t))}
			out = append(out, RuleDriftMissing.finding(missing, nil, fmt.Sprintf("%s is declared but was not found", t)))
			continue
		}
		if declared[s] == nil {
			declared[s] = map[string]bool{}
		}
		for _, m := range e.Members {
			m = member.Normalize(m)
			declared[s][m] = true
			if !holds(s, m) {
				g := Grant{Principal: m, Role: "roles/run.invoker", Path: Path{PathService, s.Name}}
				out = append(out, RuleDriftMissing.finding(s, &g, fmt.Sprintf("%s: declared invoker %s holds no unconditional grant of run.routes.invoke", s.Label(), m)))
			}
		}
	}
	for _, s := range r.Services {
		known, ok := declared[s]
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for i := range s.Grants {
			g := &s.Grants[i]
			if g.Path.Inherited() || known[g.Principal] || seen[g.Principal] || member.IsPublic(g.Principal) || member.IsDeleted(g.Principal) {
				continue
			}
			if s.Function != nil && s.Function.EventDriven && member.Same(g.Principal, "serviceAccount:"+s.Function.TriggerServiceAccount) {
				continue
			}
			seen[g.Principal] = true
			out = append(out, RuleDriftUndeclared.finding(s, g, fmt.Sprintf("%s: %s holds %s on it but no declaration grants it", s.Label(), g.Principal, g.Role)))
		}
	}
	return out
}

// targetIndex finds the service of a report a declared target names (a
// function through the service behind it).
type targetIndex struct {
	byName, byFunction map[string]*Service
}

func indexTargets(r *Report) targetIndex {
	idx := targetIndex{map[string]*Service{}, map[string]*Service{}}
	for _, s := range r.Services {
		idx.byName[s.Name] = s
		if s.Function != nil {
			idx.byFunction[s.Function.Name] = s
		}
	}
	return idx
}

func (idx targetIndex) find(t verify.Target) *Service {
	if t.Function != "" {
		return idx.byFunction[fmt.Sprintf("projects/%s/locations/%s/functions/%s", t.Project, t.Location, t.Function)]
	}
	return idx.byName[fmt.Sprintf("projects/%s/locations/%s/services/%s", t.Project, t.Location, t.Service)]
}

func holds(s *Service, m string) bool {
	for _, g := range s.Grants {
		if g.Principal == m && !g.Conditional() {
			return true
		}
	}
	return false
}

func targetPath(t verify.Target) string {
	if t.Function != "" {
		return "functions/" + t.Function
	}
	return "services/" + t.Service
}
