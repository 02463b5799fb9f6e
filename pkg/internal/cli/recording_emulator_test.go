package cli

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// An emulator behind a front that records every token crossing its API,
// and the checks that no token text is in what invokerctl printed or
// wrote.

var (
	// proofJWTShape is any JWT (JWS compact form).
	proofJWTShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`)
	// proofAccessToken is a Google OAuth2 access token.
	proofAccessToken = regexp.MustCompile(`ya29\.[A-Za-z0-9_-]{8,}`)
	// proofTokenText finds whole tokens to record: JWTs and OAuth2
	// access tokens.
	proofTokenText = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|ya29\.[A-Za-z0-9_.-]+`)
)

// proofEmu is an in-process emulator reached through a recording front:
// every token in a request or response of its API (ID tokens minted by
// generateIdToken, the token endpoint and the metadata server, access
// tokens, signed assertions) is kept, so a test can look for them in what
// invokerctl printed and wrote.
type proofEmu struct {
	*emulator.Emulator
	URL  string // the front: what invokerctl is given
	Host string // host:port of the front (for GCE_METADATA_HOST)

	offset atomic.Int64 // added to the emulator's clock

	mu     sync.Mutex
	tokens map[string]bool
}

func startProofEmu(t *testing.T, seedYAML string, tweak func(*emulator.Options)) *proofEmu {
	t.Helper()
	p := &proofEmu{tokens: map[string]bool{}}
	o := testutil.SeedOptions(t, seedYAML)
	o.Now = func() time.Time { return time.Now().Add(time.Duration(p.offset.Load())) }
	if tweak != nil {
		tweak(&o)
	}
	emu := testutil.StartEmulator(t, o)
	p.Emulator = emu
	front := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(front.Close)
	p.URL = front.URL
	p.Host = strings.TrimPrefix(front.URL, "http://")
	p.record(emu.BootstrapToken())
	return p
}

type proofRecorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *proofRecorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (p *proofEmu) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p.record(tok)
	}
	p.recordIn(string(body))
	rec := &proofRecorder{ResponseWriter: w}
	p.Emulator.ServeHTTP(rec, r)
	p.recordIn(rec.buf.String())
}

func (p *proofEmu) record(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens[tok] = true
}

func (p *proofEmu) recordIn(s string) {
	for _, m := range proofTokenText.FindAllString(s, -1) {
		p.record(m)
	}
}

// Tokens are every token seen so far, the bootstrap token included.
func (p *proofEmu) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.tokens))
	for k := range p.tokens {
		out = append(out, k)
	}
	return out
}

// jwtsSeen counts the recorded JWTs.
func (p *proofEmu) jwtsSeen() int {
	n := 0
	for _, tok := range p.Tokens() {
		if strings.HasPrefix(tok, "eyJ") {
			n++
		}
	}
	return n
}

// opts are Google client options that reach the emulator through the front.
func (p *proofEmu) opts() []option.ClientOption {
	return testutil.ClientOptions(p.URL, p.BootstrapToken())
}

// env is what a user exports to reach p.
func (p *proofEmu) env(extra ...string) []string {
	return append([]string{target.TokenEnv + "=" + p.BootstrapToken(), tfprovider.SleepScaleEnv + "=0.02"}, extra...)
}

// run runs invokerctl in-process against p and checks its output for
// token text. extraEnv reaches the command's Getenv and Terraform only.
func (p *proofEmu) run(t *testing.T, extraEnv []string, args ...string) cliResult {
	t.Helper()
	return p.runWith(t, inProcess{Env: p.env(extraEnv...)}, args...)
}

// runWith runs invokerctl in-process against p as c says (c.Env should
// start with p.env()) and checks its output for token text.
func (p *proofEmu) runWith(t *testing.T, c inProcess, args ...string) cliResult {
	t.Helper()
	return p.check(t, args[0], runInProcess(t, c, append(args, "--emulator="+p.URL)...))
}

// mustRun is run that stops the test unless the command exits with code.
func (p *proofEmu) mustRun(t *testing.T, code int, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := p.run(t, extraEnv, args...)
	wantExit(t, r, code, "invokerctl "+strings.Join(args, " "))
	return r
}

// runBin runs the built binary against p and checks its output for token
// text.
func (p *proofEmu) runBin(t *testing.T, extraEnv []string, args ...string) cliResult {
	t.Helper()
	return p.check(t, args[0], runBin(t, p.env(extraEnv...), append(args, "--emulator="+p.URL)...))
}

// mustRunBin is runBin that stops the test unless the binary exits with
// code.
func (p *proofEmu) mustRunBin(t *testing.T, code int, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := p.runBin(t, extraEnv, args...)
	wantExit(t, r, code, "invokerctl "+strings.Join(args, " "))
	return r
}

func (p *proofEmu) check(t *testing.T, verb string, r cliResult) cliResult {
	t.Helper()
	proofNoTokenText(t, "stdout of invokerctl "+verb, r.Stdout, p.Tokens()...)
	proofNoTokenText(t, "stderr of invokerctl "+verb, r.Stderr, p.Tokens()...)
	return r
}

// startProofCase starts a parallel in-process test without terraform: an
// emulator seeded with seedHead+seedTail and a declaration with declBody.
func startProofCase(t *testing.T, seedTail, declBody string) (*proofEmu, string) {
	t.Helper()
	t.Parallel()
	return startProofEmu(t, seedHead+seedTail, nil), writeDecl(t, declBody)
}

// proofNoTokenText fails when text holds anything JWT-shaped, an access
// token, or one of secrets (whole, or the payload or signature of a JWT).
// Messages never show more than the start of what was found.
func proofNoTokenText(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	if m := proofJWTShape.FindString(text); m != "" {
		t.Errorf("%s holds JWT-shaped text %.16s…", where, m)
	}
	if m := proofAccessToken.FindString(text); m != "" {
		t.Errorf("%s holds an access token %.9s…", where, m)
	}
	for _, s := range secrets {
		parts := []string{s}
		if seg := strings.Split(s, "."); len(seg) == 3 && strings.HasPrefix(s, "eyJ") {
			parts = append(parts, seg[1], seg[2])
		}
		for _, part := range parts {
			if len(part) >= 16 && strings.Contains(text, part) {
				t.Errorf("%s holds token text (%d characters starting %.6s…)", where, len(part), part)
			}
		}
	}
}

// proofNoTokenFiles checks every file under dir but executables (the
// offline provider, invokerctl itself, whose code names token formats) and
// returns how many it read.
func proofNoTokenFiles(t *testing.T, dir string, tokens ...string) int {
	t.Helper()
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if fi, err := d.Info(); err != nil || fi.Mode().Perm()&0o111 != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		proofNoTokenText(t, path, string(b), tokens...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
