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

// The built binary names the commit it was built from: the repository's
// HEAD. go build stamps it only inside a git checkout (a .git directory;
// not a linked worktree, whose .git is a file) and unless GOFLAGS says
// -buildvcs=false; the test says which when it cannot check.
func TestVersionOfTheBuiltBinary(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot()
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not built from a git checkout (git rev-parse HEAD: %v)", err)
	}
	r := runBin(t, nil, "version", "--json")
	wantExit(t, r, 0, "version --json")
	var got VersionInfo
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, r.Stdout)
	}
	if got.Commit == "" {
		if why := unstampedBecause(t, root); why != "" {
			t.Skipf("the binary has no VCS stamp: %s", why)
		}
		t.Fatalf("built in a git checkout, yet version --json names no commit:\n%s", r.Stdout)
	}
	if want := strings.TrimSpace(string(head)); got.Commit != want {
		t.Errorf("commit %s, want HEAD %s", got.Commit, want)
	}
	if _, err := time.Parse(time.RFC3339, got.CommitTime); err != nil || got.Modified == nil {
		t.Errorf("commit time %q (%v), modified %v", got.CommitTime, err, got.Modified)
	}
	// A build in a checkout has a pseudo-version naming the commit.
	if !strings.Contains(got.Version, got.Commit[:12]) {
		t.Errorf("version %q does not name commit %s", got.Version, got.Commit[:12])
	}
	r = runBin(t, nil, "--version")
	if r.Stdout != "invokerctl version "+got.Version+"\n" {
		t.Errorf("--version printed %q, version --json %q", r.Stdout, got.Version)
	}
}

// unstampedBecause says why go build leaves no VCS stamp in root, or ""
// when it should have left one.
func unstampedBecause(t *testing.T, root string) string {
	t.Helper()
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		return "the module is not at the top of a git checkout with a .git directory (a linked worktree, or a subdirectory)"
	}
	out, err := exec.Command("go", "env", "GOFLAGS").Output()
	if err == nil && strings.Contains(string(out), "-buildvcs=false") {
		return "GOFLAGS holds -buildvcs=false"
	}
	return ""
}
