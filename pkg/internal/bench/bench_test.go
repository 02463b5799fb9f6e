package bench

import (
	"context"
	"testing"
	"time"
)

func TestProofTiny(t *testing.T) {
	s := Size{Services: 3, Callers: 2}
	for name, f := range map[string]func(context.Context, Size, time.Duration) (proofRun, error){"ours": proveOurs, "loop": proveLoop} {
		r, err := f(context.Background(), s, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %+v", name, r)
	}
}
