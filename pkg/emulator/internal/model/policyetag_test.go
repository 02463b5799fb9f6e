package model

import (
	"slices"
	"testing"
	"time"
)

func TestBindingsAtPropagation(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := []*Binding{{Role: "roles/run.invoker", Members: []string{"user:a@b.c"}}}
	p := &Policy{Bindings: []*Binding{{Role: "roles/run.invoker", Members: []string{"user:x@y.z"}}}, PrevBindings: old, UpdateTime: t0}
	if got := p.BindingsAt(t0.Add(time.Second), 10*time.Second); !slices.Equal(got, old) {
		t.Errorf("within the delay: got %v, want the previous bindings", got)
	}
	if got := p.BindingsAt(t0.Add(10*time.Second), 10*time.Second); !slices.Equal(got, p.Bindings) {
		t.Errorf("after the delay: got %v, want the current bindings", got)
	}
	if got := p.BindingsAt(t0, 0); !slices.Equal(got, p.Bindings) {
		t.Errorf("no delay: got %v", got)
	}
	if (*Policy)(nil).BindingsAt(t0, time.Second) != nil {
		t.Error("nil policy has bindings")
	}
}

// An etag names bytes: the URL-safe or unpadded spelling of the current etag
// is the same etag. setPolicy compares this way for every policy (project,
// account, service), so gcloud's read-modify-write never looks stale.
func TestSameEtagEncodings(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"Ae7/MzmpVJk=", "Ae7/MzmpVJk=", true},
		{"Ae7/MzmpVJk=", "Ae7_MzmpVJk=", true},
		{"Ae7+MzmpVJk=", "Ae7-MzmpVJk", true},
		{"Ae7/MzmpVJk=", "Ae7/MzmpVJg=", false},
		{"ACAB", "ACAB", true},
		{"not base64!", "Ae7/MzmpVJk=", false},
	}
	for _, tt := range tests {
		if got := SameEtag(tt.a, tt.b); got != tt.want {
			t.Errorf("sameEtag(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
