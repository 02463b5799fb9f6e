package tfprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// iamPolicyVersion is forced on every policy the IAM resources write.
const iamPolicyVersion = 3

// iamUpdater is implemented once per kind of resource that carries an IAM
// policy (a Cloud Run service, a project, a service account). The generic
// member, binding and policy resources are built on it, as the real
// provider's tpgiamresource package is.
type iamUpdater interface {
	// GetResourceIamPolicy fetches the current policy.
	GetResourceIamPolicy(ctx context.Context) (*crm.Policy, error)
	// SetResourceIamPolicy replaces the policy.
	SetResourceIamPolicy(ctx context.Context, p *crm.Policy) error
	// GetMutexKey names the per-process lock serializing read-modify-write
	// cycles on one resource.
	GetMutexKey() string
	// GetResourceId is the resource's id, the prefix of the IAM resource ids.
	GetResourceId() string
	// DescribeResource is used in messages.
	DescribeResource() string
}

// mutexKV is a set of named mutexes.
type mutexKV struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (m *mutexKV) get(key string) *sync.Mutex {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks == nil {
		m.locks = map[string]*sync.Mutex{}
	}
	l, ok := m.locks[key]
	if !ok {
		l = &sync.Mutex{}
		m.locks[key] = l
	}
	return l
}

// iamMutexes serializes IAM read-modify-write cycles per resource within
// this provider process.
var iamMutexes = &mutexKV{}

// Timings of the read-modify-write loop (the real provider's values).
const (
	iamConflictInitialBackoff = time.Second
	iamConflictMaxBackoff     = 30 * time.Second
	iamFetchInitialBackoff    = time.Second
	iamFetchMaxBackoff        = 30 * time.Second
	iamRead429Wait            = time.Second
	// iamMax429 bounds the loop-level retries of a 429 on read (the HTTP
	// layer has already retried each of them).
	iamMax429 = 30
)

type iamModifyFunc func(p *crm.Policy) error

// iamPolicyReadWithRetry is a locked read.
func iamPolicyReadWithRetry(ctx context.Context, u iamUpdater) (*crm.Policy, error) {
	l := iamMutexes.get(u.GetMutexKey())
	l.Lock()
	defer l.Unlock()
	return u.GetResourceIamPolicy(ctx)
}

// iamPolicyReadModifyWrite reads the policy, applies modify and writes it
// back with the etag it read, restarting on concurrent changes (409/412)
// with back-off 1, 2, 4, 8, 16 s; a sixth conflict fails with "Too many
// conflicts". After a successful write it re-reads the policy until three
// reads show the change.
func iamPolicyReadModifyWrite(ctx context.Context, u iamUpdater, modify iamModifyFunc, sleep sleeper) error {
	l := iamMutexes.get(u.GetMutexKey())
	l.Lock()
	defer l.Unlock()

	backoff := iamConflictInitialBackoff
	throttled := 0
	for {
		p, err := u.GetResourceIamPolicy(ctx)
		if isGoogleAPIErrorWithCode(err, http.StatusTooManyRequests) && throttled < iamMax429 {
			throttled++
			log.Printf("[DEBUG] 429 while reading policy for %s, waiting %v", u.DescribeResource(), iamRead429Wait)
			if err := sleep(ctx, iamRead429Wait); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		if err := modify(p); err != nil {
			return err
		}
		err = u.SetResourceIamPolicy(ctx, p)
		if err == nil {
			return iamWaitForPropagation(ctx, u, modify, sleep)
		}
		if isConflictError(err) {
			log.Printf("[DEBUG] concurrent policy changes on %s, restarting read-modify-write after %v", u.DescribeResource(), backoff)
			if err := sleep(ctx, backoff); err != nil {
				return err
			}
			backoff *= 2
			if backoff > iamConflictMaxBackoff {
				return fmt.Errorf("Error applying IAM policy to %s: Too many conflicts.  Latest error: %w", u.DescribeResource(), err)
			}
			continue
		}
		return fmt.Errorf("Error applying IAM policy for %s: %w", u.DescribeResource(), err)
	}
}

// iamWaitForPropagation re-reads the policy until three reads in a row show
// that modify has nothing left to do, doubling the wait on a 429 or a read
// that does not show the change yet.
//
// (The real provider's check compares a pointer with itself and always
// passes; this one really compares, semantically, so it cannot be fooled by
// member order or casing.)
func iamWaitForPropagation(ctx context.Context, u iamUpdater, modify iamModifyFunc, sleep sleeper) error {
	wait := iamFetchInitialBackoff
	for ok := 0; ok < 3; {
		if wait > iamFetchMaxBackoff {
			return fmt.Errorf("Error applying IAM policy to %s: Waited too long for propagation.", u.DescribeResource())
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		got, err := u.GetResourceIamPolicy(ctx)
		if err != nil {
			if isGoogleAPIErrorWithCode(err, http.StatusTooManyRequests) {
				wait *= 2
				continue
			}
			return err
		}
		after := clonePolicy(got)
		if err := modify(after); err != nil {
			return err
		}
		if compareBindings(got.Bindings, after.Bindings) {
			ok++
		} else {
			wait *= 2
		}
	}
	return nil
}

func clonePolicy(p *crm.Policy) *crm.Policy {
	b, _ := json.Marshal(p)
	out := &crm.Policy{}
	_ = json.Unmarshal(b, out)
	return out
}

// conditionKey identifies a binding's condition.
type conditionKey struct {
	Description string
	Expression  string
	Title       string
}

func conditionKeyOf(c *crm.Expr) conditionKey {
	if c == nil {
		return conditionKey{}
	}
	return conditionKey{c.Description, c.Expression, c.Title}
}

func (k conditionKey) empty() bool { return k == conditionKey{} }

// String is the id suffix the real provider appends for conditional
// bindings: "{title}/{description}/{expression}".
func (k conditionKey) String() string {
	return fmt.Sprintf("%s/%s/%s", k.Title, k.Description, k.Expression)
}

type bindingKey struct {
	Role      string
	Condition conditionKey
}

// iamMemberIsCaseSensitive: the special groups and the principal:// family
// compare case-sensitively; everything else ignores case.
func iamMemberIsCaseSensitive(member string) bool {
	return strings.Contains(member, "allAuthenticatedUsers") ||
		strings.Contains(member, "allUsers") ||
		strings.HasPrefix(member, "principalSet:") ||
		strings.HasPrefix(member, "principal:") ||
		strings.HasPrefix(member, "principalHierarchy:")
}

// normalizeIamMemberCasing lower-cases the value after "type:" (after
// "deleted:type:" for deleted principals) unless the member is
// case-sensitive. The type prefix keeps its case.
func normalizeIamMemberCasing(member string) string {
	if strings.HasPrefix(member, "deleted:") {
		pieces := strings.SplitN(member, ":", 3)
		if len(pieces) > 2 && !iamMemberIsCaseSensitive(strings.TrimPrefix(member, "deleted:")) {
			pieces[2] = strings.ToLower(pieces[2])
		}
		return strings.Join(pieces, ":")
	}
	if iamMemberIsCaseSensitive(member) {
		return member
	}
	pieces := strings.SplitN(member, ":", 2)
	if len(pieces) > 1 {
		pieces[1] = strings.ToLower(pieces[1])
	}
	return strings.Join(pieces, ":")
}

var (
	memberDeletedRE = regexp.MustCompile(`^deleted`)
	memberShapeRE   = regexp.MustCompile(`(.+:.+|projectOwners|projectReaders|projectWriters|allUsers|allAuthenticatedUsers)`)
)

// validateIAMMember applies the real provider's member check.
func validateIAMMember(v, k string) error {
	if memberDeletedRE.MatchString(v) {
		return fmt.Errorf("invalid value for %s (Terraform does not support IAM members for deleted principals)", k)
	}
	if !memberShapeRE.MatchString(v) {
		return fmt.Errorf("invalid value %q for %s (IAM members must have one of the values outlined here: https://cloud.google.com/billing/docs/reference/rest/v1/Policy#Binding)", v, k)
	}
	return nil
}

// bindingsMap groups members (normalized) by role and condition, dropping
// empty bindings.
func bindingsMap(bindings []*crm.Binding) map[bindingKey]map[string]struct{} {
	bm := map[bindingKey]map[string]struct{}{}
	for _, b := range bindings {
		if b == nil {
			continue
		}
		key := bindingKey{b.Role, conditionKeyOf(b.Condition)}
		members := bm[key]
		if members == nil {
			members = map[string]struct{}{}
		}
		for _, m := range b.Members {
			members[normalizeIamMemberCasing(m)] = struct{}{}
		}
		if len(members) > 0 {
			bm[key] = members
		} else {
			delete(bm, key)
		}
	}
	return bm
}

// bindingsList is the inverse of bindingsMap, sorted by role then
// condition, members sorted.
func bindingsList(bm map[bindingKey]map[string]struct{}) []*crm.Binding {
	keys := make([]bindingKey, 0, len(bm))
	for k := range bm {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Role+keys[i].Condition.String() < keys[j].Role+keys[j].Condition.String()
	})
	out := make([]*crm.Binding, 0, len(keys))
	for _, k := range keys {
		members := bm[k]
		if len(members) == 0 {
			continue
		}
		ms := make([]string, 0, len(members))
		for m := range members {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		b := &crm.Binding{Role: k.Role, Members: ms}
		if !k.Condition.empty() {
			b.Condition = &crm.Expr{Title: k.Condition.Title, Description: k.Condition.Description, Expression: k.Condition.Expression}
		}
		out = append(out, b)
	}
	return out
}

// mergeBindings combines bindings with the same role and condition.
func mergeBindings(bindings []*crm.Binding) []*crm.Binding {
	return bindingsList(bindingsMap(bindings))
}

// filterBindingsWithRoleAndCondition removes one role+condition binding.
func filterBindingsWithRoleAndCondition(bindings []*crm.Binding, role string, cond *crm.Expr) []*crm.Binding {
	bm := bindingsMap(bindings)
	delete(bm, bindingKey{role, conditionKeyOf(cond)})
	return bindingsList(bm)
}

// subtractFromBindings removes members; a binding left empty is dropped.
func subtractFromBindings(bindings []*crm.Binding, remove ...*crm.Binding) []*crm.Binding {
	cur := bindingsMap(bindings)
	for key, rm := range bindingsMap(remove) {
		members, ok := cur[key]
		if !ok {
			continue
		}
		for m := range rm {
			delete(members, m)
		}
		if len(members) == 0 {
			delete(cur, key)
		}
	}
	return bindingsList(cur)
}

// compareBindings reports whether two binding lists grant the same thing.
func compareBindings(a, b []*crm.Binding) bool {
	return reflect.DeepEqual(bindingsMap(a), bindingsMap(b))
}

func auditConfigsMap(acs []*crm.AuditConfig) map[string]map[string]map[string]struct{} {
	out := map[string]map[string]map[string]struct{}{}
	for _, ac := range acs {
		if out[ac.Service] == nil {
			out[ac.Service] = map[string]map[string]struct{}{}
		}
		for _, lc := range ac.AuditLogConfigs {
			if out[ac.Service][lc.LogType] == nil {
				out[ac.Service][lc.LogType] = map[string]struct{}{}
			}
			for _, m := range lc.ExemptedMembers {
				out[ac.Service][lc.LogType][m] = struct{}{}
			}
		}
	}
	return out
}

// compareIamPolicies is the policy_data diff suppression: same etag,
// version, bindings and audit configs.
func compareIamPolicies(a, b *crm.Policy) bool {
	return a.Etag == b.Etag && a.Version == b.Version &&
		compareBindings(a.Bindings, b.Bindings) &&
		reflect.DeepEqual(auditConfigsMap(a.AuditConfigs), auditConfigsMap(b.AuditConfigs))
}

// jsonPolicyEquivalent compares two policy_data strings semantically.
func jsonPolicyEquivalent(old, new string) bool {
	if old == "" && new == "" {
		return true
	}
	if old == "" || new == "" {
		return false
	}
	var o, n crm.Policy
	if json.Unmarshal([]byte(old), &o) != nil || json.Unmarshal([]byte(new), &n) != nil {
		return false
	}
	return compareIamPolicies(&n, &o)
}

// marshalIamPolicy renders the policy_data the policy resources store:
// bindings and audit configs only.
func marshalIamPolicy(p *crm.Policy) string {
	b, _ := json.Marshal(&crm.Policy{AuditConfigs: p.AuditConfigs, Bindings: p.Bindings})
	return string(b)
}

func unmarshalIamPolicy(s string) (*crm.Policy, error) {
	p := &crm.Policy{}
	if err := json.Unmarshal([]byte(s), p); err != nil {
		return nil, fmt.Errorf("Could not unmarshal policy data %s:\n%s", s, err)
	}
	return p, nil
}

// validateIamPolicy checks policy_data: valid JSON and valid members.
func validateIamPolicy(s string) []error {
	p, err := unmarshalIamPolicy(s)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for i, b := range p.Bindings {
		for j, m := range b.Members {
			if err := validateIAMMember(m, fmt.Sprintf("bindings.%d.members.%d", i, j)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// expandIamCondition reads a condition block list.
func expandIamCondition(v any) *crm.Expr {
	l, _ := v.([]any)
	if len(l) == 0 {
		return nil
	}
	m, _ := l[0].(map[string]any)
	if m == nil {
		return nil
	}
	return &crm.Expr{
		Description: str(m, "description"),
		Expression:  str(m, "expression"),
		Title:       str(m, "title"),
	}
}

// flattenIamCondition is the inverse of expandIamCondition. An absent
// condition is an empty list, as the SDK stores it.
func flattenIamCondition(c *crm.Expr) []any {
	if c == nil {
		return []any{}
	}
	m := map[string]any{"expression": c.Expression, "title": c.Title}
	if c.Description != "" {
		m["description"] = c.Description
	} else {
		m["description"] = nil
	}
	return []any{m}
}
