package tfprovider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// The generic IAM resources: _member (one member of one role),
// _binding (authoritative for one role) and _policy (authoritative for the
// whole policy), each parameterized by an iamParent.

func iamMemberCaseEquivalent(old, new string) bool {
	if iamMemberIsCaseSensitive(old) || iamMemberIsCaseSensitive(new) {
		return old == new
	}
	return strings.EqualFold(old, new)
}

// membersEquivalent compares two member sets case-insensitively, as the
// binding resources' set hash does.
func membersEquivalent(old, new any) bool {
	o, ok1 := old.([]any)
	n, ok2 := new.([]any)
	if !ok1 || !ok2 {
		return false
	}
	norm := func(l []any) []string {
		seen := map[string]bool{}
		var out []string
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			s = strings.ToLower(s)
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		sort.Strings(out)
		return out
	}
	a, b := norm(o), norm(n)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func parentValidate(parent *iamParent, cfg map[string]any) []*tfprotov5.Diagnostic {
	var diags []*tfprotov5.Diagnostic
	if parent.validate != nil {
		for _, err := range parent.validate(cfg) {
			diags = append(diags, errDiag("Invalid configuration", err))
		}
	}
	return diags
}

// validateWithMembers is the parent's checks plus one diagnostic per
// invalid member of attr.
func validateWithMembers(parent *iamParent, cfg map[string]any, attr string, members []string) []*tfprotov5.Diagnostic {
	diags := parentValidate(parent, cfg)
	for _, m := range members {
		if err := validateIAMMember(m, attr); err != nil {
			diags = append(diags, attrDiag(attr, err))
		}
	}
	return diags
}

func mergeSuppress(parent *iamParent, extra map[string]func(old, new any) bool) map[string]func(old, new any) bool {
	out := map[string]func(old, new any) bool{}
	for k, v := range parent.suppress {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func withParent(parent *iamParent, names ...string) []string {
	return append(append([]string(nil), parent.attrs...), names...)
}

// getIamMember is the binding a _member resource manages.
func getIamMember(d map[string]any) *crm.Binding {
	return &crm.Binding{
		Members:   []string{str(d, "member")},
		Role:      str(d, "role"),
		Condition: expandIamCondition(d["condition"]),
	}
}

func getIamBinding(d map[string]any) *crm.Binding {
	return &crm.Binding{
		Members:   strList(d, "members"),
		Role:      str(d, "role"),
		Condition: expandIamCondition(d["condition"]),
	}
}

// updater copies a resource's data and builds its parent's updater (which
// may fill parent attributes into the copy).
func (parent *iamParent) updater(p *provider, m map[string]any) (map[string]any, iamUpdater, error) {
	d := copyMap(m)
	u, err := parent.newUpdater(p, d)
	if err != nil {
		return nil, nil, err
	}
	return d, u, nil
}

// readPolicyIfExists reads the parent's policy; a parent that is gone
// reads as a nil policy and no error.
func readPolicyIfExists(ctx context.Context, u iamUpdater) (*crm.Policy, error) {
	pol, err := iamPolicyReadWithRetry(ctx, u)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return pol, nil
}

// readPolicy copies a resource's state, builds its parent's updater and
// reads the parent's policy: a parent that is gone reads as a nil policy
// and no error.
func (parent *iamParent) readPolicy(ctx context.Context, p *provider, state map[string]any) (map[string]any, *crm.Policy, error) {
	d, u, err := parent.updater(p, state)
	if err != nil {
		return nil, nil, err
	}
	pol, err := readPolicyIfExists(ctx, u)
	return d, pol, err
}

// bindingFor is the binding of pol for role under condition, or nil.
func bindingFor(pol *crm.Policy, role string, cond conditionKey) *crm.Binding {
	for _, b := range pol.Bindings {
		if b.Role == role && conditionKeyOf(b.Condition) == cond {
			return b
		}
	}
	return nil
}

// withCondition appends a conditional binding's suffix to a resource id.
func withCondition(id string, c *crm.Expr) string {
	if k := conditionKeyOf(c); !k.empty() {
		return id + "/" + k.String()
	}
	return id
}

// iamDelete is the delete of a _member or _binding resource: keep(d,
// bindings) is what stays of the policy. A parent that is gone counts as
// deleted.
func iamDelete(parent *iamParent, keep func(d map[string]any, bs []*crm.Binding) []*crm.Binding) func(context.Context, *provider, map[string]any) error {
	return func(ctx context.Context, p *provider, state map[string]any) error {
		d, u, err := parent.updater(p, state)
		if err != nil {
			return err
		}
		modify := func(ep *crm.Policy) error {
			ep.Bindings = keep(d, ep.Bindings)
			return nil
		}
		if err := iamPolicyReadModifyWrite(ctx, u, modify, p.sleep); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}
}

// ---- _member ----

func iamMemberResource(parent *iamParent) *resourceType {
	r := &resourceType{
		forceNew: withParent(parent, "role", "member", "condition"),
		suppress: mergeSuppress(parent, map[string]func(old, new any) bool{
			"member": stringSuppress(iamMemberCaseEquivalent),
		}),
		validate: func(cfg map[string]any) []*tfprotov5.Diagnostic {
			var members []string
			if m, ok := cfg["member"].(string); ok {
				members = []string{m}
			}
			return validateWithMembers(parent, cfg, "member", members)
		},
	}
	r.read = func(ctx context.Context, p *provider, state map[string]any) (map[string]any, error) {
		d, pol, err := parent.readPolicy(ctx, p, state)
		if pol == nil {
			return nil, err
		}
		want := getIamMember(d)
		binding := bindingFor(pol, want.Role, conditionKeyOf(want.Condition))
		if binding == nil {
			return nil, nil
		}
		member := ""
		for _, m := range binding.Members {
			if strings.EqualFold(m, want.Members[0]) {
				member = m
			}
		}
		if member == "" {
			return nil, nil
		}
		d["etag"] = pol.Etag
		d["member"] = member
		d["role"] = binding.Role
		d["condition"] = flattenIamCondition(binding.Condition)
		return d, nil
	}
	r.create = func(ctx context.Context, p *provider, planned map[string]any) (map[string]any, error) {
		d, u, err := parent.updater(p, planned)
		if err != nil {
			return nil, err
		}
		mb := getIamMember(d)
		modify := func(ep *crm.Policy) error {
			ep.Bindings = mergeBindings(append(ep.Bindings, mb))
			ep.Version = iamPolicyVersion
			return nil
		}
		if err := iamPolicyReadModifyWrite(ctx, u, modify, p.sleep); err != nil {
			return nil, err
		}
		d["id"] = withCondition(u.GetResourceId()+"/"+mb.Role+"/"+normalizeIamMemberCasing(mb.Members[0]), mb.Condition)
		return readAfterWrite(ctx, p, r, d)
	}
	r.delete = iamDelete(parent, func(d map[string]any, bs []*crm.Binding) []*crm.Binding {
		return subtractFromBindings(bs, getIamMember(d))
	})
	r.importState = func(ctx context.Context, p *provider, id string) (map[string]any, error) {
		s := strings.Fields(id)
		if len(s) < 3 {
			return nil, fmt.Errorf("Wrong number of parts to Member id %s; expected 'resource_name role member [condition_title]'.", s)
		}
		role, member := s[1], s[2]
		condTitle := strings.Join(s[3:], " ")
		d := map[string]any{"role": role, "member": normalizeIamMemberCasing(member)}
		base, err := parent.parseID(p, s[0], d)
		if err != nil {
			return nil, err
		}
		d["id"] = base + "/" + role + "/" + normalizeIamMemberCasing(member)
		u, err := parent.newUpdater(p, d)
		if err != nil {
			return nil, err
		}
		pol, err := iamPolicyReadWithRetry(ctx, u)
		if err != nil {
			return nil, err
		}
		var binding *crm.Binding
		for _, b := range pol.Bindings {
			if b.Role != role || conditionKeyOf(b.Condition).Title != condTitle {
				continue
			}
			found := false
			for _, m := range b.Members {
				if strings.EqualFold(m, member) {
					found = true
				}
			}
			if !found {
				continue
			}
			if binding != nil {
				return nil, fmt.Errorf("Cannot import IAM member with condition title %q, it matches multiple conditions", condTitle)
			}
			binding = b
		}
		if binding == nil {
			return nil, fmt.Errorf("Cannot find binding for %q with role %q, member %q, and condition title %q", u.DescribeResource(), role, member, condTitle)
		}
		d["condition"] = flattenIamCondition(binding.Condition)
		d["id"] = withCondition(str(d, "id"), binding.Condition)
		return d, nil
	}
	return r
}

// readAfterWrite runs the resource's read after a create or update; a
// resource that reads back as absent is an error.
func readAfterWrite(ctx context.Context, p *provider, r *resourceType, d map[string]any) (map[string]any, error) {
	out, err := r.read(ctx, p, d)
	if err != nil {
		return d, err
	}
	if out == nil {
		return nil, fmt.Errorf("%s was written but could not be read back", str(d, "id"))
	}
	return out, nil
}

// ---- _binding ----

func iamBindingResource(parent *iamParent) *resourceType {
	r := &resourceType{
		forceNew: withParent(parent, "role", "condition"),
		suppress: mergeSuppress(parent, map[string]func(old, new any) bool{
			"members": membersEquivalent,
		}),
		computedOnUpdate: []string{"etag"},
		validate: func(cfg map[string]any) []*tfprotov5.Diagnostic {
			return validateWithMembers(parent, cfg, "members", strList(cfg, "members"))
		},
	}
	r.read = func(ctx context.Context, p *provider, state map[string]any) (map[string]any, error) {
		d, pol, err := parent.readPolicy(ctx, p, state)
		if pol == nil {
			return nil, err
		}
		want := getIamBinding(d)
		binding := bindingFor(pol, want.Role, conditionKeyOf(want.Condition))
		if binding == nil {
			// Assumed to have no members; the etag is left as it was.
			d["role"] = want.Role
			d["members"] = []any{}
			return d, nil
		}
		d["role"] = binding.Role
		d["members"] = anyList(binding.Members)
		d["condition"] = flattenIamCondition(binding.Condition)
		d["etag"] = pol.Etag
		return d, nil
	}
	createUpdate := func(ctx context.Context, p *provider, planned map[string]any) (map[string]any, error) {
		d, u, err := parent.updater(p, planned)
		if err != nil {
			return nil, err
		}
		b := getIamBinding(d)
		modify := func(ep *crm.Policy) error {
			ep.Bindings = append(filterBindingsWithRoleAndCondition(ep.Bindings, b.Role, b.Condition), b)
			ep.Version = iamPolicyVersion
			return nil
		}
		if err := iamPolicyReadModifyWrite(ctx, u, modify, p.sleep); err != nil {
			return nil, err
		}
		d["id"] = withCondition(u.GetResourceId()+"/"+b.Role, b.Condition)
		return readAfterWrite(ctx, p, r, d)
	}
	r.create = createUpdate
	r.update = func(ctx context.Context, p *provider, _, planned map[string]any) (map[string]any, error) {
		return createUpdate(ctx, p, planned)
	}
	r.delete = iamDelete(parent, func(d map[string]any, bs []*crm.Binding) []*crm.Binding {
		b := getIamBinding(d)
		return filterBindingsWithRoleAndCondition(bs, b.Role, b.Condition)
	})
	r.importState = func(ctx context.Context, p *provider, id string) (map[string]any, error) {
		s := strings.Fields(id)
		if len(s) < 2 {
			return nil, fmt.Errorf("Wrong number of parts to Binding id %s; expected 'resource_name role [condition_title]'.", s)
		}
		role := s[1]
		condTitle := strings.Join(s[2:], " ")
		d := map[string]any{"role": role}
		base, err := parent.parseID(p, s[0], d)
		if err != nil {
			return nil, err
		}
		d["id"] = base + "/" + role
		u, err := parent.newUpdater(p, d)
		if err != nil {
			return nil, err
		}
		pol, err := iamPolicyReadWithRetry(ctx, u)
		if err != nil {
			return nil, err
		}
		var binding *crm.Binding
		for _, b := range pol.Bindings {
			if b.Role == role && conditionKeyOf(b.Condition).Title == condTitle {
				if binding != nil {
					return nil, fmt.Errorf("Cannot import IAM member with condition title %q, it matches multiple conditions", condTitle)
				}
				binding = b
			}
		}
		d["condition"] = []any{}
		if binding != nil {
			d["condition"] = flattenIamCondition(binding.Condition)
			d["id"] = withCondition(str(d, "id"), binding.Condition)
		}
		return d, nil
	}
	return r
}

// ---- _policy ----

func iamPolicyResource(parent *iamParent) *resourceType {
	r := &resourceType{
		forceNew: parent.attrs,
		suppress: mergeSuppress(parent, map[string]func(old, new any) bool{
			"policy_data": stringSuppress(jsonPolicyEquivalent),
		}),
		computedOnUpdate: []string{"etag"},
		validate: func(cfg map[string]any) []*tfprotov5.Diagnostic {
			diags := parentValidate(parent, cfg)
			if s, ok := cfg["policy_data"].(string); ok {
				for _, err := range validateIamPolicy(s) {
					diags = append(diags, attrDiag("policy_data", err))
				}
			}
			return diags
		},
	}
	setPolicy := func(ctx context.Context, u iamUpdater, d map[string]any) error {
		pol, err := unmarshalIamPolicy(str(d, "policy_data"))
		if err != nil {
			return fmt.Errorf("'policy_data' is not valid for %s: %s", u.DescribeResource(), err)
		}
		pol.Version = iamPolicyVersion
		return u.SetResourceIamPolicy(ctx, pol)
	}
	r.read = func(ctx context.Context, p *provider, state map[string]any) (map[string]any, error) {
		d, pol, err := parent.readPolicy(ctx, p, state)
		if pol == nil {
			return nil, err
		}
		d["etag"] = pol.Etag
		d["policy_data"] = marshalIamPolicy(pol)
		return d, nil
	}
	r.create = func(ctx context.Context, p *provider, planned map[string]any) (map[string]any, error) {
		d, u, err := parent.updater(p, planned)
		if err != nil {
			return nil, err
		}
		if err := setPolicy(ctx, u, d); err != nil {
			return nil, err
		}
		d["id"] = u.GetResourceId()
		return readAfterWrite(ctx, p, r, d)
	}
	r.update = func(ctx context.Context, p *provider, prior, planned map[string]any) (map[string]any, error) {
		d, u, err := parent.updater(p, planned)
		if err != nil {
			return nil, err
		}
		if str(prior, "policy_data") != str(planned, "policy_data") {
			if err := setPolicy(ctx, u, d); err != nil {
				return nil, err
			}
		}
		return readAfterWrite(ctx, p, r, d)
	}
	r.delete = func(ctx context.Context, p *provider, state map[string]any) error {
		d, u, err := parent.updater(p, state)
		if err != nil {
			return err
		}
		// An empty policy with the stored etag clears the policy.
		return u.SetResourceIamPolicy(ctx, &crm.Policy{Etag: str(d, "etag"), Version: iamPolicyVersion})
	}
	r.importState = func(ctx context.Context, p *provider, id string) (map[string]any, error) {
		d := map[string]any{}
		base, err := parent.parseID(p, id, d)
		if err != nil {
			return nil, err
		}
		d["id"] = base
		return d, nil
	}
	return r
}
