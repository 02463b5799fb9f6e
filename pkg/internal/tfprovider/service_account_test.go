package tfprovider

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func saPlan(aid string) map[string]any {
	return map[string]any{"account_id": aid, "project": "proj-1", "display_name": "Invoker", "disabled": false, "deletion_policy": "DELETE"}
}

const (
	existingEmail = "invoker-one@proj-1.iam.gserviceaccount.com"
	existingName  = "projects/proj-1/serviceAccounts/" + existingEmail
)

// addExistingAccount makes invoker-one outside Terraform, with its own
// display name.
func addExistingAccount(f *testGoogle) {
	f.call("POST", "/v1/projects/proj-1/serviceAccounts", map[string]any{
		"accountId": "invoker-one", "serviceAccount": map[string]any{"displayName": "Made by hand"},
	})
}

func ignoreExisting(plan map[string]any) map[string]any {
	plan["create_ignore_already_exists"] = true
	return plan
}

func TestServiceAccountCreate(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *testGoogle)
		plan      map[string]any
		wantReqs  []string
		wantWaits []float64
		wantErr   string
		// wantDisplayName is the display_name in state; default the
		// planned one.
		wantDisplayName string
		wantNoState     bool
	}{
		{
			name: "create then three consistent reads",
			plan: saPlan("invoker-one"),
			wantReqs: []string{
				"POST /v1/projects/proj-1/serviceAccounts",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
			},
			wantWaits: []float64{0.5, 0.5},
		},
		{
			name:  "a 404 while polling restarts the count",
			setup: func(f *testGoogle) { f.fail("GET", "invoker-one@proj-1.iam.gserviceaccount.com", 1, 404, nil) },
			plan:  saPlan("invoker-one"),
			wantReqs: []string{
				"POST /v1/projects/proj-1/serviceAccounts",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
				"GET /v1/projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com",
			},
			wantWaits: []float64{0.5, 0.5, 0.5},
		},
		{
			name:     "permission denied carries Google's message",
			setup:    func(f *testGoogle) { f.fail("POST", "/serviceAccounts", 1, 403, nil) },
			plan:     saPlan("invoker-one"),
			wantReqs: []string{"POST /v1/projects/proj-1/serviceAccounts"},
			wantErr:  "Error creating service account: googleapi: Error 403: injected 403",
		},
		{
			name:     "already exists fails without create_ignore_already_exists",
			setup:    func(f *testGoogle) { f.addAccount("invoker-one") },
			plan:     saPlan("invoker-one"),
			wantReqs: []string{"POST /v1/projects/proj-1/serviceAccounts"},
			wantErr:  "Error creating service account: googleapi: Error 409: Service account invoker-one already exists",
		},
		{
			// As the real provider: one read, the account taken as it is
			// (its display name, not the configured one), no consistency
			// poll and no patch.
			name:            "already exists is adopted with create_ignore_already_exists",
			setup:           addExistingAccount,
			plan:            ignoreExisting(saPlan("invoker-one")),
			wantReqs:        []string{"POST /v1/projects/proj-1/serviceAccounts", "GET /v1/" + existingName},
			wantDisplayName: "Made by hand",
		},
		{
			name: "adoption retries a 404 with the SDK back-off",
			setup: func(f *testGoogle) {
				addExistingAccount(f)
				f.fail("GET", existingEmail, 2, 404, nil)
			},
			plan:            ignoreExisting(saPlan("invoker-one")),
			wantReqs:        []string{"POST /v1/projects/proj-1/serviceAccounts", "GET /v1/" + existingName, "GET /v1/" + existingName, "GET /v1/" + existingName},
			wantWaits:       []float64{0.5, 1},
			wantDisplayName: "Made by hand",
		},
		{
			// The real provider drops the read's error and sets no id:
			// Terraform gets a null object and fails the apply itself.
			name: "adoption whose read fails returns no object and no error",
			setup: func(f *testGoogle) {
				addExistingAccount(f)
				f.fail("GET", existingEmail, 1, 403, nil)
			},
			plan:        ignoreExisting(saPlan("invoker-one")),
			wantReqs:    []string{"POST /v1/projects/proj-1/serviceAccounts", "GET /v1/" + existingName},
			wantNoState: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestGoogle(t, "")
			if tt.setup != nil {
				tt.setup(f)
			}
			p, sl := newTestProvider(t, f, nil)
			state, err := p.resources["google_service_account"].create(context.Background(), p, tt.plan)
			if got := f.requests(); !equalStrings(got, tt.wantReqs) {
				t.Errorf("requests:\n got %q\nwant %q", got, tt.wantReqs)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sl.get(); !equalDurations(got, durations(tt.wantWaits...)) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			if tt.wantNoState {
				if state != nil {
					t.Fatalf("state = %v, want none", state)
				}
				return
			}
			wantDisplay := tt.wantDisplayName
			if wantDisplay == "" {
				wantDisplay = str(tt.plan, "display_name")
			}
			if state["display_name"] != wantDisplay {
				t.Errorf("display_name = %v, want %q", state["display_name"], wantDisplay)
			}
			email := "invoker-one@proj-1.iam.gserviceaccount.com"
			if state["id"] != "projects/proj-1/serviceAccounts/"+email || state["email"] != email ||
				state["member"] != "serviceAccount:"+email || state["project"] != "proj-1" || str(state, "unique_id") == "" {
				t.Errorf("state = %v", state)
			}
		})
	}
}

func TestServiceAccountCreateRequestBody(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	plan := saPlan("invoker-one")
	plan["description"] = "calls things"
	plan["disabled"] = true
	if _, err := p.resources["google_service_account"].create(context.Background(), p, plan); err != nil {
		t.Fatal(err)
	}
	r := f.requestLog()[0]
	var body map[string]any
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatal(err)
	}
	want := `{"accountId":"invoker-one","serviceAccount":{"description":"calls things","displayName":"Invoker"}}`
	got, _ := json.Marshal(body)
	if string(got) != want {
		t.Errorf("create body = %s, want %s (disabled is not sent)", got, want)
	}
	if r.Query != "alt=json&prettyPrint=false" {
		t.Errorf("query = %q", r.Query)
	}
}

func TestServiceAccountReadUpdateDelete(t *testing.T) {
	f := newTestGoogle(t, "")
	p, sl := newTestProvider(t, f, nil)
	ctx := context.Background()
	r := p.resources["google_service_account"]
	state, err := r.create(ctx, p, saPlan("invoker-one"))
	if err != nil {
		t.Fatal(err)
	}
	id := str(state, "id")
	etag, _ := f.call("GET", "/v1/"+id, nil)["etag"].(string)

	// Update: display name and disabled.
	f.resetLog()
	sl.reset()
	planned := copyMap(state)
	planned["display_name"] = "Renamed"
	planned["disabled"] = true
	if _, err := r.update(ctx, p, state, planned); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v1/" + id, "POST /v1/" + id + ":disable", "PATCH /v1/" + id, "GET /v1/" + id, "GET /v1/" + id, "GET /v1/" + id}
	if got := f.requests(); !equalStrings(got, want) {
		t.Errorf("update requests:\n got %q\nwant %q", got, want)
	}
	for _, rq := range f.requestLog() {
		if rq.Method == "PATCH" && !strings.Contains(rq.Body, `"updateMask":"display_name"`) || rq.Method == "PATCH" && (etag == "" || !strings.Contains(rq.Body, `"etag":"`+etag+`"`)) {
			t.Errorf("patch body = %s", rq.Body)
		}
	}
	got, err := r.read(ctx, p, state)
	if err != nil || got["display_name"] != "Renamed" || got["disabled"] != true || got["account_id"] != "invoker-one" {
		t.Fatalf("read = %v, %v", got, err)
	}

	// ABANDON leaves the account; DELETE removes it; a second delete is fine.
	ab := copyMap(got)
	ab["deletion_policy"] = "ABANDON"
	f.resetLog()
	if err := r.delete(ctx, p, ab); err != nil || len(f.requests()) != 0 {
		t.Fatalf("abandon: %v, %q", err, f.requests())
	}
	pr := copyMap(got)
	pr["deletion_policy"] = "PREVENT"
	if err := r.delete(ctx, p, pr); err == nil {
		t.Error("PREVENT must refuse to delete")
	}
	if err := r.delete(ctx, p, got); err != nil {
		t.Fatal(err)
	}
	if err := r.delete(ctx, p, got); err != nil {
		t.Fatalf("delete of a deleted account should succeed: %v", err)
	}
	if gone, err := r.read(ctx, p, got); err != nil || gone != nil {
		t.Errorf("read after delete = %v, %v; want removed from state", gone, err)
	}
}

func TestServiceAccountImport(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	want := "projects/proj-1/serviceAccounts/sa-one@proj-1.iam.gserviceaccount.com"
	for _, id := range []string{want, "proj-1/sa-one@proj-1.iam.gserviceaccount.com", "sa-one@proj-1.iam.gserviceaccount.com"} {
		st, err := p.resources["google_service_account"].importState(context.Background(), p, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if st["id"] != want {
			t.Errorf("import %q -> %v, want %q", id, st["id"], want)
		}
	}
}

func TestValidateAccountID(t *testing.T) {
	for _, ok := range []string{"abcdef", "invoker-one", "a12345678901234567890123456789"} {
		if err := validateAccountID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"abc", "Invoker", "1abcdef", "abcdef-", "a123456789012345678901234567890"} {
		if err := validateAccountID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
