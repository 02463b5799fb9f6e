// Package iamcredentials serves IAM Credentials v1 for the emulator:
// generateAccessToken, generateIdToken, signJwt and signBlob with delegation.
package iamcredentials

// IAM Credentials v1 (contract §4): generateIdToken, generateAccessToken,
// signJwt and signBlob on /v1/projects/-/serviceAccounts/{sa}:verb (a real
// project id is accepted too).
//
// Authorization follows Google: the caller needs the method's permission
// (iam.serviceAccounts.getOpenIdToken, getAccessToken, signJwt, signBlob)
// on the target account, through the account's policy ∪ its project's
// policy. With delegates, the chain is caller → delegates[0] → … → target:
// every hop into a delegate needs iam.serviceAccounts.implicitDelegation on
// that delegate, and the last hop needs the method's permission on the
// target. roles/iam.serviceAccountTokenCreator carries both, so "each hop
// holds Token Creator on the next" works as documented. Disabled targets or
// delegates are refused with 400 FAILED_PRECONDITION; unknown ones are 404.

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// maxAccessTokenLifetime is the longest generateAccessToken lifetime
// without the org-policy extension.
const maxAccessTokenLifetime = time.Hour

func RegisterCredentialsRoutes(e *core.Server) {
	const sa = "/v1/projects/{p}/serviceAccounts/{sa}"
	e.Router.Handle(http.MethodPost, sa+":generateIdToken", "iamcredentials.v1.generateIdToken", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) {
		handleGenerateIDToken(e, a0, a1, a2)
	})
	e.Router.Handle(http.MethodPost, sa+":generateAccessToken", "iamcredentials.v1.generateAccessToken", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) {
		handleGenerateAccessToken(e, a0, a1, a2)
	})
	e.Router.Handle(http.MethodPost, sa+":signJwt", "iamcredentials.v1.signJwt", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) { handleSignJwt(e, a0, a1, a2) })
	e.Router.Handle(http.MethodPost, sa+":signBlob", "iamcredentials.v1.signBlob", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) { handleSignBlob(e, a0, a1, a2) })
}

// credentialTargetLocked authenticates r, resolves target and delegates,
// and checks the delegation chain for permission. Called with e.mu held.
func credentialTargetLocked(e *core.Server, r *http.Request, v map[string]string, delegates []string, permission string) (*model.ServiceAccount, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	target := e.ServiceAccountLocked(v["sa"])
	if target == nil {
		return nil, httpx.ErrNotFound("Service account projects/-/serviceAccounts/%s not found.", v["sa"])
	}
	var chain []*model.ServiceAccount
	for _, d := range delegates {
		sa := e.ServiceAccountLocked(d)
		if sa == nil {
			return nil, httpx.ErrNotFound("Delegate service account %s not found.", d)
		}
		chain = append(chain, sa)
	}
	chain = append(chain, target)
	caller := principal
	for i, hop := range chain {
		perm := permission
		if i < len(chain)-1 {
			perm = "iam.serviceAccounts.implicitDelegation"
		}
		if !e.PrincipalPermitted(caller, perm, hop.ProjectID, hop.Policy.CurrentBindings()) {
			return nil, httpx.ErrPermissionDenied(perm, "projects/-/serviceAccounts/"+hop.Email)
		}
		if hop.Disabled {
			return nil, httpx.ErrFailedPrecondition("Service account %s is disabled.", hop.Email)
		}
		caller = "serviceAccount:" + hop.Email
	}
	return target, nil
}

func handleGenerateIDToken(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		Audience                   string   `json:"audience"`
		IncludeEmail               bool     `json:"includeEmail"`
		Delegates                  []string `json:"delegates"`
		OrganizationNumberIncluded bool     `json:"organizationNumberIncluded"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if req.Audience == "" {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid value for audience: the audience is required."))
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, aerr := credentialTargetLocked(e, r, v, req.Delegates, "iam.serviceAccounts.getOpenIdToken")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	tok, err := e.MintIDToken(sa, req.Audience, req.IncludeEmail, nil)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func handleGenerateAccessToken(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		Scope     []string `json:"scope"`
		Lifetime  string   `json:"lifetime"`
		Delegates []string `json:"delegates"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if len(req.Scope) == 0 {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid value for scope: at least one scope is required."))
		return
	}
	lifetime := core.AccessTokenLifetime
	if req.Lifetime != "" {
		d, err := time.ParseDuration(req.Lifetime)
		if err != nil || !strings.HasSuffix(req.Lifetime, "s") || d <= 0 {
			httpx.WriteError(w, httpx.ErrInvalid("Invalid value for lifetime %q: a duration in seconds such as \"3600s\" is required.", req.Lifetime))
			return
		}
		if d > maxAccessTokenLifetime {
			httpx.WriteError(w, httpx.ErrInvalid("The lifetime %s exceeds the maximum of 3600s.", req.Lifetime))
			return
		}
		lifetime = d
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, aerr := credentialTargetLocked(e, r, v, req.Delegates, "iam.serviceAccounts.getAccessToken")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	tok, exp := e.MintAccessTokenLocked("serviceAccount:"+sa.Email, req.Scope, lifetime)
	e.SaveAndWrite(w, map[string]string{"accessToken": tok, "expireTime": exp.Format(time.RFC3339)})
}

// systemKeyLocked returns the account's Google-managed signing key,
// creating it on first use. Called with e.mu held.
func systemKeyLocked(e *core.Server, sa *model.ServiceAccount) (*model.SAKey, *rsa.PrivateKey, error) {
	for _, k := range sa.Keys {
		if k.Type == "SYSTEM_MANAGED" && !k.Disabled {
			priv, err := core.ParsePrivateKeyPEM(k.PrivateKeyPEM)
			return k, priv, err
		}
	}
	now := e.Opts.Now().UTC().Truncate(time.Second)
	kp, err := core.NewKeyPair(2048, sa.Email, now, now.AddDate(0, 0, 14))
	if err != nil {
		return nil, nil, err
	}
	k := &model.SAKey{ID: core.RandomHex(20), PrivateKeyPEM: kp.PrivatePEM, PublicKeyPEM: kp.PublicPEM, CertPEM: kp.CertPEM,
		Algorithm: "KEY_ALG_RSA_2048", Origin: "GOOGLE_PROVIDED", Type: "SYSTEM_MANAGED", ValidAfter: now, ValidBefore: now.AddDate(0, 0, 14)}
	if sa.Keys == nil {
		sa.Keys = map[string]*model.SAKey{}
	}
	sa.Keys[k.ID] = k
	return k, kp.Priv, nil
}

// handleSignJwt signs the given claims with the account's system-managed
// key (published at /robot/v1/metadata/x509/{email}).
func handleSignJwt(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		Payload   string   `json:"payload"`
		Delegates []string `json:"delegates"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	claims := jwt.MapClaims{}
	if err := json.Unmarshal([]byte(req.Payload), &claims); err != nil {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid payload: a JSON object of claims is required."))
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, aerr := credentialTargetLocked(e, r, v, req.Delegates, "iam.serviceAccounts.signJwt")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil && exp.Time.After(e.Opts.Now().Add(12*time.Hour)) {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid payload: exp must be at most 12 hours in the future."))
		return
	}
	k, priv, err := systemKeyLocked(e, sa)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = k.ID
	signed, err := tok.SignedString(priv)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.SaveAndWrite(w, map[string]string{"keyId": k.ID, "signedJwt": signed})
}

// handleSignBlob signs base64 bytes (RSASSA-PKCS1-v1_5 SHA-256).
func handleSignBlob(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		Payload   string   `json:"payload"`
		Delegates []string `json:"delegates"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	blob, err := base64.StdEncoding.DecodeString(req.Payload)
	if err != nil {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid payload: standard base64 is required."))
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, aerr := credentialTargetLocked(e, r, v, req.Delegates, "iam.serviceAccounts.signBlob")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	k, priv, err := systemKeyLocked(e, sa)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	sum := sha256.Sum256(blob)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.SaveAndWrite(w, map[string]string{"keyId": k.ID, "signedBlob": base64.StdEncoding.EncodeToString(sig)})
}
