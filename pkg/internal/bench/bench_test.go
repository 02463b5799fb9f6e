package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
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

func TestApplyTiny(t *testing.T) {
	testutil.NeedTerraform(t)
	tfPath, err := tf.Find(context.Background(), tf.FindOptions{NoDownload: true})
	if err != nil {
		t.Fatal(err)
	}
	s := Size{Services: 3, Callers: 2}
	cold, warm, err := applyOurs(context.Background(), s, 0, Tools{Terraform: tfPath, Invokerctl: testutil.Binary(t)})
	if err != nil {
		t.Fatal(err)
	}
	loop, err := applyLoop(context.Background(), s, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold %+v warm %+v loop %+v", cold, warm, loop)
}

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
