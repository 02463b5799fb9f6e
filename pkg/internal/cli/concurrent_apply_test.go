package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// Two applies at once, by two terraform processes whose writes on one
// service overlap for certain.

// setIamPolicyRace is a front for an emulator that makes two writers'
// read-modify-write cycles on one Cloud Run service overlap for certain: it
// holds the first setIamPolicy on each service until a second one for the
// same service arrives, then lets both through at once. The provider
// serializes its cycles on one service within its process, so the second
// comes from another terraform process, which read the policy while the
// first write was held: both carry the same etag, and the emulator must
// answer one of them 409 ABORTED. It records every setIamPolicy answer.
type setIamPolicyRace struct {
	emu     *emulator.Emulator
	timeout time.Duration

	mu       sync.Mutex
	held     map[string]chan struct{} // service → closed when its pair is complete
	released map[string]bool          // services whose first pair went through
	timedOut []string                 // services whose first write waited in vain
	statuses map[string][]string      // service → "409 ABORTED", "200", ...
}

func newSetIamPolicyRace(emu *emulator.Emulator) *setIamPolicyRace {
	return &setIamPolicyRace{emu: emu, timeout: 30 * time.Second, held: map[string]chan struct{}{},
		released: map[string]bool{}, statuses: map[string][]string{}}
}

func (f *setIamPolicyRace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, isSet := strings.CutSuffix(r.URL.Path, ":setIamPolicy")
	i := strings.LastIndex(name, "/services/")
	if !isSet || r.Method != http.MethodPost || i < 0 {
		f.emu.ServeHTTP(w, r)
		return
	}
	svc := name[i+len("/services/"):]
	f.pair(r, svc)
	rec := &statusRecorder{ResponseWriter: w}
	f.emu.ServeHTTP(rec, r)
	answer := fmt.Sprint(rec.status)
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(rec.body.Bytes(), &body) == nil && body.Error.Status != "" {
		answer += " " + body.Error.Status
	}
	f.mu.Lock()
	f.statuses[svc] = append(f.statuses[svc], answer)
	f.mu.Unlock()
}

// pair holds the first setIamPolicy on svc until the second arrives.
func (f *setIamPolicyRace) pair(r *http.Request, svc string) {
	f.mu.Lock()
	if f.released[svc] {
		f.mu.Unlock()
		return
	}
	if ch, ok := f.held[svc]; ok {
		f.released[svc] = true
		close(ch)
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.held[svc] = ch
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(f.timeout):
		f.mu.Lock()
		if !f.released[svc] {
			f.released[svc] = true
			f.timedOut = append(f.timedOut, svc)
		}
		f.mu.Unlock()
	case <-r.Context().Done():
	}
}

// missed lists the services whose first write waited in vain for a second.
func (f *setIamPolicyRace) missed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.timedOut...)
}

// answers returns the recorded setIamPolicy answers of svc.
func (f *setIamPolicyRace) answers(svc string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.statuses[svc]...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Two declarations granting on the same services, applied at the same time
// by two terraform processes whose read-modify-write cycles on each service
// overlap (setIamPolicyRace): on each service one write is refused 409
// ABORTED for its stale etag and retried, and both declarations end with
// all their members. Without the etag (or without the retry) one process's
// write would drop the other's member, or its apply would fail.
func TestConcurrentApplies(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	race := newSetIamPolicyRace(emu)
	front := httptest.NewServer(race)
	t.Cleanup(front.Close)
	env := emuEnv(emu)
	decl := func(prefix string) string {
		dir := t.TempDir()
		f := filepath.Join(dir, "invokers.yaml")
		var b strings.Builder
		b.WriteString("apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\nserviceAccounts:\n")
		for i := 1; i <= 3; i++ {
			b.WriteString("  - name: " + prefix + "-caller-" + string(rune('0'+i)) + "\n")
		}
		b.WriteString("grants:\n")
		for _, svc := range []string{"orders-api", "billing-api"} {
			b.WriteString("  - service: " + svc + "\n    members: [" + prefix + "-caller-1, " + prefix + "-caller-2, " + prefix + "-caller-3]\n")
		}
		os.WriteFile(f, []byte(b.String()), 0o644)
		return f
	}
	files := []string{decl("team-a"), decl("team-b")}
	var wg sync.WaitGroup
	results := make([]cliResult, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runBin(t, env, "apply", "-f", f, "--emulator="+front.URL, "--auto-approve")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("apply %d: exit %d\n%s", i, r.Code, r.Stderr)
		}
	}
	var want []string
	for _, p := range []string{"team-a", "team-b"} {
		for i := 1; i <= 3; i++ {
			want = append(want, sa(p+"-caller-"+string(rune('0'+i))))
		}
	}
	sort.Strings(want)
	for _, svc := range []string{"orders-api", "billing-api"} {
		if got := invokers(t, emu, svc); !eq(got, want) {
			t.Errorf("%s = %v, want all six members", svc, got)
		}
	}
	if missed := race.missed(); len(missed) > 0 {
		t.Fatalf("the first setIamPolicy on %v waited %v for the other apply's; the cycles did not overlap", missed, race.timeout)
	}
	total := 0
	for _, svc := range []string{"orders-api", "billing-api"} {
		answers := race.answers(svc)
		total += len(answers)
		if !slices.Contains(answers, "409 ABORTED") {
			t.Errorf("%s: no setIamPolicy answered 409 ABORTED though two cycles wrote with the same etag; answers %v", svc, answers)
		}
	}
	// Every write went through the front, and there were more writes than
	// the 12 members: the refused ones were retried.
	if calls := emu.Calls()["run.v2.services.setIamPolicy"]; calls != total || calls <= 12 {
		t.Errorf("setIamPolicy calls: %d at the emulator, %d through the front; want equal and more than the 12 members", calls, total)
	}
	t.Logf("setIamPolicy answers: orders-api %v, billing-api %v", race.answers("orders-api"), race.answers("billing-api"))
}
