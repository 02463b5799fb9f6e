package audit_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

func TestAuditFindsEveryRule(t *testing.T) {
	rep, _ := audittest.Full(t)
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
	for _, r := range audit.Rules() {
		// Accounts are read by drift only (DeclaredDrift): its test
		// (declared_test.go) finds that rule.
		if r.ID == audit.RuleDriftAccountDisabled.ID {
			continue
		}
		if got[r.ID] == 0 {
			t.Errorf("no %s (%s) finding; findings: %v", r.ID, r.Name, got)
		}
	}
	// Spot checks: the exact principal and path of some findings.
	tests := []struct {
		rule, service, principal string
		path                     audit.PathKind
	}{
		{audit.RuleAncestorInvoke.ID, "orders-api", "group:all-callers@example.com", audit.PathProject},
		{audit.RuleBroadRole.ID, "batch-api", "serviceAccount:batch-caller@audit-project.iam.gserviceaccount.com", audit.PathProject},
		{audit.RuleDriftUndeclared.ID, "orders-api", "serviceAccount:legacy-caller@audit-project.iam.gserviceaccount.com", audit.PathService},
		{audit.RuleDriftMissing.ID, "batch-api", "serviceAccount:billing-caller@audit-project.iam.gserviceaccount.com", audit.PathService},
		{audit.RuleEventFunction.ID, "on-upload", "serviceAccount:batch-caller@audit-project.iam.gserviceaccount.com", audit.PathService},
		{audit.RuleCustomRole.ID, "batch-api", "serviceAccount:reports-caller@audit-project.iam.gserviceaccount.com", audit.PathService},
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
	emu := audittest.Start(t, audittest.CleanSeed, emulator.Options{})
	rep := audittest.WithFindings(t, audittest.Audit(t, emu, audittest.CleanProject), audittest.CleanDeclaration)
	if len(rep.Findings) > 0 || len(rep.Errors) > 0 {
		t.Errorf("clean estate: findings %+v, errors %v", rep.Findings, rep.Errors)
	}
	if len(rep.Services) != 2 {
		t.Errorf("services = %d, want 2", len(rep.Services))
	}
}

// --location limits the audit to one region; without it every region is
// listed at once (locations/-).
func TestAuditLocation(t *testing.T) {
	emu := testutil.StartSeeded(t, `
defaults: {project: region-project}
projects: [{id: region-project}]
services:
  - {name: api-us, location: us-central1}
  - {name: api-eu, location: europe-west1}
functions:
  - {name: fn-eu, location: europe-west1, runtime: go125, entryPoint: F}
`)
	c := audittest.Clients(t, emu)
	tests := []struct {
		location string
		want     []string
	}{
		{"", []string{"api-eu", "api-us", "fn-eu"}},
		{"europe-west1", []string{"api-eu", "fn-eu"}},
		{"us-central1", []string{"api-us"}},
		{"asia-east1", nil},
	}
	for _, tt := range tests {
		t.Run("location="+tt.location, func(t *testing.T) {
			rep, err := (&audit.Engine{Clients: c}).Audit(context.Background(), audit.Scope{Projects: []string{"region-project"}, Location: tt.location})
			if err != nil || len(rep.Errors) > 0 {
				t.Fatalf("audit: %v %v", err, rep.Errors)
			}
			var got []string
			for _, s := range rep.Services {
				got = append(got, s.ID)
				if s.ID == "fn-eu" && (s.Function == nil || s.Function.EventDriven) {
					t.Errorf("fn-eu not resolved to an HTTP function: %+v", s.Function)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("services = %v, want %v", got, tt.want)
			}
		})
	}
}
