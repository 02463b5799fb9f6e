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

// RegisterCredentialsRoutes registers IAM Credentials v1 on e (before IAM:
// they share the service-account prefix).
func RegisterCredentialsRoutes(e *core.Server) {
	const sa = "/v1/projects/{p}/serviceAccounts/{sa}"
	e.Router.Handle(http.MethodPost, sa+":generateIdToken", "iamcredentials.v1.generateIdToken", asTarget(e, "iam.serviceAccounts.getOpenIdToken", generateIDToken))
	e.Router.Handle(http.MethodPost, sa+":generateAccessToken", "iamcredentials.v1.generateAccessToken", asTarget(e, "iam.serviceAccounts.getAccessToken", generateAccessToken))
	e.Router.Handle(http.MethodPost, sa+":signJwt", "iamcredentials.v1.signJwt", asTarget(e, "iam.serviceAccounts.signJwt", signJwt))
	e.Router.Handle(http.MethodPost, sa+":signBlob", "iamcredentials.v1.signBlob", asTarget(e, "iam.serviceAccounts.signBlob", signBlob))
}

// credentialRequest is the body of an IAM Credentials method: its
// delegation chain and a check of its own fields.
type credentialRequest interface {
	delegateChain() []string
	check(e *core.Server) *httpx.Error
}

// delegation is the delegates field every IAM Credentials request has.
type delegation struct {
	Delegates []string `json:"delegates"`
}

func (d *delegation) delegateChain() []string { return d.Delegates }

// asTarget serves one IAM Credentials method: the request body is decoded
// and checked first (400); then, holding e.Mu, the caller must hold perm on
// the target account through the delegation chain, and do answers. State
// is saved before the answer (tokens and system keys are stored).
func asTarget[B any, PB interface {
	*B
	credentialRequest
}](e *core.Server, perm string, do func(e *core.Server, sa *model.ServiceAccount, req PB) (any, *httpx.Error)) httpx.HandlerFunc {
	return core.Serve(e, true, func(r *http.Request, v map[string]string, body *B) (any, *httpx.Error) {
		req := PB(body)
		if aerr := req.check(e); aerr != nil {
			return nil, aerr
		}
		sa, aerr := credentialTargetLocked(e, r, v, req.delegateChain(), perm)
		if aerr != nil {
			return nil, aerr
		}
		return do(e, sa, req)
	})
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

type idTokenRequest struct {
	delegation
	Audience                   string `json:"audience"`
	IncludeEmail               bool   `json:"includeEmail"`
	OrganizationNumberIncluded bool   `json:"organizationNumberIncluded"`
}

func (q *idTokenRequest) check(*core.Server) *httpx.Error {
	if q.Audience == "" {
		return httpx.ErrInvalid("Invalid value for audience: the audience is required.")
	}
	return nil
}

func generateIDToken(e *core.Server, sa *model.ServiceAccount, req *idTokenRequest) (any, *httpx.Error) {
	tok, err := e.MintIDToken(sa, req.Audience, req.IncludeEmail, nil)
	if err != nil {
		return nil, internal(err)
	}
	return map[string]string{"token": tok}, nil
}

type accessTokenRequest struct {
	delegation
	Scope    []string `json:"scope"`
	Lifetime string   `json:"lifetime"`
	lifetime time.Duration
}

func (q *accessTokenRequest) check(*core.Server) *httpx.Error {
	if len(q.Scope) == 0 {
		return httpx.ErrInvalid("Invalid value for scope: at least one scope is required.")
	}
	q.lifetime = core.AccessTokenLifetime
	if q.Lifetime != "" {
		d, err := time.ParseDuration(q.Lifetime)
		if err != nil || !strings.HasSuffix(q.Lifetime, "s") || d <= 0 {
			return httpx.ErrInvalid("Invalid value for lifetime %q: a duration in seconds such as \"3600s\" is required.", q.Lifetime)
		}
		if d > maxAccessTokenLifetime {
			return httpx.ErrInvalid("The lifetime %s exceeds the maximum of 3600s.", q.Lifetime)
		}
		q.lifetime = d
	}
	return nil
}

func generateAccessToken(e *core.Server, sa *model.ServiceAccount, req *accessTokenRequest) (any, *httpx.Error) {
	tok, exp := e.MintAccessTokenLocked("serviceAccount:"+sa.Email, req.Scope, req.lifetime)
	return map[string]string{"accessToken": tok, "expireTime": exp.Format(time.RFC3339)}, nil
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

type signJwtRequest struct {
	delegation
	Payload string `json:"payload"`
	claims  jwt.MapClaims
}

func (q *signJwtRequest) check(e *core.Server) *httpx.Error {
	q.claims = jwt.MapClaims{}
	if err := json.Unmarshal([]byte(q.Payload), &q.claims); err != nil {
		return httpx.ErrInvalid("Invalid payload: a JSON object of claims is required.")
	}
	return nil
}

// signJwt signs the given claims with the account's system-managed key
// (published at /robot/v1/metadata/x509/{email}).
func signJwt(e *core.Server, sa *model.ServiceAccount, req *signJwtRequest) (any, *httpx.Error) {
	if exp, err := req.claims.GetExpirationTime(); err == nil && exp != nil && exp.Time.After(e.Opts.Now().Add(12*time.Hour)) {
		return nil, httpx.ErrInvalid("Invalid payload: exp must be at most 12 hours in the future.")
	}
	k, priv, err := systemKeyLocked(e, sa)
	if err != nil {
		return nil, internal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, req.claims)
	tok.Header["kid"] = k.ID
	signed, err := tok.SignedString(priv)
	if err != nil {
		return nil, internal(err)
	}
	return map[string]string{"keyId": k.ID, "signedJwt": signed}, nil
}

type signBlobRequest struct {
	delegation
	Payload string `json:"payload"`
	blob    []byte
}

func (q *signBlobRequest) check(*core.Server) *httpx.Error {
	b, err := base64.StdEncoding.DecodeString(q.Payload)
	if err != nil {
		return httpx.ErrInvalid("Invalid payload: standard base64 is required.")
	}
	q.blob = b
	return nil
}

// signBlob signs base64 bytes (RSASSA-PKCS1-v1_5 SHA-256).
func signBlob(e *core.Server, sa *model.ServiceAccount, req *signBlobRequest) (any, *httpx.Error) {
	k, priv, err := systemKeyLocked(e, sa)
	if err != nil {
		return nil, internal(err)
	}
	sum := sha256.Sum256(req.blob)
	sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
	if err != nil {
		return nil, internal(err)
	}
	return map[string]string{"keyId": k.ID, "signedBlob": base64.StdEncoding.EncodeToString(sig)}, nil
}

// internal is err as an API error: a 500 INTERNAL unless it is one.
func internal(err error) *httpx.Error {
	if ae, ok := err.(*httpx.Error); ok {
		return ae
	}
	return httpx.Errf(http.StatusInternalServerError, "INTERNAL", "%v", err)
}
