// Package oauth serves the OAuth2 token endpoint of the emulator (JWT-bearer
// grants from service-account keys).
package oauth

// The OAuth2 token endpoint (contract §9): the JWT-bearer grant that
// service-account key files use. A "scope" assertion gets an opaque access
// token (remembered in State.AccessTokens, so the management APIs map it to
// the account); a "target_audience" assertion gets a Google-signed ID token.
// Errors use the OAuth shape {"error", "error_description"}.

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

const (
	JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionSkew is the clock skew tolerated on assertion iat.
	assertionSkew = 5 * time.Minute
)

// RegisterOAuthRoutes registers the OAuth2 token endpoint on e.
func RegisterOAuthRoutes(e *core.Server) {
	e.Router.Handle(http.MethodPost, "/token", "oauth2.token", e.With(handleToken))
	e.Router.Handle(http.MethodPost, "/oauth2/v4/token", "oauth2.token", e.With(handleToken))
	e.Router.Handle(http.MethodPost, "/o/oauth2/token", "oauth2.token", e.With(handleToken))
}

// writeOAuthError writes an error in the token endpoint's shape.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	httpx.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// acceptedAudiences are the aud values the token endpoint accepts: its own
// URLs (as listened on and as addressed) and Google's.
func acceptedAudiences(e *core.Server, r *http.Request) []string {
	out := []string{"https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token", "https://accounts.google.com/o/oauth2/token"}
	for _, base := range []string{e.Url, e.RequestBase(r)} {
		out = append(out, base+"/token", base+"/oauth2/v4/token", base+"/o/oauth2/token")
	}
	return out
}

// tokenError is an OAuth error of the token endpoint.
type tokenError struct {
	status      int
	code, descr string
}

func badGrant(descr string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_grant", descr}
}

func handleToken(e *core.Server, w http.ResponseWriter, r *http.Request, _ map[string]string) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != JWTBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	sa, claims, terr := verifyAssertionLocked(e, r, assertion)
	if terr != nil {
		writeOAuthError(w, terr.status, terr.code, terr.descr)
		return
	}
	if aud, _ := claims["target_audience"].(string); aud != "" {
		tok, err := e.MintIDToken(sa, aud, true, nil)
		if err != nil {
			writeOAuthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"id_token": tok})
		return
	}
	scope, _ := claims["scope"].(string)
	scopes := strings.Fields(scope)
	if len(scopes) == 0 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	tok, _ := e.MintAccessTokenLocked("serviceAccount:"+sa.Email, scopes, core.AccessTokenLifetime)
	if err := e.SaveLocked(); err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(core.AccessTokenLifetime.Seconds()) - 1,
		"token_type":   "Bearer",
	})
}

// verifyAssertionLocked checks a JWT-bearer assertion (contract §9.3): the
// issuing account by iss, its key by kid (or any enabled key), RS256
// signature, aud, exp/iat, and that account and key are enabled.
func verifyAssertionLocked(e *core.Server, r *http.Request, assertion string) (*model.ServiceAccount, jwt.MapClaims, *tokenError) {
	unverified := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, unverified)
	if err != nil {
		return nil, nil, badGrant("Invalid JWT: the assertion could not be parsed.")
	}
	iss, _ := unverified["iss"].(string)
	sa := e.ServiceAccountLocked(iss)
	if sa == nil || !strings.Contains(iss, "@") {
		return nil, nil, badGrant("Invalid grant: account not found")
	}
	var candidates []*model.SAKey
	if kid, _ := tok.Header["kid"].(string); kid != "" {
		if k := sa.Keys[kid]; k != nil {
			candidates = append(candidates, k)
		}
	} else {
		for _, k := range sa.Keys {
			candidates = append(candidates, k)
		}
	}
	var claims jwt.MapClaims
	var key *model.SAKey
	for _, k := range candidates {
		pub, err := core.ParsePublicKeyPEM(k.PublicKeyPEM)
		if err != nil {
			continue
		}
		c := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(assertion, c, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()); err == nil {
			claims, key = c, k
			break
		}
	}
	if claims == nil {
		return nil, nil, badGrant("Invalid JWT Signature.")
	}
	aud, err := claims.GetAudience()
	if err != nil || len(aud) == 0 || !slices.Contains(acceptedAudiences(e, r), aud[0]) {
		return nil, nil, badGrant("Invalid JWT: the audience (aud) is not this token endpoint.")
	}
	if err := checkAssertionTimes(claims, e.Opts.Now()); err != nil {
		return nil, nil, badGrant("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim. (" + err.Error() + ")")
	}
	if sub, _ := claims["sub"].(string); sub != "" && !strings.EqualFold(sub, iss) {
		return nil, nil, &tokenError{http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method (domain-wide delegation is not emulated)."}
	}
	if sa.Disabled {
		return nil, nil, badGrant("Invalid grant: account " + sa.Email + " is disabled.")
	}
	if key.Disabled {
		return nil, nil, badGrant("Invalid grant: key " + key.ID + " is disabled.")
	}
	if e.Opts.Now().After(key.ValidBefore) {
		return nil, nil, badGrant("Invalid grant: key " + key.ID + " has expired.")
	}
	return sa, claims, nil
}

// checkAssertionTimes requires exp > now, iat <= now+skew and exp-iat <= 1h.
func checkAssertionTimes(c jwt.MapClaims, now time.Time) error {
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("no exp")
	}
	iat, err := c.GetIssuedAt()
	if err != nil || iat == nil {
		return errors.New("no iat")
	}
	switch {
	case !now.Before(exp.Time):
		return errors.New("expired")
	case iat.Time.After(now.Add(assertionSkew)):
		return errors.New("issued in the future")
	case exp.Time.Sub(iat.Time) > time.Hour:
		return errors.New("lifetime over one hour")
	}
	return nil
}
