package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"golang.org/x/oauth2"
)

// BenchmarkVerify measures verifying 50 services × 4 grants each against the
// emulator over real HTTP with the real run/v2 and CRM clients. It reports
// API calls per verification so a regression in call batching shows up as a
// number, not as seconds.
func BenchmarkVerify(b *testing.B) {
	const services, members = 50, 4
	var seed strings.Builder
	seed.WriteString("defaults: {project: bench-proj, location: us-central1}\nprojects: [{id: bench-proj}]\nserviceAccounts:\n")
	for m := 0; m < members; m++ {
		fmt.Fprintf(&seed, "  - accountId: caller-%03d\n", m)
	}
	seed.WriteString("services:\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&seed, "  - name: svc-%03d\n    policy:\n      - role: roles/run.invoker\n        members:\n", s)
		for m := 0; m < members; m++ {
			fmt.Fprintf(&seed, "          - serviceAccount:caller-%03d@bench-proj.iam.gserviceaccount.com\n", m)
		}
	}
	sd, err := emulator.ParseSeed([]byte(seed.String()), "bench-seed.yaml")
	if err != nil {
		b.Fatal(err)
	}
	e, err := emulator.New(emulator.Options{Project: "bench-proj", Seed: sd})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	clients, err := gcp.New(context.Background(), gcp.Options{Endpoint: e.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.BootstrapToken()})})
	if err != nil {
		b.Fatal(err)
	}
	var exps []Expectation
	for s := 0; s < services; s++ {
		for m := 0; m < members; m++ {
			exps = append(exps, Expectation{
				Target:  Target{Project: "bench-proj", Location: "us-central1", Service: fmt.Sprintf("svc-%03d", s)},
				Members: []string{fmt.Sprintf("serviceAccount:caller-%03d@bench-proj.iam.gserviceaccount.com", m)},
			})
		}
	}
	e.ResetCalls()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := (&Verifier{Clients: clients}).Verify(context.Background(), exps)
		if err != nil || !rep.OK() {
			b.Fatalf("verify: %v ok=%v", err, rep.OK())
		}
	}
	b.StopTimer()
	total := 0
	for _, n := range e.Calls() {
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "apicalls/op")
	b.ReportMetric(float64(len(exps)), "grants/op")
}
