// Package emulator is a local, faithful emulator of the Google Cloud APIs
// invokerctl touches: IAM v1, IAM Credentials v1, the OAuth2 token endpoint
// and certificates, the GCE metadata server, Cloud Run Admin v2 (and the v1
// surfaces gcloud uses), Cloud Functions v2, Cloud Resource Manager v1/v2/v3
// (projects, folders, organizations), Cloud Asset Inventory v1 (the search
// and list methods), and the Cloud Run data plane that checks ID tokens and
// run.routes.invoke.
//
// It is a peer of Google, not of invokerctl's code: production packages never
// import it. Tests and the demo/emulator commands do, and drive the real Go
// client libraries, gcloud and Terraform at it. One listener serves every
// API, dispatched by path.
//
// This package is the public surface only (Options, New, the Emulator's
// methods, seed files, fault knobs); the engine lives in internal packages.
package emulator

import (
	"net/http"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/server"
)

// Options configures an Emulator. The zero value is usable: it listens on a
// random loopback port with one project "demo-project". See the fields'
// documentation for each setting and knob.
type Options = core.Options

// Fault makes the next Count API requests that match Method and Path fail
// with Status (see Emulator.InjectFault).
type Fault = core.Fault

// Request is one API request in the emulator's request log.
type Request = core.Request

// Emulator is a running emulator.
type Emulator struct{ s *core.Server }

// New starts an emulator and returns once it is listening.
func New(opts Options) (*Emulator, error) {
	s, err := server.New(opts)
	if err != nil {
		return nil, err
	}
	return &Emulator{s: s}, nil
}

// URL is the base URL of the single listener, e.g. "http://127.0.0.1:41234".
func (e *Emulator) URL() string { return e.s.URL() }

// Addr is the listener's host:port (the value for GCE_METADATA_HOST).
func (e *Emulator) Addr() string { return e.s.Addr() }

// BootstrapToken is the bootstrap owner's static access token.
func (e *Emulator) BootstrapToken() string { return e.s.BootstrapToken() }

// Project is the default project id.
func (e *Emulator) Project() string { return e.s.Project() }

// HTTPClient returns a client whose transport sends requests for any Google
// API host (*.googleapis.com, accounts.google.com, metadata.google.internal)
// to the emulator, keeping path and query. Libraries with hard-coded hosts
// (impersonate, idtoken.NewValidator) reach the emulator through it. It adds
// no Authorization header.
func (e *Emulator) HTTPClient() *http.Client { return e.s.HTTPClient() }

// Close stops the listeners and saves state.
func (e *Emulator) Close() error { return e.s.Close() }

// ServeHTTP serves one request as the listener would (the data plane by
// Host, the admin paths, then every API by path).
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) { e.s.ServeHTTP(w, r) }

// Calls returns a copy of the per-method request counters (e.g.
// "run.v2.services.getIamPolicy" → 3).
func (e *Emulator) Calls() map[string]int { return e.s.Calls() }

// ResetCalls zeroes the request counters.
func (e *Emulator) ResetCalls() { e.s.ResetCalls() }

// FailNext makes the next n API requests fail with code (429 or 503).
func (e *Emulator) FailNext(n, code int) { e.s.FailNext(n, code) }

// InjectFault adds a fault rule: the next f.Count API requests matching
// f.Method and f.Path fail with f.Status. Rules are tried in the order they
// were added, before FailNext, QPS and ErrorRate.
func (e *Emulator) InjectFault(f Fault) { e.s.InjectFault(f) }

// ConflictNext makes the next n setIamPolicy calls (any API) answer 409
// ABORTED, as production does when the policy changed since it was read.
func (e *Emulator) ConflictNext(n int) { e.s.ConflictNext(n) }

// ClearFaults drops every pending fault rule and FailNext.
func (e *Emulator) ClearFaults() { e.s.ClearFaults() }

// PendingFaults returns the fault rules not yet spent.
func (e *Emulator) PendingFaults() []Fault { return e.s.PendingFaults() }

// DropPolicyWrites, when on, makes every setIamPolicy answer 200 with the
// would-be policy (and a new etag) without storing it.
func (e *Emulator) DropPolicyWrites(on bool) { e.s.DropPolicyWrites(on) }

// Requests returns the request log: every API request since the start or
// the last ResetRequests, in arrival order.
func (e *Emulator) Requests() []Request { return e.s.Requests() }

// ResetRequests empties the request log.
func (e *Emulator) ResetRequests() { e.s.ResetRequests() }

// IAMPolicy returns the IAM policy stored on resource ("projects/p",
// "organizations/N", "folders/N", "projects/p/serviceAccounts/email" or "projects/p/locations/l/services/s")
// as getIamPolicy at version 3 renders it, past the API (nothing is counted
// or logged).
func (e *Emulator) IAMPolicy(resource string) ([]byte, error) { return e.s.IAMPolicy(resource) }
