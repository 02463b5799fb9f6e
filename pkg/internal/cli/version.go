package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
)

// VersionOptions are the inputs of `invokerctl version`.
type VersionOptions struct {
	cmdEnv
	JSON bool
}

// VersionInfo is what `invokerctl version` reports: which invokerctl this
// is, from the Go build info (and the -ldflags version, when set).
type VersionInfo struct {
	// Version is the -ldflags "-X ...cli.Version=" value when set, else
	// the module version `go install ...@vX` or a build from a git
	// checkout stamps (a pseudo-version there), else "dev".
	Version string `json:"version"`
	// Commit, CommitTime and Modified are the VCS stamp `go build` leaves
	// when built inside a git checkout; empty (nil) without one.
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commitTime,omitempty"`
	Modified   *bool  `json:"modified,omitempty"`
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
}

// NewCmdVersion builds `version`; runF replaces versionRun in tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print invokerctl's version, the commit it was built from, and the Go toolchain",
		Long: `Print invokerctl's module version, the git commit it was built from (with its time, and
whether the working tree had local changes), the Go version and the platform. The commit
is known when the binary was built inside a git checkout; go install ...@VERSION gives
the module version. --version prints the same version.`,
		Example: `  invokerctl version
  invokerctl version --json | jq -r .commit`,
		Args: noArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, versionRun),
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the version as JSON")
	return cmd
}

func versionRun(opts *VersionOptions) error {
	info := currentVersion()
	if opts.JSON {
		return report.JSON(opts.IO.Out, info)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "invokerctl %s\n", info.Version)
	if info.Commit != "" {
		modified := ""
		if info.Modified != nil && *info.Modified {
			modified = " (with local modifications)"
		}
		fmt.Fprintf(w, "commit:   %s%s\n", info.Commit, modified)
		if info.CommitTime != "" {
			fmt.Fprintf(w, "time:     %s\n", info.CommitTime)
		}
	}
	_, err := fmt.Fprintf(w, "go:       %s\nplatform: %s/%s\n", info.GoVersion, info.OS, info.Arch)
	return err
}

// currentVersion is this binary's VersionInfo.
func currentVersion() VersionInfo {
	bi, _ := debug.ReadBuildInfo() // nil without build info
	return versionInfo(Version, bi)
}

// versionString is the version --version prints: the same as `version`.
func versionString() string { return currentVersion().Version }

// versionInfo reads bi (nil when the binary has no build info); ldflags is
// the -X value of Version, "dev" when unset.
func versionInfo(ldflags string, bi *debug.BuildInfo) VersionInfo {
	info := VersionInfo{Version: ldflags, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if v := bi.Main.Version; (ldflags == "" || ldflags == "dev") && v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.CommitTime = s.Value
		case "vcs.modified":
			m := s.Value == "true"
			info.Modified = &m
		}
	}
	return info
}
