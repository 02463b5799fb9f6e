package core

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// Helpers of the engine that several API families share: account and
// service lookups and creation, token minting, trigger defaults.

// AccessTokenLifetime is the lifetime of minted access tokens; expires_in
// reports one second less, as Google does.
const AccessTokenLifetime = time.Hour

// ServiceAccountLocked finds a live (not deleted) account by email,
// uniqueId or full name. Disabled accounts are returned (callers check).
// Called with e.mu held.
func (e *Server) ServiceAccountLocked(ref string) *model.ServiceAccount {
	ref = strings.ToLower(saRef(ref))
	if strings.Contains(ref, "@") {
		if sa := e.St.ServiceAccounts[ref]; sa != nil && !sa.Deleted {
			return sa
		}
		return nil
	}
	for _, sa := range e.St.ServiceAccounts {
		if sa.UniqueID == ref && !sa.Deleted {
			return sa
		}
	}
	return nil
}

// SaveAndWrite saves state and writes v (or the save error).
func (e *Server) SaveAndWrite(w http.ResponseWriter, v any) {
	if err := e.SaveLocked(); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

// LeftPad pads s with zeros on the left to n characters.
func LeftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// saRef strips a "projects/{p}/serviceAccounts/" prefix from a name.
func saRef(name string) string {
	if rest, ok := strings.CutPrefix(name, "projects/"); ok {
		if _, ref, ok := strings.Cut(rest, "/serviceAccounts/"); ok {
			return ref
		}
	}
	return name
}

// NewUniqueIDLocked returns a fresh 21-digit account id.
func (e *Server) NewUniqueIDLocked() string {
	for {
		n, _ := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
		id := "1" + LeftPad(n.String(), 20)
		clash := false
		for _, sa := range e.St.ServiceAccounts {
			clash = clash || sa.UniqueID == id
		}
		if !clash {
			return id
		}
	}
}

// MintAccessTokenLocked stores and returns a new opaque access token for
// principal. Expired tokens are dropped on the way. Called with e.mu held;
// the caller saves.
func (e *Server) MintAccessTokenLocked(principal string, scopes []string, lifetime time.Duration) (string, time.Time) {
	now := e.Opts.Now()
	for tok, at := range e.St.AccessTokens {
		if !now.Before(at.Expiry) {
			delete(e.St.AccessTokens, tok)
		}
	}
	tok := "ya29.emu-" + RandomHex(32)
	exp := now.Add(lifetime).UTC().Truncate(time.Second)
	e.St.AccessTokens[tok] = &model.AccessToken{Principal: principal, Scopes: scopes, Expiry: exp}
	return tok, exp
}

// ServiceSpec holds the caller-settable fields of a new service.
type ServiceSpec struct {
	Description        string
	Labels             map[string]string
	Annotations        map[string]string
	Ingress            string
	InvokerIAMDisabled bool
	CustomAudiences    []string
	DefaultURIDisabled bool
	Template           map[string]any
	ResponseStatus     int
}

// NewServiceLocked creates and stores a service (generation 1, ready, an
// empty IAM policy) and, once the data plane is running, its listener.
// Called with e.mu held; does not save.
func (e *Server) NewServiceLocked(p *model.Project, location, name string, spec ServiceSpec, creator string) *model.Service {
	now := e.Opts.Now().UTC()
	if spec.Ingress == "" {
		spec.Ingress = model.IngressAll
	}
	svc := &model.Service{
		ProjectID:          p.ID,
		Location:           location,
		Name:               name,
		UID:                NewUUID(),
		Description:        spec.Description,
		Labels:             spec.Labels,
		Annotations:        spec.Annotations,
		Generation:         1,
		CreateTime:         now,
		UpdateTime:         now,
		Creator:            PrincipalEmail(creator),
		LastModifier:       PrincipalEmail(creator),
		Ingress:            spec.Ingress,
		InvokerIAMDisabled: spec.InvokerIAMDisabled,
		CustomAudiences:    spec.CustomAudiences,
		DefaultURIDisabled: spec.DefaultURIDisabled,
		Template:           spec.Template,
		Etag:               NewResourceEtag(),
		Policy:             &model.Policy{Version: 1, Etag: model.NewEtag()},
		ResponseStatus:     spec.ResponseStatus,
	}
	e.St.Services[model.ServiceKey(p.ID, location, name)] = svc
	e.setServiceURLs(svc, p)
	if e.dp.started {
		if err := e.listenServiceLocked(svc, p); err != nil {
			e.log.Error("cannot listen for service", "service", name, "err", err)
		}
	}
	return svc
}

// setServiceURLs fills uri and urls from the listener port: uri is the
// service's own loopback origin, urls adds the deterministic run.app URL.
func (e *Server) setServiceURLs(svc *model.Service, p *model.Project) {
	det := deterministicURL(svc.Name, p.Number, svc.Location)
	if svc.Port == 0 || e.dp.host == "" {
		svc.URI = ""
		svc.URLs = []string{det}
		return
	}
	svc.URI = "http://" + joinHostPort(e.dp.host, svc.Port)
	svc.URLs = []string{svc.URI, det}
}

// deterministicURL is https://{service}-{projectNumber}.{region}.run.app.
func deterministicURL(service, number, region string) string {
	return "https://" + service + "-" + number + "." + region + ".run.app"
}

// NewUUID is a random version-4 UUID.
func NewUUID() string {
	b := []byte(RandomHex(16))
	h, _ := hex.DecodeString(string(b))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	s := hex.EncodeToString(h)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// NewResourceEtag is an opaque resource etag (not a policy etag).
func NewResourceEtag() string {
	return `"` + base64.RawURLEncoding.EncodeToString([]byte(RandomHex(12))) + `"`
}

// FillTriggerDefaults gives an event trigger of function fn what a
// deployment fills in when the request leaves it out: the Eventarc
// trigger's name, the trigger region (the function's) and the retry
// policy (no retries).
func FillTriggerDefaults(t map[string]any, project, location, fn string) {
	if _, ok := t["trigger"]; !ok {
		t["trigger"] = "projects/" + project + "/locations/" + location + "/triggers/" + fn + "-" + RandomHex(3)
	}
	if _, ok := t["triggerRegion"]; !ok {
		t["triggerRegion"] = location
	}
	if _, ok := t["retryPolicy"]; !ok {
		t["retryPolicy"] = "RETRY_POLICY_DO_NOT_RETRY"
	}
}

// PrincipalEmail turns "user:a@b" into "a@b" (creator/lastModifier fields).
func PrincipalEmail(principal string) string {
	if _, v, ok := strings.Cut(principal, ":"); ok {
		return v
	}
	return principal
}

// Serve adapts the body of one API method: it decodes the request's JSON
// body (if any) into a B, then, holding e.Mu, runs m and answers with m's
// error in Google's shape or its answer as JSON 200 — for a method that
// changes state (save), only once the state is saved.
func Serve[B any](e *Server, save bool, m func(r *http.Request, v map[string]string, body *B) (any, *httpx.Error)) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v map[string]string) {
		body := new(B)
		if err := httpx.ReadJSON(r, body); err != nil {
			httpx.WriteError(w, err)
			return
		}
		e.Mu.Lock()
		defer e.Mu.Unlock()
		out, aerr := m(r, v, body)
		if aerr != nil {
			httpx.WriteError(w, aerr)
			return
		}
		if save {
			e.SaveAndWrite(w, out)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	}
}

// NoBody is the body type of methods that read none.
type NoBody struct{}
