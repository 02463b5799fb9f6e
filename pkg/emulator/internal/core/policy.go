package core

// The IAM policy model shared by every API (contract §8).
//
// Reusable pieces for resources with a policy (the run half uses them for
// Cloud Run services; the management half for projects and accounts):
//
//   - serveGetIamPolicy / serveSetIamPolicy / serveTestIamPermissions are
//     complete handlers. Give them a lookup func, run with e.mu held, that
//     returns an *iamResource: where the policy lives (a **Policy into
//     State), its project, its full name for errors, and the permissions
//     guarding get and set. They authenticate the caller, check the
//     permission through the resource policy ∪ the project policy ∪ the
//     policies of its folders and organization (hierarchy.go), parse
//     the request (version in the query or the body; set body with
//     updateMask), apply it, save, and answer in Google's shapes.
//   - Lower level, all called with e.mu held:
//     e.getPolicyResponse(p, requestedVersion) → the wire policy;
//     e.setPolicy(&res.Policy, req) → validates, checks the etag, stores;
//     requestedPolicyVersion(r) and readSetIamPolicyRequest(r) parse;
//     (*Policy).bindingsAt(now, delay) → the bindings the data plane uses.
//
// Semantics:
//   - etag: canonical base64 of 8 random bytes, new on every set. A policy
//     that was never set (nil) has the etag "ACAB", production's empty-policy
//     etag. A set with a non-empty etag that differs → 409 ABORTED; no etag
//     → unconditional overwrite.
//   - version: 0, 1 or 3 accepted on set (else 400); conditional bindings
//     need version 3 (else 400). Stored version is 3 with conditions, else 1.
//     On get: 1 without conditions; with conditions and requested ≥ 3 →
//     version 3 with the conditions. With conditions and requested < 3 the
//     emulator does what production does (contract §8.2): it answers version
//     1 with each conditional binding's role rewritten to
//     "<role>_withcond_<hash>" and no condition, so version-1 readers never
//     see a condition they would drop. Setting such a binding back (with
//     the policy's current conditional binding of that hash still present)
//     restores the role and its condition; an unknown _withcond_ role is 400.
//   - updateMask paths: bindings, etag, auditConfigs (snake_case too); the
//     default is "bindings,etag", which leaves stored auditConfigs untouched.
//   - members are validated and normalized (normalizeMember); bindings are
//     merged per (role, condition), empty bindings dropped.
//   - propagation: every set records UpdateTime and PrevBindings (the
//     bindings in force just before), see bindingsAt.

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// WirePolicy is the JSON form of a policy on the wire.
type WirePolicy struct {
	Version      int                 `json:"version,omitempty"`
	Etag         string              `json:"etag,omitempty"`
	Bindings     []*model.Binding    `json:"bindings,omitempty"`
	AuditConfigs []model.AuditConfig `json:"auditConfigs,omitempty"`
}

// SetIamPolicyRequest is the body of every setIamPolicy.
type SetIamPolicyRequest struct {
	Policy     *WirePolicy `json:"policy"`
	UpdateMask string      `json:"updateMask"`
}

// withcondHash is the suffix production uses for conditional roles in a
// version-1 view of a policy.
func withcondHash(c *model.Expr) string {
	h := sha256.Sum256([]byte(c.Expression + "\x00" + c.Title + "\x00" + c.Description + "\x00" + c.Location))
	return hex.EncodeToString(h[:10])
}

// getPolicyResponse renders p for a reader that asked for requestedVersion
// (0 when not given). Always a JSON object with version and etag.
func (e *Server) getPolicyResponse(p *model.Policy, requestedVersion int) *WirePolicy {
	out := &WirePolicy{Version: 1, Etag: p.EffectiveEtag()}
	if p == nil {
		return out
	}
	hasCond := false
	for _, b := range p.Bindings {
		if b.Condition != nil {
			hasCond = true
		}
	}
	if hasCond && requestedVersion >= 3 {
		out.Version = 3
	}
	for _, b := range p.Bindings {
		nb := &model.Binding{Role: b.Role, Members: slices.Clone(b.Members), Condition: b.Condition}
		if b.Condition != nil && out.Version < 3 {
			nb.Role = b.Role + "_withcond_" + withcondHash(b.Condition)
			nb.Condition = nil
		}
		out.Bindings = append(out.Bindings, nb)
	}
	out.AuditConfigs = slices.Clone(p.AuditConfigs)
	return out
}

// requestedPolicyVersion reads options.requestedPolicyVersion from the
// query (gcloud, Run v2) or from a {"options": {"requestedPolicyVersion"}}
// body (Resource Manager); 0 when absent. Invalid values → 400.
func requestedPolicyVersion(r *http.Request) (int, *httpx.Error) {
	v := 0
	if q := r.URL.Query().Get("options.requestedPolicyVersion"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			return 0, httpx.ErrInvalid("Invalid value at 'options.requested_policy_version' (TYPE_INT32), %q", q)
		}
		v = n
	}
	if r.Method == http.MethodPost {
		var body struct {
			Options *struct {
				RequestedPolicyVersion int `json:"requestedPolicyVersion"`
			} `json:"options"`
		}
		if err := httpx.ReadJSON(r, &body); err != nil {
			return 0, err.(*httpx.Error)
		}
		if body.Options != nil && body.Options.RequestedPolicyVersion != 0 {
			v = body.Options.RequestedPolicyVersion
		}
	}
	if v < 0 || v > 3 || v == 2 {
		return 0, httpx.ErrInvalid("Invalid requested policy version %d: must be 0, 1 or 3.", v)
	}
	return v, nil
}

// readSetIamPolicyRequest parses a setIamPolicy body.
func readSetIamPolicyRequest(r *http.Request) (SetIamPolicyRequest, *httpx.Error) {
	var req SetIamPolicyRequest
	if err := httpx.ReadJSON(r, &req); err != nil {
		return req, err.(*httpx.Error)
	}
	if req.Policy == nil {
		return req, httpx.ErrInvalid("Invalid JSON payload: 'policy' is required.")
	}
	return req, nil
}

// parseUpdateMask returns which parts of a policy a set replaces.
func parseUpdateMask(mask string) (bindings, auditConfigs bool, _ *httpx.Error) {
	if strings.TrimSpace(mask) == "" {
		return true, false, nil
	}
	for _, f := range strings.Split(mask, ",") {
		switch strings.TrimSpace(f) {
		case "bindings":
			bindings = true
		case "etag", "version":
		case "auditConfigs", "audit_configs":
			auditConfigs = true
		default:
			return false, false, httpx.ErrInvalid("Invalid update_mask path %q: allowed are bindings, etag, auditConfigs.", strings.TrimSpace(f))
		}
	}
	return bindings, auditConfigs, nil
}

// SetPolicy applies a setIamPolicy request to *cur (nil when the resource
// never had a policy) and returns the new stored policy. Called with e.mu
// held; the caller saves. Errors: 400 for bad versions, conditions, roles
// or members; 409 ABORTED for a stale etag.
func (e *Server) SetPolicy(cur **model.Policy, req SetIamPolicyRequest) (*model.Policy, *httpx.Error) {
	in := req.Policy
	if in == nil {
		in = &WirePolicy{}
	}
	old := *cur
	if in.Etag != "" && !model.SameEtag(in.Etag, old.EffectiveEtag()) {
		return nil, httpx.ErrAborted("There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.", in.Etag, old.EffectiveEtag())
	}
	switch in.Version {
	case 0, 1, 3:
	default:
		return nil, httpx.ErrInvalid("Invalid policy version %d: must be 0, 1 or 3.", in.Version)
	}
	setBindings, setAudit, aerr := parseUpdateMask(req.UpdateMask)
	if aerr != nil {
		return nil, aerr
	}
	now := e.Opts.Now().UTC()
	np := &model.Policy{}
	if old != nil {
		np.Bindings = old.Bindings
		np.AuditConfigs = old.AuditConfigs
	}
	if setBindings {
		bs, aerr := e.normalizeBindings(in.Bindings, in.Version, old)
		if aerr != nil {
			return nil, aerr
		}
		np.Bindings = bs
	}
	if setAudit {
		for _, ac := range in.AuditConfigs {
			if ac.Service == "" {
				return nil, httpx.ErrInvalid("Invalid audit config: service is required.")
			}
		}
		np.AuditConfigs = in.AuditConfigs
	}
	np.Version = 1
	for _, b := range np.Bindings {
		if b.Condition != nil {
			np.Version = 3
		}
	}
	np.Etag = model.NewEtag()
	np.UpdateTime = now
	np.PrevBindings = old.BindingsAt(now, e.Opts.PropagationDelay)
	*cur = np
	return np, nil
}

var (
	customRoleRE = regexp.MustCompile(`^(projects|organizations)/[^/]+/roles/[a-zA-Z0-9_.]+$`)
	withcondRE   = regexp.MustCompile(`^(.*)_withcond_([0-9a-f]+)$`)
)

// normalizeBindings validates bindings from a set request and merges them
// per (role, condition), normalizing members and dropping empty bindings.
func (e *Server) normalizeBindings(in []*model.Binding, version int, old *model.Policy) ([]*model.Binding, *httpx.Error) {
	type key struct {
		role string
		cond model.Expr
		has  bool
	}
	var out []*model.Binding
	idx := map[key]*model.Binding{}
	seen := map[*model.Binding]map[string]bool{}
	for _, b := range in {
		if b == nil {
			continue
		}
		role, cond := b.Role, b.Condition
		if m := withcondRE.FindStringSubmatch(role); m != nil && cond == nil {
			// A version-1 view of a conditional binding coming back.
			var found *model.Binding
			for _, ob := range old.CurrentBindings() {
				if ob.Role == m[1] && ob.Condition != nil && withcondHash(ob.Condition) == m[2] {
					found = ob
				}
			}
			if found == nil {
				return nil, httpx.ErrInvalid("Role %s is not supported for this resource: conditional role bindings need policy version 3.", role)
			}
			role, cond = found.Role, found.Condition
		} else if cond != nil && version < 3 {
			return nil, httpx.ErrInvalid("Invalid policy: conditional role bindings require policy version 3 (binding for role %s has a condition and the policy version is %d).", role, version)
		}
		if role == "" {
			return nil, httpx.ErrInvalid("Invalid policy: a binding has no role.")
		}
		if !authz.PredefinedRoleRE.MatchString(role) && !customRoleRE.MatchString(role) {
			return nil, httpx.ErrInvalid("Role %s is not supported for this resource.", role)
		}
		if aerr := e.checkCustomRoleLocked(role); aerr != nil {
			return nil, aerr
		}
		if cond != nil && strings.TrimSpace(cond.Expression) == "" {
			return nil, httpx.ErrInvalid("Invalid condition for role %s: expression is required.", role)
		}
		k := key{role: role}
		if cond != nil {
			k.cond, k.has = *cond, true
		}
		nb := idx[k]
		if nb == nil {
			nb = &model.Binding{Role: role}
			if cond != nil {
				c := *cond
				nb.Condition = &c
			}
			idx[k] = nb
			seen[nb] = map[string]bool{}
			out = append(out, nb)
		}
		for _, m := range b.Members {
			nm, aerr := NormalizeMember(m)
			if aerr != nil {
				return nil, aerr
			}
			if aerr := e.CheckMemberExistsLocked(nm); aerr != nil {
				return nil, aerr
			}
			if !seen[nb][nm] {
				seen[nb][nm] = true
				nb.Members = append(nb.Members, nm)
			}
		}
	}
	return slices.DeleteFunc(out, func(b *model.Binding) bool { return len(b.Members) == 0 }), nil
}

// NormalizeMember validates and normalizes one member of a setIamPolicy
// request with the emulator's member grammar (authz.NormalizeMember); an
// invalid member is production's 400.
func NormalizeMember(m string) (string, *httpx.Error) {
	n, err := authz.NormalizeMember(m)
	if err != nil {
		return "", httpx.ErrInvalid("Invalid member %q: members must be allUsers, allAuthenticatedUsers, or of the form user:, serviceAccount:, group:, domain:, principal://, principalSet:// or deleted:.", m)
	}
	return n, nil
}

// CheckMemberExistsLocked is the production check that a serviceAccount:
// member of an *.iam.gserviceaccount.com account in a project the emulator
// owns names a live account (400 "Service account X does not exist.").
// Options.AllowUnknownServiceAccountMembers turns it off.
func (e *Server) CheckMemberExistsLocked(member string) *httpx.Error {
	if e.Opts.AllowUnknownServiceAccountMembers {
		return nil
	}
	project, email, ok := authz.ServiceAccountProject(member)
	if !ok || e.St.Projects[project] == nil {
		return nil
	}
	if sa := e.St.ServiceAccounts[email]; sa != nil && !sa.Deleted {
		return nil
	}
	return httpx.ErrInvalid("Service account %s does not exist.", email)
}

// IAMResource describes a resource with an IAM policy for the shared
// getIamPolicy / setIamPolicy / testIamPermissions handlers.
type IAMResource struct {
	// Name is the full resource name used in errors, e.g.
	// "projects/p/locations/l/services/s".
	Name string
	// ProjectID is the project whose policy is inherited (its id).
	ProjectID string
	// Policy points at where the resource's policy is stored (e.g.
	// &svc.Policy); *Policy may be nil. nil Policy means the resource is
	// the project itself (its policy is the project policy).
	Policy **model.Policy
	// Parent, for an organization or folder (ProjectID empty), is the node
	// whose chain of policies the resource inherits ("" for a root).
	Parent string
	// GetPermission and SetPermission guard getIamPolicy and setIamPolicy,
	// e.g. "run.services.getIamPolicy".
	GetPermission, SetPermission string
}

// HandleIAMVerbs registers getIamPolicy (with each of getMethods),
// setIamPolicy and testIamPermissions (POST) on pattern, a resource path,
// for the resource lookup(vars) finds; name prefixes the counter keys
// (e.g. "run.v2.services" → "run.v2.services.getIamPolicy").
func (e *Server) HandleIAMVerbs(pattern, name string, lookup func(vars map[string]string) func() (*IAMResource, *httpx.Error), getMethods ...string) {
	for _, m := range getMethods {
		e.Router.Handle(m, pattern+":getIamPolicy", name+".getIamPolicy", func(w http.ResponseWriter, r *http.Request, v map[string]string) {
			e.serveGetIamPolicy(w, r, lookup(v))
		})
	}
	e.Router.Handle(http.MethodPost, pattern+":setIamPolicy", name+".setIamPolicy", func(w http.ResponseWriter, r *http.Request, v map[string]string) {
		e.serveSetIamPolicy(w, r, lookup(v))
	})
	e.Router.Handle(http.MethodPost, pattern+":testIamPermissions", name+".testIamPermissions", func(w http.ResponseWriter, r *http.Request, v map[string]string) {
		e.serveTestIamPermissions(w, r, lookup(v))
	})
}

// serveGetIamPolicy handles a getIamPolicy call (GET or POST, version from
// the query or the body). lookup runs with e.mu held and returns the
// resource or an error (e.g. 404).
func (e *Server) serveGetIamPolicy(w http.ResponseWriter, r *http.Request, lookup func() (*IAMResource, *httpx.Error)) {
	ver, aerr := requestedPolicyVersion(r)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	e.Mu.Lock()
	res, aerr := e.lookupAuthorized(r, lookup, func(res *IAMResource) string { return res.GetPermission })
	if aerr != nil {
		e.Mu.Unlock()
		httpx.WriteError(w, aerr)
		return
	}
	out := e.getPolicyResponse(e.resourcePolicyLocked(res), ver)
	e.Mu.Unlock()
	httpx.WriteJSON(w, http.StatusOK, out)
}

// serveSetIamPolicy handles a setIamPolicy call.
func (e *Server) serveSetIamPolicy(w http.ResponseWriter, r *http.Request, lookup func() (*IAMResource, *httpx.Error)) {
	req, aerr := readSetIamPolicyRequest(r)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	e.Mu.Lock()
	res, aerr := e.lookupAuthorized(r, lookup, func(res *IAMResource) string { return res.SetPermission })
	if aerr != nil {
		e.Mu.Unlock()
		httpx.WriteError(w, aerr)
		return
	}
	slot := res.Policy
	if slot == nil {
		slot = &e.St.Projects[res.ProjectID].Policy
	}
	if e.fault.dropPolicyWrites {
		scratch := *slot // answer as if stored; keep the stored policy
		slot = &scratch
	}
	np, aerr := e.SetPolicy(slot, req)
	if aerr != nil {
		e.Mu.Unlock()
		httpx.WriteError(w, aerr)
		return
	}
	err := e.SaveLocked()
	out := e.getPolicyResponse(np, 3)
	e.Mu.Unlock()
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// serveTestIamPermissions handles testIamPermissions: any authenticated
// caller may ask; the answer is the subset of the asked permissions the
// caller holds on the resource (left out when empty).
func (e *Server) serveTestIamPermissions(w http.ResponseWriter, r *http.Request, lookup func() (*IAMResource, *httpx.Error)) {
	var req struct {
		Permissions []string `json:"permissions"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		e.Mu.Unlock()
		httpx.WriteError(w, aerr)
		return
	}
	res, aerr := lookup()
	if aerr != nil {
		e.Mu.Unlock()
		httpx.WriteError(w, aerr)
		return
	}
	var held []string
	for _, p := range req.Permissions {
		if e.resourcePermittedLocked(principal, p, res) {
			held = append(held, p)
		}
	}
	e.Mu.Unlock()
	out := map[string]any{}
	if len(held) > 0 {
		out["permissions"] = held
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// resourcePolicyLocked is the policy stored for res (the project policy
// when res is a project).
func (e *Server) resourcePolicyLocked(res *IAMResource) *model.Policy {
	if res.Policy == nil {
		if p := e.St.Projects[res.ProjectID]; p != nil {
			return p.Policy
		}
		return nil
	}
	return *res.Policy
}

// lookupAuthorized authenticates the caller, looks the resource up and
// checks the permission perm(res) on it through the resource policy ∪ the
// project policy ∪ its ancestors'. Lookup errors (e.g. 404) are returned as they are.
// Called with e.mu held.
func (e *Server) lookupAuthorized(r *http.Request, lookup func() (*IAMResource, *httpx.Error), perm func(*IAMResource) string) (*IAMResource, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	res, aerr := lookup()
	if aerr != nil {
		return nil, aerr
	}
	if !e.resourcePermittedLocked(principal, perm(res), res) {
		return nil, httpx.ErrPermissionDenied(perm(res), res.Name)
	}
	return res, nil
}

// resourcePermittedLocked reports whether principal holds permission on res
// through its own policy, its project's and every ancestor's (a folder's or
// organization's chain above res.Parent). Called with e.mu held.
func (e *Server) resourcePermittedLocked(principal, permission string, res *IAMResource) bool {
	sets := append([][]*model.Binding{e.resourcePolicyLocked(res).CurrentBindings()}, e.ancestorBindingsLocked(res.Parent)...)
	return e.PrincipalPermitted(principal, permission, res.ProjectID, sets...)
}
