package asset

import (
	"slices"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func TestPolicyQuery(t *testing.T) {
	bs := []*model.Binding{
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:pay@p.iam.gserviceaccount.com", "group:team@example.com"}},
		{Role: "roles/run.developer", Members: []string{"user:dev@example.com"}},
		{Role: "projects/p/roles/invokerLite", Members: []string{"user:lite@example.com"}},
	}
	perms := map[string][]string{
		"roles/run.invoker":            {"run.routes.invoke"},
		"roles/run.developer":          {"run.services.update", "run.routes.invoke"},
		"projects/p/roles/invokerLite": {"run.routes.invoke"},
	}
	tests := []struct {
		query   string
		want    []string // roles of the bindings kept
		wantErr bool
	}{
		{query: "", want: []string{"roles/run.invoker", "roles/run.developer", "projects/p/roles/invokerLite"}},
		{query: `policy:"roles/run.invoker"`, want: []string{"roles/run.invoker"}},
		{query: "policy:team@example.com", want: []string{"roles/run.invoker"}},
		{query: "policy.role.permissions:run.routes.invoke", want: []string{"roles/run.invoker", "roles/run.developer", "projects/p/roles/invokerLite"}},
		{query: "policy.role.permissions:run.services.*", want: []string{"roles/run.developer"}},
		{query: "policy.role.permissions:run.services", want: nil}, // exact without *
		{query: "roles:roles/run.developer", want: []string{"roles/run.developer"}},
		{query: "roles=roles/run.invoke", want: nil},
		{query: "memberTypes:user policy.role.permissions:run.routes.invoke", want: []string{"roles/run.developer", "projects/p/roles/invokerLite"}},
		{query: "memberTypes:group AND policy:pay", want: []string{"roles/run.invoker"}},
		{query: "resource:services/api", want: []string{"roles/run.invoker", "roles/run.developer", "projects/p/roles/invokerLite"}},
		{query: "resource:services/other", want: nil},
		{query: "lite", want: []string{"projects/p/roles/invokerLite"}},
		{query: "policy:a OR policy:b", wantErr: true},
		{query: "NOT policy:a", wantErr: true},
		{query: "(policy:a)", wantErr: true},
		{query: "-policy:a", wantErr: true},
		{query: "labels.env:prod", wantErr: true}, // a resource field
		{query: "policy:", wantErr: true},
	}
	const resource = "//run.googleapis.com/projects/p/locations/us-central1/services/api"
	for _, tt := range tests {
		terms, err := parseQuery(tt.query, iamFields)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v, want error %v", tt.query, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		m := policyMatcher{terms: terms, perms: func(role string) []string { return perms[role] }}
		var got []string
		if m.resourceOK(resource) {
			for _, b := range m.bindings(resource, bs) {
				got = append(got, b.Role)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestResourceQueryAndTypes(t *testing.T) {
	it := &item{name: "//run.googleapis.com/projects/p/locations/europe-west1/services/orders", displayName: "orders",
		location: "europe-west1", labels: map[string]string{"env": "prod"}, assetType: TypeRunService}
	tests := []struct {
		query string
		want  bool
	}{
		{"", true},
		{"name:orders", true},
		{"name=orders", false}, // the full name
		{"location:europe-west1 labels.env:prod", true},
		{"labels.env:dev", false},
		{"labels:prod", true},
		{"displayName:ORD*", true},
		{"state:ACTIVE", false},
		{"payments", false},
	}
	for _, tt := range tests {
		terms, err := parseQuery(tt.query, resourceFields)
		if err != nil {
			t.Fatalf("%q: %v", tt.query, err)
		}
		if got := resourceMatches(terms, it); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.query, got, tt.want)
		}
	}
	if _, err := parseQuery("policy:x", resourceFields); err == nil {
		t.Error("an IAM field was accepted by the resource search")
	}

	types := []struct {
		values []string
		typ    string
		want   bool
	}{
		{nil, TypeFunction, true},
		{[]string{TypeRunService}, TypeRunService, true},
		{[]string{TypeRunService}, TypeFunction, false},
		{[]string{"run.googleapis.com.*"}, TypeRunService, true},
		{[]string{".*Service"}, TypeFolder, false},
		{[]string{"run.googleapis.com"}, TypeRunService, false}, // whole type only
		{[]string{TypeRunService + "," + TypeFunction}, TypeFunction, true},
	}
	for _, tt := range types {
		keep, err := typeFilter(tt.values)
		if err != nil {
			t.Fatalf("%v: %v", tt.values, err)
		}
		if got := keep(tt.typ); got != tt.want {
			t.Errorf("%v on %s: %v, want %v", tt.values, tt.typ, got, tt.want)
		}
	}
	if _, err := typeFilter([]string{"run.googleapis.com/(Service"}); err == nil {
		t.Error("a bad expression was accepted")
	}
}
