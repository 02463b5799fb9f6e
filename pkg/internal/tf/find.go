// Package tf runs Terraform for a declaration: it finds or installs the
// binary (hc-install), lays out a working directory with a generated root
// module that calls terraform/modules/cloud-run-invokers, and drives init,
// plan, show, apply and output through terraform-exec. Plans are turned into
// a summary of grant changes.
package tf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hc-install/fs"
	"github.com/hashicorp/hc-install/product"
	"github.com/hashicorp/hc-install/releases"
	"github.com/hashicorp/hc-install/src"
)

// MinVersion is the oldest Terraform the module supports.
const MinVersion = "1.5.0"

// FindOptions say where Terraform may come from.
type FindOptions struct {
	// ExecPath is an explicit binary (--terraform). When set it is the only
	// source: no PATH lookup and no download. Any Terraform-compatible CLI
	// works here, OpenTofu included.
	ExecPath string
	// Version pins an exact version ("1.11.4"): PATH and InstallDir are
	// searched for it, then it is downloaded.
	Version string
	// InstallDir receives downloaded binaries and is searched after PATH;
	// default: the user cache directory (…/invokerctl/terraform).
	InstallDir string
	// NoDownload skips the HashiCorp releases source.
	NoDownload bool
	// ReleasesURL overrides the releases site (a mirror with the same
	// layout); empty means HashiCorp's.
	ReleasesURL string
	// DownloadTimeout bounds the download; default 2 minutes.
	DownloadTimeout time.Duration
}

// Attempt records what one source tried and why it did not yield a binary.
type Attempt struct {
	Source string
	Err    error
}

// NotFoundError says that no source produced a usable Terraform, listing
// what each one tried. Callers branch on it with errors.As.
type NotFoundError struct {
	Attempts []Attempt
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("no usable Terraform found:")
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "\n  - %s: %v", a.Source, a.Err)
	}
	b.WriteString("\ninstall Terraform >= " + MinVersion + " on PATH, or pass --terraform PATH")
	return b.String()
}

// Unwrap returns each source's error.
func (e *NotFoundError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// source is one place to look, with a description for error messages.
type source struct {
	desc string
	src  src.Source
}

// DefaultInstallDir is where downloaded Terraform binaries are kept.
func DefaultInstallDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "invokerctl", "terraform")
}

// sources builds the ordered list of sources for o (pure: no I/O), so the
// order and settings are unit-tested.
func (o FindOptions) sources() ([]source, error) {
	if o.ExecPath != "" {
		if o.Version != "" {
			return nil, fmt.Errorf("--terraform and --terraform-version cannot be combined: the binary at %s is used as it is", o.ExecPath)
		}
		abs, err := filepath.Abs(o.ExecPath)
		if err != nil {
			return nil, err
		}
		return []source{{desc: "--terraform " + abs, src: &fs.AnyVersion{ExactBinPath: abs}}}, nil
	}
	installDir := o.InstallDir
	if installDir == "" {
		installDir = DefaultInstallDir()
	}
	timeout := o.DownloadTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	var out []source
	if o.Version != "" {
		v, err := version.NewVersion(o.Version)
		if err != nil {
			return nil, fmt.Errorf("terraform version %q: %w", o.Version, err)
		}
		out = append(out, source{
			desc: fmt.Sprintf("terraform %s on PATH or in %s", v, installDir),
			src:  &fs.ExactVersion{Product: product.Terraform, Version: v, ExtraPaths: []string{installDir}},
		})
		if !o.NoDownload {
			out = append(out, source{
				desc: fmt.Sprintf("download of terraform %s from %s", v, releasesName(o.ReleasesURL)),
				src: &releases.ExactVersion{Product: product.Terraform, Version: v, InstallDir: installDir,
					Timeout: timeout, ApiBaseURL: o.ReleasesURL},
			})
		}
		return out, nil
	}
	c, err := version.NewConstraint(">= " + MinVersion)
	if err != nil {
		return nil, err
	}
	out = append(out, source{
		desc: fmt.Sprintf("terraform >= %s on PATH or in %s", MinVersion, installDir),
		src:  &fs.Version{Product: product.Terraform, Constraints: c, ExtraPaths: []string{installDir}},
	})
	if !o.NoDownload {
		out = append(out, source{
			desc: fmt.Sprintf("download of the latest terraform from %s", releasesName(o.ReleasesURL)),
			src: &releases.LatestVersion{Product: product.Terraform, Constraints: c, InstallDir: installDir,
				Timeout: timeout, ApiBaseURL: o.ReleasesURL},
		})
	}
	return out, nil
}

func releasesName(u string) string {
	if u == "" {
		return "HashiCorp releases"
	}
	return u
}

// Find returns the path of a usable Terraform: the first source in order
// that yields one. When none does, the error is a *NotFoundError.
func Find(ctx context.Context, o FindOptions) (string, error) {
	srcs, err := o.sources()
	if err != nil {
		return "", err
	}
	nf := &NotFoundError{}
	for _, s := range srcs {
		if v, ok := s.src.(src.Validatable); ok {
			if err := v.Validate(); err != nil {
				nf.Attempts = append(nf.Attempts, Attempt{Source: s.desc, Err: err})
				continue
			}
		}
		if inst, ok := s.src.(*releases.ExactVersion); ok {
			if err := os.MkdirAll(inst.InstallDir, 0o755); err != nil {
				nf.Attempts = append(nf.Attempts, Attempt{Source: s.desc, Err: err})
				continue
			}
		}
		if inst, ok := s.src.(*releases.LatestVersion); ok {
			if err := os.MkdirAll(inst.InstallDir, 0o755); err != nil {
				nf.Attempts = append(nf.Attempts, Attempt{Source: s.desc, Err: err})
				continue
			}
		}
		var path string
		switch s := s.src.(type) {
		case src.Findable:
			path, err = s.Find(ctx)
		case src.Installable:
			path, err = s.Install(ctx)
		default:
			err = fmt.Errorf("unsupported source %T", s)
		}
		if err == nil {
			if _, explicit := s.src.(*fs.AnyVersion); explicit {
				err = checkExplicitVersion(ctx, path)
			}
		}
		if err == nil {
			return path, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if _, onPath := s.src.(*fs.Version); onPath {
			err = explainPathMiss(ctx, err)
		}
		if _, onPath := s.src.(*fs.ExactVersion); onPath {
			err = explainPathMiss(ctx, err)
		}
		nf.Attempts = append(nf.Attempts, Attempt{Source: s.desc, Err: err})
	}
	return "", nf
}

// checkExplicitVersion refuses a --terraform binary that reports a Terraform
// version older than MinVersion. A binary whose version output is not
// Terraform's (OpenTofu prints "OpenTofu v1.x") is accepted as given.
func checkExplicitVersion(ctx context.Context, path string) error {
	v, err := product.Terraform.GetVersion(ctx, path)
	if err != nil {
		return nil
	}
	if v.LessThan(version.Must(version.NewVersion(MinVersion))) {
		return fmt.Errorf("%s is Terraform %s; the module needs >= %s", path, v, MinVersion)
	}
	return nil
}

// explainPathMiss adds the version of the terraform that PATH does hold, when
// it was passed over for its version: "found /usr/bin/terraform 1.4.7".
func explainPathMiss(ctx context.Context, err error) error {
	p, lookErr := exec.LookPath(product.Terraform.BinaryName())
	if lookErr != nil {
		return err
	}
	v, verr := product.Terraform.GetVersion(ctx, p)
	if verr != nil {
		return fmt.Errorf("%w (found %s, but could not read its version: %v)", err, p, verr)
	}
	return fmt.Errorf("%w (found %s, version %s, which does not qualify)", err, p, v)
}
