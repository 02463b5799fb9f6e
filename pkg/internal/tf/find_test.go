package tf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/releases"
)

func TestSourcesOrder(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		opts  FindOptions
		types []string
	}{
		{"default", FindOptions{InstallDir: dir}, []string{"*fs.Version", "*releases.LatestVersion"}},
		{"offline", FindOptions{InstallDir: dir, NoDownload: true}, []string{"*fs.Version"}},
		{"pinned", FindOptions{InstallDir: dir, Version: "1.11.4"}, []string{"*fs.ExactVersion", "*releases.ExactVersion"}},
		{"explicit", FindOptions{ExecPath: "/opt/tofu/tofu"}, []string{"*fs.AnyVersion"}},
	}
	for _, tc := range cases {
		srcs, err := tc.opts.sources()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range srcs {
			got = append(got, fmt.Sprintf("%T", s.src))
		}
		if strings.Join(got, ",") != strings.Join(tc.types, ",") {
			t.Errorf("%s: sources %v, want %v", tc.name, got, tc.types)
		}
	}
	srcs, _ := FindOptions{InstallDir: dir}.sources()
	v := srcs[0].src.(*fs.Version)
	if v.Constraints.String() != ">= "+MinVersion || len(v.ExtraPaths) != 1 || v.ExtraPaths[0] != dir {
		t.Errorf("PATH source: %+v", v)
	}
	lv := srcs[1].src.(*releases.LatestVersion)
	if lv.InstallDir != dir || lv.Constraints.String() != ">= "+MinVersion {
		t.Errorf("download source: %+v", lv)
	}
	if _, err := (FindOptions{Version: "not-a-version"}).sources(); err == nil {
		t.Error("bad pinned version accepted")
	}
}

// fakeTerraform writes an executable that reports version v.
func fakeTerraform(t *testing.T, dir, v string) string {
	t.Helper()
	p := filepath.Join(dir, "terraform")
	script := fmt.Sprintf("#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"terraform_version\":\"%s\"}'; echo 'Terraform v%s'; fi\n", v, v)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// With nothing on PATH and the releases site failing, the error lists what
// every source tried — the offline case.
func TestFindNothingWorks(t *testing.T) {
	empty := t.TempDir()
	old := t.TempDir()
	fakeTerraform(t, old, "1.4.7") // too old: must be skipped, not used
	t.Setenv("PATH", empty+string(os.PathListSeparator)+old)
	releasesSite := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // 5xx would be retried for seconds
	}))
	defer releasesSite.Close()

	_, err := Find(context.Background(), FindOptions{InstallDir: t.TempDir(), ReleasesURL: releasesSite.URL})
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("want *NotFoundError, got %v", err)
	}
	if len(nf.Attempts) != 2 {
		t.Fatalf("want 2 attempts, got %v", nf.Attempts)
	}
	msg := err.Error()
	for _, want := range []string{"terraform >= 1.5.0 on PATH", "1.4.7", "download of the latest terraform from " + releasesSite.URL, "--terraform PATH"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestFindExplicitMissing(t *testing.T) {
	_, err := Find(context.Background(), FindOptions{ExecPath: "/nonexistent/terraform"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || len(nf.Attempts) != 1 || !strings.Contains(err.Error(), "--terraform /nonexistent/terraform") {
		t.Fatalf("got %v", err)
	}
}

func TestFindOnPath(t *testing.T) {
	dir := t.TempDir()
	want := fakeTerraform(t, dir, "1.9.0")
	t.Setenv("PATH", dir)
	got, err := Find(context.Background(), FindOptions{InstallDir: t.TempDir(), NoDownload: true})
	if err != nil || got != want {
		t.Fatalf("Find = %q, %v; want %q", got, err, want)
	}
	// A pinned version that is not there is not silently replaced.
	_, err = Find(context.Background(), FindOptions{InstallDir: t.TempDir(), Version: "1.11.4", NoDownload: true})
	if !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("pinned: %v", err)
	}
	got, err = Find(context.Background(), FindOptions{InstallDir: t.TempDir(), Version: "1.9.0", NoDownload: true})
	if err != nil || got != want {
		t.Fatalf("pinned found %q, %v", got, err)
	}
}

func TestFindRealTerraform(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not on PATH")
	}
	p, err := Find(context.Background(), FindOptions{NoDownload: true})
	if err != nil || !filepath.IsAbs(p) {
		t.Fatalf("%q %v", p, err)
	}
}

// An explicit --terraform is used as given, but not when it reports a
// Terraform older than MinVersion; a non-Terraform version line (OpenTofu)
// is accepted; and a pinned version cannot be combined with it.
func TestFindExplicitVersion(t *testing.T) {
	dir := t.TempDir()
	old := fakeTerraform(t, dir, "1.4.7")
	if _, err := Find(context.Background(), FindOptions{ExecPath: old}); err == nil || !strings.Contains(err.Error(), "needs >= "+MinVersion) {
		t.Fatalf("old terraform accepted: %v", err)
	}
	newer := fakeTerraform(t, t.TempDir(), "1.9.0")
	if got, err := Find(context.Background(), FindOptions{ExecPath: newer}); err != nil || got != newer {
		t.Fatalf("Find = %q, %v", got, err)
	}
	tofu := filepath.Join(t.TempDir(), "tofu")
	if err := os.WriteFile(tofu, []byte("#!/bin/sh\necho 'OpenTofu v1.8.0'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(context.Background(), FindOptions{ExecPath: tofu}); err != nil || got != tofu {
		t.Fatalf("OpenTofu: %q, %v", got, err)
	}
	if _, err := Find(context.Background(), FindOptions{ExecPath: newer, Version: "1.9.0"}); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Fatalf("combined flags: %v", err)
	}
}
