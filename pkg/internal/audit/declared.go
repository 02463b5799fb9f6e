package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"

	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/member"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// What `invokerctl drift` adds to the audit: a report of the declared
// targets only, built from verify's reads (one read of each service, its
// policy and its project's policy, whatever the number of declarations),
// and the declaration-side findings on it.

// DeclaredTargets is the report of the targets v verified, one Service per
// Cloud Run service however many expectations name it. A target whose
// service or function does not exist is left out (Drift reports it
// declared but not found); any other read failure is a ReadError naming
// the target (projects/p/locations/l/services/s or .../functions/f).
// Grants come from the service and its project (verify does not read
// folders and organizations).
func DeclaredTargets(v *verify.Report) *Report {
	rep := &Report{}
	scope := map[string]bool{}
	byName := map[string]*Service{}
	for _, res := range v.Results {
		if p := "projects/" + res.Target.Project; !scope[p] {
			scope[p] = true
			rep.Scope = append(rep.Scope, p)
		}
		if res.Err != nil {
			if !notFound(res.Err) {
				// Named as Drift names a declared target, which it then
				// does not report missing.
				t := res.Target
				name := fmt.Sprintf("projects/%s/locations/%s/%s", t.Project, t.Location, targetPath(t))
				rep.Errors = append(rep.Errors, &ReadError{Resource: name, What: "read", Err: res.Err, Message: errorText(res.Err)})
			}
			continue
		}
		s := byName[res.ServiceName]
		if s == nil {
			s = serviceOf(res)
			byName[res.ServiceName] = s
			rep.Services = append(rep.Services, s)
		}
		if res.Function != nil && s.Function == nil {
			s.Function = &Function{Name: res.Function.Name, EventDriven: res.Function.EventDriven,
				EventType: res.Function.EventType, TriggerServiceAccount: res.Function.TriggerServiceAccount}
		}
	}
	slices.Sort(rep.Scope)
	rep.Sort()
	return rep
}

func serviceOf(res *verify.ServiceResult) *Service {
	s := &Service{Name: res.ServiceName, Project: res.Target.Project, Location: segmentAfter(res.ServiceName, "locations"),
		ID: lastSegment(res.ServiceName), URI: res.URI, Ingress: res.Ingress, CustomAudiences: res.CustomAudiences,
		Exposure: Exposure{AllUsers: res.Exposure.AllUsers, AllAuthenticatedUsers: res.Exposure.AllAuthenticatedUsers,
			InvokerIAMDisabled: res.Exposure.InvokerIAMDisabled},
		CreateTime:  res.CreateTime,
		PolicyEmpty: res.PolicyEmpty,
	}
	for _, g := range res.Grants {
		p := Path{PathService, res.ServiceName}
		if g.Source == iampolicy.SourceProject {
			p = Path{PathProject, "projects/" + segmentAfter(res.ServiceName, "projects")}
		}
		s.Grants = append(s.Grants, Grant{Principal: member.Normalize(g.Member), Role: g.Role, CustomRole: iampolicy.IsCustom(g.Role), Path: p, Condition: g.Condition})
	}
	return s
}

// notFound reports whether err is the API's 404.
func notFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// Account is what IAM says of a declared service account.
type Account struct {
	Email    string
	Deleted  bool // serviceAccounts.get answered 404
	Disabled bool
}

// ReadAccounts reads each service account of emails once (IAM
// serviceAccounts.get), a few at a time. An account that cannot be read
// (other than not found) is a ReadError.
func ReadAccounts(ctx context.Context, svc *iam.Service, emails []string) ([]Account, []*ReadError) {
	emails = slices.Compact(slices.Sorted(slices.Values(emails)))
	out := make([]Account, len(emails))
	var (
		mu   sync.Mutex
		errs []*ReadError
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
	)
	for i, email := range emails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := "projects/-/serviceAccounts/" + email
			sa, err := svc.Projects.ServiceAccounts.Get(name).Context(ctx).Do()
			out[i] = Account{Email: email}
			switch {
			case notFound(err):
				out[i].Deleted = true
			case err != nil:
				mu.Lock()
				errs = append(errs, &ReadError{Resource: name, What: "get service account", Err: err, Message: errorText(err)})
				mu.Unlock()
			default:
				out[i].Disabled = sa.Disabled
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b *ReadError) int { return strings.Compare(a.Resource, b.Resource) })
	return out, errs
}

// AccountEmails are the service accounts among the members of exps.
func AccountEmails(exps []verify.Expectation) []string {
	var out []string
	for _, e := range exps {
		for _, m := range e.Members {
			if email, ok := strings.CutPrefix(member.Normalize(m), "serviceAccount:"); ok {
				out = append(out, email)
			}
		}
	}
	return out
}

// Declared is what the declarations say, for DeclaredDrift.
type Declared struct {
	Expectations []verify.Expectation
	// Accounts is IAM's view of the declared service accounts
	// (ReadAccounts of AccountEmails).
	Accounts []Account
	// Apply is the command that restores the declarations, named in the
	// findings of grants lost by a re-create ("invokerctl apply -f FILE").
	Apply string
}

// DeclaredDrift is what differs between r (DeclaredTargets) and d, both
// ways: Drift (declared grants missing, undeclared invokers), declared
// accounts deleted (RuleDriftMissing, naming the deletion) or disabled
// (RuleDriftAccountDisabled), deleted principals still bound
// (RuleDeleted), and public exposure on a target no declaration marks
// public: true (the public rules). A declared grant missing on a service
// whose own policy is empty, as a new service's is, is said to be lost by
// the re-create at its createTime. Other audit rules are hygiene, not
// drift, and are left to `invokerctl audit`.
func DeclaredDrift(r *Report, d Declared) []Finding {
	byName := map[string]*Service{}
	for _, s := range r.Services {
		byName[s.Name] = s
	}
	accounts := map[string]Account{}
	for _, a := range d.Accounts {
		accounts["serviceAccount:"+strings.ToLower(a.Email)] = a
	}
	unread := map[string]bool{}
	for _, e := range r.Errors {
		unread[e.Resource] = true
	}
	out := slices.DeleteFunc(Drift(r, d.Expectations), func(f Finding) bool {
		return f.Rule == RuleDriftMissing.ID && f.Principal == "" && unread[f.Service]
	})
	missing := map[string]bool{} // service|principal reported missing (service|disabled|principal: disabled)
	for i := range out {
		f := &out[i]
		if f.Rule != RuleDriftMissing.ID || f.Principal == "" {
			continue
		}
		missing[f.Service+"|"+f.Principal] = true
		f.Fix = strings.Replace(f.Fix, "invokerctl apply -f FILE", d.apply(), 1)
		if a := accounts[f.Principal]; a.Deleted {
			f.Message = fmt.Sprintf("%s: declared invoker %s was deleted (its bindings now read deleted:%s?uid=…)", labelOf(byName, f.Service), f.Principal, f.Principal)
			f.Fix = d.recreateFix()
		} else if s := byName[f.Service]; s != nil && s.PolicyEmpty && s.CreateTime != "" {
			f.Message += fmt.Sprintf("; %s was re-created at %s; grants do not survive a re-create; run %s", s.Label(), s.CreateTime, d.apply())
		}
	}
	idx := indexTargets(r)
	public := map[*Service]bool{}
	for _, e := range d.Expectations {
		s := idx.find(e.Target)
		if s == nil {
			continue
		}
		public[s] = public[s] || e.Public
		for _, m := range e.Members {
			m = member.Normalize(m)
			a := accounts[m]
			g := Grant{Principal: m, Role: "roles/run.invoker", Path: Path{PathService, s.Name}}
			if key := s.Name + "|" + m; a.Deleted && !missing[key] {
				missing[key] = true
				f := RuleDriftMissing.finding(s, &g, fmt.Sprintf("%s: declared invoker %s no longer exists (the account was deleted)", s.Label(), m))
				f.Fix = d.recreateFix()
				out = append(out, f)
			}
			if key := s.Name + "|disabled|" + m; a.Disabled && !missing[key] {
				missing[key] = true
				out = append(out, RuleDriftAccountDisabled.finding(s, &g, fmt.Sprintf("%s: declared invoker %s is disabled: it cannot get a token to call it", s.Label(), m)))
			}
		}
	}
	for _, f := range Findings(r) {
		switch f.Rule {
		case RuleAllUsers.ID, RuleAllAuthenticated.ID, RuleInvokerIAMDisabled.ID:
			if s := byName[f.Service]; s != nil && !public[s] {
				out = append(out, f)
			}
		case RuleDeleted.ID:
			out = append(out, f)
		}
	}
	return out
}

func (d Declared) apply() string {
	if d.Apply == "" {
		return "invokerctl apply -f FILE"
	}
	return d.Apply
}

func (d Declared) recreateFix() string {
	return "run " + d.apply() + " to create the account again and grant it (or remove it from the declaration)"
}

func labelOf(byName map[string]*Service, name string) string {
	if s := byName[name]; s != nil {
		return s.Label()
	}
	return name
}
