// Package iampolicy is invokerctl's pure IAM logic: which roles carry a
// permission (data, not branches), member syntax and matching, the effective
// invokers of a Cloud Run service (service policy ∪ project policy), and the
// comparison of declared grants with what is in force.
package iampolicy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/invokerctl/invokerctl/pkg/internal/iamroles"
)

// InvokePermission is the permission Cloud Run checks on every request to a
// private service.
const InvokePermission = "run.routes.invoke"

// RoleTable maps predefined role names to the permissions (of those invokerctl
// cares about) that they carry.
type RoleTable map[string][]string

type roleFile struct {
	Roles map[string]struct {
		Title       string   `json:"title"`
		Permissions []string `json:"permissions"`
	} `json:"roles"`
}

// ParseRoleTable reads a role table in the shape of the predefined-role data
// shipped with invokerctl: {"roles": {"roles/x": {"permissions": [...]}}}.
func ParseRoleTable(b []byte) (RoleTable, error) {
	var f roleFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("role table: %w", err)
	}
	if len(f.Roles) == 0 {
		return nil, fmt.Errorf("role table: no roles")
	}
	t := make(RoleTable, len(f.Roles))
	for name, r := range f.Roles {
		t[name] = r.Permissions
	}
	return t, nil
}

var (
	predefinedOnce sync.Once
	predefined     RoleTable
)

// Predefined returns the embedded table of Google's predefined roles.
func Predefined() RoleTable {
	predefinedOnce.Do(func() {
		t, err := ParseRoleTable(iamroles.JSON())
		if err != nil {
			panic("embedded predefined roles: " + err.Error())
		}
		predefined = t
	})
	return predefined
}

// RolesWith lists, sorted, the roles of the table that carry permission.
func (t RoleTable) RolesWith(permission string) []string {
	var out []string
	for role, perms := range t {
		for _, p := range perms {
			if p == permission {
				out = append(out, role)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// CustomRoleGetter fetches the permissions of a custom role
// ("projects/P/roles/R" or "organizations/O/roles/R"), e.g. through IAM v1.
type CustomRoleGetter func(ctx context.Context, name string) ([]string, error)

// RoleResolver answers "does role R carry permission P", from the predefined
// table or, for custom roles, through a getter whose answers it caches.
type RoleResolver struct {
	Table  RoleTable
	Custom CustomRoleGetter

	mu    sync.Mutex
	cache map[string]*customEntry
}

// customEntry is one custom role's permissions, fetched once even when
// many goroutines ask at the same time.
type customEntry struct {
	once  sync.Once
	perms []string
	err   error
}

// NewRoleResolver returns a resolver over the embedded predefined roles.
func NewRoleResolver(custom CustomRoleGetter) *RoleResolver {
	return &RoleResolver{Table: Predefined(), Custom: custom}
}

// IsCustom reports whether role names a custom role.
func IsCustom(role string) bool {
	return strings.HasPrefix(role, "projects/") || strings.HasPrefix(role, "organizations/")
}

// Has reports whether role carries permission. An unknown predefined role
// carries nothing (the table lists every predefined role that carries one of
// the permissions invokerctl checks). Custom roles are fetched once each.
func (r *RoleResolver) Has(ctx context.Context, role, permission string) (bool, error) {
	perms, err := r.permissions(ctx, role)
	if err != nil {
		return false, err
	}
	for _, p := range perms {
		if p == permission {
			return true, nil
		}
	}
	return false, nil
}

func (r *RoleResolver) permissions(ctx context.Context, role string) ([]string, error) {
	if !IsCustom(role) {
		return r.Table[role], nil
	}
	if r.Custom == nil {
		return nil, fmt.Errorf("custom role %s: no way to resolve custom roles", role)
	}
	r.mu.Lock()
	if r.cache == nil {
		r.cache = map[string]*customEntry{}
	}
	e, ok := r.cache[role]
	if !ok {
		e = &customEntry{}
		r.cache[role] = e
	}
	r.mu.Unlock()
	e.once.Do(func() {
		e.perms, e.err = r.Custom(ctx, role)
		if e.err != nil {
			e.err = fmt.Errorf("resolving custom role %s: %w", role, e.err)
		}
	})
	return e.perms, e.err
}
