package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/cloudasset/v1"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

// hierSeed is an organization with two branches:
//
//	organizations/4242            cloudasset.viewer: org-auditor; run.invoker: group everyone
//	├── folders/100               folderAdmin: folder-admin
//	│   └── folders/200           viewer: team-viewer
//	│       └── pay-proj          pay-1 … pay-7, each run.invoker: pay-caller
//	├── folders/300
//	│   └── ops-proj              ops-api (run.invoker: ops-caller), ops-fn (a function)
//	└── audit-proj                the accounts
func hierSeed() string {
	var b strings.Builder
	b.WriteString(`
organizations:
  - id: "4242"
    displayName: example.com
    directoryCustomerId: C0abc123
    policy:
      - role: roles/cloudasset.viewer
        members: [serviceAccount:org-auditor@audit-proj.iam.gserviceaccount.com]
      - role: roles/run.invoker
        members: [group:everyone@example.com]
folders:
  - id: "100"
    parent: organizations/4242
    displayName: Payments
    policy:
      - role: roles/resourcemanager.folderAdmin
        members: [serviceAccount:folder-admin@audit-proj.iam.gserviceaccount.com]
  - id: "200"
    parent: folders/100
    displayName: Payments team
    policy:
      - role: roles/viewer
        members: [serviceAccount:team-viewer@audit-proj.iam.gserviceaccount.com]
  - id: "300"
    parent: organizations/4242
    displayName: Operations
projects:
  - id: pay-proj
    number: "100000000001"
    parent: folders/200
  - id: ops-proj
    number: "100000000002"
    parent: folders/300
  - id: audit-proj
    number: "100000000003"
    parent: organizations/4242
defaults:
  location: us-central1
serviceAccounts:
`)
	for _, a := range []string{"org-auditor", "folder-admin", "team-viewer", "nobody-here", "pay-caller", "ops-caller"} {
		fmt.Fprintf(&b, "  - {accountId: %s, project: audit-proj}\n", a)
	}
	b.WriteString("services:\n")
	for i := 1; i <= 7; i++ {
		fmt.Fprintf(&b, "  - name: pay-%d\n    project: pay-proj\n    policy:\n      - role: roles/run.invoker\n        members: [serviceAccount:pay-caller@audit-proj.iam.gserviceaccount.com]\n", i)
	}
	b.WriteString(`  - name: ops-api
    project: ops-proj
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:ops-caller@audit-proj.iam.gserviceaccount.com]
      - role: roles/run.developer
        members: [user:dev@example.com]
functions:
  - name: ops-fn
    project: ops-proj
`)
	return b.String()
}

// hierStart starts an emulator seeded with hierSeed, on a fake clock.
func hierStart(t *testing.T, opts core.Options) (*core.Server, *clock.Fake) {
	t.Helper()
	s, err := seed.ParseSeed([]byte(hierSeed()), "hierSeed")
	if err != nil {
		t.Fatalf("fixture seed: %v", err)
	}
	opts.Seed = s
	if opts.Project == "" {
		opts.Project = "audit-proj"
	}
	fake := clock.NewFake(time.Now())
	opts.Now = fake.Now
	return newTestEmulator(t, opts), fake
}

// apiClient makes a real Google API client (newService is the package's
// NewService) for the emulator with the given token.
func apiClient[S any](t *testing.T, e *core.Server, token string, newService func(context.Context, ...option.ClientOption) (S, error)) S {
	t.Helper()
	s, err := newService(context.Background(), withToken(e, token)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assetAs is a Cloud Asset client with the given token.
func assetAs(t *testing.T, e *core.Server, token string) *cloudasset.Service {
	t.Helper()
	return apiClient(t, e, token, cloudasset.NewService)
}

// tokenOf mints an access token for an account of audit-proj.
func tokenOf(t *testing.T, e *core.Server, account string) string {
	t.Helper()
	return accessTokenFor(t, e, account+"@audit-proj.iam.gserviceaccount.com")
}
