package idtoken

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testKeyOnce sync.Once
	testKeyPEM  string
)

func rsaKeyPEM(t testing.TB) string {
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		testKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	})
	return testKeyPEM
}

// fakeGoogle answers the three minting endpoints the sources use, with
// JWT-shaped tokens, and records what it saw. It is a unit-test double;
// the emulator tests exercise the real thing.
type fakeGoogle struct {
	t   testing.TB
	srv *httptest.Server
	now func() time.Time

	mu        sync.Mutex
	calls     map[string]int
	lastAuth  string
	lastBody  map[string]any
	lastQuery url.Values
}

func newFakeGoogle(t testing.TB) *fakeGoogle {
	f := &fakeGoogle{t: t, calls: map[string]int{}, now: time.Now}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogle) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeGoogle) idToken(aud, email string) string {
	return fakeJWT(f.t, idClaims(aud, email, f.now().Add(time.Hour)))
}

func (f *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAuth = r.Header.Get("Authorization")
	f.lastQuery = r.URL.Query()
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		f.calls["token"]++
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		parts := strings.Split(r.PostForm.Get("assertion"), ".")
		if len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		f.lastBody = claims
		if aud, _ := claims["target_audience"].(string); aud != "" {
			writeJSON(w, map[string]any{"id_token": f.idToken(aud, claims["iss"].(string))})
			return
		}
		writeJSON(w, map[string]any{"access_token": "ya29.fake-access-token", "expires_in": 3600, "token_type": "Bearer"})
	case strings.HasSuffix(r.URL.Path, ":generateIdToken") && r.Method == http.MethodPost:
		f.calls["generateIdToken"]++
		if !strings.HasPrefix(f.lastAuth, "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]any{"error": map[string]any{"code": 401, "status": "UNAUTHENTICATED", "message": "no credentials"}})
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.lastBody = body
		email := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/"), ":generateIdToken")
		if email == "denied@p.iam.gserviceaccount.com" {
			w.WriteHeader(http.StatusForbidden)
			writeJSON(w, map[string]any{"error": map[string]any{"code": 403, "status": "PERMISSION_DENIED",
				"message": "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)."}})
			return
		}
		writeJSON(w, map[string]any{"token": f.idToken(body["audience"].(string), email)})
	case r.URL.Path == "/computeMetadata/v1/instance/service-accounts/default/identity":
		f.calls["identity"]++
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		fmt.Fprint(w, f.idToken(r.URL.Query().Get("audience"), "vm@p.iam.gserviceaccount.com"))
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// rewrite sends every request to target, keeping path and query.
type rewrite struct{ target string }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(rw.target)
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(r2)
}

func (f *fakeGoogle) keyJSON(t testing.TB, email string) []byte {
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "kid1",
		"private_key": rsaKeyPEM(t), "client_email": email, "client_id": "1",
		"token_uri": f.srv.URL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
