package tf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/terraform"
)

// What a saved plan depends on besides the declaration: the embedded
// module, the providers Terraform installed, and where state lives.

// ModuleDigest is the hex SHA-256 over the embedded module's files that
// every working directory gets (their paths and bytes, in path order).
func ModuleDigest() (string, error) {
	h := sha256.New()
	var paths []string
	err := fs.WalkDir(terraform.Modules, terraform.InvokersModule, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (path.Ext(p) == ".tf" || path.Base(p) == "README.md") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := fs.ReadFile(terraform.Modules, p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// LockedProvider is one provider entry of .terraform.lock.hcl.
type LockedProvider struct {
	Source  string
	Version string
	Hashes  []string
}

// LockFile returns the working directory's dependency lock file (written
// by init).
func (r *Runner) LockFile() ([]byte, error) {
	return os.ReadFile(r.WS.Path(lockFile))
}

// WriteLockFile puts a dependency lock file into the working directory, so
// that the next init installs exactly the providers it names.
func (r *Runner) WriteLockFile(b []byte) error {
	return writeFileAtomic(r.WS.Path(lockFile), b, 0o644)
}

// ParseLockFile reads the provider entries of a dependency lock file, in
// source order.
func ParseLockFile(b []byte) ([]LockedProvider, error) {
	f, diags := hclsyntax.ParseConfig(b, lockFile, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("reading %s: %s", lockFile, diags.Error())
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, fmt.Errorf("reading %s: unexpected syntax", lockFile)
	}
	var out []LockedProvider
	for _, blk := range body.Blocks {
		if blk.Type != "provider" || len(blk.Labels) != 1 {
			continue
		}
		p := LockedProvider{Source: blk.Labels[0]}
		if a := blk.Body.Attributes["version"]; a != nil {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				p.Version = v.AsString()
			}
		}
		if a := blk.Body.Attributes["hashes"]; a != nil {
			v, d := a.Expr.Value(nil)
			if d.HasErrors() || !v.CanIterateElements() {
				return nil, fmt.Errorf("reading %s: provider %s: hashes is not a list", lockFile, p.Source)
			}
			for it := v.ElementIterator(); it.Next(); {
				_, h := it.Element()
				if h.Type() == cty.String && h.IsKnown() && !h.IsNull() {
					p.Hashes = append(p.Hashes, h.AsString())
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// StateBackend says where state lives for d against t: the used backend's
// type, bucket and prefix, or "local" (the working directory).
func StateBackend(d *config.Declaration, t target.Target) (typ, bucket, prefix string) {
	b := usedBackend(d, t)
	if b == nil {
		return "local", "", ""
	}
	return b.Type, b.Config["bucket"], b.Config["prefix"]
}

// ShowPlanText is `terraform show PLANFILE` without color: the plan as
// Terraform prints it for people.
func (r *Runner) ShowPlanText(ctx context.Context, planFile string) (string, error) {
	var out string
	err := r.quiet(func() error {
		return r.run(ctx, func(ctx context.Context) error {
			var err error
			out, err = r.tf.ShowPlanFileRaw(ctx, planFile)
			return err
		})
	})
	if err != nil {
		return "", &StepError{Step: "show", Workdir: r.WS.Dir, Err: err}
	}
	return out, nil
}
