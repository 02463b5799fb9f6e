package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

func TestAuditDrift(t *testing.T) {
	emu := audittest.Start(t, audittest.FullSeed, emulator.Options{})
	rep := audittest.Audit(t, emu, audittest.FullProject)
	sa := func(id string) string { return "serviceAccount:" + id + "@audit-project.iam.gserviceaccount.com" }
	svc := func(name string) verify.Target {
		return verify.Target{Project: audittest.FullProject, Location: "us-central1", Service: name}
	}
	fn := func(name string) verify.Target {
		return verify.Target{Project: audittest.FullProject, Location: "us-central1", Function: name}
	}
	tests := []struct {
		name string
		exps []verify.Expectation
		want []string // "RULE service principal"
	}{
		{"in step", []verify.Expectation{{Target: svc("batch-api"), Members: []string{sa("batch-caller"), sa("reports-caller")}}}, nil},
		{"declared grant missing", []verify.Expectation{{Target: svc("batch-api"), Members: []string{sa("batch-caller"), sa("reports-caller"), sa("billing-caller")}}},
			[]string{"INV070 batch-api " + sa("billing-caller")}},
		{"undeclared invokers, deleted and inherited left out", []verify.Expectation{{Target: svc("orders-api"), Members: []string{sa("orders-caller")}}},
			[]string{"INV071 orders-api " + sa("legacy-caller")}},
		{"both ways, emails compared case-insensitively", []verify.Expectation{{Target: svc("orders-api"), Members: []string{"serviceAccount:ORDERS-caller@audit-project.iam.gserviceaccount.com", sa("billing-caller")}}},
			[]string{"INV070 orders-api " + sa("billing-caller"), "INV071 orders-api " + sa("legacy-caller")}},
		{"a declared member holding invoke through the project is present", []verify.Expectation{{Target: svc("public-site"), Members: []string{"group:all-callers@example.com"}, Public: true}}, nil},
		{"declared target not found", []verify.Expectation{{Target: svc("gone-api"), Members: []string{sa("orders-caller")}}},
			[]string{"INV070 gone-api "}},
		{"event-driven function: its trigger account is not drift", []verify.Expectation{{Target: fn("on-upload"), Members: []string{sa("batch-caller")}}}, nil},
		{"two declarations of one target add up", []verify.Expectation{
			{Target: svc("orders-api"), Members: []string{sa("orders-caller")}},
			{Target: svc("orders-api"), Members: []string{sa("legacy-caller")}}}, nil},
		{"other projects are out of scope", []verify.Expectation{{Target: verify.Target{Project: "elsewhere", Location: "us-central1", Service: "x"}, Members: []string{sa("a")}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range audit.Drift(rep, tt.exps) {
				got = append(got, f.Rule+" "+f.Service[strings.LastIndexByte(f.Service, '/')+1:]+" "+f.Principal)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("drift = %q, want %q", got, tt.want)
			}
		})
	}
}
