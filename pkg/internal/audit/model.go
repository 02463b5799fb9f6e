// Package audit answers, for every Cloud Run service and every Cloud Run
// function (2nd gen) in scope, "who can invoke it, and why": each principal
// holding run.routes.invoke with the path of its grant (the service, its
// project, each folder above, the organization), public exposure, ingress
// and custom audiences; findings with stable rule ids; and drift against
// invokerctl declarations. The renderers live in audit/render.
package audit

import (
	"fmt"
	"sort"

	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
)

// PathKind is where a grant is bound.
type PathKind string

// Grant paths, nearest first.
const (
	PathService      PathKind = "service"
	PathProject      PathKind = "project"
	PathFolder       PathKind = "folder"
	PathOrganization PathKind = "organization"
)

// Path is the resource a grant is bound on: "projects/p/locations/l/services/s",
// "projects/p", "folders/123" or "organizations/456".
type Path struct {
	Kind     PathKind `json:"kind"`
	Resource string   `json:"resource"`
}

// Inherited reports whether the grant comes from an ancestor of the service.
func (p Path) Inherited() bool { return p.Kind != PathService }

func (p Path) String() string {
	if p.Kind == PathService {
		return "service"
	}
	return p.Resource
}

// Grant is one principal holding run.routes.invoke on a service through one
// binding.
type Grant struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
	// CustomRole: Role is a custom role, resolved through IAM.
	CustomRole bool                 `json:"customRole,omitempty"`
	Path       Path                 `json:"path"`
	Condition  *iampolicy.Condition `json:"condition,omitempty"`
}

// Conditional reports whether the grant holds only under a condition.
func (g Grant) Conditional() bool { return g.Condition != nil }

// Exposure says how a service is open to callers without a grant of their own.
type Exposure struct {
	AllUsers              bool `json:"allUsers"`
	AllAuthenticatedUsers bool `json:"allAuthenticatedUsers"`
	InvokerIAMDisabled    bool `json:"invokerIamDisabled"`
}

// Public reports whether anyone can invoke without a grant of their own.
func (e Exposure) Public() bool {
	return e.AllUsers || e.AllAuthenticatedUsers || e.InvokerIAMDisabled
}

// Function is the Cloud Functions (2nd gen) function a service backs.
type Function struct {
	Name        string `json:"name"` // projects/p/locations/l/functions/f
	EventDriven bool   `json:"eventDriven"`
	EventType   string `json:"eventType,omitempty"`
	// TriggerServiceAccount is the account Eventarc calls the function as.
	TriggerServiceAccount string `json:"triggerServiceAccount,omitempty"`
}

// Binding is a binding that matters to a finding without carrying
// run.routes.invoke (roles/cloudfunctions.invoker on a 2nd gen function).
type Binding struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
	Path      Path   `json:"path"`
}

// Service is one Cloud Run service in scope and who can invoke it.
type Service struct {
	Name            string    `json:"name"` // projects/p/locations/l/services/s
	Project         string    `json:"project"`
	Location        string    `json:"location"`
	ID              string    `json:"id"` // the short name
	URI             string    `json:"uri,omitempty"`
	Ingress         string    `json:"ingress,omitempty"`
	CustomAudiences []string  `json:"customAudiences,omitempty"`
	Function        *Function `json:"function,omitempty"`
	Grants          []Grant   `json:"grants"`
	Exposure        Exposure  `json:"exposure"`
	// FunctionInvokerBindings: roles/cloudfunctions.invoker bindings on a
	// service backing a 2nd gen function (they grant nothing there).
	FunctionInvokerBindings []Binding `json:"functionInvokerBindings,omitempty"`
	// Incomplete: a policy on the service's path could not be read, so
	// Grants may lack some; Errors of the report name the resource.
	Incomplete bool `json:"incomplete,omitempty"`
	// CreateTime (Run v2) and PolicyEmpty (the service's own policy has
	// no binding, as a new service's) are filled in for declared targets
	// (DeclaredTargets): grants do not survive a re-create.
	CreateTime  string `json:"createTime,omitempty"`
	PolicyEmpty bool   `json:"policyEmpty,omitempty"`
}

// Label is "function f (p/l)" or "service s (p/l)".
func (s *Service) Label() string {
	if s.Function != nil {
		return fmt.Sprintf("function %s (%s/%s)", lastSegment(s.Function.Name), s.Project, s.Location)
	}
	return fmt.Sprintf("service %s (%s/%s)", s.ID, s.Project, s.Location)
}

// Severity ranks findings.
type Severity string

// Severities, lowest first.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities (low 1 … critical 4; 0 for an unknown one).
func (s Severity) Rank() int {
	switch s {
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return 0
}

// ParseSeverity reads low, medium, high or critical.
func ParseSeverity(s string) (Severity, error) {
	if Severity(s).Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want low, medium, high or critical)", s)
	}
	return Severity(s), nil
}

// Finding is one problem the audit found on one service.
type Finding struct {
	Rule     string   `json:"rule"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Service  string   `json:"service"` // the service's full name
	// Principal, Role and Path say which grant it is about, when it is
	// about one.
	Principal string `json:"principal,omitempty"`
	Role      string `json:"role,omitempty"`
	Path      *Path  `json:"path,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix"`
}

// ReadError is a resource whose state could not be read (permission
// denied, not found, retries exhausted); the rest of the report stands.
type ReadError struct {
	Resource string `json:"resource"`
	What     string `json:"what"` // "list services", "getIamPolicy", ...
	Err      error  `json:"-"`
	Message  string `json:"message"`
}

func (e *ReadError) Error() string { return e.What + " " + e.Resource + ": " + e.Message }
func (e *ReadError) Unwrap() error { return e.Err }

// Report is the answer of an audit.
type Report struct {
	Scope    []string     `json:"scope"` // "projects/p", ...
	Services []*Service   `json:"services"`
	Findings []Finding    `json:"findings"`
	Errors   []*ReadError `json:"errors,omitempty"`
}

// Sort puts services by name and findings by severity (highest first),
// rule, service and principal, so output is stable.
func (r *Report) Sort() {
	sort.Slice(r.Services, func(i, j int) bool { return r.Services[i].Name < r.Services[j].Name })
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Principal < b.Principal
	})
	sort.Slice(r.Errors, func(i, j int) bool { return r.Errors[i].Resource < r.Errors[j].Resource })
}

// AtOrAbove counts the findings of severity min or higher.
func (r *Report) AtOrAbove(min Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity.Rank() >= min.Rank() {
			n++
		}
	}
	return n
}

// Principals lists every principal with a grant, sorted, once each.
func (r *Report) Principals() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.Services {
		for _, g := range s.Grants {
			if !seen[g.Principal] {
				seen[g.Principal] = true
				out = append(out, g.Principal)
			}
		}
	}
	sort.Strings(out)
	return out
}

func lastSegment(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
