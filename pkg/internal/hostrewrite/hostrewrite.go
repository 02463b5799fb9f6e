// Package hostrewrite is the one HTTP transport that sends every request to
// a fixed scheme and host, keeping path and query: how clients whose Google
// hosts are hard-coded reach a local emulator.
package hostrewrite

import (
	"fmt"
	"net/http"
	"net/url"
)

// Transport sends each request to Scheme://Host, keeping the path, query
// and headers. Base defaults to http.DefaultTransport.
type Transport struct {
	Scheme, Host string
	Base         http.RoundTripper
}

// New returns a Transport to target, a base URL such as
// "http://127.0.0.1:41234" (its path, if any, is ignored).
func New(target string, base http.RoundTripper) (*Transport, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("hostrewrite: target %q is not an absolute URL", target)
	}
	return &Transport{Scheme: u.Scheme, Host: u.Host, Base: base}, nil
}

// RoundTrip implements http.RoundTripper on a clone of req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = t.Scheme, t.Host, t.Host
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
