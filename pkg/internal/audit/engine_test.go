package audit

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// examples is the repository's examples/audit directory.
func examples(t testing.TB, name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "audit", name)
}

// startEstate starts an emulator seeded with examples/audit/SEED.
func startEstate(t testing.TB, seed string, o emulator.Options) *emulator.Emulator {
	t.Helper()
	o.SeedFile = examples(t, seed)
	return testutil.StartEmulator(t, o)
}

// clients are the real Google clients pointed at emu, with fast retries.
func clients(t testing.TB, emu *emulator.Emulator) *gcp.Clients {
	t.Helper()
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: emu.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: emu.BootstrapToken()}),
		Base:        RateLimited(http.DefaultTransport, rate.NewLimiter(rate.Inf, 1)),
		Retry:       gcp.RetryPolicy{Initial: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func audit(t testing.TB, emu *emulator.Emulator, projects ...string) *Report {
	t.Helper()
	rep, err := (&Engine{Clients: clients(t, emu)}).Audit(context.Background(), Scope{Projects: projects})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func expectations(t testing.TB, file string) *config.Declaration {
	t.Helper()
	d, err := config.Load(examples(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fullReport is the seeded estate with every finding, drift included.
func fullReport(t testing.TB) (*Report, *emulator.Emulator) {
	emu := startEstate(t, "seed.yaml", emulator.Options{})
	rep := audit(t, emu, "audit-project")
	rep.Findings = append(Findings(rep), Drift(rep, pipeline.Expectations(expectations(t, "invokers.yaml")))...)
	rep.Sort()
	return rep, emu
}

func TestAuditFindsEveryRule(t *testing.T) {
	rep, _ := fullReport(t)
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	var ids []string
	for _, s := range rep.Services {
		ids = append(ids, s.ID)
	}
	want := []string{"batch-api", "internal-api", "on-upload", "open-api", "orders-api", "partner-api", "public-site", "resize-image"}
	sort.Strings(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("services = %v, want %v", ids, want)
	}
	got := map[string]int{}
	for _, f := range rep.Findings {
		got[f.Rule]++
	}
	for _, r := range Rules() {
		if got[r.ID] == 0 {
			t.Errorf("no %s (%s) finding; findings: %v", r.ID, r.Name, got)
		}
	}
	// Spot checks: the exact principal and path of some findings.
	tests := []struct {
		rule, service, principal string
		path                     PathKind
	}{
		{RuleAncestorInvoke.ID, "orders-api", "group:all-callers@example.com", PathProject},
		{RuleBroadRole.ID, "batch-api", "serviceAccount:batch-caller@audit-project.iam.gserviceaccount.com", PathProject},
		{RuleDriftUndeclared.ID, "orders-api", "serviceAccount:legacy-caller@audit-project.iam.gserviceaccount.com", PathService},
		{RuleDriftMissing.ID, "batch-api", "serviceAccount:billing-caller@audit-project.iam.gserviceaccount.com", PathService},
		{RuleEventFunction.ID, "on-upload", "serviceAccount:batch-caller@audit-project.iam.gserviceaccount.com", PathService},
		{RuleCustomRole.ID, "batch-api", "serviceAccount:reports-caller@audit-project.iam.gserviceaccount.com", PathService},
	}
	for _, tt := range tests {
		found := false
		for _, f := range rep.Findings {
			if f.Rule == tt.rule && strings.HasSuffix(f.Service, "/"+tt.service) && f.Principal == tt.principal && f.Path != nil && f.Path.Kind == tt.path {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s on %s for %s (%s)", tt.rule, tt.service, tt.principal, tt.path)
		}
	}
	// The trigger account of on-upload is no finding of INV040 or INV071.
	for _, f := range rep.Findings {
		if strings.Contains(f.Principal, "upload-trigger@") {
			t.Errorf("trigger account reported: %+v", f)
		}
	}
}

func TestAuditCleanEstate(t *testing.T) {
	emu := startEstate(t, "clean-seed.yaml", emulator.Options{})
	rep := audit(t, emu, "clean-project")
	findings := append(Findings(rep), Drift(rep, pipeline.Expectations(expectations(t, "clean-invokers.yaml")))...)
	if len(findings) > 0 || len(rep.Errors) > 0 {
		t.Errorf("clean estate: findings %+v, errors %v", findings, rep.Errors)
	}
	if len(rep.Services) != 2 {
		t.Errorf("services = %d, want 2", len(rep.Services))
	}
}
