// Package testutil is what invokerctl's tests share: the one build of the
// invokerctl binary per test process, a way to run it, and the emulator
// helpers (start one from a seed, client options for it). It is imported
// by tests only.
package testutil

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// Main runs the tests of a package that uses Binary and removes the binary
// afterwards: call it from TestMain as os.Exit(testutil.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Binary builds ./cmd/invokerctl once per test process and returns its
// path. The same executable serves the offline Terraform provider.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "invokerctl-test-bin-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "invokerctl")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/invokerctl")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building invokerctl: %v", buildErr)
	}
	return buildBin
}

// NeedTerraform skips a test that runs terraform under -short or when no
// terraform is on PATH.
func NeedTerraform(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs terraform; skipped with -short")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
}

// Result is what a run of invokerctl left: its outputs and exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Exec says how RunBinary starts the binary.
type Exec struct {
	// Env is added to the test process's environment.
	Env []string
	// Dir is the working directory; "" is the test's.
	Dir string
}

// RunBinary runs the built invokerctl with args, within three minutes.
func RunBinary(t testing.TB, e Exec, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), e.Env...)
	cmd.Dir = e.Dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running invokerctl: %v", err)
		}
		code = ee.ExitCode()
	}
	return Result{out.String(), errOut.String(), code}
}
