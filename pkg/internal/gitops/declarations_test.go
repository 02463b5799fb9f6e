package gitops

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// The layout the README describes: one declaration per team, each valid,
// each with a gcs backend in the one state bucket under its own prefix;
// and a seed that starts an emulator holding that bucket and every
// service the declarations grant on.
func TestDeclarationsAndSeed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(exampleDir, "declarations", "*.yaml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("declarations: %v (%v), want two", files, err)
	}
	seed, err := emulator.LoadSeed(filepath.Join(exampleDir, "emulator-seed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var buckets, services []string
	for _, b := range seed.Buckets {
		buckets = append(buckets, b.Name)
	}
	for _, s := range seed.Services {
		services = append(services, s.Project+"/"+s.Location+"/"+s.Name)
	}
	prefixes := map[string]string{}
	for _, f := range files {
		d, err := config.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		b := d.Terraform.Backend
		if b == nil || b.Type != "gcs" {
			t.Fatalf("%s: backend %+v, want gcs", f, b)
		}
		if !slices.Contains(buckets, b.Config["bucket"]) {
			t.Errorf("%s: state bucket %q is not in the seed's buckets %v", f, b.Config["bucket"], buckets)
		}
		if other, dup := prefixes[b.Config["prefix"]]; dup || b.Config["prefix"] == "" {
			t.Errorf("%s: prefix %q is empty or also %s's: each declaration needs its own state", f, b.Config["prefix"], other)
		}
		prefixes[b.Config["prefix"]] = f
		for _, g := range d.Grants {
			if g.Kind != config.KindService {
				continue
			}
			if key := d.Project + "/" + g.Location + "/" + g.Name; !slices.Contains(services, key) {
				t.Errorf("%s: grants on %s, which the seed does not create (%v)", f, key, services)
			}
		}
	}
	emu, err := emulator.New(emulator.Options{Seed: seed})
	if err != nil {
		t.Fatalf("the seed does not start an emulator: %v", err)
	}
	emu.Close()
}
