package httpx

import (
	"net/http"
	"strings"
)

// A route matches a method and a path pattern. Patterns are split on "/";
// a segment "{name}" captures one path segment; a last segment of the form
// "{name}:verb" captures the part before ":verb" (Google's custom methods,
// e.g. "/v2/projects/{p}/locations/{l}/services/{s}:getIamPolicy").
// Literal segments must match exactly. A last segment "{name...}" captures
// the rest of the path, one segment or more, joined by "/" (Cloud Storage
// object names). Routes are tried in registration order, so register
// custom-verb routes before their plain counterparts; fallback routes
// (HandleFallback) are tried only after every other route.
type Route struct {
	method  string
	segs    []string
	Handler HandlerFunc
	Name    string // counter key, e.g. "run.v2.services.getIamPolicy"
}

// HandlerFunc handles one matched request. vars holds the captured segments.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, vars map[string]string)

// Router dispatches by method and path pattern (see Route).
type Router struct{ routes, fallbacks []Route }

// Handle registers a route; name is the per-method counter key reported at
// the admin path.
func (rt *Router) Handle(method, pattern, name string, h HandlerFunc) {
	rt.routes = append(rt.routes, Route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), Handler: h, Name: name})
}

// HandleFallback registers a route tried only when no route registered
// with Handle matches the path (e.g. a catch-all such as "/{a}/{b...}").
func (rt *Router) HandleFallback(method, pattern, name string, h HandlerFunc) {
	rt.fallbacks = append(rt.fallbacks, Route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), Handler: h, Name: name})
}

// Match finds the route for method and (decoded) path. pathMatched reports
// whether some route matched the path with another method (→ 405).
func (rt *Router) Match(method, path string) (r *Route, vars map[string]string, pathMatched bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, routes := range [][]Route{rt.routes, rt.fallbacks} {
		for i := range routes {
			cand := &routes[i]
			v, ok := matchSegs(cand.segs, segs)
			if !ok {
				continue
			}
			if cand.method != method {
				pathMatched = true
				continue
			}
			return cand, v, true
		}
		if pathMatched {
			break
		}
	}
	return nil, nil, pathMatched
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if n := len(pattern); n > 0 && strings.HasPrefix(pattern[n-1], "{") && strings.HasSuffix(pattern[n-1], "...}") {
		if len(segs) < n {
			return nil, false
		}
		vars, ok := matchSegs(pattern[:n-1], segs[:n-1])
		rest := strings.Join(segs[n-1:], "/")
		if !ok || rest == "" {
			return nil, false
		}
		vars[strings.TrimSuffix(strings.TrimPrefix(pattern[n-1], "{"), "...}")] = rest
		return vars, true
	}
	if len(pattern) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, p := range pattern {
		s := segs[i]
		if strings.HasPrefix(p, "{") {
			name, verb, hasVerb := strings.Cut(p, "}")
			name = strings.TrimPrefix(name, "{")
			if hasVerb && verb != "" {
				// verb is ":method"
				if !strings.HasSuffix(s, verb) || len(s) == len(verb) {
					return nil, false
				}
				s = strings.TrimSuffix(s, verb)
			} else if strings.Contains(s, ":") && i == len(pattern)-1 && looksLikeVerb(s) {
				// "{s}" must not swallow "svc:getIamPolicy".
				return nil, false
			}
			if s == "" {
				return nil, false
			}
			vars[name] = s
			continue
		}
		if p != s {
			return nil, false
		}
	}
	return vars, true
}

// looksLikeVerb reports whether a last segment carries a custom method
// suffix such as ":getIamPolicy" (emails and ids never contain ':').
func looksLikeVerb(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	c := s[i+1]
	return c >= 'a' && c <= 'z'
}
