package planfile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func samplePlan() *Plan {
	return &Plan{
		Manifest: Manifest{
			InvokerctlVersion: "1.2.3",
			Created:           time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC),
			Declaration:       Declaration{Path: "invokers.yaml", SHA256: DigestBytes([]byte("decl"))},
			ModuleDigest:      DigestBytes([]byte("module")),
			Providers:         []Provider{{Source: "registry.terraform.io/hashicorp/google", Version: "7.0.0", Hashes: []string{"h1:abc"}}},
			Target:            Target{Kind: "emulator", APIEndpoint: "http://127.0.0.1:1/", Project: "demo"},
			Backend:           Backend{Type: "gcs", Bucket: "state", Prefix: "demo"},
			Changes:           true,
			Summary:           json.RawMessage(`{"services":[]}`),
		},
		TerraformPlan: bytes.Repeat([]byte("terraform plan bytes "), 100),
		LockFile:      []byte("provider \"registry.terraform.io/hashicorp/google\" {}\n"),
	}
}

func encoded(t testing.TB, p *Plan) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rezip builds a zip with the given entries, as another tool (or an older
// or newer invokerctl) would.
func rezip(t testing.TB, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAndMode(t *testing.T) {
	p := samplePlan()
	name := filepath.Join(t.TempDir(), "reviewed.plan")
	if err := os.WriteFile(name, []byte("older"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(name, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Format != Format || got.Manifest.FormatVersion != FormatVersion {
		t.Errorf("format = %q v%d", got.Manifest.Format, got.Manifest.FormatVersion)
	}
	if !bytes.Equal(got.TerraformPlan, p.TerraformPlan) || !bytes.Equal(got.LockFile, p.LockFile) {
		t.Error("plan or lock file bytes differ after a round trip")
	}
	if got.Manifest.Target != p.Manifest.Target || got.Manifest.Backend != p.Manifest.Backend || !got.Manifest.Created.Equal(p.Manifest.Created) {
		t.Errorf("manifest differs: %+v", got.Manifest)
	}
	if err := got.Manifest.CheckProviders(p.Manifest.Providers); err != nil {
		t.Errorf("providers differ after a round trip: %v", err)
	}
}

func TestDecodeRefusals(t *testing.T) {
	good := encoded(t, samplePlan())
	manifestWith := func(edit func(m map[string]any)) []byte {
		zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		if err != nil {
			t.Fatal(err)
		}
		entries := map[string][]byte{}
		for _, f := range zr.File {
			b, err := readEntry(f)
			if err != nil {
				t.Fatal(err)
			}
			entries[f.Name] = b
		}
		var m map[string]any
		if err := json.Unmarshal(entries[manifestEntry], &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		entries[manifestEntry], _ = json.Marshal(m)
		return rezip(t, entries)
	}
	flipped := bytes.Clone(good)
	// A byte inside the Terraform plan's compressed data: the CRC-32 or
	// the manifest's digest must catch it.
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == planEntry {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			flipped[off+int64(f.CompressedSize64)/2] ^= 0x55
		}
	}

	tests := []struct {
		name  string
		input []byte
		check func(error) bool
	}{
		{"empty", nil, isNotPlan(false)},
		{"random text", []byte("apiVersion: invokerctl/v1\nproject: demo\n"), isNotPlan(false)},
		{"random bytes", bytes.Repeat([]byte{0x9c, 0x01, 0xfe}, 300), isNotPlan(false)},
		{"bare terraform plan", rezip(t, map[string][]byte{"tfplan": []byte("x"), "tfstate": []byte("{}"), "tfconfig/m-/main.tf": nil}), isNotPlan(true)},
		{"other zip", rezip(t, map[string][]byte{"readme.txt": []byte("hello")}), isNotPlan(false)},
		{"other format", manifestWith(func(m map[string]any) { m["format"] = "something-else" }), isNotPlan(false)},
		{"truncated to half", good[:len(good)/2], isDamaged},
		{"truncated by one byte", good[:len(good)-1], isDamaged},
		{"truncated to the magic", good[:2], isDamaged},
		{"flipped byte", flipped, isDamaged},
		{"manifest not JSON", rezip(t, map[string][]byte{manifestEntry: []byte("{"), planEntry: nil}), isDamaged},
		{"plan missing", func() []byte {
			b := manifestWith(func(map[string]any) {})
			zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			for _, f := range zr.File {
				if f.Name == manifestEntry {
					mb, _ := readEntry(f)
					return rezip(t, map[string][]byte{manifestEntry: mb})
				}
			}
			return nil
		}(), isDamaged},
		{"plan digest differs", manifestWith(func(m map[string]any) { m["planSha256"] = DigestBytes([]byte("other")) }), isDamaged},
		{"format version 99", manifestWith(func(m map[string]any) { m["formatVersion"] = 99 }), isVersion(99)},
		{"format version 0", manifestWith(func(m map[string]any) { delete(m, "formatVersion") }), isVersion(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.input)
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", p.Manifest)
			}
			if !tc.check(err) {
				t.Fatalf("wrong refusal: %T %v", err, err)
			}
			if !IsRefusal(err) {
				t.Errorf("IsRefusal(%v) = false", err)
			}
		})
	}
}

func isNotPlan(terraform bool) func(error) bool {
	return func(err error) bool {
		var np *NotPlanError
		return errors.As(err, &np) && np.TerraformPlan == terraform
	}
}

func isDamaged(err error) bool {
	var de *DamagedError
	return errors.As(err, &de)
}

func isVersion(got int) func(error) bool {
	return func(err error) bool {
		var ve *VersionError
		return errors.As(err, &ve) && ve.Got == got && ve.Want == FormatVersion &&
			bytes.Contains([]byte(err.Error()), []byte("reads version 1"))
	}
}

func TestCheck(t *testing.T) {
	m := samplePlan().Manifest
	same := Current{InvokerctlVersion: m.InvokerctlVersion, DeclarationSHA256: m.Declaration.SHA256, ModuleDigest: m.ModuleDigest, Target: m.Target}
	tests := []struct {
		name string
		edit func(*Current)
		what string // "" when accepted
	}{
		{"same", func(*Current) {}, ""},
		{"declaration edited", func(c *Current) { c.DeclarationSHA256 = DigestBytes([]byte("edited")) }, "changed since the plan was made"},
		{"other project", func(c *Current) { c.Target.Project = "other" }, "another target"},
		{"other emulator", func(c *Current) { c.Target.APIEndpoint = "http://127.0.0.1:2/" }, "another target"},
		{"google", func(c *Current) { c.Target = Target{Kind: "google", Project: "demo"} }, "another target"},
		{"other invokerctl", func(c *Current) { c.InvokerctlVersion = "9.9.9" }, "another invokerctl version"},
		{"other module", func(c *Current) { c.ModuleDigest = DigestBytes([]byte("module 2")) }, "Terraform module"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := same
			tc.edit(&c)
			err := m.Check(c)
			if tc.what == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var me *MismatchError
			if !errors.As(err, &me) || !bytes.Contains([]byte(me.What), []byte(tc.what)) {
				t.Fatalf("err = %v, want a mismatch about %q", err, tc.what)
			}
		})
	}
}

func TestCheckProviders(t *testing.T) {
	m := samplePlan().Manifest
	tests := []struct {
		name string
		got  []Provider
		ok   bool
	}{
		{"same", []Provider{{Source: "registry.terraform.io/hashicorp/google", Version: "7.0.0", Hashes: []string{"h1:abc"}}}, true},
		{"other version", []Provider{{Source: "registry.terraform.io/hashicorp/google", Version: "7.1.0", Hashes: []string{"h1:abc"}}}, false},
		{"other build", []Provider{{Source: "registry.terraform.io/hashicorp/google", Version: "7.0.0", Hashes: []string{"h1:def"}}}, false},
		{"none", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.CheckProviders(tc.got); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
