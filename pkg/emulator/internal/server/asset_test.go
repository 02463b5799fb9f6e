package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/cloudasset/v1"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// allPages calls fetch with each page token in turn, from the first page
// until no next token comes back, and returns every item and the size of
// each page.
func allPages[T any](t *testing.T, what string, fetch func(token string) ([]T, string, error)) ([]T, []int) {
	t.Helper()
	var all []T
	var sizes []int
	for tok := ""; ; {
		items, next, err := fetch(tok)
		if err != nil {
			t.Fatalf("%s, page %d: %v", what, len(sizes), err)
		}
		all, sizes = append(all, items...), append(sizes, len(items))
		if tok = next; tok == "" {
			return all, sizes
		}
	}
}

// searchAllPages runs searchAllIamPolicies page by page.
func searchAllPages(t *testing.T, s *cloudasset.Service, scope, query string, pageSize int64, types ...string) ([]*cloudasset.IamPolicySearchResult, []int) {
	t.Helper()
	return allPages(t, "searchAllIamPolicies "+scope+" "+query, func(tok string) ([]*cloudasset.IamPolicySearchResult, string, error) {
		c := s.V1.SearchAllIamPolicies(scope).Query(query).PageSize(pageSize).PageToken(tok)
		if len(types) > 0 {
			c = c.AssetTypes(types...)
		}
		res, err := c.Do()
		if err != nil {
			return nil, "", err
		}
		return res.Results, res.NextPageToken, nil
	})
}

func TestAssetSearchAllIamPolicies(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	s := assetAs(t, e, tokenOf(t, e, "org-auditor"))
	tests := []struct {
		name, scope, query string
		types              []string
		pageSize           int64
		want               []string // resources, in order
		wantPages          []int
	}{
		{name: "invokers under a folder, three a page", scope: "folders/100", query: `policy:"roles/run.invoker"`, pageSize: 3,
			want:      runServices("pay-proj", 1, 7),
			wantPages: []int{3, 3, 1}},
		{name: "the whole organization by permission", scope: "organizations/4242", query: "policy.role.permissions:run.routes.invoke", pageSize: 500,
			// roles/owner on each project carries run.routes.invoke too.
			want: append(append([]string{"//cloudresourcemanager.googleapis.com/organizations/4242",
				"//cloudresourcemanager.googleapis.com/projects/100000000001", "//cloudresourcemanager.googleapis.com/projects/100000000002",
				"//cloudresourcemanager.googleapis.com/projects/100000000003"},
				runServices("ops-proj", 0, 0)...), runServices("pay-proj", 1, 7)...),
			wantPages: []int{12}},
		{name: "a project scope by id sees its own policy and services", scope: "projects/ops-proj", pageSize: 0,
			want:      append([]string{"//cloudresourcemanager.googleapis.com/projects/100000000002"}, runServices("ops-proj", 0, 0)...),
			wantPages: []int{2}},
		{name: "asset types filter and member search", scope: "organizations/4242", query: "policy:ops-caller",
			types: []string{"run.googleapis.com/Service"}, want: runServices("ops-proj", 0, 0), wantPages: []int{1}},
		{name: "folder policies only", scope: "organizations/4242", types: []string{"cloudresourcemanager.googleapis.com/Fold.*"},
			want:      []string{"//cloudresourcemanager.googleapis.com/folders/100", "//cloudresourcemanager.googleapis.com/folders/200"},
			wantPages: []int{2}},
		{name: "by role", scope: "folders/300", query: "roles:roles/run.invoker", want: runServices("ops-proj", 0, 0), wantPages: []int{1}},
		{name: "nothing matches", scope: "folders/300", query: "policy:pay-caller", want: nil, wantPages: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := searchAllPages(t, s, tt.scope, tt.query, tt.pageSize, tt.types...)
			var names []string
			for _, r := range got {
				names = append(names, r.Resource)
			}
			if !slices.Equal(names, tt.want) || !slices.Equal(pages, tt.wantPages) {
				t.Errorf("resources %v pages %v\nwant %v pages %v", names, pages, tt.want, tt.wantPages)
			}
		})
	}

	// A result's fields, and only the matching bindings of its policy.
	res, err := s.V1.SearchAllIamPolicies("organizations/4242").Query("policy:ops-caller").Do()
	if err != nil || len(res.Results) != 1 {
		t.Fatalf("ops-caller search: %v %+v", err, res)
	}
	r := res.Results[0]
	if r.AssetType != "run.googleapis.com/Service" || r.Project != "projects/100000000002" ||
		!slices.Equal(r.Folders, []string{"folders/300"}) || r.Organization != "organizations/4242" ||
		len(r.Policy.Bindings) != 1 || r.Policy.Bindings[0].Role != "roles/run.invoker" {
		t.Errorf("result %+v policy %+v", r, r.Policy)
	}
	// Direct policies only: the organization's invoker binding is not copied
	// down to the services.
	res, err = s.V1.SearchAllIamPolicies("folders/100").Query("policy:everyone@example.com").Do()
	if err != nil || len(res.Results) != 0 {
		t.Errorf("inherited bindings leaked into a folder search: %v %+v", err, res)
	}
	got, _ := searchAllPages(t, s, "folders/200", `policy:"roles/run.invoker"`, 0)
	if len(got) != 7 || !slices.Equal(got[0].Folders, []string{"folders/200", "folders/100"}) {
		t.Errorf("folder 200: %d results, folders %v", len(got), got[0].Folders)
	}

	// Refused: unsupported syntax, orderBy, a token with other parameters.
	_, err = s.V1.SearchAllIamPolicies("organizations/4242").Query("policy:a OR policy:b").Do()
	wantCode(t, err, 400)
	_, err = s.V1.SearchAllIamPolicies("organizations/4242").OrderBy("resource").Do()
	wantCode(t, err, 400)
	first, err := s.V1.SearchAllIamPolicies("organizations/4242").PageSize(2).Do()
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v %+v", err, first)
	}
	_, err = s.V1.SearchAllIamPolicies("organizations/4242").Query("policy:pay").PageToken(first.NextPageToken).Do()
	wantCode(t, err, 400)
	_, err = s.V1.SearchAllIamPolicies("organizations/4242").PageToken("bm90LWEtdG9rZW4").Do()
	wantCode(t, err, 400)
}

// runServices are the full names of services prefix-from..to of a project
// (from == 0: the project's only service, "ops-api").
func runServices(project string, from, to int) []string {
	if from == 0 {
		return []string{"//run.googleapis.com/projects/" + project + "/locations/us-central1/services/ops-api"}
	}
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, "//run.googleapis.com/projects/"+project+"/locations/us-central1/services/pay-"+strconv.Itoa(i))
	}
	return out
}

// The caller needs the method's permission on the scope, through the
// scope's policy or an ancestor's; unknown scopes are refused alike.
func TestAssetAuthorization(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	tests := []struct {
		account, scope string
		want           int // 0: allowed
	}{
		{"org-auditor", "organizations/4242", 0},
		{"org-auditor", "folders/200", 0},           // inherited from the organization
		{"org-auditor", "projects/pay-proj", 0},     // by id
		{"org-auditor", "projects/100000000001", 0}, // by number
		{"team-viewer", "folders/200", 0},           // roles/viewer on the folder
		{"team-viewer", "projects/pay-proj", 0},     // inherited from folders/200
		{"team-viewer", "folders/100", 403},         // above its grant
		{"team-viewer", "organizations/4242", 403},
		{"team-viewer", "projects/ops-proj", 403}, // another branch
		{"folder-admin", "folders/100", 403},      // folderAdmin carries no Cloud Asset permission
		{"nobody-here", "projects/audit-proj", 403},
		{"org-auditor", "folders/999", 403}, // unknown
		{"org-auditor", "projects/no-such-proj", 403},
	}
	for _, tt := range tests {
		s := assetAs(t, e, tokenOf(t, e, tt.account))
		_, err := s.V1.SearchAllIamPolicies(tt.scope).Do()
		_, rerr := s.V1.SearchAllResources(tt.scope).Do()
		if tt.want == 0 {
			if err != nil || rerr != nil {
				t.Errorf("%s on %s: %v / %v", tt.account, tt.scope, err, rerr)
			}
			continue
		}
		wantCode(t, err, tt.want)
		wantCode(t, rerr, tt.want)
	}
	_, err := assetAs(t, e, "not-a-token").V1.SearchAllIamPolicies("organizations/4242").Do()
	wantCode(t, err, 401)
	// assets.list needs cloudasset.assets.list*, which roles/viewer lacks.
	_, err = assetAs(t, e, tokenOf(t, e, "team-viewer")).Assets.List("folders/200").ContentType("IAM_POLICY").Do()
	wantCode(t, err, 403)
}

func TestAssetSearchAllResources(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	s := assetAs(t, e, tokenOf(t, e, "org-auditor"))
	types := []string{"run.googleapis.com/Service", "cloudfunctions.googleapis.com/Function"}
	tests := []struct {
		scope, query string
		pageSize     int64
		wantNames    int
		wantPages    []int
	}{
		// 9 services (ops-fn's backing service too) and a function.
		{"organizations/4242", "", 4, 10, []int{4, 4, 2}},
		{"folders/100", "", 500, 7, []int{7}},
		{"folders/300", "", 0, 3, []int{3}},
		{"organizations/4242", "name:pay-3", 0, 1, []int{1}},
		{"organizations/4242", "location:us-central1 displayName:ops-", 0, 3, []int{3}},
		{"organizations/4242", "name:services/ops-", 0, 2, []int{2}},
	}
	for _, tt := range tests {
		got, pages := allPages(t, "searchAllResources "+tt.scope, func(tok string) ([]*cloudasset.ResourceSearchResult, string, error) {
			res, err := s.V1.SearchAllResources(tt.scope).AssetTypes(types...).Query(tt.query).PageSize(tt.pageSize).PageToken(tok).Do()
			if err != nil {
				return nil, "", err
			}
			return res.Results, res.NextPageToken, nil
		})
		if len(got) != tt.wantNames || !slices.Equal(pages, tt.wantPages) {
			t.Errorf("%s %q: %d results, pages %v; want %d, %v", tt.scope, tt.query, len(got), pages, tt.wantNames, tt.wantPages)
		}
	}
	res, err := s.V1.SearchAllResources("folders/300").AssetTypes(types...).Query("ops-api OR ops-fn").Do()
	wantCode(t, err, 400)
	res, err = s.V1.SearchAllResources("folders/300").AssetTypes(types...).Query("name:ops-api AND NOT name:x").Do()
	wantCode(t, err, 400)
	res, err = s.V1.SearchAllResources("folders/300").AssetTypes(types...).Query("name:functions/ops-fn* OR").Do()
	wantCode(t, err, 400)
	res, err = s.V1.SearchAllResources("folders/300").AssetTypes(types...).Query("ops").Do()
	if err != nil || len(res.Results) != 3 {
		t.Fatalf("folders/300: %v %+v", err, res)
	}
	fn, svc := res.Results[0], res.Results[1]
	if fn.Name != "//cloudfunctions.googleapis.com/projects/ops-proj/locations/us-central1/functions/ops-fn" ||
		fn.AssetType != "cloudfunctions.googleapis.com/Function" || fn.State != "ACTIVE" || fn.Location != "us-central1" ||
		svc.Name != runServices("ops-proj", 0, 0)[0] || svc.Project != "projects/100000000002" ||
		!slices.Equal(svc.Folders, []string{"folders/300"}) || svc.Organization != "organizations/4242" ||
		svc.ParentFullResourceName != "//cloudresourcemanager.googleapis.com/projects/100000000002" ||
		svc.ParentAssetType != "cloudresourcemanager.googleapis.com/Project" || svc.DisplayName != "ops-api" {
		t.Errorf("results %+v / %+v", fn, svc)
	}
	// 8 pages above and 4 queries here, refused ones included.
	if e.Calls()["cloudasset.v1.searchAllResources"] != 12 {
		t.Errorf("counters %v", e.Calls())
	}
}

func TestAssetListAssets(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	s := assetAs(t, e, tokenOf(t, e, "org-auditor"))
	listAll := func(parent, contentType string, pageSize int64, types ...string) ([]*cloudasset.Asset, []int) {
		t.Helper()
		return allPages(t, "assets.list "+parent+" "+contentType, func(tok string) ([]*cloudasset.Asset, string, error) {
			c := s.Assets.List(parent).ContentType(contentType).PageSize(pageSize).PageToken(tok)
			if len(types) > 0 {
				c = c.AssetTypes(types...)
			}
			res, err := c.Do()
			if err != nil {
				return nil, "", err
			}
			if res.ReadTime == "" {
				t.Errorf("no readTime")
			}
			return res.Assets, res.NextPageToken, nil
		})
	}
	// The organization: itself, 3 folders, 3 projects, 9 services, 1 function.
	all, pages := listAll("organizations/4242", "", 5)
	if len(all) != 17 || !slices.Equal(pages, []int{5, 5, 5, 2}) {
		t.Errorf("names: %d, pages %v", len(all), pages)
	}
	// Policies set on something under folders/100: folder 100, 200 (not 300),
	// pay-proj (its owner binding) and the 7 services.
	pol, pages := listAll("folders/100", "IAM_POLICY", 1000)
	if len(pol) != 10 || !slices.Equal(pages, []int{10}) {
		t.Errorf("IAM_POLICY under folders/100: %d, pages %v", len(pol), pages)
	}
	var svc *cloudasset.Asset
	for _, a := range pol {
		if a.Name == runServices("pay-proj", 2, 2)[0] {
			svc = a
		}
	}
	if svc == nil || svc.AssetType != "run.googleapis.com/Service" || svc.IamPolicy == nil || svc.IamPolicy.Etag == "" ||
		len(svc.IamPolicy.Bindings) != 1 || svc.Resource != nil ||
		!slices.Equal(svc.Ancestors, []string{"projects/100000000001", "folders/200", "folders/100", "organizations/4242"}) {
		t.Errorf("service asset %+v", svc)
	}
	res, _ := listAll("projects/ops-proj", "RESOURCE", 0, "run.googleapis.com/Service")
	if len(res) != 2 || res[0].Resource == nil || res[0].Resource.Data == nil || res[0].Resource.Parent != "//cloudresourcemanager.googleapis.com/projects/100000000002" ||
		res[0].Resource.Location != "us-central1" || res[0].IamPolicy != nil {
		t.Errorf("RESOURCE: %+v", res)
	}
	// A page size past the cap is capped at 1000; bad parameters are 400.
	if _, pages := listAll("organizations/4242", "", 5000); !slices.Equal(pages, []int{17}) {
		t.Errorf("pageSize 5000: pages %v", pages)
	}
	for _, c := range []*cloudasset.AssetsListCall{
		s.Assets.List("organizations/4242").ContentType("ORG_POLICY"),
		s.Assets.List("organizations/4242").ReadTime("2001-01-01T00:00:00Z"),
		s.Assets.List("organizations/4242").AssetTypes("run.googleapis.com/(Service"),
		s.Assets.List("organizations/4242").PageSize(-1),
	} {
		_, err := c.Do()
		wantCode(t, err, 400)
	}
}

// Search calls draw on a per-consumer-project and a per-organization quota
// a minute; past one the answer is 429 with Retry-After, until the minute
// turns.
func TestAssetSearchQuota(t *testing.T) {
	t.Parallel()
	e, fake := hierStart(t, core.Options{AssetSearchPerMinute: 3, AssetOrgSearchPerMinute: 5})
	s := assetAs(t, e, tokenOf(t, e, "org-auditor")) // consumer: audit-proj, its account's project
	for i := 0; i < 3; i++ {
		call := s.V1.SearchAllIamPolicies("projects/pay-proj").Do
		if i%2 == 1 {
			_, err := s.V1.SearchAllResources("folders/200").Do()
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			continue
		}
		if _, err := call(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := s.V1.SearchAllIamPolicies("projects/pay-proj").Do()
	ge := wantCode(t, err, 429)
	if ge == nil || !strings.Contains(ge.Message, "project_number:100000000003") {
		t.Fatalf("quota error %+v", ge)
	}
	ra, _ := strconv.Atoi(ge.Header.Get("Retry-After"))
	if ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", ge.Header.Get("Retry-After"))
	}
	// Another consumer project (X-Goog-User-Project) has its own quota but
	// shares the organization's: 2 more calls, then the organization is spent.
	other := s.V1.SearchAllIamPolicies("organizations/4242")
	other.Header().Set("X-Goog-User-Project", "ops-proj")
	for i := 0; i < 2; i++ {
		if _, err := other.Do(); err != nil {
			t.Fatalf("other consumer, call %d: %v", i, err)
		}
	}
	_, err = other.Do()
	if ge := wantCode(t, err, 429); ge == nil || !strings.Contains(ge.Message, "per organization") {
		t.Fatalf("organization quota: %+v", ge)
	}
	fake.Advance(time.Duration(ra) * time.Second)
	if _, err := s.V1.SearchAllIamPolicies("projects/pay-proj").Do(); err != nil {
		t.Fatalf("after the minute: %v", err)
	}
	// assets.list does not draw on the search quota.
	for i := 0; i < 6; i++ {
		if _, err := s.Assets.List("projects/pay-proj").Do(); err != nil {
			t.Fatalf("assets.list %d: %v", i, err)
		}
	}
}
