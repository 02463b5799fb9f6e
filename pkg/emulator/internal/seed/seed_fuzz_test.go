package seed

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParseSeed feeds arbitrary documents to ParseSeed: it never panics,
// returns a seed or an error naming the file, and a seed it accepts
// survives a round trip (written back as YAML, it parses to the same seed),
// so nothing it accepts depends on how the file happened to be spelled.
func FuzzParseSeed(f *testing.F) {
	// testdata/fuzz/FuzzParseSeed holds the example seed and the other
	// committed seeds.
	f.Add([]byte("projects: [{id: demo-project}]\n"))
	f.Add([]byte(`{"services":[{"name":"orders-api","project":"demo-project","location":"us-central1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSeed(data, "fuzz.yaml")
		if err != nil {
			if s != nil {
				t.Fatalf("ParseSeed returned a seed with the error %v", err)
			}
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if s == nil {
			t.Fatal("ParseSeed returned neither a seed nor an error")
		}
		out, err := yaml.Marshal(s)
		if err != nil {
			t.Fatalf("an accepted seed does not marshal: %v", err)
		}
		again, err := ParseSeed(out, "fuzz.yaml")
		if err != nil {
			t.Fatalf("an accepted seed, written back, is refused: %v\n%s", err, out)
		}
		out2, err := yaml.Marshal(again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("the round trip changed the seed (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
