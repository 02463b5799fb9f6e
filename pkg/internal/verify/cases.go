package verify

import (
	"fmt"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
)

// Cases turns the report into report cases: one per declared member of each
// target, and one for each target's exposure.
func (r *Report) Cases() []report.Case {
	var out []report.Case
	for _, s := range r.Results {
		if s.Err != nil {
			out = append(out, report.Case{Suite: "verify", Target: s.TargetName, Name: "read policies", Outcome: report.Fail, Detail: s.Err.Error()})
			continue
		}
		for _, m := range s.Members {
			c := report.Case{Suite: "verify", Target: s.TargetName, Name: "grant " + m.Member}
			switch m.Status {
			case iampolicy.StatusDirect, iampolicy.StatusInherited:
				c.Outcome = report.Pass
				c.Detail = fmt.Sprintf("%s via %s on the %s", m.Status, m.Role, m.Source)
			case iampolicy.StatusPublic:
				c.Outcome = report.Warn
				c.Detail = "no grant of its own; the service is public"
			default:
				c.Outcome = report.Fail
				c.Detail = problemFor(s, m.Member, string(m.Status))
			}
			out = append(out, c)
		}
		exp := report.Case{Suite: "verify", Target: s.TargetName, Name: "exposure", Outcome: report.Pass, Detail: "private"}
		if s.Exposure.Public() {
			exp.Detail = "public: " + exposureText(s.Exposure)
			if !s.DeclaredPublic {
				exp.Outcome = report.Fail
				exp.Detail += " (not declared public)"
			}
		}
		if s.Ingress != "" {
			exp.Detail += "; ingress " + s.Ingress
		}
		if len(s.Warnings) > 0 {
			if exp.Outcome == report.Pass {
				exp.Outcome = report.Warn
			}
			exp.Detail += "\n" + strings.Join(s.Warnings, "\n")
		}
		out = append(out, exp)
	}
	return out
}

func problemFor(s *ServiceResult, member, fallback string) string {
	for _, p := range s.Problems {
		if strings.HasPrefix(p, member+" ") {
			return p
		}
	}
	return fallback
}
