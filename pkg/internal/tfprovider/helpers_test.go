package tfprovider

import (
	"context"
	"io"
	"log"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// sleepLog records the waits the provider asks for instead of spending
// them.
type sleepLog struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleepLog) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepLog) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func (s *sleepLog) reset() {
	s.mu.Lock()
	s.d = nil
	s.mu.Unlock()
}

// emulatorProviderConfig is a provider block pointing every endpoint at
// the emulator f, with its bootstrap owner's token.
func emulatorProviderConfig(f *testGoogle) map[string]any {
	u := f.url()
	return map[string]any{
		"project":                          f.project,
		"region":                           "us-central1",
		"access_token":                     f.token,
		"cloud_run_v2_custom_endpoint":     u + "/v2/",
		"iam_custom_endpoint":              u + "/v1/",
		"iam_beta_custom_endpoint":         u + "/v1/",
		"iam_credentials_custom_endpoint":  u + "/v1/",
		"resource_manager_custom_endpoint": u + "/v1/",
		"cloudfunctions2_custom_endpoint":  u + "/v2/",
	}
}

// newTestProvider returns a provider configured against f (with extra
// settings merged in) whose waits are recorded, not spent.
func newTestProvider(t *testing.T, f *testGoogle, extra map[string]any) (*provider, *sleepLog) {
	t.Helper()
	sl := &sleepLog{}
	p, err := newProvider(configOptions{sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	cfg := emulatorProviderConfig(f)
	for k, v := range extra {
		cfg[k] = v
	}
	dv, err := encode(p.schemas.Provider, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.ConfigureProvider(context.Background(), &tfprotov5.ConfigureProviderRequest{TerraformVersion: "1.11.4", Config: dv})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Fatalf("configure: %s: %s", d.Summary, d.Detail)
	}
	return p, sl
}

func durations(ds ...float64) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d * float64(time.Second))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMain(m *testing.M) {
	// The provider logs each request for TF_LOG; keep test output quiet.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

func runtimeDir() string { return runtime.GOOS + "_" + runtime.GOARCH }

func timeNow() time.Time { return time.Now() }
