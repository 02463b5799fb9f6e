package iampolicy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/invokerctl/invokerctl/pkg/internal/member"
)

// Policy is the part of an IAM policy invokerctl reads, in IAM v1's JSON
// form.
type Policy struct {
	Etag     string    `json:"etag,omitempty"`
	Bindings []Binding `json:"bindings,omitempty"`
}

// Binding binds members to a role, optionally under a condition.
type Binding struct {
	Role      string     `json:"role"`
	Members   []string   `json:"members"`
	Condition *Condition `json:"condition,omitempty"`
}

// FromAPI converts the Policy of a generated Google API client (Run v2 and
// Resource Manager v1 each generate their own copy of IAM v1's Policy) by
// way of its JSON form, which is IAM's and the same for all of them.
func FromAPI(p any) (*Policy, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding IAM policy: %w", err)
	}
	var out Policy
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decoding IAM policy: %w", err)
	}
	return &out, nil
}

// Condition is a binding's CEL condition.
type Condition struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Expression  string `json:"expression"`
}

// Source says where an effective grant comes from.
type Source string

// Sources of a grant.
const (
	// SourceService is a binding on the service resource itself.
	SourceService Source = "service"
	// SourceProject is a binding on the project, inherited by every service.
	SourceProject Source = "project"
)

// Grant is one member holding the invoke permission through one binding.
type Grant struct {
	Member    string     `json:"member"`
	Role      string     `json:"role"`
	Source    Source     `json:"source"`
	Condition *Condition `json:"condition,omitempty"` // non-nil: only when the condition holds
}

// EffectiveInvokers returns every (member, role, source) that carries
// permission on a service: the service policy's bindings and the project
// policy's, each role resolved through roles. deleted: members are included
// (they hold nothing, but auditors want to see them); callers filter with
// member.IsDeleted. The result is sorted by member, then source, then role.
func EffectiveInvokers(ctx context.Context, roles *RoleResolver, permission string, service, project *Policy) ([]Grant, error) {
	var out []Grant
	for _, src := range []struct {
		p *Policy
		s Source
	}{{service, SourceService}, {project, SourceProject}} {
		if src.p == nil {
			continue
		}
		for _, b := range src.p.Bindings {
			ok, err := roles.Has(ctx, b.Role, permission)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			for _, m := range b.Members {
				out = append(out, Grant{Member: member.Normalize(m), Role: b.Role, Source: src.s, Condition: b.Condition})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Member != out[j].Member {
			return out[i].Member < out[j].Member
		}
		if out[i].Source != out[j].Source {
			return out[i].Source == SourceService
		}
		return out[i].Role < out[j].Role
	})
	return out, nil
}

// Status is how a declared member stands against the effective grants.
type Status string

// Statuses of a declared grant.
const (
	StatusDirect    Status = "present-direct"    // bound on the service
	StatusInherited Status = "present-inherited" // bound on the project only
	// StatusConditional: only conditional bindings grant it; whether they
	// hold cannot be known from the policy alone.
	StatusConditional Status = "conditional"
	// StatusPublic: not bound, but the service is open to everyone anyway.
	StatusPublic  Status = "public"
	StatusMissing Status = "missing"
)

// Check returns how member m stands against grants, and the grant that
// decides it (nil when missing). Unconditional direct grants beat inherited
// ones, which beat conditional ones, which beat public access.
func Check(m string, grants []Grant) (Status, *Grant) {
	m = member.Normalize(m)
	var inherited, conditional, public *Grant
	for i := range grants {
		g := &grants[i]
		switch {
		case g.Member == m && g.Condition == nil && g.Source == SourceService:
			return StatusDirect, g
		case g.Member == m && g.Condition == nil:
			if inherited == nil {
				inherited = g
			}
		case g.Member == m:
			if conditional == nil {
				conditional = g
			}
		case g.Condition == nil && (g.Member == string(member.AllUsers) || (g.Member == string(member.AllAuthenticatedUsers) && !member.IsPublic(m))):
			if public == nil {
				public = g
			}
		}
	}
	switch {
	case inherited != nil:
		return StatusInherited, inherited
	case conditional != nil:
		return StatusConditional, conditional
	case public != nil:
		return StatusPublic, public
	}
	return StatusMissing, nil
}

// Exposure summarizes how open a service is.
type Exposure struct {
	// AllUsers / AllAuthenticatedUsers: an unconditional grant of the
	// permission to that special member (the binding is in Via).
	AllUsers              bool `json:"allUsers"`
	AllAuthenticatedUsers bool `json:"allAuthenticatedUsers"`
	// InvokerIAMDisabled: the service skips the invoke check entirely.
	InvokerIAMDisabled bool    `json:"invokerIamDisabled"`
	Via                []Grant `json:"via,omitempty"`
}

// Public reports whether anyone can invoke without a grant of their own.
func (e Exposure) Public() bool {
	return e.AllUsers || e.AllAuthenticatedUsers || e.InvokerIAMDisabled
}

// ExposureOf computes a service's exposure from its effective grants.
func ExposureOf(grants []Grant, invokerIAMDisabled bool) Exposure {
	e := Exposure{InvokerIAMDisabled: invokerIAMDisabled}
	for _, g := range grants {
		if g.Condition != nil {
			continue
		}
		switch g.Member {
		case string(member.AllUsers):
			e.AllUsers = true
			e.Via = append(e.Via, g)
		case string(member.AllAuthenticatedUsers):
			e.AllAuthenticatedUsers = true
			e.Via = append(e.Via, g)
		}
	}
	return e
}

// DeletedMembers lists the deleted: principals among grants, once each.
func DeletedMembers(grants []Grant) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range grants {
		if member.IsDeleted(g.Member) && !seen[g.Member] {
			seen[g.Member] = true
			out = append(out, g.Member)
		}
	}
	return out
}
