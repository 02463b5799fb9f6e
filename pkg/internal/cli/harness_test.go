package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// How the tests run invokerctl: in-process through the command tree with
// a test Factory (most tests), or as the built binary (the end-to-end
// tests of each verb).

func TestMain(m *testing.M) {
	flag.Parse()
	// The end-to-end tests mostly wait (on terraform, the provider
	// processes it starts, the emulator's propagation delay), not on the
	// CPU: run more of them at once than -parallel's default of
	// GOMAXPROCS, unless -parallel is given.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", fmt.Sprint(max(runtime.GOMAXPROCS(0), e2eParallel)))
	}
	os.Exit(testutil.Main(m))
}

// e2eParallel is how many tests run at once by default.
const e2eParallel = 6

// cliResult is what a run left: stdout, stderr and the exit code.
type cliResult = testutil.Result

// inProcess says how runInProcess runs a command.
type inProcess struct {
	// Env (KEY=VALUE) is what the command's Getenv sees before the
	// process environment, and is added to Terraform's environment.
	// Token sources read the process environment itself: a test that
	// hands a token through a variable sets it with t.Setenv.
	Env []string
	// Stdin is standard input; TTY makes it a terminal.
	Stdin string
	TTY   bool
	// Clock paces invoke's waits; nil is the wall clock.
	Clock clock.Clock
	// Terraform makes the built binary serve the offline provider (the
	// test binary cannot).
	Terraform bool
	// StartEmulator replaces emulator.New for --emulator without a URL.
	StartEmulator func(emulator.Options) (*emulator.Emulator, error)
}

// testFactory is the Factory of one in-process run on ios.
func testFactory(t testing.TB, ios *iostreams.IOStreams, c inProcess) *cmdutil.Factory {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	f := &cmdutil.Factory{
		IOStreams: ios,
		Getenv: func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		},
		Environ:       func() []string { return append(os.Environ(), c.Env...) },
		StartEmulator: emulator.New,
		Clock:         clock.Real,
	}
	if c.Clock != nil {
		f.Clock = c.Clock
	}
	if c.StartEmulator != nil {
		f.StartEmulator = c.StartEmulator
	}
	if c.Terraform {
		f.ProviderExecutable = testutil.Binary(t)
	}
	return f
}

// runInProcess runs invokerctl args through the command tree, in this
// process, within three minutes.
func runInProcess(t testing.TB, c inProcess, args ...string) cliResult {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(c.Stdin)
	ios.SetStdinTTY(c.TTY)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := Run(ctx, testFactory(t, ios, c), args)
	return cliResult{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// runBin runs the built invokerctl binary with args and extra environment.
func runBin(t testing.TB, env []string, args ...string) cliResult {
	t.Helper()
	return testutil.RunBinary(t, testutil.Exec{Env: env}, args...)
}

// wantExit stops the test, showing both outputs, unless r exited with code.
func wantExit(t testing.TB, r cliResult, code int, what string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s: exit %d, want %d\n%s\n%s", what, r.Code, code, r.Stdout, r.Stderr)
	}
}

// emuEnv is the environment that points invokerctl at emu (with
// --emulator=URL) and keeps the provider's fixed waits short.
func emuEnv(emu *emulator.Emulator) []string {
	return []string{
		target.TokenEnv + "=" + emu.BootstrapToken(),
		tfprovider.SleepScaleEnv + "=0.02",
	}
}

// needE2E skips an end-to-end test that needs no terraform under -short.
func needE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end; skipped with -short")
	}
}
