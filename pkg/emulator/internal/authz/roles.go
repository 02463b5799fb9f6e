package authz

// Roles: which role carries which permission is DATA, never branches.
// Predefined roles come from pkg/internal/iamroles (the shared snapshot of
// real role definitions, restricted to the permissions the emulator
// models), optionally overridden per role by a roles file. Custom roles are
// IAM v1 projects.roles, stored in State.Roles.
//
// A check is the union of the given sets of bindings: a binding grants
// when its role carries the permission and one of its members matches the
// principal. Conditional bindings are ignored (the emulator does not
// evaluate CEL; ignoring never grants more than production). Member
// matching: allUsers matches everyone (also the anonymous principal ""),
// allAuthenticatedUsers any non-empty principal, user:/serviceAccount: the
// same email case-insensitively, group: through State.Groups (nested groups
// too), domain:D any user: in D; deleted: members never match. A federated
// principal (principal://iam.googleapis.com/{pool}/subject/{sub}) matches
// itself and the principalSet:// members of its pool: "/*" (every identity
// of the pool), "/attribute.NAME/VALUE" and "/group/GROUP", on the
// attributes of the subject's latest token exchange (State.FederatedSubjects).

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/internal/iamroles"
)

// PredefinedRoleRE is the shape of a predefined role name.
var PredefinedRoleRE = regexp.MustCompile(`^roles/[a-zA-Z0-9_.]+$`)

// Role is one predefined role of the table.
type Role struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Stage       string   `json:"stage,omitempty"`
	Permissions []string `json:"permissions"`
	perms       map[string]bool
}

// Has reports whether the role carries permission.
func (r *Role) Has(permission string) bool { return r.perms[permission] }

type roleTableFile struct {
	Roles map[string]*Role `json:"roles"`
}

// LoadRoleTable parses the embedded table and, when rolesFile is set,
// replaces the roles it lists (same JSON shape).
func LoadRoleTable(rolesFile string) (map[string]*Role, error) {
	var base roleTableFile
	if err := json.Unmarshal(iamroles.JSON(), &base); err != nil {
		return nil, fmt.Errorf("emulator: embedded role table: %w", err)
	}
	if rolesFile != "" {
		b, err := os.ReadFile(rolesFile)
		if err != nil {
			return nil, fmt.Errorf("emulator: roles file: %w", err)
		}
		var over roleTableFile
		if err := json.Unmarshal(b, &over); err != nil {
			return nil, fmt.Errorf("emulator: roles file %s: %w", rolesFile, err)
		}
		if len(over.Roles) == 0 {
			return nil, fmt.Errorf("emulator: roles file %s: no \"roles\" object", rolesFile)
		}
		for name, r := range over.Roles {
			if !PredefinedRoleRE.MatchString(name) || r == nil {
				return nil, fmt.Errorf("emulator: roles file %s: role %q: names must look like roles/x and map to {\"title\", \"permissions\": [...]}", rolesFile, name)
			}
			base.Roles[name] = r
		}
	}
	for _, r := range base.Roles {
		r.perms = map[string]bool{}
		for _, p := range r.Permissions {
			r.perms[p] = true
		}
	}
	return base.Roles, nil
}

// Checker answers permission checks over the role table and a state.
type Checker struct {
	Roles map[string]*Role // predefined roles by "roles/x"
	State *model.State     // custom roles and groups
	// ProjectID resolves a project id or number to the id ("" if unknown).
	ProjectID func(ref string) string
}

// CustomRole finds a custom role by name, accepting a project number in
// place of the id.
func (c Checker) CustomRole(name string) *model.CustomRole {
	if cr := c.State.Roles[name]; cr != nil {
		return cr
	}
	if rest, ok := strings.CutPrefix(name, "projects/"); ok {
		p, r, _ := strings.Cut(rest, "/roles/")
		if id := c.ProjectID(p); id != "" {
			return c.State.Roles["projects/"+id+"/roles/"+r]
		}
	}
	return nil
}

// RoleHasPermission reports whether role (predefined, or a live custom
// role of a project) carries permission.
func (c Checker) RoleHasPermission(role, permission string) bool {
	if r := c.Roles[role]; r != nil {
		return r.Has(permission)
	}
	if cr := c.CustomRole(role); cr != nil && !cr.Deleted && cr.Stage != "DISABLED" {
		return slices.Contains(cr.IncludedPermissions, permission)
	}
	return false
}

// Grants reports whether principal (e.g. "serviceAccount:x@y"; "" for an
// anonymous caller) holds permission through the union of sets.
func (c Checker) Grants(principal, permission string, sets ...[]*model.Binding) bool {
	for _, bs := range sets {
		for _, b := range bs {
			if b.Condition != nil || !c.RoleHasPermission(b.Role, permission) {
				continue
			}
			for _, m := range b.Members {
				if c.memberMatches(m, principal, map[string]bool{}) {
					return true
				}
			}
		}
	}
	return false
}

// memberMatches reports whether the IAM member covers principal.
func (c Checker) memberMatches(member, principal string, visiting map[string]bool) bool {
	switch member {
	case "allUsers":
		return true
	case "allAuthenticatedUsers":
		return principal != ""
	}
	if principal == "" || strings.HasPrefix(member, "deleted:") {
		return false
	}
	if strings.EqualFold(member, principal) {
		return true
	}
	if strings.HasPrefix(member, "principalSet:") {
		return c.principalSetMatches(member, principal)
	}
	if d, ok := strings.CutPrefix(member, "domain:"); ok {
		if email, ok := strings.CutPrefix(principal, "user:"); ok {
			_, pd, _ := strings.Cut(email, "@")
			return strings.EqualFold(pd, d)
		}
		return false
	}
	if strings.HasPrefix(member, "group:") {
		key := strings.ToLower(member)
		if visiting[key] {
			return false
		}
		visiting[key] = true
		defer delete(visiting, key)
		for _, gm := range c.groupMembers(key) {
			if gm == "allUsers" || gm == "allAuthenticatedUsers" {
				continue // a group cannot contain the public
			}
			if c.memberMatches(gm, principal, visiting) {
				return true
			}
		}
	}
	return false
}

// groupMembers returns State.Groups[group], matching the key
// case-insensitively.
func (c Checker) groupMembers(group string) []string {
	if ms, ok := c.State.Groups[group]; ok {
		return ms
	}
	for k, ms := range c.State.Groups {
		if strings.EqualFold(k, group) {
			return ms
		}
	}
	return nil
}

// principalSetMatches reports whether the federated principal is in the
// principalSet:// member's set.
func (c Checker) principalSetMatches(member, principal string) bool {
	pool, set, ok := model.PoolOfPrincipal(member)
	if !ok || !strings.HasPrefix(principal, "principal:") {
		return false
	}
	ppool, rest, ok := model.PoolOfPrincipal(principal)
	if !ok || ppool != pool || !strings.HasPrefix(rest, "subject/") {
		return false
	}
	if set == "*" {
		return true
	}
	subj := c.State.FederatedSubjects[principal]
	if subj == nil || subj.Pool != pool {
		return false
	}
	if g, ok := strings.CutPrefix(set, "group/"); ok {
		return slices.Contains(subj.Groups, g)
	}
	if attr, ok := strings.CutPrefix(set, "attribute."); ok {
		name, value, ok := strings.Cut(attr, "/")
		got, has := subj.Attributes[name]
		return ok && has && got == value
	}
	return false
}
