package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// `invokerctl version`: what the Go build info and -ldflags give, the
// command's text and JSON, and the built binary's commit against the
// repository's HEAD.

func TestVersionInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-03T01:03:16Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    VersionInfo
	}{
		{name: "no build info", ldflags: "dev", bi: nil,
			want: VersionInfo{Version: "dev", GoVersion: runtime.Version()}},
		{name: "go install @v1.4.0", ldflags: "dev", bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}},
			want: VersionInfo{Version: "v1.4.0", GoVersion: "go1.26.1"}},
		{name: "a local build without VCS", ldflags: "dev", bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			want: VersionInfo{Version: "dev", GoVersion: "go1.26.1"}},
		{name: "a build in a git checkout with local changes", ldflags: "dev",
			bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.0.0-20261203010316-0123456789ab+dirty"}, Settings: vcs},
			want: VersionInfo{Version: "v0.0.0-20261203010316-0123456789ab+dirty", GoVersion: "go1.26.1",
				Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-12-03T01:03:16Z", Modified: &yes}},
		{name: "-ldflags wins over the module version", ldflags: "v2.0.0-rc1",
			bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			want: VersionInfo{Version: "v2.0.0-rc1", GoVersion: "go1.26.1", Commit: "abc", Modified: &no}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := versionInfo(tc.ldflags, tc.bi)
			tc.want.OS, tc.want.Arch = runtime.GOOS, runtime.GOARCH
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Errorf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	want := currentVersion()
	r := runInProcess(t, inProcess{}, "version")
	wantExit(t, r, 0, "version")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if lines[0] != "invokerctl "+want.Version {
		t.Errorf("first line %q, want %q", lines[0], "invokerctl "+want.Version)
	}
	for _, w := range []string{"go:       " + runtime.Version(), "platform: " + runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(r.Stdout, w+"\n") {
			t.Errorf("version lacks %q:\n%s", w, r.Stdout)
		}
	}

	r = runInProcess(t, inProcess{}, "version", "--json")
	wantExit(t, r, 0, "version --json")
	var got VersionInfo
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, r.Stdout)
	}
	if got.Version != want.Version || got.GoVersion != runtime.Version() || got.OS != runtime.GOOS || got.Arch != runtime.GOARCH {
		t.Errorf("version --json = %+v", got)
	}

	r = runInProcess(t, inProcess{}, "--version")
	wantExit(t, r, 0, "--version")
	if r.Stdout != "invokerctl version "+want.Version+"\n" {
		t.Errorf("--version printed %q, want the version of `version`, %q", r.Stdout, want.Version)
	}

	r = runInProcess(t, inProcess{}, "version", "extra")
	wantExit(t, r, cmdutil.ExitUsage, "version extra")
}

// A binary built in the checkout names the commit it was built from: the
// repository's HEAD. The test builds its own with -buildvcs=true, since
// the environment's GOFLAGS may turn stamping off for the shared test
// binary; go build stamps only at the top of a git checkout (a .git
// directory, not a linked worktree), and the test says so when it cannot.
func TestVersionOfTheBuiltBinary(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot()
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not built from a git checkout (git rev-parse HEAD: %v)", err)
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skip("the module is not at the top of a git checkout with a .git directory (a linked worktree, or a subdirectory): go build does not stamp it")
	}
	bin := filepath.Join(t.TempDir(), "invokerctl")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/invokerctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("invokerctl %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	out := run("version", "--json")
	var got VersionInfo
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if want := strings.TrimSpace(string(head)); got.Commit != want {
		t.Fatalf("commit %q, want HEAD %s\n%s", got.Commit, want, out)
	}
	if _, err := time.Parse(time.RFC3339, got.CommitTime); err != nil || got.Modified == nil {
		t.Errorf("commit time %q (%v), modified %v", got.CommitTime, err, got.Modified)
	}
	// A build in a checkout has a pseudo-version naming the commit.
	if !strings.Contains(got.Version, got.Commit[:12]) {
		t.Errorf("version %q does not name commit %s", got.Version, got.Commit[:12])
	}
	if v := run("--version"); v != "invokerctl version "+got.Version+"\n" {
		t.Errorf("--version printed %q, version --json %q", v, got.Version)
	}
}
