package httpx

import (
	"net/http"
	"testing"
)

// A "{name...}" tail captures the rest of the path (one segment or more),
// and fallback routes are tried only when no ordinary route matches.
func TestRouterTailAndFallback(t *testing.T) {
	t.Parallel()
	var rt Router
	noop := func(http.ResponseWriter, *http.Request, map[string]string) {}
	rt.HandleFallback(http.MethodGet, "/{bucket}/{object...}", "xml.get", noop)
	rt.Handle(http.MethodGet, "/storage/v1/b/{bucket}/o/{object...}", "objects.get", noop)
	rt.Handle(http.MethodGet, "/storage/v1/b/{bucket}/o", "objects.list", noop)
	rt.Handle(http.MethodPost, "/v1/projects/{p}", "projects.post", noop)
	tests := []struct {
		method, path string
		want         string
		vars         map[string]string
	}{
		{"GET", "/storage/v1/b/tf/o/a/b/default.tfstate", "objects.get", map[string]string{"bucket": "tf", "object": "a/b/default.tfstate"}},
		{"GET", "/storage/v1/b/tf/o/x", "objects.get", map[string]string{"bucket": "tf", "object": "x"}},
		{"GET", "/storage/v1/b/tf/o", "objects.list", map[string]string{"bucket": "tf"}},
		{"GET", "/tf/env/default.tfstate", "xml.get", map[string]string{"bucket": "tf", "object": "env/default.tfstate"}},
		{"GET", "/tf", "", nil},
		// An ordinary route matching the path with another method wins over the fallback (405).
		{"GET", "/v1/projects/p1", "", nil},
	}
	for _, tt := range tests {
		r, vars, _ := rt.Match(tt.method, tt.path)
		name := ""
		if r != nil {
			name = r.Name
		}
		if name != tt.want {
			t.Errorf("%s %s: route %q, want %q", tt.method, tt.path, name, tt.want)
			continue
		}
		for k, v := range tt.vars {
			if vars[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tt.method, tt.path, k, vars[k], v)
			}
		}
	}
}
