// Package planfile is the reviewed-plan file format of `invokerctl plan
// --out` and `invokerctl apply PLAN`: an envelope of invokerctl's own
// around Terraform's binary plan. The envelope is a zip archive (each entry
// carries a CRC-32 that the reader checks, and the manifest records the
// SHA-256 of the Terraform plan) holding:
//
//   - manifest.json: what the plan was made from and for (Manifest);
//   - terraform.tfplan: Terraform's plan, applied as is;
//   - dependency-lock.hcl: the .terraform.lock.hcl of the planning run, so
//     that a fresh working directory installs the same provider.
//
// Reading refuses with typed errors that callers branch on: *NotPlanError
// (not an invokerctl plan file, a bare Terraform plan included),
// *DamagedError (truncated or altered) and *VersionError (a format version
// this build does not read).
package planfile

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Format and FormatVersion identify the file format; a reader accepts
// exactly FormatVersion.
const (
	Format        = "invokerctl-plan"
	FormatVersion = 1
)

// Names of the archive's entries.
const (
	manifestEntry = "manifest.json"
	planEntry     = "terraform.tfplan"
	lockEntry     = "dependency-lock.hcl"
	// terraformPlanEntry is the entry every Terraform plan file holds.
	terraformPlanEntry = "tfplan"
)

// MaxSize bounds what the reader accepts, so a wrong path (a disk image, a
// device) fails fast instead of filling memory.
const MaxSize = 256 << 20

// Manifest is what a plan was made from and for.
type Manifest struct {
	Format            string    `json:"format"`
	FormatVersion     int       `json:"formatVersion"`
	InvokerctlVersion string    `json:"invokerctlVersion"`
	Created           time.Time `json:"created"`
	// Declaration is the declaration's path as given to plan and the
	// SHA-256 of its bytes.
	Declaration Declaration `json:"declaration"`
	// ModuleDigest covers the embedded Terraform module's files.
	ModuleDigest string     `json:"moduleDigest"`
	Providers    []Provider `json:"providers"`
	Target       Target     `json:"target"`
	Backend      Backend    `json:"backend"`
	Destroy      bool       `json:"destroy"`
	// Changes is Terraform's own answer: the plan changes something.
	Changes bool `json:"changes"`
	// Summary is the plan as grant changes (the --json summary of plan).
	Summary json.RawMessage `json:"summary,omitempty"`
	// PlanSHA256 is the SHA-256 of the Terraform plan entry.
	PlanSHA256 string `json:"planSha256"`
}

// Declaration identifies the declaration file a plan was made from.
type Declaration struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Provider is one provider of the dependency lock file.
type Provider struct {
	Source  string   `json:"source"`
	Version string   `json:"version"`
	Hashes  []string `json:"hashes"`
}

// Target is where the plan applies: the target's kind ("google" or
// "emulator"), its API endpoint ("" for Google) and the project.
type Target struct {
	Kind        string `json:"kind"`
	APIEndpoint string `json:"apiEndpoint,omitempty"`
	Project     string `json:"project"`
}

// Backend is where the plan's state lives: Type "local" (the working
// directory) or a declared backend type with its bucket and prefix.
type Backend struct {
	Type   string `json:"type"`
	Bucket string `json:"bucket,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// Remote reports whether the state lives outside the working directory.
func (b Backend) Remote() bool { return b.Type != "" && b.Type != "local" }

// Plan is a reviewed plan: its manifest, Terraform's plan and the
// dependency lock file of the planning run.
type Plan struct {
	Manifest      Manifest
	TerraformPlan []byte
	LockFile      []byte
}

// DigestBytes is the hex SHA-256 of b, as manifests record digests.
func DigestBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// NotPlanError says a file is not an invokerctl plan file.
type NotPlanError struct {
	// TerraformPlan is set when the file is a bare Terraform plan.
	TerraformPlan bool
	Reason        string
}

func (e *NotPlanError) Error() string {
	if e.TerraformPlan {
		return "not an invokerctl plan file: it is a bare Terraform plan file; make one with `invokerctl plan -f FILE --out PLAN`"
	}
	return "not an invokerctl plan file (" + e.Reason + "); make one with `invokerctl plan -f FILE --out PLAN`"
}

// DamagedError says a plan file is truncated or altered.
type DamagedError struct {
	Reason string
	Err    error
}

func (e *DamagedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("the plan file is damaged or truncated (%s: %v)", e.Reason, e.Err)
	}
	return fmt.Sprintf("the plan file is damaged or truncated (%s)", e.Reason)
}

func (e *DamagedError) Unwrap() error { return e.Err }

// VersionError says a plan file has a format version this build does not
// read.
type VersionError struct {
	Got, Want int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("the plan file has format version %d; this invokerctl reads version %d: plan again with this invokerctl", e.Got, e.Want)
}

// Encode writes p as a plan file. It fills in the manifest's format,
// version and plan digest.
func Encode(w io.Writer, p *Plan) error {
	m := p.Manifest
	m.Format, m.FormatVersion = Format, FormatVersion
	m.PlanSHA256 = DigestBytes(p.TerraformPlan)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	zw.SetComment("invokerctl reviewed plan: apply with `invokerctl apply PLAN`")
	for _, e := range []struct {
		name string
		data []byte
	}{{manifestEntry, append(mb, '\n')}, {planEntry, p.TerraformPlan}, {lockEntry, p.LockFile}} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: m.Created})
		if err != nil {
			return err
		}
		if _, err := fw.Write(e.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// WriteFile writes p to name atomically (a temporary file renamed over
// it) with mode 0600: a plan can hold state values.
func WriteFile(name string, p *Plan) error {
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// ReadFile reads and checks the plan file name.
func ReadFile(name string) (*Plan, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, &NotPlanError{Reason: fmt.Sprintf("larger than %d MiB", MaxSize>>20)}
	}
	return Decode(b)
}

// zipMagic starts every zip archive (a local file header).
var zipMagic = []byte("PK\x03\x04")

// Decode reads and checks a plan file's bytes.
func Decode(b []byte) (*Plan, error) {
	if !bytes.HasPrefix(b, zipMagic) {
		if len(b) == 0 {
			return nil, &NotPlanError{Reason: "the file is empty"}
		}
		if len(b) < len(zipMagic) && bytes.HasPrefix(zipMagic, b) {
			return nil, &DamagedError{Reason: "it ends after a few bytes"}
		}
		return nil, &NotPlanError{Reason: "not a zip archive"}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, &DamagedError{Reason: "the archive cannot be read", Err: err}
	}
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := entries[f.Name]; dup {
			return nil, &DamagedError{Reason: "entry " + f.Name + " appears twice"}
		}
		entries[f.Name] = f
	}
	mf := entries[manifestEntry]
	if mf == nil {
		_, tfplan := entries[terraformPlanEntry]
		return nil, &NotPlanError{TerraformPlan: tfplan, Reason: "a zip archive without an invokerctl manifest"}
	}
	mb, err := readEntry(mf)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"formatVersion"`
	}
	if err := json.Unmarshal(mb, &head); err != nil {
		return nil, &DamagedError{Reason: "the manifest is not JSON", Err: err}
	}
	if head.Format != Format {
		return nil, &NotPlanError{Reason: fmt.Sprintf("its manifest names format %q", head.Format)}
	}
	if head.FormatVersion != FormatVersion {
		return nil, &VersionError{Got: head.FormatVersion, Want: FormatVersion}
	}
	p := &Plan{}
	if err := json.Unmarshal(mb, &p.Manifest); err != nil {
		return nil, &DamagedError{Reason: "the manifest cannot be read", Err: err}
	}
	pf := entries[planEntry]
	if pf == nil {
		return nil, &DamagedError{Reason: "the Terraform plan is missing"}
	}
	if p.TerraformPlan, err = readEntry(pf); err != nil {
		return nil, err
	}
	if DigestBytes(p.TerraformPlan) != p.Manifest.PlanSHA256 {
		return nil, &DamagedError{Reason: "the Terraform plan does not match the manifest's digest"}
	}
	if lf := entries[lockEntry]; lf != nil {
		if p.LockFile, err = readEntry(lf); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// readEntry reads one entry whole; the zip reader checks its CRC-32 at
// the end.
func readEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > MaxSize {
		return nil, &DamagedError{Reason: "entry " + f.Name + " claims an impossible size"}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, &DamagedError{Reason: "entry " + f.Name, Err: err}
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxSize+1))
	if err != nil {
		return nil, &DamagedError{Reason: "entry " + f.Name, Err: err}
	}
	return b, nil
}

// IsRefusal reports whether err is one of the reader's refusals (as opposed
// to an I/O error such as a missing file).
func IsRefusal(err error) bool {
	var np *NotPlanError
	var de *DamagedError
	var ve *VersionError
	return errors.As(err, &np) || errors.As(err, &de) || errors.As(err, &ve)
}
