package audit

import (
	"fmt"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/member"
)

// Rule is one kind of finding: a stable id, a short name, a severity and a
// one-line fix. The table is documented in README.md ("Audit findings");
// keep the two in step.
type Rule struct {
	ID       string
	Name     string
	Severity Severity
	What     string
	Fix      string
}

// The rules, by id. Ids never change meaning; new rules get new ids.
var (
	RuleAllUsers = Rule{"INV001", "public-allusers", Critical,
		"allUsers holds run.routes.invoke: anyone on the internet can call the service",
		"remove allUsers from the service's invoker bindings, or declare the service public: true"}
	RuleAllAuthenticated = Rule{"INV002", "public-allauthenticatedusers", High,
		"allAuthenticatedUsers holds run.routes.invoke: any Google account can call the service",
		"grant roles/run.invoker to the callers' own principals instead of allAuthenticatedUsers"}
	RuleInvokerIAMDisabled = Rule{"INV003", "invoker-iam-disabled", Critical,
		"invokerIamDisabled is set: the service skips the IAM check, so it is public without any binding",
		"set invokerIamDisabled to false (gcloud run services update S --invoker-iam-check)"}
	RuleAncestorInvoke = Rule{"INV010", "invoke-granted-above-service", High,
		"run.routes.invoke is granted at project, folder or organization level: every service below is callable",
		"bind roles/run.invoker on each service the principal calls, and remove the ancestor-level binding"}
	RuleBroadRole = Rule{"INV020", "broad-role-held-by-caller", Medium,
		"a broad role carrying run.routes.invoke (owner, editor, run.admin, run.developer, …) is held by a principal that only calls services",
		"replace the broad role with roles/run.invoker on the services the principal calls"}
	RuleDeleted = Rule{"INV030", "deleted-principal", Low,
		"a deleted: principal is still bound: the binding grants nothing and only clutters the policy",
		"remove the deleted: member from the binding"}
	RuleCustomRole = Rule{"INV031", "custom-role-carries-invoke", Low,
		"a custom role carries run.routes.invoke: review what else it grants and who holds it",
		"prefer roles/run.invoker; keep custom roles for permissions no predefined role has"}
	RuleEventFunction = Rule{"INV040", "event-function-extra-invoker", Medium,
		"an event-driven function grants invoke to someone other than its trigger's account",
		"remove the binding; only the trigger's service account needs roles/run.invoker on the function's service"}
	RuleFunctionsInvoker = Rule{"INV041", "cloudfunctions-invoker-on-gen2", Low,
		"roles/cloudfunctions.invoker is bound for a 2nd gen function: it covers only 1st gen functions and grants nothing here",
		"bind roles/run.invoker on the function's Cloud Run service instead"}
	RuleIngress = Rule{"INV050", "ingress-refuses-granted-callers", Medium,
		"the service's ingress refuses callers it grants invoke to (ingress none or internal-only)",
		"allow the callers' traffic in ingress (or put them in the VPC), or remove the grants"}
	RuleDriftMissing = Rule{"INV070", "drift-declared-grant-missing", High,
		"a grant in the declaration is not in force",
		"run invokerctl apply -f FILE (or find who removed it)"}
	RuleDriftUndeclared = Rule{"INV071", "drift-undeclared-invoker", Medium,
		"a principal can invoke a declared target but no declaration grants it (click-ops, or left behind)",
		"add it to the declaration, or remove the binding (authoritative: true removes it on apply)"}
	RuleDriftAccountDisabled = Rule{"INV072", "drift-declared-account-disabled", High,
		"a declared invoker is a disabled service account: it cannot authenticate, so its grant calls nothing",
		"enable the account (gcloud iam service-accounts enable EMAIL), or remove it from the declaration"}
)

// Rules lists every rule in id order.
func Rules() []Rule {
	return []Rule{RuleAllUsers, RuleAllAuthenticated, RuleInvokerIAMDisabled, RuleAncestorInvoke, RuleBroadRole,
		RuleDeleted, RuleCustomRole, RuleEventFunction, RuleFunctionsInvoker, RuleIngress, RuleDriftMissing, RuleDriftUndeclared, RuleDriftAccountDisabled}
}

func (r Rule) finding(s *Service, g *Grant, msg string) Finding {
	f := Finding{Rule: r.ID, Name: r.Name, Severity: r.Severity, Service: s.Name, Message: msg, Fix: r.Fix}
	if g != nil {
		p := g.Path
		f.Principal, f.Role, f.Path = g.Principal, g.Role, &p
	}
	return f
}

// InvokerRoles are the predefined roles whose purpose is invoking: holding
// one of them is what a caller should hold. Every other role carrying
// run.routes.invoke is broad.
var InvokerRoles = map[string]bool{"roles/run.invoker": true, "roles/run.servicesInvoker": true}

// Callers are the principals that evidently call services: service
// accounts (and workload identities) that hold an invoker role or a custom
// role carrying invoke somewhere in the report, trigger accounts of
// event-driven functions, and the default compute and App Engine runtime
// accounts. This is the "held by principals that only call services"
// heuristic of RuleBroadRole: a broad role on one of them is reported,
// a broad role on a person, a group or a deployer account is not.
func Callers(r *Report) map[string]bool {
	out := map[string]bool{}
	for _, s := range r.Services {
		if s.Function != nil && s.Function.TriggerServiceAccount != "" {
			out[member.Normalize("serviceAccount:"+s.Function.TriggerServiceAccount)] = true
		}
		for _, g := range s.Grants {
			if workload(g.Principal) && (InvokerRoles[g.Role] || g.CustomRole) {
				out[g.Principal] = true
			}
			if defaultRuntimeAccount(g.Principal) {
				out[g.Principal] = true
			}
		}
	}
	return out
}

func workload(p string) bool {
	return strings.HasPrefix(p, "serviceAccount:") || strings.HasPrefix(p, "principal://") || strings.HasPrefix(p, "principalSet://")
}

func defaultRuntimeAccount(p string) bool {
	return strings.HasPrefix(p, "serviceAccount:") &&
		(strings.HasSuffix(p, "-compute@developer.gserviceaccount.com") || strings.HasSuffix(p, "@appspot.gserviceaccount.com"))
}

// Findings applies every rule but drift to the report.
func Findings(r *Report) []Finding {
	callers := Callers(r)
	var out []Finding
	for _, s := range r.Services {
		out = append(out, serviceFindings(s, callers)...)
	}
	return out
}

func serviceFindings(s *Service, callers map[string]bool) []Finding {
	var out []Finding
	if s.Exposure.InvokerIAMDisabled {
		out = append(out, RuleInvokerIAMDisabled.finding(s, nil, s.Label()+" has invokerIamDisabled: anyone who reaches it can call it"))
	}
	granted := false // someone other than the public specials and the deleted
	seenDeleted := map[string]bool{}
	for i := range s.Grants {
		g := &s.Grants[i]
		cond := ""
		if g.Conditional() {
			cond = fmt.Sprintf(" under condition %q", g.Condition.Expression)
		}
		where := "on the service"
		if g.Path.Inherited() {
			where = "inherited from " + g.Path.Resource
		}
		switch {
		case g.Principal == string(member.AllUsers):
			out = append(out, RuleAllUsers.finding(s, g, fmt.Sprintf("%s: allUsers holds %s %s%s", s.Label(), g.Role, where, cond)))
			continue
		case g.Principal == string(member.AllAuthenticatedUsers):
			out = append(out, RuleAllAuthenticated.finding(s, g, fmt.Sprintf("%s: allAuthenticatedUsers holds %s %s%s", s.Label(), g.Role, where, cond)))
			continue
		case member.IsDeleted(g.Principal):
			if !seenDeleted[g.Principal+"|"+g.Path.Resource] {
				seenDeleted[g.Principal+"|"+g.Path.Resource] = true
				out = append(out, RuleDeleted.finding(s, g, fmt.Sprintf("%s: %s is bound (%s, %s) but the principal was deleted", s.Label(), g.Principal, g.Role, where)))
			}
			continue
		}
		granted = true
		broad := !InvokerRoles[g.Role] && !g.CustomRole
		if g.Path.Inherited() && !broad {
			out = append(out, RuleAncestorInvoke.finding(s, g, fmt.Sprintf("%s: %s holds %s %s%s, so it can call every service below", s.Label(), g.Principal, g.Role, where, cond)))
		}
		if broad && callers[g.Principal] {
			out = append(out, RuleBroadRole.finding(s, g, fmt.Sprintf("%s: %s, which calls services, holds the broad role %s %s%s", s.Label(), g.Principal, g.Role, where, cond)))
		}
		if g.CustomRole {
			out = append(out, RuleCustomRole.finding(s, g, fmt.Sprintf("%s: %s holds custom role %s %s%s, which carries run.routes.invoke", s.Label(), g.Principal, g.Role, where, cond)))
		}
		if s.Function != nil && s.Function.EventDriven && !g.Path.Inherited() &&
			!member.Same(g.Principal, "serviceAccount:"+s.Function.TriggerServiceAccount) {
			out = append(out, RuleEventFunction.finding(s, g, fmt.Sprintf("%s is event-driven (%s, trigger account %s) but %s holds %s on it%s",
				s.Label(), s.Function.EventType, s.Function.TriggerServiceAccount, g.Principal, g.Role, cond)))
		}
	}
	for _, b := range s.FunctionInvokerBindings {
		g := Grant{Principal: b.Principal, Role: b.Role, Path: b.Path}
		out = append(out, RuleFunctionsInvoker.finding(s, &g, fmt.Sprintf("%s is a 2nd gen function: %s holds %s (%s), which grants nothing on it",
			s.Label(), b.Principal, b.Role, b.Path)))
	}
	if refusesCallers(s) && (granted || s.Exposure.Public()) {
		out = append(out, RuleIngress.finding(s, nil, fmt.Sprintf("%s has ingress %s: callers it grants invoke to are refused unless their traffic comes from inside its network", s.Label(), s.Ingress)))
	}
	return out
}

// refusesCallers: ingress none refuses everyone; internal ingress refuses
// callers from outside the network — except for an event-driven function,
// whose trigger's calls count as internal.
func refusesCallers(s *Service) bool {
	switch s.Ingress {
	case "INGRESS_TRAFFIC_NONE":
		return true
	case "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER":
		return s.Function == nil || !s.Function.EventDriven
	}
	return false
}
