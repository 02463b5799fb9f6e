// Package asset serves Cloud Asset Inventory v1 for the emulator:
// searchAllIamPolicies, searchAllResources and assets.list over every
// organization, folder, project, Cloud Run service and Cloud Function the
// emulator holds.
//
// As in Google, each result carries only the policy set directly on its
// resource (nothing inherited); the caller needs the method's permission
// on the scope (through the scope's policy or any ancestor's); the search
// methods draw on per-minute quotas (see quota.go); page tokens are opaque
// and valid only with the same other parameters.
//
// Parameters honoured — searchAllIamPolicies: scope, query (the subset in
// query.go), assetTypes, pageSize (default 100, capped at 500), pageToken.
// searchAllResources: the same with its own query fields; readMask is
// accepted and ignored (the default fields are returned). assets.list:
// parent, contentType (unset: names only; RESOURCE; IAM_POLICY, only
// resources that have a policy), assetTypes, pageSize (default 100, capped
// at 1000), pageToken, readTime (checked to lie within the last 35 days,
// then ignored: the answer is the current state). orderBy is refused with
// 400 rather than ignored. Not modelled: service accounts and other asset
// types, the serviceusage.services.use check.
package asset

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// Page sizes of the methods.
var (
	searchPaging = httpx.Paging{Default: 100, Max: 500}
	listPaging   = httpx.Paging{Default: 100, Max: 1000}
)

// api is the Cloud Asset surface of one emulator.
type api struct {
	e     *core.Server
	quota quota // guarded by e.Mu
}

// RegisterAssetRoutes registers Cloud Asset Inventory v1 on e, for scopes
// and parents of the three kinds.
func RegisterAssetRoutes(e *core.Server) {
	a := &api{e: e}
	for _, kind := range []string{"projects", "folders", "organizations"} {
		e.Router.Handle(http.MethodGet, "/v1/"+kind+"/{s}:searchAllIamPolicies", "cloudasset.v1.searchAllIamPolicies", a.serve(kind, a.searchAllIamPolicies))
		e.Router.Handle(http.MethodGet, "/v1/"+kind+"/{s}:searchAllResources", "cloudasset.v1.searchAllResources", a.serve(kind, a.searchAllResources))
		e.Router.Handle(http.MethodGet, "/v1/"+kind+"/{s}/assets", "cloudasset.v1.assets.list", a.serve(kind, a.listAssets))
	}
}

// scope is a resolved scope or parent.
type scope struct {
	name      string // as asked, e.g. "projects/my-proj"
	norm      string // "projects/{number}", "folders/{n}" or "organizations/{n}"
	org       string // its organization, or ""
	principal string
}

// method answers one call for an authenticated caller on a known scope.
type method func(r *http.Request, sc scope) (any, *httpx.Error)

// serve authenticates the caller, resolves the scope and runs m with e.Mu
// held. An unknown scope is 403, as Google answers: it does not tell
// which projects, folders or organizations exist.
func (a *api) serve(kind string, m method) httpx.HandlerFunc {
	return core.Serve(a.e, false, func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		principal, aerr := a.e.CallerLocked(r)
		if aerr != nil {
			return nil, aerr
		}
		sc := scope{name: kind + "/" + v["s"], principal: principal}
		var chain []string
		if kind == "projects" {
			if p := a.e.ProjectLocked(v["s"]); p != nil {
				chain = a.e.ProjectAncestorsLocked(p)
			}
		} else if a.e.NodeExistsLocked(sc.name) {
			chain = a.e.AncestorsLocked(sc.name)
		}
		if len(chain) == 0 {
			return nil, httpx.Errf(http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission on %s, or it does not exist.", sc.name)
		}
		sc.norm = chain[0]
		for _, n := range chain {
			if strings.HasPrefix(n, "organizations/") {
				sc.org = n
			}
		}
		return m(r, sc)
	})
}

// authorizeLocked checks permission on the scope.
func (a *api) authorizeLocked(sc scope, permission string) *httpx.Error {
	if !a.e.NodePermittedLocked(sc.principal, permission, sc.name) {
		return httpx.ErrPermissionDenied(permission, sc.name)
	}
	return nil
}

// searchAllIamPolicies serves v1.searchAllIamPolicies.
func (a *api) searchAllIamPolicies(r *http.Request, sc scope) (any, *httpx.Error) {
	return a.search(r, sc, "cloudasset.assets.searchAllIamPolicies", iamFields, func(terms []term, items []*item) []any {
		m := policyMatcher{terms: terms, perms: a.rolePermissionsLocked}
		var out []any
		for _, it := range items {
			if it.policy == nil || len(it.policy.Bindings) == 0 || !m.resourceOK(it.name) {
				continue
			}
			bs := m.bindings(it.name, it.policy.Bindings)
			if len(bs) == 0 {
				continue
			}
			res := map[string]any{"resource": it.name, "assetType": it.assetType, "policy": map[string]any{"bindings": bs}}
			placement(res, it)
			out = append(out, res)
		}
		return out
	})
}

// searchAllResources serves v1.searchAllResources.
func (a *api) searchAllResources(r *http.Request, sc scope) (any, *httpx.Error) {
	return a.search(r, sc, "cloudasset.assets.searchAllResources", resourceFields, func(terms []term, items []*item) []any {
		var out []any
		for _, it := range items {
			if !resourceMatches(terms, it) {
				continue
			}
			res := map[string]any{"name": it.name, "assetType": it.assetType, "displayName": it.displayName,
				"location": it.location, "createTime": stamp(it.createTime), "updateTime": stamp(it.updateTime)}
			setIf(res, "description", it.description)
			setIf(res, "state", it.state)
			setIf(res, "parentFullResourceName", it.parent)
			setIf(res, "parentAssetType", it.parentType)
			if len(it.labels) > 0 {
				res["labels"] = it.labels
			}
			placement(res, it)
			out = append(out, res)
		}
		return out
	})
}

// search is what both search methods share: authorization, quota, query,
// asset types, the scope's subtree, and paging under "results".
func (a *api) search(r *http.Request, sc scope, permission string, fields func(string) bool, render func([]term, []*item) []any) (any, *httpx.Error) {
	if aerr := a.authorizeLocked(sc, permission); aerr != nil {
		return nil, aerr
	}
	if aerr := a.quota.takeLocked(a.e, consumerLocked(a.e, r, sc.principal), sc.org); aerr != nil {
		return nil, aerr
	}
	if r.URL.Query().Get("orderBy") != "" {
		return nil, httpx.ErrInvalid("orderBy is not supported by the emulator; results come sorted by resource name.")
	}
	terms, aerr := parseQuery(queryOf(r), fields)
	if aerr != nil {
		return nil, aerr
	}
	items, aerr := a.scopedLocked(r, sc)
	if aerr != nil {
		return nil, aerr
	}
	return page(r, render(terms, items), searchPaging, "results")
}

// listAssets serves v1.assets.list.
func (a *api) listAssets(r *http.Request, sc scope) (any, *httpx.Error) {
	q := r.URL.Query()
	ct := q.Get("contentType")
	perm := "cloudasset.assets.listResource"
	switch ct {
	case "", "CONTENT_TYPE_UNSPECIFIED", "RESOURCE":
	case "IAM_POLICY":
		perm = "cloudasset.assets.listIamPolicy"
	default:
		return nil, httpx.ErrInvalid("contentType %s is not supported by the emulator (RESOURCE and IAM_POLICY are).", ct)
	}
	if aerr := a.authorizeLocked(sc, perm); aerr != nil {
		return nil, aerr
	}
	now := a.e.Opts.Now().UTC()
	if rt := q.Get("readTime"); rt != "" {
		t, err := time.Parse(time.RFC3339Nano, rt)
		if err != nil || t.After(now.Add(time.Minute)) || t.Before(now.Add(-35*24*time.Hour)) {
			return nil, httpx.ErrInvalid("readTime %q must be a timestamp between now and 35 days ago.", rt)
		}
	}
	if s := q.Get("pageSize"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 0 {
			return nil, httpx.ErrInvalid("pageSize must be between 1 and 1000, got %q.", s)
		}
	}
	items, aerr := a.scopedLocked(r, sc)
	if aerr != nil {
		return nil, aerr
	}
	var assets []any
	for _, it := range items {
		if ct == "IAM_POLICY" && (it.policy == nil || len(it.policy.Bindings) == 0) {
			continue
		}
		as := map[string]any{"name": it.name, "assetType": it.assetType, "ancestors": it.ancestors, "updateTime": stamp(it.updateTime)}
		switch ct {
		case "RESOURCE":
			res := map[string]any{"version": it.version, "discoveryDocumentUri": it.discoveryURI,
				"discoveryName": it.discoveryName, "data": it.data}
			setIf(res, "parent", it.parent)
			setIf(res, "location", it.location)
			as["resource"] = res
		case "IAM_POLICY":
			as["iamPolicy"] = wirePolicy(it.policy)
		}
		assets = append(assets, as)
	}
	out, aerr := page(r, assets, listPaging, "assets")
	if aerr != nil {
		return nil, aerr
	}
	out["readTime"] = stamp(now)
	return out, nil
}

// scopedLocked is the inventory under sc, filtered by assetTypes.
func (a *api) scopedLocked(r *http.Request, sc scope) ([]*item, *httpx.Error) {
	keep, aerr := typeFilter(r.URL.Query()["assetTypes"])
	if aerr != nil {
		return nil, aerr
	}
	var out []*item
	for _, it := range inventoryLocked(a.e) {
		if it.inScope(sc.norm) && keep(it.assetType) {
			out = append(out, it)
		}
	}
	return out, nil
}

// rolePermissionsLocked lists what role carries: a predefined role of the
// table or a live custom role.
func (a *api) rolePermissionsLocked(role string) []string {
	if r := a.e.Mgmt.Roles[role]; r != nil {
		return r.Permissions
	}
	if cr := a.e.Checker().CustomRole(role); cr != nil && !cr.Deleted {
		return cr.IncludedPermissions
	}
	return nil
}

// placement sets a result's project, folders and organization.
func placement(res map[string]any, it *item) {
	setIf(res, "project", it.project())
	if fs := it.folders(); len(fs) > 0 {
		res["folders"] = fs
	}
	setIf(res, "organization", it.organization())
}

// wirePolicy is a stored policy as Cloud Asset shows it.
func wirePolicy(p *model.Policy) map[string]any {
	v := 1
	if slices.ContainsFunc(p.Bindings, func(b *model.Binding) bool { return b.Condition != nil }) {
		v = 3
	}
	return map[string]any{"version": v, "etag": p.EffectiveEtag(), "bindings": p.Bindings}
}

// page answers the window of results the request's pageSize and pageToken
// ask for under field, with nextPageToken when more remain. Tokens carry a
// digest of the request's other parameters: a token used with different
// ones is 400, as Google refuses it.
func page(r *http.Request, results []any, p httpx.Paging, field string) (map[string]any, *httpx.Error) {
	digest := paramsDigest(r)
	start := 0
	if t := r.URL.Query().Get("pageToken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		d, off, ok := strings.Cut(string(b), ":")
		n, err2 := strconv.Atoi(off)
		if err != nil || err2 != nil || !ok || n < 0 || n > len(results) {
			return nil, httpx.ErrInvalid("Invalid page token %q.", t)
		}
		if d != digest {
			return nil, httpx.ErrInvalid("The page token %q does not belong to this request: every parameter but pageToken and pageSize must equal the first call's.", t)
		}
		start = n
	}
	size := p.Default
	if s := r.URL.Query().Get("pageSize"); s != "" {
		if n, err := strconv.Atoi(s); err != nil {
			return nil, httpx.ErrInvalid("Invalid pageSize %q.", s)
		} else if n > 0 {
			size = n
		}
	}
	size = min(size, p.Max)
	end := min(start+size, len(results))
	out := map[string]any{}
	if end > start {
		out[field] = results[start:end]
	}
	if end < len(results) {
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString([]byte(digest + ":" + strconv.Itoa(end)))
	}
	return out, nil
}

// paramsDigest digests the request's path and parameters other than
// pageToken, pageSize and the transport's own.
func paramsDigest(r *http.Request) string {
	q := r.URL.Query()
	for _, k := range []string{"pageToken", "pageSize", "alt", "prettyPrint", "fields", "$alt", "key"} {
		q.Del(k)
	}
	sum := sha256.Sum256([]byte(r.URL.Path + "?" + q.Encode()))
	return hex.EncodeToString(sum[:6])
}

// stamp is a timestamp as the API renders it.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// setIf sets m[k] when v is not empty.
func setIf(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}
