package httpx

import (
	"net/http"
	"testing"
)

// Custom-verb routes match before plain ones, a plain {var} never swallows
// "name:verb", and a path matched only by another method reports so (405).
func TestRouterMatch(t *testing.T) {
	t.Parallel()
	var rt Router
	noop := func(http.ResponseWriter, *http.Request, map[string]string) {}
	rt.Handle(http.MethodGet, "/v2/projects/{p}/services/{s}:getIamPolicy", "getIamPolicy", noop)
	rt.Handle(http.MethodGet, "/v2/projects/{p}/services/{s}", "get", noop)
	rt.Handle(http.MethodGet, "/v1/projects/-/serviceAccounts/{sa}", "sa.get", noop)
	tests := []struct {
		method, path string
		want         string // route name, "" for none
		vars         map[string]string
		pathMatched  bool
	}{
		{"GET", "/v2/projects/p1/services/svc:getIamPolicy", "getIamPolicy", map[string]string{"p": "p1", "s": "svc"}, true},
		{"GET", "/v2/projects/p1/services/svc", "get", map[string]string{"p": "p1", "s": "svc"}, true},
		{"GET", "/v2/projects/p1/services/svc:setIamPolicy", "", nil, false},
		{"POST", "/v2/projects/p1/services/svc", "", nil, true},
		{"GET", "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com", "sa.get", map[string]string{"sa": "a@p.iam.gserviceaccount.com"}, true},
		{"GET", "/v2/projects/p1/services", "", nil, false},
	}
	for _, tt := range tests {
		r, vars, pm := rt.Match(tt.method, tt.path)
		name := ""
		if r != nil {
			name = r.Name
		}
		if name != tt.want || pm != tt.pathMatched {
			t.Errorf("%s %s: route %q (path matched %v), want %q (%v)", tt.method, tt.path, name, pm, tt.want, tt.pathMatched)
			continue
		}
		for k, v := range tt.vars {
			if vars[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tt.method, tt.path, k, vars[k], v)
			}
		}
	}
}
