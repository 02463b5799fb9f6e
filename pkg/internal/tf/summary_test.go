package tf

import (
	"encoding/json"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func rc(typ, index string, actions []string, before, after map[string]any) *tfjson.ResourceChange {
	acts := make(tfjson.Actions, len(actions))
	for i, a := range actions {
		acts[i] = tfjson.Action(a)
	}
	var b, a any
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	return &tfjson.ResourceChange{
		Address: "module.invokers." + typ + `.this["` + index + `"]`, Mode: tfjson.ManagedResourceMode,
		Type: typ, Name: "this", Index: index, Change: &tfjson.Change{Actions: acts, Before: b, After: a},
	}
}

func member(name, m string) map[string]any {
	return map[string]any{"project": "p1", "location": "us-central1", "name": name, "member": m, "role": "roles/run.invoker"}
}

func TestSummarize(t *testing.T) {
	full := "projects/p1/locations/us-central1/services/"
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc(typeAccount, "new", []string{"create"}, nil, map[string]any{"account_id": "new-caller", "project": "p1"}),
		rc(typeAccount, "old", []string{"delete"}, map[string]any{"account_id": "old-caller", "email": "old-caller@p1.iam.gserviceaccount.com"}, nil),
		rc(typeAccount, "renamed", []string{"update"}, map[string]any{"email": "r@p1.iam.gserviceaccount.com"}, map[string]any{"account_id": "r"}),
		rc(typeAccount, "same", []string{"no-op"}, map[string]any{}, map[string]any{}),
		// non-authoritative: one added, one removed (state holds the full name)
		rc(typeMember, "service/us-central1/orders|user:a@x.com", []string{"create"}, nil, member("orders", "user:a@x.com")),
		rc(typeMember, "service/us-central1/orders|user:b@x.com", []string{"delete"}, member(full+"orders", "user:b@x.com"), nil),
		// a replace that keeps the same member on the same service is no change
		rc(typeMember, "function/us-central1/fn|user:c@x.com", []string{"delete", "create"}, member(full+"fn", "user:c@x.com"), member("fn", "user:c@x.com")),
		// authoritative binding changed: net diff plus the whole new list
		rc(typeBinding, "service/us-central1/pay", []string{"update"},
			map[string]any{"project": "p1", "location": "us-central1", "name": full + "pay", "members": []any{"user:a@x.com", "user:b@x.com", "user:c@x.com"}},
			map[string]any{"project": "p1", "location": "us-central1", "name": "pay", "members": []any{"user:a@x.com", "user:d@x.com"}}),
		rc(typeTokenCreator, "new", []string{"create"}, nil, map[string]any{"member": "user:ci@x.com"}),
		rc(typeTokenCreator, "old", []string{"delete"}, map[string]any{"member": "user:ci@x.com", "service_account_id": "projects/p1/serviceAccounts/old-caller@p1.iam.gserviceaccount.com"}, nil),
		rc("google_project_iam_member", "x", []string{"create"}, nil, map[string]any{}),
		{Address: "data.x", Mode: tfjson.DataResourceMode, Type: "google_cloudfunctions2_function", Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}}},
	}}
	s := Summarize(plan)
	js, _ := json.MarshalIndent(s, "", " ")

	if len(s.AccountsToCreate) != 1 || s.AccountsToCreate[0].Email != "new-caller@p1.iam.gserviceaccount.com" {
		t.Errorf("create: %s", js)
	}
	if len(s.AccountsToDelete) != 1 || s.AccountsToDelete[0].Email != "old-caller@p1.iam.gserviceaccount.com" || len(s.AccountsToUpdate) != 1 {
		t.Errorf("delete/update: %s", js)
	}
	if len(s.Services) != 2 {
		t.Fatalf("services: %s", js)
	}
	orders, pay := s.Services[0], s.Services[1]
	if orders.Service != "orders" || strings.Join(orders.Add, ",") != "user:a@x.com" || strings.Join(orders.Remove, ",") != "user:b@x.com" || orders.Authoritative {
		t.Errorf("orders: %+v", orders)
	}
	if pay.Service != "pay" || !pay.Authoritative || strings.Join(pay.Add, ",") != "user:d@x.com" ||
		strings.Join(pay.Remove, ",") != "user:b@x.com,user:c@x.com" || strings.Join(pay.Set, ",") != "user:a@x.com,user:d@x.com" {
		t.Errorf("pay: %+v", pay)
	}
	if len(s.TokenCreators) != 2 || s.TokenCreators[0].Action != "add" || s.TokenCreators[1].ServiceAccount != "old-caller@p1.iam.gserviceaccount.com" {
		t.Errorf("token creators: %+v", s.TokenCreators)
	}
	if len(s.Other) != 1 || !strings.Contains(s.Other[0], "google_project_iam_member") {
		t.Errorf("other: %v", s.Other)
	}

	var out strings.Builder
	s.Render(&out)
	for _, want := range []string{
		"  + new-caller@p1.iam.gserviceaccount.com (new)",
		"  - old-caller@p1.iam.gserviceaccount.com (old)",
		"  service orders in p1/us-central1\n    + user:a@x.com\n    - user:b@x.com",
		"  service pay in p1/us-central1, authoritative\n    the invoker list becomes exactly (any other member is removed):\n    = user:a@x.com\n    = user:d@x.com\n    + user:d@x.com",
		"  - user:ci@x.com on old-caller@p1.iam.gserviceaccount.com",
		"Plan: 1 account(s) to create, 1 to update, 1 to delete; 2 invoker member(s) to add, 3 to remove.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("render lacks %q:\n%s", want, out.String())
		}
	}

	empty := Summarize(&tfjson.Plan{})
	out.Reset()
	empty.Render(&out)
	if !empty.Empty() || !strings.Contains(out.String(), "No changes") {
		t.Errorf("empty: %q", out.String())
	}
}
