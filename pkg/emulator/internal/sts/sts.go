// Package sts serves Google's Security Token Service token exchange for the
// emulator (POST https://sts.googleapis.com/v1/token, RFC 8693): an OIDC
// token of an external identity provider, checked against a workload
// identity pool's provider, becomes a federated access token for
// principal://iam.googleapis.com/{pool}/subject/{google.subject} — what
// Workload Identity Federation's external_account credentials (as CI auth
// actions write them) exchange before impersonating a service account.
package sts

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts/attrmap"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts/oidc"
)

// The token exchange's fixed values.
const (
	TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
	AccessTokenType    = "urn:ietf:params:oauth:token-type:access_token"
	JWTTokenType       = "urn:ietf:params:oauth:token-type:jwt"
	IDTokenType        = "urn:ietf:params:oauth:token-type:id_token"
	// CallName is the exchange's key in the emulator's call counters.
	CallName = "sts.v1.token"
)

// defaultScope is the scope of a request that names none.
const defaultScope = "https://www.googleapis.com/auth/cloud-platform"

// Register registers the token exchange on e (sts.googleapis.com/v1/token;
// every Google host reaches the emulator's one listener).
func Register(e *core.Server) {
	e.Router.Handle(http.MethodPost, "/v1/token", CallName, e.With(handleToken))
}

// exchange is a token-exchange request, from a form or a JSON body (whose
// fields may be snake_case or camelCase).
type exchange struct {
	GrantType, Audience, Scope, RequestedTokenType, SubjectToken, SubjectTokenType string
}

// stsError is an answer in the OAuth error shape STS uses.
type stsError struct {
	status      int
	code, descr string
}

func fail(code, format string, args ...any) *stsError {
	return &stsError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func readExchange(r *http.Request) (exchange, *stsError) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&m); err != nil {
			return exchange{}, fail("invalid_request", "Invalid JSON payload received.")
		}
		get := func(snake, camel string) string {
			if v, ok := m[camel].(string); ok {
				return v
			}
			v, _ := m[snake].(string)
			return v
		}
		return exchange{get("grant_type", "grantType"), get("audience", "audience"), get("scope", "scope"),
			get("requested_token_type", "requestedTokenType"), get("subject_token", "subjectToken"),
			get("subject_token_type", "subjectTokenType")}, nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return exchange{}, fail("invalid_request", "Could not parse the request body.")
	}
	f := r.PostForm
	return exchange{f.Get("grant_type"), f.Get("audience"), f.Get("scope"), f.Get("requested_token_type"),
		f.Get("subject_token"), f.Get("subject_token_type")}, nil
}

func (q exchange) check() *stsError {
	switch {
	case q.GrantType != TokenExchangeGrant:
		return fail("unsupported_grant_type", "Invalid value for \"grant_type\": %q. Only %s is supported.", q.GrantType, TokenExchangeGrant)
	case q.RequestedTokenType != AccessTokenType:
		return fail("invalid_request", "Invalid value for \"requested_token_type\": only %s is supported.", AccessTokenType)
	case q.SubjectTokenType != JWTTokenType && q.SubjectTokenType != IDTokenType:
		return fail("invalid_request", "Invalid value for \"subject_token_type\": the emulator exchanges OIDC tokens (%s or %s) only.", JWTTokenType, IDTokenType)
	case q.SubjectToken == "":
		return fail("invalid_request", "Missing required parameter: subject_token.")
	}
	return nil
}

func handleToken(e *core.Server, w http.ResponseWriter, r *http.Request, _ map[string]string) {
	q, serr := readExchange(r)
	if serr == nil {
		serr = q.check()
	}
	var answer map[string]any
	if serr == nil {
		e.Mu.Lock()
		answer, serr = exchangeLocked(e, q)
		e.Mu.Unlock()
	}
	if serr != nil {
		httpx.WriteJSON(w, serr.status, map[string]string{"error": serr.code, "error_description": serr.descr})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, answer)
}

// providerOf resolves an STS audience
// ("//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/PR")
// to its pool and provider. Called with e.Mu held.
func providerOf(e *core.Server, audience string) (*model.WorkloadIdentityPool, *model.WorkloadIdentityProvider, *stsError) {
	rest, ok := strings.CutPrefix(audience, model.IAMHost)
	segs := strings.Split(rest, "/")
	if !ok || len(segs) != 8 || segs[0] != "projects" || segs[2] != "locations" || segs[3] != "global" ||
		segs[4] != "workloadIdentityPools" || segs[6] != "providers" || segs[1] == "" || segs[5] == "" || segs[7] == "" {
		return nil, nil, fail("invalid_request", "Invalid value for \"audience\". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.")
	}
	pool := e.St.WorkloadIdentityPools[model.PoolName(segs[1], segs[5])] // by project number, as Google requires
	var prov *model.WorkloadIdentityProvider
	if pool != nil {
		prov = pool.Providers[segs[7]]
	}
	if pool == nil || prov == nil || pool.Disabled || prov.Disabled {
		return nil, nil, fail("invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.")
	}
	return pool, prov, nil
}

// exchangeLocked verifies the subject token against the audience's
// provider, maps its claims, applies the provider's condition and mints a
// federated access token. Called with e.Mu held.
func exchangeLocked(e *core.Server, q exchange) (map[string]any, *stsError) {
	pool, prov, serr := providerOf(e, q.Audience)
	if serr != nil {
		return nil, serr
	}
	keys, err := oidc.ParseJWKS(prov.JWKSJSON)
	if err != nil {
		return nil, &stsError{http.StatusInternalServerError, "server_error", "The provider's jwksJson cannot be read: " + err.Error()}
	}
	claims, err := oidc.Provider{IssuerURI: prov.IssuerURI, AllowedAudiences: prov.AllowedAudiences, Keys: keys}.Verify(q.SubjectToken, e.Opts.Now())
	if err != nil {
		return nil, fail("invalid_grant", "%s", err.Error())
	}
	mapping, err := attrmap.ParseMapping(prov.AttributeMapping)
	if err != nil {
		return nil, &stsError{http.StatusInternalServerError, "server_error", "The provider's attributeMapping cannot be evaluated: " + err.Error()}
	}
	id, err := mapping.Apply(claims)
	if err != nil {
		return nil, fail("invalid_grant", "%s", err.Error())
	}
	cond, err := attrmap.ParseCondition(prov.AttributeCondition)
	if err != nil {
		return nil, &stsError{http.StatusInternalServerError, "server_error", "The provider's attributeCondition cannot be evaluated: " + err.Error()}
	}
	if !cond.Admits(claims, id) {
		return nil, &stsError{http.StatusBadRequest, "unauthorized_client", "The given credential is rejected by the attribute condition."}
	}
	scopes := strings.Fields(q.Scope)
	if len(scopes) == 0 {
		scopes = []string{defaultScope}
	}
	principal := "principal:" + model.IAMHost + pool.Name + "/subject/" + id.Subject
	if e.St.FederatedSubjects == nil {
		e.St.FederatedSubjects = map[string]*model.FederatedSubject{}
	}
	e.St.FederatedSubjects[principal] = &model.FederatedSubject{Pool: pool.Name, Attributes: id.Attributes, Groups: id.Groups}
	tok, _ := e.MintAccessTokenLocked(principal, scopes, core.AccessTokenLifetime)
	if err := e.SaveLocked(); err != nil {
		return nil, &stsError{http.StatusInternalServerError, "server_error", err.Error()}
	}
	return map[string]any{
		"access_token":      tok,
		"issued_token_type": AccessTokenType,
		"token_type":        "Bearer",
		"expires_in":        int(core.AccessTokenLifetime.Seconds()) - 1,
	}, nil
}
