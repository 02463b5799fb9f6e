package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

func TestParseCredentialSpec(t *testing.T) {
	ok := []struct {
		in   string
		want CredentialSpec
	}{
		{"orders-caller=impersonate", CredentialSpec{"orders-caller", CredImpersonate, ""}},
		{"orders-caller=impersonate:relay-a,relay-b", CredentialSpec{"orders-caller", CredImpersonate, "relay-a,relay-b"}},
		{"*=metadata", CredentialSpec{"*", CredMetadata, ""}},
		{"orders-caller=key:./keys/orders.json", CredentialSpec{"orders-caller", CredKey, "./keys/orders.json"}},
		// Only the first ':' after the kind separates: paths may hold more.
		{`orders-caller=key:C:\keys\orders.json`, CredentialSpec{"orders-caller", CredKey, `C:\keys\orders.json`}},
		// Only the first '=' separates the caller: paths may hold '='.
		{"orders-caller=token-file:/run/a=b/token", CredentialSpec{"orders-caller", CredTokenFile, "/run/a=b/token"}},
		{"*=token-env:ID_TOKEN", CredentialSpec{"*", CredTokenEnv, "ID_TOKEN"}},
		// A member (with its own ':') as the caller.
		{"serviceAccount:x@p.iam.gserviceaccount.com=token-env:TOK", CredentialSpec{"serviceAccount:x@p.iam.gserviceaccount.com", CredTokenEnv, "TOK"}},
	}
	for _, c := range ok {
		got, err := ParseCredentialSpec(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCredentialSpec(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "want CALLER=SOURCE"},
		{"orders-caller", "want CALLER=SOURCE"},
		{"=metadata", "want CALLER=SOURCE"},
		{"orders-caller=", "want CALLER=SOURCE"},
		{"orders-caller=metadata:x", "metadata takes no argument"},
		{"orders-caller=key", "key needs an argument"},
		{"orders-caller=key:", "key needs an argument"},
		{"orders-caller=token-file", "token-file needs an argument"},
		{"orders-caller=token-env:", "token-env needs an argument"},
		{"orders-caller=adc", `unknown source "adc"`},
		{"orders-caller=Impersonate", `unknown source "Impersonate"`},
		{"orders-caller=impersonate:relay-a,,relay-b", "empty delegate"},
		{"orders-caller=impersonate:relay-a,", "empty delegate"},
	}
	for _, c := range bad {
		_, err := ParseCredentialSpec(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseCredentialSpec(%q) error = %v; want one containing %q", c.in, err, c.want)
			continue
		}
		if !strings.Contains(err.Error(), quote(c.in)) {
			t.Errorf("ParseCredentialSpec(%q) error %q does not quote the input", c.in, err)
		}
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// FuzzParseCredentialSpec: whatever the input, a parsed spec is well formed
// and survives a round trip through its written form.
func FuzzParseCredentialSpec(f *testing.F) {
	for _, s := range []string{"a=impersonate", "a=impersonate:b,c", "*=metadata", "a=key:/k.json", "a=token-file:/t",
		"a=token-env:V", "a=", "=b", "a=b=c", "a=key:", "serviceAccount:x@y=metadata", "a=impersonate:b,,c", "\x00=metadata"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseCredentialSpec(s)
		if err != nil {
			if !strings.Contains(err.Error(), "credentials ") {
				t.Fatalf("error %q does not say it is about --credentials", err)
			}
			return
		}
		if spec.Caller == "" || strings.Contains(spec.Caller, "=") {
			t.Fatalf("%q: caller %q", s, spec.Caller)
		}
		switch spec.Kind {
		case CredImpersonate:
			if spec.Arg != "" {
				for _, d := range strings.Split(spec.Arg, ",") {
					if strings.TrimSpace(d) == "" {
						t.Fatalf("%q: empty delegate accepted in %q", s, spec.Arg)
					}
				}
			}
		case CredMetadata:
			if spec.Arg != "" {
				t.Fatalf("%q: metadata with argument %q", s, spec.Arg)
			}
		case CredKey, CredTokenFile, CredTokenEnv:
			if spec.Arg == "" {
				t.Fatalf("%q: %s without argument", s, spec.Kind)
			}
		default:
			t.Fatalf("%q: unknown kind %q accepted", s, spec.Kind)
		}
		w := spec.Caller + "=" + string(spec.Kind)
		if spec.Arg != "" {
			w += ":" + spec.Arg
		}
		again, err := ParseCredentialSpec(w)
		if err != nil || again != spec {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", s, w, again, err, spec)
		}
	})
}

const testDecl = `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
  - name: billing-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      path: /healthz
      refusedCaller: audit-bot
  - service: www
    public: true
    members: [allUsers]
  - function: on-upload
    members: [billing-caller]
  - service: skipped-api
    members: [orders-caller]
    invoke:
      skip: true
  - service: broken-api
    location: europe-west1
    members: [orders-caller]
    invoke:
      path: /ping
  - function: resize-image
    public: true
    members: [allUsers, billing-caller]
    invoke:
      method: POST
      body: '{"width": 64}'
      expectStatus: 201
`

func loadDecl(t testing.TB, src string) *config.Declaration {
	t.Helper()
	d, err := config.Parse("invokers.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func member(name string) string {
	return "serviceAccount:" + name + "@demo-project.iam.gserviceaccount.com"
}

func emulatorTarget(t testing.TB) target.Target {
	t.Helper()
	tg, err := target.Emulator("http://127.0.0.1:1", "not-a-real-token")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// fakeJWT builds an unsigned token with the given claims: the sources read
// claims without verifying signatures.
func fakeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString([]byte("not-a-signature"))
}

func writeToken(t testing.TB, dir, name, aud, email string) string {
	t.Helper()
	claims := map[string]any{"iss": "https://accounts.google.com", "aud": aud, "sub": "1234", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()}
	if email != "" {
		claims["email"] = email
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(fakeJWT(t, claims)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t testing.TB, dir, email string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pk := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(k))})
	b, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": email, "private_key": string(pk),
		"private_key_id": "k1", "token_uri": "http://127.0.0.1:1/token"})
	p := filepath.Join(dir, "key.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func specs(t testing.TB, ss ...string) []CredentialSpec {
	t.Helper()
	var out []CredentialSpec
	for _, s := range ss {
		sp, err := ParseCredentialSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sp)
	}
	return out
}

func TestSourcesValidate(t *testing.T) {
	d := loadDecl(t, testDecl)
	for _, c := range []struct {
		specs []string
		want  string // "" = valid
	}{
		{nil, ""},
		{[]string{"orders-caller=metadata", "*=impersonate"}, ""},
		// A member need not be declared: it may be a caller written in full.
		{[]string{"serviceAccount:Someone@Other.iam.gserviceaccount.com=metadata"}, ""},
		{[]string{"nobody=metadata"}, `credentials for "nobody": no service account with that short name in invokers.yaml`},
		{[]string{"orders-caller@demo-project.iam.gserviceaccount.com=metadata"}, "no service account with that short name"},
		{[]string{"orders-caller=metadata", "orders-caller=impersonate"}, `credentials for "orders-caller" given twice`},
		// The short name and its member are the same caller.
		{[]string{"orders-caller=metadata", member("orders-caller") + "=impersonate"}, "given twice"},
		{[]string{"serviceAccount:ORDERS-CALLER@demo-project.iam.gserviceaccount.com=metadata", "orders-caller=impersonate"}, "given twice"},
		{[]string{"*=metadata", "*=impersonate"}, `credentials for "*" given twice`},
	} {
		s := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t, c.specs...)}
		err := s.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.specs, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: error %v, want %q", c.specs, err, c.want)
		}
	}
}

func TestSourcesFor(t *testing.T) {
	ctx := context.Background()
	d := loadDecl(t, testDecl)
	dir := t.TempDir()
	tokFile := writeToken(t, dir, "token", "https://orders.example.com", "audit-bot@demo-project.iam.gserviceaccount.com")
	key := writeKey(t, dir, "billing-caller@demo-project.iam.gserviceaccount.com")
	s := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t,
		"billing-caller=key:"+key,
		"*=token-file:"+tokFile,
		"orders-caller=impersonate:billing-caller,serviceAccount:relay@other.iam.gserviceaccount.com",
	)}
	for m, want := range map[string]string{
		member("orders-caller"):  "impersonation of orders-caller@demo-project.iam.gserviceaccount.com via billing-caller@demo-project.iam.gserviceaccount.com → relay@other.iam.gserviceaccount.com",
		member("billing-caller"): "service-account key " + key + " (billing-caller@demo-project.iam.gserviceaccount.com)",
		member("audit-bot"):      "token file " + tokFile, // '*' covers callers without their own spec
	} {
		src, err := s.For(ctx, m)
		if err != nil {
			t.Fatalf("For(%s): %v", m, err)
		}
		if got := src.Describe(); got != want {
			t.Errorf("For(%s).Describe() = %q, want %q", m, got, want)
		}
		if again, _ := s.For(ctx, m); again != src {
			t.Errorf("For(%s) built a second source instead of reusing the cached one", m)
		}
	}

	// Without any spec, impersonation is the default.
	def := &Sources{Target: emulatorTarget(t), Decl: d}
	src, err := def.For(ctx, member("audit-bot"))
	if err != nil || src.Describe() != "impersonation of audit-bot@demo-project.iam.gserviceaccount.com" {
		t.Fatalf("default source: %v, %v", src, err)
	}

	// A token is cached: asking twice for one audience reads the file once.
	tok, err := s.For(ctx, member("audit-bot"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tok.Token(ctx, "https://orders.example.com"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Mints(); n != 1 {
		t.Errorf("Mints() = %d after two requests for one audience, want 1", n)
	}

	// A source that cannot be built names the caller and the kind.
	bad := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t, "orders-caller=key:"+filepath.Join(dir, "missing.json"))}
	if _, err := bad.For(ctx, member("orders-caller")); err == nil ||
		!strings.Contains(err.Error(), "token source for "+member("orders-caller")+" (key)") || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing key file: %v", err)
	}
	// Validation errors surface from For too.
	unknown := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t, "ghost=metadata")}
	if _, err := unknown.For(ctx, member("orders-caller")); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("unknown caller through For: %v", err)
	}
}

// A token handed over for one account must not be used as another's: the
// report would claim a caller can invoke on the strength of someone else's
// grant.
func TestSourcesRefuseATokenOfAnotherAccount(t *testing.T) {
	ctx := context.Background()
	d := loadDecl(t, testDecl)
	dir := t.TempDir()
	aud := "https://orders.example.com"
	billing := writeToken(t, dir, "billing", aud, "billing-caller@demo-project.iam.gserviceaccount.com")
	orders := writeToken(t, dir, "orders", aud, "orders-caller@demo-project.iam.gserviceaccount.com")
	anon := writeToken(t, dir, "no-email", aud, "")
	s := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t,
		"orders-caller=token-file:"+billing,
		"billing-caller=token-file:"+anon,
		"audit-bot=token-file:"+orders)}
	src, err := s.For(ctx, member("orders-caller"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(ctx, aud)
	if err == nil || !strings.Contains(err.Error(), "billing-caller@demo-project.iam.gserviceaccount.com") ||
		!strings.Contains(err.Error(), "orders-caller@demo-project.iam.gserviceaccount.com") {
		t.Fatalf("a token of billing-caller used as orders-caller: %v; want an error naming both", err)
	}
	// Typed, so that invoke reports a refusal found before the call (exit
	// 4), not a token that could not be had (exit 1).
	var ame *idtoken.AccountMismatchError
	if !errors.As(err, &ame) || !idtoken.Unusable(err) {
		t.Errorf("error %T is not an *idtoken.AccountMismatchError", err)
	}
	// Its audience is still visible to audience selection.
	if a, err := idtoken.SelectAudience(src, "", idtoken.Allowed{URLs: []string{aud}}); err != nil || a != aud {
		t.Errorf("SelectAudience through the check: %q, %v", a, err)
	}
	// Without an email claim there is nothing to compare: accepted.
	src, _ = s.For(ctx, member("billing-caller"))
	if _, err := src.Token(ctx, aud); err != nil {
		t.Errorf("token without email: %v", err)
	}
	// Email claims compare case-insensitively, like IAM members.
	src, _ = s.For(ctx, member("audit-bot"))
	if _, err := src.Token(ctx, aud); err == nil {
		t.Errorf("orders-caller's token accepted for audit-bot")
	}
}

// Against an emulator, the metadata source asks the emulator unless
// GCE_METADATA_HOST says otherwise; against Google, the usual server.
func TestSourcesMetadata(t *testing.T) {
	ctx := context.Background()
	d := loadDecl(t, testDecl)
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(fakeJWT(t, map[string]any{"aud": r.URL.Query().Get("audience"), "email": "orders-caller@demo-project.iam.gserviceaccount.com",
			"exp": time.Now().Add(time.Hour).Unix()})))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tg, err := target.Emulator(srv.URL, "not-a-real-token")
	if err != nil {
		t.Fatal(err)
	}
	source := func(tg target.Target) idtoken.Source {
		t.Helper()
		s := &Sources{Target: tg, Decl: d, Specs: specs(t, "orders-caller=metadata")}
		src, err := s.For(ctx, member("orders-caller"))
		if err != nil {
			t.Fatal(err)
		}
		return src
	}

	t.Setenv("GCE_METADATA_HOST", "")
	src := source(tg)
	if got, want := src.Describe(), "metadata server "+host+" (attached service account)"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	tok, err := src.Token(ctx, "https://orders.example.com")
	if err != nil || tok.Audience() != "https://orders.example.com" {
		t.Fatalf("token from the emulator's metadata server: %v, %v", tok, err)
	}
	if len(paths) != 1 || paths[0] != "/computeMetadata/v1/instance/service-accounts/default/identity" {
		t.Errorf("metadata requests: %q", paths)
	}

	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:9")
	if got, want := source(tg).Describe(), "metadata server 127.0.0.1:9 (attached service account)"; got != want {
		t.Errorf("with GCE_METADATA_HOST: Describe() = %q, want %q", got, want)
	}
	t.Setenv("GCE_METADATA_HOST", "")
	if got, want := source(target.Google()).Describe(), "metadata server (attached service account)"; got != want {
		t.Errorf("against Google: Describe() = %q, want %q", got, want)
	}
}

func TestExpectations(t *testing.T) {
	d := loadDecl(t, testDecl)
	exps := Expectations(d)
	if len(exps) != len(d.Grants) {
		t.Fatalf("%d expectations for %d grants", len(exps), len(d.Grants))
	}
	if e := exps[0]; e.Target != (verify.Target{Project: "demo-project", Location: "us-central1", Service: "orders-api"}) || e.Public ||
		strings.Join(e.Members, ",") != member("orders-caller") {
		t.Errorf("orders-api: %+v", e)
	}
	if e := exps[2]; e.Target != (verify.Target{Project: "demo-project", Location: "us-central1", Function: "on-upload"}) {
		t.Errorf("on-upload: %+v", e)
	}
	if e := exps[4]; e.Target.Location != "europe-west1" {
		t.Errorf("broken-api keeps its own location: %+v", e)
	}
	if e := exps[5]; !e.Public || strings.Join(e.Members, ",") != "allUsers,"+member("billing-caller") {
		t.Errorf("resize-image: %+v", e)
	}
}

// testReport is what verify would say about testDecl.
func testReport() (*verify.Report, error) {
	readErr := errors.New("getIamPolicy: 404 service broken-api not found")
	res := func(name, uri string) *verify.ServiceResult {
		return &verify.ServiceResult{TargetName: name, URI: uri, URLs: []string{uri, "https://" + name + ".run.app"}}
	}
	rep := &verify.Report{Results: []*verify.ServiceResult{
		res("service orders-api", "http://127.0.0.1:1001"),
		res("service www", "http://127.0.0.1:1002"),
		res("function on-upload", "http://127.0.0.1:1003"),
		res("service skipped-api", "http://127.0.0.1:1004"),
		{TargetName: "service broken-api", Err: readErr},
		res("function resize-image", "http://127.0.0.1:1006"),
	}}
	rep.Results[0].CustomAudiences = []string{"https://orders.example.com"}
	rep.Results[2].Function = &verify.Function{Name: "on-upload", EventDriven: true, EventType: "google.cloud.storage.object.v1.finalized"}
	rep.Results[5].Function = &verify.Function{Name: "resize-image"}
	return rep, readErr
}

func TestInvokeCases(t *testing.T) {
	ctx := context.Background()
	d := loadDecl(t, testDecl)
	rep, readErr := testReport()
	srcs := &Sources{Target: emulatorTarget(t), Decl: d}
	cases, pre, err := InvokeCases(ctx, d, rep, srcs)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]invoke.Case{}
	for _, c := range cases {
		byName[c.Target.Name] = c
	}
	if len(cases) != 4 || len(byName) != 4 {
		t.Fatalf("cases for %v; want orders-api, www, on-upload, resize-image", keys(byName))
	}
	callers := func(cs []invoke.Caller) string {
		var s []string
		for _, c := range cs {
			d := "no token"
			if c.Source != nil {
				d = c.Source.Describe()
			}
			s = append(s, c.Name+" ("+d+")")
		}
		return strings.Join(s, "; ")
	}

	// A private service: its caller, its refused caller, and the
	// unauthenticated probe; the request and audiences from the grant and
	// the report.
	c := byName["service orders-api"]
	if got, want := callers(c.Callers), member("orders-caller")+" (impersonation of orders-caller@demo-project.iam.gserviceaccount.com)"; got != want {
		t.Errorf("orders-api callers = %s, want %s", got, want)
	}
	if got, want := callers(c.Refused), member("audit-bot")+" (impersonation of audit-bot@demo-project.iam.gserviceaccount.com)"; got != want {
		t.Errorf("orders-api refused = %s, want %s", got, want)
	}
	if !c.ProbeUnauthenticated || c.Target.Public || c.Target.EventDriven || c.Target.Kind != "service" {
		t.Errorf("orders-api case: %+v", c)
	}
	if c.Target.URL != "http://127.0.0.1:1001" || len(c.Target.URLs) != 2 || c.Target.CustomAudiences[0] != "https://orders.example.com" {
		t.Errorf("orders-api target: %+v", c.Target)
	}
	if c.Request.Method != "GET" || c.Request.Path != "/healthz" || c.Request.ExpectStatus != 200 || len(c.Request.Body) != 0 {
		t.Errorf("orders-api request: %+v", c.Request)
	}

	// Public with no service account: called without a token, and no
	// probe that it refuses calls without one.
	c = byName["service www"]
	if got := callers(c.Callers); got != "anonymous (no token)" || len(c.Refused) != 0 || c.ProbeUnauthenticated || !c.Target.Public {
		t.Errorf("public www: callers %s, refused %d, probe %v, public %v", got, len(c.Refused), c.ProbeUnauthenticated, c.Target.Public)
	}

	// Public with a service account: called as it, still no probe.
	c = byName["function resize-image"]
	if got := callers(c.Callers); got != member("billing-caller")+" (impersonation of billing-caller@demo-project.iam.gserviceaccount.com)" ||
		c.ProbeUnauthenticated || !c.Target.Public || c.Target.Kind != "function" || c.Target.EventDriven {
		t.Errorf("public resize-image: callers %s, case %+v", got, c)
	}
	if c.Request.Method != "POST" || string(c.Request.Body) != `{"width": 64}` || c.Request.ExpectStatus != 201 {
		t.Errorf("resize-image request: %+v", c.Request)
	}

	// Event-driven, as the report says: marked so invoke skips it.
	if c := byName["function on-upload"]; !c.Target.EventDriven || c.Target.Kind != "function" {
		t.Errorf("on-upload: %+v", c.Target)
	}

	// skip: true and an unreadable service become results of their own.
	if len(pre) != 2 {
		t.Fatalf("pre-decided results: %+v", pre)
	}
	if r := pre[0]; r.Target != "service skipped-api" || r.Outcome != invoke.Skip || !strings.Contains(r.Reason, "skip: true") || r.Check != invoke.CheckInvoke {
		t.Errorf("skipped grant: %+v", r)
	}
	if r := pre[1]; r.Target != "service broken-api" || r.Outcome != invoke.Error || !errors.Is(r.Err, readErr) ||
		!strings.Contains(r.Reason, "cannot invoke: "+readErr.Error()) || r.Method != "GET" || r.Path != "/ping" {
		t.Errorf("unreadable service: %+v", r)
	}
	if rc := InvokeReportCases(pre[1:]); !strings.HasPrefix(rc[0].Detail, "GET /ping → no response") {
		t.Errorf("report of the unreadable service: %q", rc[0].Detail)
	}

	// Credentials are resolved per caller; a bad one stops the mapping.
	bad := &Sources{Target: emulatorTarget(t), Decl: d, Specs: specs(t, "audit-bot=token-file:"+filepath.Join(t.TempDir(), "none"))}
	if _, _, err := InvokeCases(ctx, d, rep, bad); err == nil || !strings.Contains(err.Error(), member("audit-bot")) {
		t.Errorf("refused caller without a usable source: %v", err)
	}

	// The report must line up with the declaration.
	short := &verify.Report{Results: rep.Results[:3]}
	if _, _, err := InvokeCases(ctx, d, short, srcs); err == nil || !strings.Contains(err.Error(), "3 results for 6 grants") {
		t.Errorf("short report: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestInvokeReportCases(t *testing.T) {
	jwt := fakeJWT(t, map[string]any{"aud": "x", "email": "leak@example.com"})
	results := []invoke.Result{
		{Check: invoke.CheckInvoke, Target: "service a", Caller: member("orders-caller"), Method: "GET", Path: "/", Expected: "200", Got: 200,
			Attempts: 1, Outcome: invoke.Pass, Elapsed: 40 * time.Millisecond},
		{Check: invoke.CheckInvoke, Target: "service a", Caller: member("billing-caller"), Method: "POST", Path: "/x", Expected: "201", Got: 201,
			Attempts: 4, PropagationDelay: 4260 * time.Millisecond, Outcome: invoke.Pass, Reason: "the grant became effective after 4s (4 attempts)"},
		{Check: invoke.CheckRefused, Target: "service a", Caller: member("audit-bot"), Method: "GET", Path: "/", Expected: "403", Got: 200,
			Attempts: 1, Outcome: invoke.Fail, Reason: "caller was allowed; Authorization: Bearer " + jwt + " and " + jwt},
		{Check: invoke.CheckUnauthenticated, Target: "service a", Method: "GET", Path: "/", Expected: "401 or 403", Got: 403, Attempts: 1, Outcome: invoke.Pass},
		{Check: invoke.CheckInvoke, Target: "function e", Caller: member("billing-caller"), Method: "GET", Path: "/", Outcome: invoke.Skip,
			Reason: "event-driven function: only its event source (trigger) can invoke it, so no test call is made"},
		{Check: invoke.CheckInvoke, Target: "service p", Caller: "anonymous", Method: "GET", Path: "/", Expected: "200", Outcome: invoke.Error,
			Reason: "calling http://127.0.0.1:1: connection refused"},
		{Check: invoke.CheckInvoke, Target: "service s", Outcome: invoke.Skip, Reason: "skip: true in the declaration"},
		{Check: invoke.CheckRefused, Target: "service q", Caller: member("audit-bot"), Method: "GET", Path: "/", Expected: "403", Attempts: 1,
			Outcome: invoke.Interrupted, Reason: "interrupted after 1 attempt(s): context canceled"},
	}
	want := []struct {
		name    string
		outcome report.Outcome
		detail  string
	}{
		{"invoke as " + member("orders-caller"), report.Pass, "GET / → 200 (expected 200)"},
		{"invoke as " + member("billing-caller"), report.Pass, "POST /x → 201 (expected 201), 4 attempts, grant effective after 4.3s"},
		{"refuses " + member("audit-bot"), report.Fail, "GET / → 200 (expected 403)\ncaller was allowed; Authorization: Bearer [REDACTED] and [REDACTED]"},
		{"refuses unauthenticated", report.Pass, "GET / → 403 (expected 401 or 403)"},
		{"invoke as " + member("billing-caller"), report.Skip, "event-driven function: only its event source (trigger) can invoke it, so no test call is made"},
		{"invoke as anonymous", report.Error, "GET / → no response (expected 200)\ncalling http://127.0.0.1:1: connection refused"},
		{"invoke", report.Skip, "skip: true in the declaration"},
		{"refuses " + member("audit-bot") + " (interrupted)", report.Error, "GET / → no response (expected 403)\ninterrupted after 1 attempt(s): context canceled"},
	}
	got := InvokeReportCases(results)
	if len(got) != len(want) {
		t.Fatalf("%d cases for %d results", len(got), len(results))
	}
	for i, w := range want {
		g := got[i]
		if g.Suite != "invoke" || g.Target != results[i].Target || g.Name != w.name || g.Outcome != w.outcome || g.Detail != w.detail {
			t.Errorf("case %d = %+v\nwant name %q outcome %s detail %q", i, g, w.name, w.outcome, w.detail)
		}
		if g.Duration != results[i].Elapsed {
			t.Errorf("case %d duration %s, want %s", i, g.Duration, results[i].Elapsed)
		}
	}
	for _, g := range got {
		if strings.Contains(g.Detail, "eyJ") {
			t.Errorf("token text in %q", g.Detail)
		}
	}
	if !Failed(results) || Failed(append(append([]invoke.Result{}, results[:2]...), results[3:5]...)) || Failed(nil) {
		t.Error("Failed is true exactly when a result did not pass")
	}
	for _, tt := range []struct {
		results    []invoke.Result
		verdict    invoke.Verdict
		incomplete bool
	}{
		{nil, invoke.VerdictPass, false},
		{results[:2], invoke.VerdictPass, false},
		{results[:3], invoke.VerdictFail, false},
		{results[2:6], invoke.VerdictError, true}, // an error wins over a refusal
		{results, invoke.VerdictInterrupted, true},
	} {
		if v := invoke.Summarize(tt.results); v != tt.verdict || Incomplete(tt.results) != tt.incomplete {
			t.Errorf("Summarize(%d results) = %v, Incomplete = %v; want %v, %v", len(tt.results), v, Incomplete(tt.results), tt.verdict, tt.incomplete)
		}
	}
}
