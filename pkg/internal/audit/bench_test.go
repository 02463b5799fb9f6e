package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// BenchmarkAudit audits 4 projects × 50 services with 20 ms added to every
// request, one read at a time (the sequential loop) and on the pool, and
// reports the API calls of one audit. Numbers only; nothing is asserted
// but the report's size.
func BenchmarkAudit(b *testing.B) {
	const projects, perProject = 4, 50
	var seed strings.Builder
	seed.WriteString("defaults: {location: us-central1}\nprojects:\n")
	for p := 0; p < projects; p++ {
		fmt.Fprintf(&seed, "  - id: bench-project-%d\n    policy: [{role: roles/run.invoker, members: [group:callers-%d@example.com]}]\n", p, p)
	}
	seed.WriteString("services:\n")
	for p := 0; p < projects; p++ {
		for s := 0; s < perProject; s++ {
			fmt.Fprintf(&seed, "  - {name: svc-%03d, project: bench-project-%d, policy: [{role: roles/run.invoker, members: [user:u%d@example.com]}]}\n", s, p, s)
		}
	}
	o := testutil.SeedOptions(b, seed.String())
	o.Latency = 20 * time.Millisecond
	emu := testutil.StartEmulator(b, o)
	var ids []string
	for p := 0; p < projects; p++ {
		ids = append(ids, fmt.Sprintf("bench-project-%d", p))
	}
	for _, workers := range []int{1, audit.DefaultWorkers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			c := audittest.Clients(b, emu)
			emu.ResetCalls()
			for i := 0; i < b.N; i++ {
				rep, err := (&audit.Engine{Clients: c, Workers: workers}).Audit(context.Background(), audit.Scope{Projects: ids})
				if err != nil || len(rep.Services) != projects*perProject || len(rep.Errors) > 0 {
					b.Fatalf("audit: %v, %d services, errors %v", err, len(rep.Services), rep.Errors)
				}
			}
			total := 0
			for _, n := range emu.Calls() {
				total += n
			}
			b.ReportMetric(float64(total)/float64(b.N), "apicalls/op")
		})
	}
}
