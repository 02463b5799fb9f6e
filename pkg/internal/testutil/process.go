package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Process is the built invokerctl running in the background, for tests
// that signal it or talk to it while it runs.
type Process struct {
	Cmd    *exec.Cmd
	stdout SyncBuffer
	stderr SyncBuffer
	done   chan struct{}
	result Result
}

// Start starts the built binary with args; stdin is its standard input
// (nil: none). It is killed when the test ends, if still running.
func Start(t testing.TB, e Exec, stdin *os.File, args ...string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{})}
	p.Cmd = exec.Command(Binary(t), args...)
	p.Cmd.Env = append(os.Environ(), e.Env...)
	p.Cmd.Dir = e.Dir
	if stdin != nil {
		p.Cmd.Stdin = stdin
	}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.stdout, &p.stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.Cmd.Wait()
		p.result = Result{Stdout: p.stdout.String(), Stderr: p.stderr.String()}
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.result.Code = ee.ExitCode()
		case err != nil:
			p.result.Code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Stdout and Stderr are what the process printed so far.
func (p *Process) Stdout() string { return p.stdout.String() }
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitOutput waits up to timeout until stdout or stderr contains s, and
// fails the test (showing both) if it does not, or if the process ends first.
func (p *Process) WaitOutput(t testing.TB, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.Stdout(), s) && !strings.Contains(p.Stderr(), s) {
		select {
		case <-p.done:
			t.Fatalf("invokerctl ended (exit %d) before printing %q\nstdout: %s\nstderr: %s", p.result.Code, s, p.result.Stdout, p.result.Stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("invokerctl did not print %q within %s\nstdout: %s\nstderr: %s", s, timeout, p.Stdout(), p.Stderr())
		}
	}
}

// Signal sends sig to the process, then waits up to timeout for it to
// end; it fails the test (and kills the process) when it does not.
func (p *Process) Signal(t testing.TB, sig os.Signal, timeout time.Duration) Result {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling invokerctl: %v", err)
	}
	select {
	case <-p.done:
		return p.result
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("invokerctl did not end within %s of %v\nstdout: %s\nstderr: %s", timeout, sig, p.result.Stdout, p.result.Stderr)
		return p.result
	}
}

// WaitOpened waits up to timeout until the process holds a second
// descriptor of what its standard input is (it opened /dev/stdin), or
// until it holds path open; it fails the test otherwise. It is how a test
// knows the process is blocked in that read before it signals it.
func (p *Process) WaitOpened(t testing.TB, path string, timeout time.Duration) {
	t.Helper()
	fdDir := "/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/fd"
	want := path
	if path == "/dev/stdin" {
		var err error
		if want, err = os.Readlink(fdDir + "/0"); err != nil {
			t.Fatalf("reading the process's standard input: %v", err)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		ents, _ := os.ReadDir(fdDir)
		for _, e := range ents {
			if e.Name() == "0" || e.Name() == "1" || e.Name() == "2" {
				continue
			}
			if l, err := os.Readlink(fdDir + "/" + e.Name()); err == nil && l == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("invokerctl did not open %s within %s\nstderr: %s", path, timeout, p.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitBlockedOpeningFIFO waits up to timeout until a thread of the
// process sleeps in the kernel waiting for the other end of a FIFO it is
// opening (its wchan is wait_for_partner), and fails the test otherwise.
func (p *Process) WaitBlockedOpeningFIFO(t testing.TB, timeout time.Duration) {
	t.Helper()
	taskDir := "/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/task"
	deadline := time.Now().Add(timeout)
	for {
		tasks, _ := os.ReadDir(taskDir)
		for _, task := range tasks {
			if b, err := os.ReadFile(taskDir + "/" + task.Name() + "/wchan"); err == nil && strings.TrimSpace(string(b)) == "wait_for_partner" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("invokerctl did not block opening a FIFO within %s\nstderr: %s", timeout, p.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitFIFOReader waits up to timeout until something opened the FIFO at
// path for reading, without ever writing to it: its open for writing
// succeeds only then. The returned write end is closed when the test ends.
func WaitFIFOReader(t testing.TB, path string, timeout time.Duration) *os.File {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			t.Cleanup(func() { w.Close() })
			return w
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Fatalf("waiting for a reader of %s: %v", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OpenPTY opens a new pseudo-terminal: the terminal side a process gets
// as its standard input, and the controller side a test types on. Both
// are closed when the test ends.
func OpenPTY(t testing.TB) (controller, terminal *os.File) {
	t.Helper()
	c, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	fd := int(c.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("numbering the pseudo-terminal: %v", err)
	}
	term, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return c, term
}

// SyncBuffer is a bytes.Buffer safe for a writer (a process, a command
// running in the background) and a test polling it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
