package core

// The Cloud Run data plane (contract §13): every service's uri is served by
// the emulator and behaves as Cloud Run's front end.
//
// Addressing. Each service gets its own loopback listener (same IP family
// as the main listener, random port kept in State so a restart with a state
// file listens on it again; when the port is taken, a new one is chosen and
// uri changes). uri is http://127.0.0.1:PORT, a real origin any client can
// reach without DNS tricks; urls = [uri, https://{s}-{number}.{region}.run.app].
// The main listener also serves a service when the Host of a request (or the
// host of an absolute-form proxy request) is one of its urls' hosts, so
// `curl --resolve` and HTTP-proxy setups work with the run.app URL.
//
// Checks, in order:
//  1. ingress: INGRESS_TRAFFIC_NONE refuses everyone; INTERNAL_ONLY and
//     INTERNAL_LOAD_BALANCER refuse every caller, as the emulator's callers
//     are all external. The refusal is 404 "Page not found" (Cloud Run's
//     answer to traffic its ingress setting excludes); set
//     Options.IngressDeniedStatus to 403 to get a Forbidden page instead.
//     defaultUriDisabled refuses the same way.
//  2. invokerIamDisabled, or run.routes.invoke granted to allUsers: allowed
//     with or without a token; a token is not checked (Cloud Run passes it
//     through), the echoed caller is filled only when it verifies.
//  3. the token: X-Serverless-Authorization: Bearer (checked first), else
//     Authorization: Bearer, the scheme in any case (httpx.ParseBearer). No
//     Bearer credentials (none, another scheme, a bare token) → 403; Bearer
//     credentials that are not one token → 401. It must be a Google-signed
//     ID token passing every check of VerifyIDToken (header, signature,
//     iss, aud, exp, iat, nbf with Google's clock skew) whose aud is one of
//     urls (also with one trailing "/") or customAudiences, else 401.
//     Access tokens are 401.
//  4. the caller is the email claim, else the account whose uniqueId is sub.
//     A disabled or deleted account (or a token minted for an earlier
//     account of the same email) → 403.
//  5. run.routes.invoke through the service policy ∪ the project policy,
//     using the bindings in force under Options.PropagationDelay, groups
//     expanded, allAuthenticatedUsers matching any valid token, deleted:
//     members never matching, conditional bindings ignored. No → 403.
//
// Allowed → the seeded responseStatus (default 200) and a JSON body echoing
// the call: {"service", "project", "location", "caller", "method", "path",
// "query", "audience", "headers"} (the Authorization headers forwarded with
// the signature removed, as Cloud Run does), plus X-Emulator-Caller.
// Refusals are Cloud Run's HTML pages, not Google JSON errors.
//
// Counters (admin path): "run.dataplane.invoke" for every request and
// "run.dataplane.invoke.<outcome>" with outcome one of ok, no_token,
// invalid_token, wrong_audience, account_disabled, denied, ingress_denied,
// not_found.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// dataPlane holds the per-service listeners; guarded by Emulator.mu.
type dataPlane struct {
	started bool
	host    string               // loopback IP the service listeners bind
	servers map[string]*dpServer // by service key
}

type dpServer struct {
	ln  net.Listener
	srv *http.Server
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// dataPlaneHost picks the loopback IP for service listeners: the main
// listener's IP when it is loopback, else the loopback of its family.
func dataPlaneHost(mainAddr net.Addr) string {
	ta, ok := mainAddr.(*net.TCPAddr)
	if !ok {
		return "127.0.0.1"
	}
	if ta.IP.IsLoopback() {
		return ta.IP.String()
	}
	if ta.IP.To4() == nil && len(ta.IP) == net.IPv6len && !ta.IP.IsUnspecified() {
		return "::1"
	}
	if ta.IP.To4() == nil && ta.IP.IsUnspecified() && mainAddr.Network() == "tcp6" {
		return "::1"
	}
	return "127.0.0.1"
}

// startDataPlane opens a listener for every stored service (on its stored
// port when free) and saves the resulting uris. Called once from New.
func (e *Server) startDataPlane() error {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	e.dp.host = dataPlaneHost(e.ln.Addr())
	e.dp.servers = map[string]*dpServer{}
	e.dp.started = true
	keys := make([]string, 0, len(e.St.Services))
	for k := range e.St.Services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		svc := e.St.Services[k]
		p := e.St.Projects[svc.ProjectID]
		if p == nil {
			continue
		}
		if err := e.listenServiceLocked(svc, p); err != nil {
			return err
		}
	}
	return e.SaveLocked()
}

// listenServiceLocked opens svc's listener (its stored port first) and sets
// its uri and urls. Called with e.mu held.
func (e *Server) listenServiceLocked(svc *model.Service, p *model.Project) error {
	key := model.ServiceKey(svc.ProjectID, svc.Location, svc.Name)
	if e.dp.servers[key] != nil {
		return nil
	}
	var ln net.Listener
	var err error
	if svc.Port != 0 {
		ln, err = net.Listen("tcp", joinHostPort(e.dp.host, svc.Port))
		if err != nil {
			e.log.Warn("service port taken; choosing another (its uri changes)", "service", key, "port", svc.Port, "err", err)
		}
	}
	if ln == nil {
		ln, err = net.Listen("tcp", joinHostPort(e.dp.host, 0))
		if err != nil {
			return fmt.Errorf("emulator: listen for service %s: %w", key, err)
		}
	}
	svc.Port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.invoke(w, r, key, false) }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	e.dp.servers[key] = &dpServer{ln: ln, srv: srv}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("service listener stopped", "service", key, "err", err)
		}
	}()
	e.setServiceURLs(svc, p)
	return nil
}

// CloseServiceListenerLocked stops the listener of a deleted service.
// Called with e.mu held (so it closes without waiting for handlers, which
// take e.mu).
func (e *Server) CloseServiceListenerLocked(key string) {
	if s := e.dp.servers[key]; s != nil {
		_ = s.srv.Close()
		delete(e.dp.servers, key)
	}
}

// stopDataPlane shuts every service listener down gracefully. Called from
// Close without e.mu held.
func (e *Server) stopDataPlane(ctx context.Context) {
	e.Mu.Lock()
	servers := e.dp.servers
	e.dp.servers = map[string]*dpServer{}
	e.dp.started = false
	e.Mu.Unlock()
	for _, s := range servers {
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
	}
}

// serveDataPlane serves r if it is addressed to a Cloud Run service URL
// (by Host header, or the host of an absolute-form proxy request) and
// reports whether it did.
func (e *Server) serveDataPlane(w http.ResponseWriter, r *http.Request) bool {
	host := strings.ToLower(r.Host)
	if host == "" || e.ln == nil || host == strings.ToLower(e.ln.Addr().String()) {
		return false
	}
	hostOnly := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostOnly = h
	}
	e.Mu.Lock()
	key := ""
	for k, svc := range e.St.Services {
		for _, u := range svc.URLs {
			uh := strings.ToLower(urlHost(u))
			if uh == host || (strings.HasSuffix(uh, ".run.app") && uh == hostOnly) {
				key = k
				break
			}
		}
		if key != "" {
			break
		}
	}
	e.Mu.Unlock()
	if key == "" {
		return false
	}
	e.invoke(w, r, key, true)
	return true
}

// urlHost is the host[:port] of an absolute URL.
func urlHost(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	h, _, _ := strings.Cut(rest, "/")
	return h
}

// IngressDeniedStatus is the default status for requests an ingress
// setting refuses (see Options.IngressDeniedStatus).
const defaultIngressDeniedStatus = http.StatusNotFound

// invocation is what the checks learned about one request.
type invocation struct {
	outcome  string
	status   int
	caller   string
	audience string
}

// invoke runs the front-end checks for service key and answers.
func (e *Server) invoke(w http.ResponseWriter, r *http.Request, key string, viaHost bool) {
	if e.Opts.Latency > 0 {
		select {
		case <-time.After(e.Opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	tok, terr := dataPlaneToken(r)
	// Verify outside the lock: it uses only read-only key material.
	var claims *idClaims
	var verr error
	switch {
	case terr == nil:
		claims, verr = e.VerifyIDToken(tok)
	case errors.Is(terr, httpx.ErrMalformedBearer):
		verr = terr // Bearer credentials that are no token: an invalid token
	}
	hasToken := terr == nil || verr != nil
	e.Mu.Lock()
	svc := e.St.Services[key]
	var inv invocation
	var echo map[string]any
	respStatus := http.StatusOK
	if svc == nil {
		inv = invocation{outcome: "not_found", status: http.StatusNotFound}
	} else {
		inv = e.checkInvocationLocked(svc, hasToken, claims, verr)
		if inv.status == http.StatusOK {
			if svc.ResponseStatus != 0 {
				respStatus = svc.ResponseStatus
			}
			echo = map[string]any{
				"service":  svc.Name,
				"project":  svc.ProjectID,
				"location": svc.Location,
				"method":   r.Method,
				"path":     r.URL.Path,
			}
			if inv.caller != "" {
				echo["caller"] = inv.caller
			}
			if inv.audience != "" {
				echo["audience"] = inv.audience
			}
			if r.URL.RawQuery != "" {
				echo["query"] = r.URL.RawQuery
			}
			echo["headers"] = forwardedHeaders(r)
		}
	}
	e.CallCounts["run.dataplane.invoke"]++
	e.CallCounts["run.dataplane.invoke."+inv.outcome]++
	e.Mu.Unlock()
	e.log.Debug("invoke", "service", key, "outcome", inv.outcome, "caller", inv.caller, "viaHost", viaHost)
	if inv.status != http.StatusOK {
		writeFrontEndError(w, inv.status, r.URL.Path)
		return
	}
	w.Header().Set("X-Emulator-Service", svc.Name)
	if inv.caller != "" {
		w.Header().Set("X-Emulator-Caller", inv.caller)
	}
	httpx.WriteJSON(w, respStatus, echo)
}

// checkInvocationLocked applies ingress, token and IAM checks (see the file
// comment). Called with e.mu held.
func (e *Server) checkInvocationLocked(svc *model.Service, hasToken bool, claims *idClaims, verr error) invocation {
	switch svc.Ingress {
	case model.IngressNone, model.IngressInternal, model.IngressInternalLB:
		return invocation{outcome: "ingress_denied", status: e.ingressDeniedStatus()}
	}
	if svc.DefaultURIDisabled {
		return invocation{outcome: "ingress_denied", status: e.ingressDeniedStatus()}
	}
	now := e.Opts.Now()
	// Best-effort identity for open services.
	identify := func() invocation {
		inv := invocation{outcome: "ok", status: http.StatusOK}
		if claims != nil && verr == nil && audienceAccepted(svc, claims.Audience) {
			if caller, ok := e.callerOfLocked(claims); ok {
				inv.caller, inv.audience = caller, claims.Audience
			}
		}
		return inv
	}
	if svc.InvokerIAMDisabled || e.PrincipalPermittedAt("", "run.routes.invoke", svc.ProjectID, now, svc.Policy) {
		return identify()
	}
	if !hasToken {
		return invocation{outcome: "no_token", status: http.StatusForbidden}
	}
	if verr != nil || claims == nil {
		return invocation{outcome: "invalid_token", status: http.StatusUnauthorized}
	}
	if !audienceAccepted(svc, claims.Audience) {
		return invocation{outcome: "wrong_audience", status: http.StatusUnauthorized}
	}
	caller, ok := e.callerOfLocked(claims)
	if !ok {
		return invocation{outcome: "account_disabled", status: http.StatusForbidden}
	}
	if !e.PrincipalPermittedAt(caller, "run.routes.invoke", svc.ProjectID, now, svc.Policy) {
		return invocation{outcome: "denied", status: http.StatusForbidden, caller: caller}
	}
	return invocation{outcome: "ok", status: http.StatusOK, caller: caller, audience: claims.Audience}
}

func (e *Server) ingressDeniedStatus() int {
	if e.Opts.IngressDeniedStatus != 0 {
		return e.Opts.IngressDeniedStatus
	}
	return defaultIngressDeniedStatus
}

// audienceAccepted: aud is one of the service's urls (optionally with one
// trailing "/") or one of its custom audiences, compared exactly.
func audienceAccepted(svc *model.Service, aud string) bool {
	if aud == "" {
		return false
	}
	for _, u := range svc.URLs {
		if aud == u || aud == u+"/" {
			return true
		}
	}
	for _, a := range svc.CustomAudiences {
		if aud == a {
			return true
		}
	}
	return false
}

// callerOfLocked maps verified claims to the caller's principal; ok is
// false when the account is disabled or deleted (or the token was minted
// for an earlier account that had the same email).
func (e *Server) callerOfLocked(c *idClaims) (string, bool) {
	if c.Email != "" {
		email := strings.ToLower(c.Email)
		if sa := e.St.ServiceAccounts[email]; sa != nil {
			if sa.Deleted || sa.Disabled || (c.Subject != "" && sa.UniqueID != c.Subject) {
				return "", false
			}
			return "serviceAccount:" + email, true
		}
		if strings.HasSuffix(email, ".gserviceaccount.com") {
			// An account the emulator does not know (any more).
			return "", false
		}
		return "user:" + email, true
	}
	for _, sa := range e.St.ServiceAccounts {
		if sa.UniqueID == c.Subject && c.Subject != "" {
			if sa.Deleted || sa.Disabled {
				return "", false
			}
			return "serviceAccount:" + sa.Email, true
		}
	}
	return "", false
}

// dataPlaneToken takes the Bearer credentials of X-Serverless-Authorization
// (checked first) or else Authorization, both read by httpx.ParseBearer. A
// header without Bearer credentials (absent, another scheme such as the
// Basic credentials an application may use, a bare token) is passed over;
// the error is then that of the last header. ErrMalformedBearer means the
// caller did send Bearer credentials, but not one token.
func dataPlaneToken(r *http.Request) (string, error) {
	var err error
	for _, h := range []string{"X-Serverless-Authorization", "Authorization"} {
		var tok string
		tok, err = httpx.ParseBearer(r.Header.Get(h))
		if err == nil || errors.Is(err, httpx.ErrMalformedBearer) {
			return tok, err
		}
	}
	return "", err
}

// forwardedHeaders is what the pretend container would see: the request
// headers, with JWT signatures in the authorization headers replaced as
// Cloud Run does ("SIGNATURE_REMOVED_BY_GOOGLE"); other credentials are
// dropped.
func forwardedHeaders(r *http.Request) map[string]string {
	out := map[string]string{}
	for k, vs := range r.Header {
		v := strings.Join(vs, ", ")
		switch strings.ToLower(k) {
		case "authorization", "x-serverless-authorization":
			v = stripSignature(v)
		case "cookie", "proxy-authorization":
			continue
		}
		out[k] = v
	}
	out["Host"] = r.Host
	return out
}

func stripSignature(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return "[removed]"
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return scheme + " [removed]"
	}
	return scheme + " " + parts[0] + "." + parts[1] + ".SIGNATURE_REMOVED_BY_GOOGLE"
}

// writeFrontEndError writes Cloud Run's HTML error page for status.
func writeFrontEndError(w http.ResponseWriter, status int, path string) {
	var title, h1, h2 string
	switch status {
	case http.StatusUnauthorized:
		title, h1 = "401 Unauthorized", "Error: Unauthorized"
		h2 = "Your client does not have permission to the requested URL <code>" + htmlEscape(path) + "</code>."
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token" error_description="The access token could not be verified"`)
	case http.StatusForbidden:
		title, h1 = "403 Forbidden", "Error: Forbidden"
		h2 = "Your client does not have permission to get URL <code>" + htmlEscape(path) + "</code> from this server."
	default:
		title, h1 = strconv.Itoa(status)+" Page not found", "Error: Page not found"
		h2 = "The requested URL <code>" + htmlEscape(path) + "</code> was not found on this server."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "\n<html><head>\n<meta http-equiv=\"content-type\" content=\"text/html;charset=utf-8\">\n<title>%s</title>\n</head>\n<body text=#000000 bgcolor=#ffffff>\n<h1>%s</h1>\n<h2>%s</h2>\n<h2></h2>\n</body></html>\n", title, h1, h2)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(s)
}
