package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// `invokerctl emulator serve` as a user starts it: the binary, its export
// lines, and runs of invokerctl in the environment they make.

// emuExportNames are the variables `emulator serve` must print.
var emuExportNames = []string{
	"INVOKERCTL_EMULATOR_URL", "INVOKERCTL_EMULATOR_TOKEN", "GCE_METADATA_HOST",
	"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN", "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM",
	"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER",
	"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDASSET", "CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT", "GOOGLE_IAM_CUSTOM_ENDPOINT",
	"GOOGLE_IAM_BETA_CUSTOM_ENDPOINT", "GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT",
	"GOOGLE_RESOURCE_MANAGER_CUSTOM_ENDPOINT", "GOOGLE_RESOURCE_MANAGER_V3_CUSTOM_ENDPOINT",
	"GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT", "GOOGLE_PROJECT",
	"CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT",
	"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", "GOOGLE_OAUTH_ACCESS_TOKEN",
}

// readExports reads the exports `emulator serve` prints on stdout, failing
// with its stderr when they do not all come within 30s. stdout is read to
// its end without ever blocking, so the emulator never stalls on a full
// pipe.
func readExports(t *testing.T, stdout io.Reader, stderr fmt.Stringer) map[string]string {
	t.Helper()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	env := map[string]string{}
	timeout := time.After(30 * time.Second)
	for len(env) < len(emuExportNames) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("emulator serve ended early; stderr: %s", stderr)
			}
			k, v := parseExport(t, line)
			env[k] = v
		case <-timeout:
			t.Fatalf("emulator serve printed no exports in time; got %v; stderr: %s", env, stderr)
		}
	}
	return env
}

// parseExport parses one `export NAME='value'` line as a POSIX shell would.
func parseExport(t *testing.T, line string) (string, string) {
	t.Helper()
	rest, ok := strings.CutPrefix(line, "export ")
	name, quoted, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 {
		t.Fatalf("not an export line: %q", line)
	}
	var b strings.Builder
	for quoted != "" {
		if !strings.HasPrefix(quoted, "'") {
			if strings.HasPrefix(quoted, `\'`) {
				b.WriteByte('\'')
				quoted = quoted[2:]
				continue
			}
			t.Fatalf("unquoted text in %q", line)
		}
		end := strings.IndexByte(quoted[1:], '\'')
		if end < 0 {
			t.Fatalf("unterminated quote in %q", line)
		}
		b.WriteString(quoted[1 : 1+end])
		quoted = quoted[2+end:]
	}
	return name, b.String()
}

// inProcessServe is `emulator serve` running in this process.
type inProcessServe struct {
	Out, ErrOut *testutil.SyncBuffer
	cancel      context.CancelFunc
	done        chan int
}

// serveInProcess starts `emulator serve args...` in this process; it is
// stopped when the test ends.
func serveInProcess(t *testing.T, args ...string) *inProcessServe {
	t.Helper()
	s := &inProcessServe{Out: &testutil.SyncBuffer{}, ErrOut: &testutil.SyncBuffer{}, done: make(chan int, 1)}
	ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: s.Out, ErrOut: s.ErrOut}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	t.Cleanup(s.cancel)
	f := testFactory(t, ios, inProcess{})
	go func() { s.done <- Run(ctx, f, append([]string{"emulator", "serve"}, args...)) }()
	return s
}

// waitFor waits up to 30s until cond holds, failing with serve's stderr.
func (s *inProcessServe) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("emulator serve: no %s; stderr: %s", what, s.ErrOut)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve (as SIGINT would) and fails unless it exits 0
// within 30s.
func (s *inProcessServe) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		if code != 0 {
			t.Fatalf("emulator serve exited %d; stderr: %s", code, s.ErrOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("emulator serve did not stop after cancellation")
	}
}

// servedEmulator is a running `invokerctl emulator serve`: its exports
// and its standard error.
type servedEmulator struct {
	exports map[string]string
	stderr  *testutil.SyncBuffer

	cmd    *exec.Cmd
	once   sync.Once
	err    error
	exited bool
}

// startServe starts `invokerctl emulator serve --addr 127.0.0.1:0 args...`
// and reads its exports; it is stopped when the test ends.
func startServe(t *testing.T, args ...string) *servedEmulator {
	t.Helper()
	s := &servedEmulator{stderr: &testutil.SyncBuffer{}}
	s.cmd = exec.Command(testutil.Binary(t), append([]string{"emulator", "serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(10 * time.Second) })
	s.exports = readExports(t, stdout, s.stderr)
	return s
}

// stop sends SIGTERM and waits up to timeout for the process to end, then
// kills it. It returns whether the process ended by itself and its exit
// error; later calls return the same.
func (s *servedEmulator) stop(timeout time.Duration) (exited bool, exitErr error) {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case s.err = <-done:
			s.exited = true
		case <-time.After(timeout):
			_ = s.cmd.Process.Kill()
			s.err = <-done
		}
	})
	return s.exited, s.err
}

// proofServe starts `invokerctl emulator serve` and returns its exports.
func proofServe(t *testing.T, args ...string) map[string]string {
	t.Helper()
	return startServe(t, args...).exports
}

// proofServeEnv is the environment of a user who evaluated the exports.
func proofServeEnv(exports map[string]string, extra ...string) []string {
	env := []string{tfprovider.SleepScaleEnv + "=0.02"}
	for k, v := range exports {
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

// proofRunServed runs the binary with a served emulator's exports.
func proofRunServed(t *testing.T, exports map[string]string, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := runBin(t, proofServeEnv(exports, extraEnv...), append(args, "--emulator="+exports["INVOKERCTL_EMULATOR_URL"])...)
	tok := exports["INVOKERCTL_EMULATOR_TOKEN"]
	proofNoTokenText(t, "stdout of invokerctl "+args[0], r.Stdout, tok)
	proofNoTokenText(t, "stderr of invokerctl "+args[0], r.Stderr, tok)
	return r
}

// emuExampleSeed is the seed of the emulator examples.
func emuExampleSeed() string {
	return filepath.Join(testutil.RepoRoot(), "examples", "emulator-seed.yaml")
}
