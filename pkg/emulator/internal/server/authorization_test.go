package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// Every surface reads the Authorization header with the one parser: the
// scheme "Bearer" in any case (RFC 7235), one or more spaces, one token.
// A bare token without a scheme is refused everywhere, as Google's front
// ends refuse it: the management APIs and the admin paths answer 401, the
// data plane treats it as no token (403); malformed Bearer credentials are
// an invalid token (401) on the data plane too.
func TestAuthorizationHeaderParsedOneWay(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	idTok := rtIDToken(t, rtKey(t, e, "caller-one"), private)
	boot := e.BootstrapToken()
	get := func(url, header string) int {
		t.Helper()
		h := map[string]string{}
		if header != "" {
			h["Authorization"] = header
		}
		status, _, _ := rtCall(t, url, h)
		return status
	}
	tests := []struct {
		name           string
		scheme         string // prepended to the surface's token; "" = bare token
		suffix         string
		api, admin, dp int
	}{
		{"Bearer", "Bearer ", "", 200, 200, 200},
		{"lower-case bearer", "bearer ", "", 200, 200, 200},
		{"upper-case BEARER", "BEARER ", "", 200, 200, 200},
		{"several spaces", "Bearer    ", "", 200, 200, 200},
		{"bare token", "", "", 401, 401, 403},
		{"Basic scheme", "Basic ", "", 401, 401, 403},
		{"token glued to the scheme", "Bearer", "", 401, 401, 403},
		{"two words", "Bearer ", " extra", 401, 401, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(e.URL()+"/v1/projects/"+e.Project()+"/serviceAccounts", tt.scheme+boot+tt.suffix); got != tt.api {
				t.Errorf("management API: status %d, want %d", got, tt.api)
			}
			if got := get(e.URL()+"/_emulator/calls", tt.scheme+boot+tt.suffix); got != tt.admin {
				t.Errorf("admin path: status %d, want %d", got, tt.admin)
			}
			if got := get(private, tt.scheme+idTok+tt.suffix); got != tt.dp {
				t.Errorf("data plane: status %d, want %d", got, tt.dp)
			}
			status, body, _ := rtCall(t, private, map[string]string{"X-Serverless-Authorization": tt.scheme + idTok + tt.suffix})
			if status != tt.dp {
				t.Errorf("data plane, X-Serverless-Authorization: status %d, want %d (%s)", status, tt.dp, body)
			}
		})
	}
	if got := get(e.URL()+"/_emulator/calls", ""); got != http.StatusUnauthorized {
		t.Errorf("admin path without a header: status %d, want 401", got)
	}
}

// A bootstrap token that no Authorization header could carry is refused at
// start rather than locking the owner out.
func TestInitRefusesABootstrapTokenNoHeaderCanCarry(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"two words", "tab\there", "comma,token", "=leading", "caf\u00e9"} {
		if _, err := New(core.Options{BootstrapToken: tok}); err == nil || !strings.Contains(err.Error(), "bootstrap token") {
			t.Errorf("BootstrapToken %q: err = %v", tok, err)
		}
	}
}
