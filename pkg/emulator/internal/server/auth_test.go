package server

import (
	"context"
	"strings"
	"testing"
	"time"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

func TestManagementAPIsNeedAKnownToken(t *testing.T) {
	t.Parallel()
	clock := clock.NewFake(time.Now())
	e := newTestEmulator(t, core.Options{Now: clock.Now})
	parent := "projects/" + e.Project()
	disabled := createSA(t, e, "disabled-caller")
	deleted := createSA(t, e, "deleted-caller")
	expiring := createSA(t, e, "expiring-caller")
	for _, sa := range []string{disabled.Email, deleted.Email, expiring.Email} {
		grantOnProject(t, e, "roles/viewer", "serviceAccount:"+sa)
	}
	disabledTok := accessTokenFor(t, e, disabled.Email)
	deletedTok := accessTokenFor(t, e, deleted.Email)
	expiringTok := accessTokenFor(t, e, expiring.Email)
	for _, tok := range []string{disabledTok, deletedTok, expiringTok} {
		if _, err := iamAs(t, e, tok).Projects.ServiceAccounts.List(parent).Do(); err != nil {
			t.Fatalf("minted token before the change: %v", err)
		}
	}
	owner := ownerIAM(t, e)
	if _, err := owner.Projects.ServiceAccounts.Disable("projects/-/serviceAccounts/"+disabled.Email, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Projects.ServiceAccounts.Delete("projects/-/serviceAccounts/" + deleted.Email).Do(); err != nil {
		t.Fatal(err)
	}
	noAuth, err := iam.NewService(context.Background(), option.WithEndpoint(e.URL()+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		svc  *iam.Service
	}{
		{"no token", noAuth},
		{"unknown token", iamAs(t, e, "ya29.not-a-token")},
		{"disabled account's token", iamAs(t, e, disabledTok)},
		{"deleted account's token", iamAs(t, e, deletedTok)},
	}
	for _, tt := range tests {
		_, err := tt.svc.Projects.ServiceAccounts.List(parent).Do()
		ge := wantCode(t, err, 401)
		if !strings.Contains(string(ge.Body), `"UNAUTHENTICATED"`) {
			t.Errorf("%s: body lacks UNAUTHENTICATED: %s", tt.name, ge.Body)
		}
	}
	// Past its expiry a minted token is refused too.
	if _, err := iamAs(t, e, expiringTok).Projects.ServiceAccounts.List(parent).Do(); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Advance(time.Hour)
	_, err = iamAs(t, e, expiringTok).Projects.ServiceAccounts.List(parent).Do()
	wantCode(t, err, 401)
}

func TestMissingPermissionIs403WithErrorInfo(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "no-perms")
	tok := accessTokenFor(t, e, sa.Email)
	_, err := iamAs(t, e, tok).Projects.ServiceAccounts.Create("projects/"+e.Project(), &iam.CreateServiceAccountRequest{AccountId: "sneaky-one"}).Do()
	ge := wantCode(t, err, 403)
	if !strings.Contains(string(ge.Body), `"PERMISSION_DENIED"`) {
		t.Fatalf("body lacks PERMISSION_DENIED: %s", ge.Body)
	}
	found := false
	for _, d := range ge.Details {
		m, _ := d.(map[string]any)
		md, _ := m["metadata"].(map[string]any)
		if strings.HasSuffix(m["@type"].(string), "google.rpc.ErrorInfo") && m["reason"] == "IAM_PERMISSION_DENIED" && md["permission"] == "iam.serviceAccounts.create" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no ErrorInfo naming the permission in %v", ge.Details)
	}
	// Granted through the project policy, the same token may.
	grantOnProject(t, e, "roles/editor", "serviceAccount:"+sa.Email)
	if _, err := iamAs(t, e, tok).Projects.ServiceAccounts.Create("projects/"+e.Project(), &iam.CreateServiceAccountRequest{AccountId: "allowed-one"}).Do(); err != nil {
		t.Fatalf("after the grant: %v", err)
	}
}

func TestInjectedFaultsReachTheClient(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	s := ownerIAM(t, e)
	parent := "projects/" + e.Project()
	for _, code := range []int{429, 503} {
		e.FailNext(1, code)
		_, err := s.Projects.ServiceAccounts.List(parent).Do()
		ge := wantCode(t, err, code)
		if code == 429 && ge.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		if _, err := s.Projects.ServiceAccounts.List(parent).Do(); err != nil {
			t.Fatalf("after the injected %d: %v", code, err)
		}
	}
	if got := e.Calls()["iam.v1.serviceAccounts.list"]; got != 4 {
		t.Fatalf("counter iam.v1.serviceAccounts.list = %d, want 4", got)
	}
}
