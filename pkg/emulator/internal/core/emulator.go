// Package core is the emulator's engine that every API family shares: the
// Server (one listener serving every API by path, the state behind it),
// caller authentication, the IAM policy verbs, the role table and permission
// check, signing keys and ID tokens, the Cloud Run data plane, seeding, and
// the knobs and fault injection. API families register their routes on it.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
	"github.com/invokerctl/invokerctl/pkg/internal/hostrewrite"
)

// Options configures an Emulator. The zero value is usable: it listens on a
// random loopback port with one project "demo-project".
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0". Loopback by default.
	Addr string
	// Project is created at start unless it already exists (from the seed or
	// the state file); default "demo-project". ProjectNumber defaults to a
	// stable 12-digit number derived from the id.
	Project       string
	ProjectNumber string
	// BootstrapToken is the static access token of the bootstrap owner; a
	// random one is generated when empty. Callers send it as
	// "Authorization: Bearer TOKEN" (the scheme in any case; a bare token
	// is refused, on the admin paths too), so it must be a token68. BootstrapPrincipal is its
	// principal, default "user:owner@example.com"; like the creator of a real
	// project it holds roles/owner in every project policy the emulator
	// creates (and cannot mint other accounts' tokens until granted
	// roles/iam.serviceAccountTokenCreator).
	BootstrapToken     string
	BootstrapPrincipal string
	// Seed, when set, creates projects, services, functions, accounts,
	// groups and policies at start. SeedFile is read with LoadSeed.
	Seed     *seed.Seed
	SeedFile string
	// StateFile, when set, persists all state as JSON (written atomically);
	// a restart with the same file keeps every account, key, service, policy.
	StateFile string

	// MetadataServiceAccount is the email of the service account "attached"
	// to the pretend instance that the metadata server speaks for.
	MetadataServiceAccount string

	// Knobs for tests and benchmarks.
	Latency          time.Duration // added to every request
	ErrorRate        float64       // fraction of API requests failed with ErrorCode
	ErrorCode        int           // 429 (with Retry-After) or 503; default 503
	QPS              float64       // requests per second beyond which 429 is returned; 0 = unlimited
	PropagationDelay time.Duration // a policy change reaches the data plane only after this
	// IngressDeniedStatus is what the data plane answers to requests a
	// service's ingress setting refuses: 404 (default) or 403.
	IngressDeniedStatus int
	// FailNext, when > 0, fails the next N API requests with ErrorCode
	// (deterministic fault injection); also settable at the admin path.
	FailNext int
	// Faults are targeted fault rules in force from the start (see Fault;
	// more can be added with InjectFault or at the admin path).
	Faults []Fault
	// DropPolicyWrites makes setIamPolicy answer success without storing
	// the policy (see Emulator.DropPolicyWrites).
	DropPolicyWrites bool

	// AssetSearchPerMinute and AssetOrgSearchPerMinute are Cloud Asset
	// Inventory's search quotas (searchAllIamPolicies and
	// searchAllResources together): calls a minute per consumer project
	// (default 400, Google's) and per organization the scope lies in
	// (default 3000). Past one, a call is 429 RESOURCE_EXHAUSTED with
	// Retry-After. Negative means unlimited.
	AssetSearchPerMinute    int
	AssetOrgSearchPerMinute int

	// RolesFile overrides the embedded predefined-role table (same JSON shape
	// as the roles data shipped with the emulator): each role it lists
	// replaces the embedded definition of that role; other roles are kept.
	RolesFile string

	// AllowUnknownServiceAccountMembers turns off the check that makes
	// setIamPolicy answer 400 "Service account X does not exist." for a
	// serviceAccount: member of a project the emulator owns that names no
	// live account. The check is on by default, as in production.
	AllowUnknownServiceAccountMembers bool

	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives one line per request (never tokens); default discards.
	Logger *slog.Logger
}

// Emulator is a running emulator.
type Server struct {
	Opts   Options
	ln     net.Listener
	srv    *http.Server
	Url    string
	Router *httpx.Router
	store  model.Store
	log    *slog.Logger

	Mu         sync.Mutex // guards st and the fields below
	St         *model.State
	CallCounts map[string]int // per-method request counters
	fault      faultState
	dp         dataPlane // per-service data-plane listeners (dataplane.go)

	// Mgmt is derived at init and read-only afterwards (role table, parsed
	// signing keys), so it may be read with or without mu held.
	Mgmt management
}

// Start starts an emulator whose APIs register calls register with, and
// returns once it is listening.
func Start(opts Options, register func(*Server)) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Project == "" {
		opts.Project = "demo-project"
	}
	if opts.BootstrapPrincipal == "" {
		opts.BootstrapPrincipal = "user:owner@example.com"
	}
	if opts.ErrorCode == 0 {
		opts.ErrorCode = http.StatusServiceUnavailable
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BootstrapToken == "" {
		opts.BootstrapToken = "emulator-owner-" + RandomHex(16)
	}
	if !httpx.IsToken68(opts.BootstrapToken) {
		// It could never be presented: "Authorization: Bearer x" carries
		// one token68 (httpx.ParseBearer).
		return nil, errors.New("emulator: the bootstrap token must be one RFC 7235 token68 (letters, digits, -._~+/ and trailing =)")
	}
	e := &Server{Opts: opts, Router: &httpx.Router{}, log: opts.Logger, CallCounts: map[string]int{}}
	e.fault.failNext = opts.FailNext
	e.fault.dropPolicyWrites = opts.DropPolicyWrites
	for _, f := range opts.Faults {
		if f.Count > 0 {
			e.fault.rules = append(e.fault.rules, f)
		}
	}
	switch {
	case opts.StateFile != "":
		e.store = model.FileStore{Path: opts.StateFile}
	default:
		e.store = model.MemStore{}
	}
	if err := e.init(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen on %s: %w", opts.Addr, err)
	}
	e.ln = ln
	e.Url = "http://" + ln.Addr().String()
	register(e)
	if err := e.startDataPlane(); err != nil {
		ln.Close()
		e.stopDataPlane(context.Background())
		return nil, err
	}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("emulator server stopped", "err", err)
		}
	}()
	return e, nil
}

// URL is the base URL of the single listener, e.g. "http://127.0.0.1:41234".
func (e *Server) URL() string { return e.Url }

// Addr is the listener's host:port (the value for GCE_METADATA_HOST).
func (e *Server) Addr() string { return e.ln.Addr().String() }

// BootstrapToken is the bootstrap owner's static access token.
func (e *Server) BootstrapToken() string { return e.Opts.BootstrapToken }

// Project is the default project id.
func (e *Server) Project() string { return e.Opts.Project }

// HTTPClient returns a client whose transport sends requests for any Google
// API host (*.googleapis.com, accounts.google.com, metadata.google.internal)
// to the emulator, keeping path and query. Libraries with hard-coded hosts
// (impersonate, idtoken.NewValidator) reach the emulator through it. It adds
// no Authorization header.
func (e *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &hostrewrite.Transport{Scheme: "http", Host: e.ln.Addr().String()}}
}

// Close stops the listener and saves state.
func (e *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	e.stopDataPlane(ctx)
	e.Mu.Lock()
	defer e.Mu.Unlock()
	if serr := e.store.Save(e.St); serr != nil && err == nil {
		err = serr
	}
	return err
}

// ServeHTTP dispatches by path (contract §1.5) after the knobs: latency,
// quota, injected errors; and counts every matched method.
func (e *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if p, err := url.PathUnescape(r.URL.EscapedPath()); err == nil {
		path = p
	}
	// A Cloud Run service URL (by Host) is the data plane, whatever the path.
	if e.serveDataPlane(w, r) {
		return
	}
	if strings.HasPrefix(path, adminPrefix) {
		e.serveAdmin(w, r, path)
		return
	}
	rt, vars, pathMatched := e.Router.Match(r.Method, path)
	if rt == nil {
		if pathMatched {
			httpx.WriteError(w, httpx.Errf(http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method %s not allowed on %s", r.Method, path))
			return
		}
		httpx.WriteError(w, httpx.ErrNotFound("no such API path: %s %s", r.Method, path))
		return
	}
	if e.Opts.Latency > 0 {
		select {
		case <-time.After(e.Opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	e.Mu.Lock()
	e.CallCounts[rt.Name]++
	ferr := e.injectFault(r.Method, path)
	e.recordRequest(r, path, ferr)
	e.Mu.Unlock()
	if ferr != nil {
		httpx.WriteError(w, ferr)
		return
	}
	e.log.Debug("request", "method", r.Method, "path", path, "api", rt.Name)
	rt.Handler(w, r, vars)
}

// With binds a handler that takes the server to it, for Router.Handle.
func (e *Server) With(h func(*Server, http.ResponseWriter, *http.Request, map[string]string)) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v map[string]string) { h(e, w, r, v) }
}
