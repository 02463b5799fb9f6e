package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// `emulator serve --env-file`: the export lines (the owner token) go to a
// file only its owner can read, never through a link.

func TestWriteEnvFile(t *testing.T) {
	t.Parallel()
	const secret = "export INVOKERCTL_EMULATOR_TOKEN='s3cret'\n"
	for _, c := range []struct {
		name string
		// setup prepares path in dir and returns what else must stay
		// untouched (a symlink's target), or "".
		setup   func(t *testing.T, dir, path string) string
		refused string // part of the refusal; "" when written
	}{
		{"new file", func(*testing.T, string, string) string { return "" }, ""},
		{"existing world-readable file is narrowed, then rewritten", func(t *testing.T, _, path string) string {
			mustWrite(t, path, "old content that is longer than the new one, to check truncation\n", 0o644)
			return ""
		}, ""},
		{"symlink to a file", func(t *testing.T, dir, path string) string {
			target := filepath.Join(dir, "elsewhere")
			mustWrite(t, target, "keep\n", 0o644)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			return target
		}, "symbolic link"},
		{"dangling symlink", func(t *testing.T, dir, path string) string {
			if err := os.Symlink(filepath.Join(dir, "would-be-created"), path); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "would-be-created")
		}, "symbolic link"},
		{"hard link", func(t *testing.T, dir, path string) string {
			other := filepath.Join(dir, "other-name")
			mustWrite(t, other, "keep\n", 0o600)
			if err := os.Link(other, path); err != nil {
				t.Fatal(err)
			}
			return other
		}, "hard links"},
		{"FIFO", func(t *testing.T, _, path string) string {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Skip(err)
			}
			return ""
		}, "not a regular file"},
		{"directory", func(t *testing.T, _, path string) string {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "emulator.env")
			untouched := c.setup(t, dir, path)
			var before []byte
			if untouched != "" {
				before, _ = os.ReadFile(untouched)
			}
			err := writeEnvFile(path, []byte(secret))
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("err = %v, want a refusal saying %q", err, c.refused)
				}
				if untouched != "" {
					if after, _ := os.ReadFile(untouched); string(after) != string(before) {
						t.Errorf("%s changed: %q", untouched, after)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != 0o600 {
				t.Errorf("mode %v, want -rw-------", fi.Mode())
			}
			if b, _ := os.ReadFile(path); string(b) != secret {
				t.Errorf("content %q", b)
			}
		})
	}
}

// serve --env-file writes the exports nowhere else: stdout stays empty,
// the file is 0600, sourcing it in sh points a client at the emulator,
// and the file is gone once the emulator stops.
func TestEmulatorServeEnvFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "emulator.env")
	s := serveInProcess(t, "--addr", "127.0.0.1:0", "--env-file", envFile)
	out := s.Out
	s.waitFor(t, "env file", func() bool { return strings.Contains(s.ErrOut.String(), "wrote the environment to "+envFile) })
	fi, err := os.Stat(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", envFile, fi.Mode().Perm())
	}
	if out.String() != "" {
		t.Errorf("stdout is not empty with --env-file: %d bytes", len(out.String()))
	}
	sh := exec.Command("sh", "-c", `. ./emulator.env && printf '%s\n%s\n%s' "$INVOKERCTL_EMULATOR_URL" "$INVOKERCTL_EMULATOR_TOKEN" "$CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"`)
	sh.Dir = dir
	got, err := sh.Output()
	if err != nil {
		t.Fatalf("sourcing %s: %v", envFile, err)
	}
	vals := strings.Split(string(got), "\n")
	if len(vals) != 3 || !strings.HasPrefix(vals[0], "http://127.0.0.1:") || vals[1] == "" {
		t.Fatalf("sourced values: %q", vals)
	}
	if calls := testutil.Calls(t, vals[0], vals[1]); calls == nil {
		t.Error("the sourced URL and token do not reach the emulator")
	}
	if b, err := os.ReadFile(vals[2]); err != nil || string(b) != vals[1] {
		t.Errorf("gcloud's token file %s: %v", vals[2], err)
	}
	s.stop(t)
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("%s outlived the emulator: %v", envFile, err)
	}
}

// A refused --env-file stops serve before anything is printed.
func TestEmulatorServeEnvFileRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	link := filepath.Join(dir, "emulator.env")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	r := runInProcess(t, inProcess{}, "emulator", "serve", "--env-file", link)
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "refusing to write the environment file "+link+": it is a symbolic link") {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); !os.IsNotExist(err) {
		t.Error("the link's target was created")
	}
}

func mustWrite(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
