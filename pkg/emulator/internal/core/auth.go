package core

// Caller authentication for the management APIs (contract §13.4).
//
// A request's bearer token ("Authorization: Bearer x", the scheme in any
// case; httpx.ParseBearer) maps to a principal:
//   - Options.BootstrapToken → Options.BootstrapPrincipal (normalized). The
//     bootstrap principal is an ordinary principal: it can do what the
//     project policy grants it (roles/owner in the projects the emulator
//     creates), nothing more;
//   - an access token the emulator minted (token endpoint, generateAccessToken,
//     metadata server), not expired, whose service account is live and
//     enabled → "serviceAccount:{email}";
//   - anything else, or no token → 401 UNAUTHENTICATED.
//
// For the run half: call e.authorize (or e.authorizeResource for a precise
// resource name in the 403) with e.mu held, e.g.
//
//	principal, aerr := e.authorizeResource(r, "run.services.get", svcName, svc.ProjectID, svc.Policy)
//
// The permission is checked through the resource policy ∪ the project
// policy ∪ the policies of the project's folders and organization (current
// bindings; the data plane uses principalPermittedAt).

import (
	"net/http"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// CallerLocked returns the principal of r's bearer token or 401. The
// Authorization header is read by httpx.ParseBearer: the "Bearer" scheme in
// any case is required, as Google's front ends do. Called with e.mu held.
func (e *Server) CallerLocked(r *http.Request) (string, *httpx.Error) {
	tok, err := httpx.ParseBearer(r.Header.Get("Authorization"))
	if err != nil {
		return "", httpx.ErrUnauthenticated()
	}
	if tok == e.Opts.BootstrapToken {
		return authz.NormalizeMemberOrKeep(e.Opts.BootstrapPrincipal), nil
	}
	at := e.St.AccessTokens[tok]
	if at == nil || !e.Opts.Now().Before(at.Expiry) {
		return "", httpx.ErrUnauthenticated()
	}
	if email, ok := strings.CutPrefix(at.Principal, "serviceAccount:"); ok {
		sa := e.St.ServiceAccounts[email]
		if sa == nil || sa.Deleted || sa.Disabled {
			return "", httpx.ErrUnauthenticated()
		}
	}
	return at.Principal, nil
}

// authorize authenticates r and checks that its principal holds permission
// through resourcePolicy (may be nil) ∪ the policy of projectID. The 403
// names "projects/{projectID}". Called with e.mu held.
func (e *Server) authorize(r *http.Request, permission, projectID string, resourcePolicy *model.Policy) (string, *httpx.Error) {
	return e.AuthorizeResource(r, permission, "projects/"+projectID, projectID, resourcePolicy)
}

// AuthorizeResource is authorize with the resource name the 403 reports.
// Called with e.mu held.
func (e *Server) AuthorizeResource(r *http.Request, permission, resource, projectID string, resourcePolicy *model.Policy) (string, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return "", aerr
	}
	if !e.PrincipalPermitted(principal, permission, projectID, resourcePolicy.CurrentBindings()) {
		return principal, httpx.ErrPermissionDenied(permission, resource)
	}
	return principal, nil
}
