package planfile

import (
	"bytes"
	"testing"
)

// FuzzDecode: whatever the bytes, Decode returns a plan or one of its
// refusals, never panics, and a plan it returns encodes and decodes again
// to the same Terraform plan.
func FuzzDecode(f *testing.F) {
	good := encoded(f, samplePlan())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("not a plan"))
	f.Add(rezip(f, map[string][]byte{"tfplan": []byte("x")}))
	f.Add(rezip(f, map[string][]byte{manifestEntry: []byte(`{"format":"invokerctl-plan","formatVersion":1}`), planEntry: nil}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !IsRefusal(err) {
				t.Fatalf("not a typed refusal: %T %v", err, err)
			}
			return
		}
		again, err := Decode(encoded(t, p))
		if err != nil {
			t.Fatalf("re-encoded plan refused: %v", err)
		}
		if !bytes.Equal(again.TerraformPlan, p.TerraformPlan) {
			t.Fatal("Terraform plan differs after re-encoding")
		}
	})
}
