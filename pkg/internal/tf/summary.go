package tf

import (
	"fmt"
	"io"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/invokerctl/invokerctl/pkg/internal/mdtext"
)

// Resource types the module manages.
const (
	typeAccount      = "google_service_account"
	typeMember       = "google_cloud_run_v2_service_iam_member"
	typeBinding      = "google_cloud_run_v2_service_iam_binding"
	typeTokenCreator = "google_service_account_iam_member"
)

// Summary is a plan described in terms of grants: accounts to create,
// update or delete, and invoker members to add or remove per service.
type Summary struct {
	AccountsToCreate []AccountChange      `json:"accountsToCreate"`
	AccountsToUpdate []AccountChange      `json:"accountsToUpdate"`
	AccountsToDelete []AccountChange      `json:"accountsToDelete"`
	Services         []ServiceChange      `json:"services"`
	TokenCreators    []TokenCreatorChange `json:"tokenCreators"`
	// Other lists changes to resources outside the module's known types
	// ("ADDRESS: create"), so nothing is hidden.
	Other []string `json:"other,omitempty"`
}

// AccountChange is one service account in a plan.
type AccountChange struct {
	// Name is the short name (the module's map key).
	Name      string `json:"name"`
	AccountID string `json:"accountId,omitempty"`
	Email     string `json:"email,omitempty"`
}

// ServiceChange is the net change to one Cloud Run service's invoker list.
type ServiceChange struct {
	Project  string `json:"project,omitempty"`
	Location string `json:"location,omitempty"`
	// Service is the Cloud Run service (a function's backing service).
	Service string `json:"service"`
	// Function is set when the grant names a function.
	Function      string   `json:"function,omitempty"`
	Authoritative bool     `json:"authoritative"`
	Add           []string `json:"add"`
	Remove        []string `json:"remove"`
	// Set is the whole invoker list an authoritative binding being created
	// or changed will hold: members granted outside the declaration that
	// are not in it are removed at apply, which no plan can list.
	Set []string `json:"set,omitempty"`
}

// TokenCreatorChange is a roles/iam.serviceAccountTokenCreator grant change.
type TokenCreatorChange struct {
	Action         string `json:"action"` // "add" or "remove"
	ServiceAccount string `json:"serviceAccount"`
	Member         string `json:"member"`
}

// Empty reports whether the summary holds no change at all.
func (s *Summary) Empty() bool {
	return len(s.AccountsToCreate)+len(s.AccountsToUpdate)+len(s.AccountsToDelete)+len(s.Services)+len(s.TokenCreators)+len(s.Other) == 0
}

// Counts of members added and removed across services.
func (s *Summary) memberCounts() (add, remove int) {
	for _, sc := range s.Services {
		add += len(sc.Add)
		remove += len(sc.Remove)
	}
	return add, remove
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strList(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// grantOf parses the module's for_each key: "KIND/LOCATION/NAME" or
// "KIND/LOCATION/NAME|MEMBER".
func grantOf(index any) (kind, location, name string) {
	key, _ := index.(string)
	key, _, _ = strings.Cut(key, "|")
	parts := strings.SplitN(key, "/", 3)
	if len(parts) != 3 {
		return "", "", ""
	}
	return parts[0], parts[1], parts[2]
}

type serviceKey struct{ project, location, service, function string }

// Summarize turns a plan (terraform show -json) into a Summary.
func Summarize(p *tfjson.Plan) *Summary {
	s := &Summary{}
	type acc struct {
		sc     ServiceChange
		add    map[string]bool
		remove map[string]bool
		set    []string
	}
	services := map[serviceKey]*acc{}
	touch := func(m map[string]any, index any, authoritative bool) *acc {
		kind, loc, name := grantOf(index)
		// The provider may store the service's full resource name
		// (projects/P/locations/L/services/S) where the config has S.
		k := serviceKey{project: str(m, "project"), location: str(m, "location"), service: lastSegment(str(m, "name"))}
		if k.location == "" {
			k.location = loc
		}
		if k.service == "" {
			k.service = "(known after apply)"
		}
		if kind == "function" {
			k.function = name
		}
		a, ok := services[k]
		if !ok {
			a = &acc{sc: ServiceChange{Project: k.project, Location: k.location, Service: k.service, Function: k.function}, add: map[string]bool{}, remove: map[string]bool{}}
			services[k] = a
		}
		a.sc.Authoritative = a.sc.Authoritative || authoritative
		return a
	}

	for _, rc := range p.ResourceChanges {
		// A null entry of resource_changes decodes to nil.
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		act := rc.Change.Actions
		if act.NoOp() || act.Read() || len(act) == 0 {
			continue
		}
		before, after := obj(rc.Change.Before), obj(rc.Change.After)
		del, create := act.Delete() || act.Replace(), act.Create() || act.Replace()
		name, _ := rc.Index.(string)
		switch rc.Type {
		case typeAccount:
			if del && before != nil {
				s.AccountsToDelete = append(s.AccountsToDelete, AccountChange{Name: name, AccountID: str(before, "account_id"), Email: str(before, "email")})
			}
			if create && after != nil {
				email := str(after, "email")
				if email == "" && str(after, "account_id") != "" && str(after, "project") != "" {
					email = str(after, "account_id") + "@" + str(after, "project") + ".iam.gserviceaccount.com"
				}
				s.AccountsToCreate = append(s.AccountsToCreate, AccountChange{Name: name, AccountID: str(after, "account_id"), Email: email})
			}
			if act.Update() {
				s.AccountsToUpdate = append(s.AccountsToUpdate, AccountChange{Name: name, AccountID: str(after, "account_id"), Email: str(before, "email")})
			}
		case typeMember:
			if del && before != nil {
				touch(before, rc.Index, false).remove[str(before, "member")] = true
			}
			if create && after != nil {
				touch(after, rc.Index, false).add[str(after, "member")] = true
			}
			if act.Update() && before != nil && after != nil && str(before, "member") != str(after, "member") {
				touch(before, rc.Index, false).remove[str(before, "member")] = true
				touch(after, rc.Index, false).add[str(after, "member")] = true
			}
		case typeBinding:
			if (del || act.Update()) && before != nil {
				a := touch(before, rc.Index, true)
				for _, m := range strList(before, "members") {
					a.remove[m] = true
				}
			}
			if (create || act.Update()) && after != nil {
				a := touch(after, rc.Index, true)
				a.set = strList(after, "members")
				for _, m := range a.set {
					a.add[m] = true
				}
			}
		case typeTokenCreator:
			if del && before != nil {
				s.TokenCreators = append(s.TokenCreators, TokenCreatorChange{Action: "remove", ServiceAccount: saEmail(str(before, "service_account_id")), Member: str(before, "member")})
			}
			if create && after != nil {
				sa := saEmail(str(after, "service_account_id"))
				if sa == "" {
					sa = name + " (known after apply)"
				}
				s.TokenCreators = append(s.TokenCreators, TokenCreatorChange{Action: "add", ServiceAccount: sa, Member: str(after, "member")})
			}
		default:
			s.Other = append(s.Other, fmt.Sprintf("%s: %s", rc.Address, actionWord(act)))
		}
	}

	for _, a := range services {
		// A member both removed and added on the same service (a binding
		// rewritten, a replace) is no change for that member.
		for m := range a.add {
			if a.remove[m] {
				delete(a.add, m)
				delete(a.remove, m)
			}
		}
		if len(a.add)+len(a.remove)+len(a.set) == 0 {
			continue
		}
		a.sc.Add, a.sc.Remove = sortedSet(a.add), sortedSet(a.remove)
		if a.set != nil {
			// strList gave a.set its own backing array.
			a.sc.Set = a.set
			sort.Strings(a.sc.Set)
		}
		s.Services = append(s.Services, a.sc)
	}
	sort.Slice(s.Services, func(i, j int) bool {
		a, b := s.Services[i], s.Services[j]
		if a.Project != b.Project {
			return a.Project < b.Project
		}
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		// Functions sharing one backing service are separate entries;
		// without this their order would follow map iteration.
		return a.Function < b.Function
	})
	for _, l := range [][]AccountChange{s.AccountsToCreate, s.AccountsToUpdate, s.AccountsToDelete} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	sort.Slice(s.TokenCreators, func(i, j int) bool {
		a, b := s.TokenCreators[i], s.TokenCreators[j]
		if a.Action != b.Action {
			return a.Action < b.Action
		}
		if a.ServiceAccount != b.ServiceAccount {
			return a.ServiceAccount < b.ServiceAccount
		}
		return a.Member < b.Member
	})
	sort.Strings(s.Other)
	return s
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// saEmail extracts the email from projects/P/serviceAccounts/EMAIL.
func saEmail(id string) string {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		return id[i+1:]
	}
	return id
}

func actionWord(a tfjson.Actions) string {
	switch {
	case a.Replace():
		return "replace"
	case a.Create():
		return "create"
	case a.Delete():
		return "delete"
	case a.Update():
		return "update"
	}
	return fmt.Sprint(a)
}

// Render writes the summary for people.
func (s *Summary) Render(w io.Writer) {
	if s.Empty() {
		fmt.Fprintln(w, "No changes: the grants match the declaration.")
		return
	}
	if n := len(s.AccountsToCreate) + len(s.AccountsToUpdate) + len(s.AccountsToDelete); n > 0 {
		fmt.Fprintln(w, "Service accounts:")
		for _, a := range s.AccountsToCreate {
			fmt.Fprintf(w, "  + %s\n", accountLabel(a))
		}
		for _, a := range s.AccountsToUpdate {
			fmt.Fprintf(w, "  ~ %s (display name or description)\n", accountLabel(a))
		}
		for _, a := range s.AccountsToDelete {
			fmt.Fprintf(w, "  - %s\n", accountLabel(a))
		}
	}
	if len(s.Services) > 0 {
		fmt.Fprintln(w, "roles/run.invoker:")
		for _, sc := range s.Services {
			target := "service " + sc.Service
			if sc.Function != "" {
				target = fmt.Sprintf("function %s (service %s)", sc.Function, sc.Service)
			}
			mode := ""
			if sc.Authoritative {
				mode = ", authoritative"
			}
			fmt.Fprintf(w, "  %s in %s/%s%s\n", target, sc.Project, sc.Location, mode)
			if sc.Set != nil {
				fmt.Fprintln(w, "    the invoker list becomes exactly (any other member is removed):")
				for _, m := range sc.Set {
					fmt.Fprintf(w, "    = %s\n", m)
				}
			}
			for _, m := range sc.Add {
				fmt.Fprintf(w, "    + %s\n", m)
			}
			for _, m := range sc.Remove {
				fmt.Fprintf(w, "    - %s\n", m)
			}
		}
	}
	if len(s.TokenCreators) > 0 {
		fmt.Fprintln(w, "roles/iam.serviceAccountTokenCreator:")
		for _, tc := range s.TokenCreators {
			sign := "+"
			if tc.Action == "remove" {
				sign = "-"
			}
			fmt.Fprintf(w, "  %s %s on %s\n", sign, tc.Member, tc.ServiceAccount)
		}
	}
	for _, o := range s.Other {
		fmt.Fprintf(w, "  other: %s\n", o)
	}
	add, remove := s.memberCounts()
	fmt.Fprintf(w, "Plan: %d account(s) to create, %d to update, %d to delete; %d invoker member(s) to add, %d to remove.\n",
		len(s.AccountsToCreate), len(s.AccountsToUpdate), len(s.AccountsToDelete), add, remove)
}

func accountLabel(a AccountChange) string {
	if a.Email != "" {
		return fmt.Sprintf("%s (%s)", a.Email, a.Name)
	}
	return a.Name
}

// Outcome is the summary in one line: "no changes", or counts such as
// "3 grants to add, 1 to remove, 2 accounts to create".
func (s *Summary) Outcome() string {
	if s.Empty() {
		return "no changes"
	}
	add, remove := s.memberCounts()
	for _, tc := range s.TokenCreators {
		if tc.Action == "remove" {
			remove++
		} else {
			add++
		}
	}
	var parts []string
	if add+remove > 0 {
		parts = append(parts, fmt.Sprintf("%d %s to add, %d to remove", add, plural(add, "grant"), remove))
	}
	if n := len(s.AccountsToCreate); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s to create", n, plural(n, "account")))
	}
	if n := len(s.AccountsToUpdate); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s to update", n, plural(n, "account")))
	}
	if n := len(s.AccountsToDelete); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s to delete", n, plural(n, "account")))
	}
	if n := len(s.Other); n > 0 {
		parts = append(parts, fmt.Sprintf("%d other %s", n, plural(n, "change")))
	}
	if len(parts) == 0 { // authoritative lists re-set with no member change
		return "invoker lists to re-set"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// RenderMarkdown writes the summary as a Markdown table (mdtext), what
// takes access away first: deletions and removals, then updates, then
// additions.
func (s *Summary) RenderMarkdown(w io.Writer) {
	if s.Empty() {
		fmt.Fprintln(w, "No changes: the grants match the declaration.")
		return
	}
	var rows [][]string
	where := func(sc ServiceChange) string {
		t := "service " + mdtext.Code(sc.Service)
		if sc.Function != "" {
			t = "function " + mdtext.Code(sc.Function)
		}
		return fmt.Sprintf("%s in %s/%s", t, sc.Project, sc.Location)
	}
	code := func(list []string) string {
		out := make([]string, len(list))
		for i, m := range list {
			out[i] = mdtext.Code(m)
		}
		return strings.Join(out, ", ")
	}
	accounts := func(verb string, list []AccountChange, on string) {
		for _, a := range list {
			rows = append(rows, []string{verb, mdtext.Code(accountLabel(a)), on})
		}
	}
	members := func(verb string, pick func(ServiceChange) []string) {
		for _, sc := range s.Services {
			for _, m := range pick(sc) {
				rows = append(rows, []string{verb, mdtext.Code(m), where(sc)})
			}
		}
	}
	tokenCreators := func(verb string, remove bool) {
		for _, tc := range s.TokenCreators {
			if (tc.Action == "remove") == remove {
				rows = append(rows, []string{verb, mdtext.Code(tc.Member), mdtext.Code(tc.ServiceAccount)})
			}
		}
	}
	accounts("delete account", s.AccountsToDelete, "")
	members("remove roles/run.invoker", func(sc ServiceChange) []string { return sc.Remove })
	tokenCreators("remove roles/iam.serviceAccountTokenCreator", true)
	for _, sc := range s.Services {
		if sc.Set != nil {
			rows = append(rows, []string{"set the invoker list to exactly (others removed)", code(sc.Set), where(sc)})
		}
	}
	accounts("update account", s.AccountsToUpdate, "display name or description")
	accounts("create account", s.AccountsToCreate, "")
	members("add roles/run.invoker", func(sc ServiceChange) []string { return sc.Add })
	tokenCreators("add roles/iam.serviceAccountTokenCreator", false)
	for _, o := range s.Other {
		rows = append(rows, []string{"other", mdtext.Code(o), ""})
	}
	mdtext.Table(w, []string{"Change", "Member or account", "On"}, rows)
}
