package tf

import (
	"strings"
	"testing"
)

func TestParseLockFile(t *testing.T) {
	lock := `# This file is maintained automatically by "terraform init".
provider "registry.terraform.io/hashicorp/google" {
  version     = "7.12.0"
  constraints = ">= 6.0.0, < 9.0.0"
  hashes = [
    "h1:aaa=",
    "zh:bbb",
  ]
}
`
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"google", lock, "registry.terraform.io/hashicorp/google 7.12.0 [h1:aaa= zh:bbb]", false},
		{"empty", "", "", false},
		{"no hashes", `provider "x/y" { version = "1.0.0" }`, "x/y 1.0.0 []", false},
		{"hashes not a list", `provider "x/y" { hashes = 3 }`, "", true},
		{"not HCL", `provider "x/y" {`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParseLockFile([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Source+" "+p.Version+" ["+strings.Join(p.Hashes, " ")+"]")
			}
			if strings.Join(got, "\n") != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestModuleDigestStable(t *testing.T) {
	a, err := ModuleDigest()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ModuleDigest()
	if a != b || len(a) != 64 {
		t.Fatalf("ModuleDigest = %q then %q", a, b)
	}
}

func TestSummaryMarkdown(t *testing.T) {
	s := &Summary{
		AccountsToCreate: []AccountChange{{Name: "checkout", Email: "checkout@p.iam.gserviceaccount.com"}},
		AccountsToDelete: []AccountChange{{Name: "old", Email: "old@p.iam.gserviceaccount.com"}},
		Services: []ServiceChange{{Project: "p", Location: "europe-west1", Service: "api",
			Add: []string{"serviceAccount:checkout@p.iam.gserviceaccount.com"}, Remove: []string{"user:a|b@example.com"}}},
		TokenCreators: []TokenCreatorChange{{Action: "add", ServiceAccount: "checkout", Member: "group:ci@example.com"}},
	}
	if got, want := s.Outcome(), "2 grants to add, 1 to remove, 1 account to create, 1 account to delete"; got != want {
		t.Errorf("Outcome = %q, want %q", got, want)
	}
	var b strings.Builder
	s.RenderMarkdown(&b)
	want := "| Change | Member or account | On |\n" +
		"| --- | --- | --- |\n" +
		"| delete account | `old@p.iam.gserviceaccount.com (old)` | - |\n" +
		"| remove roles/run.invoker | `user:a\\|b@example.com` | service `api` in p/europe-west1 |\n" +
		"| create account | `checkout@p.iam.gserviceaccount.com (checkout)` | - |\n" +
		"| add roles/run.invoker | `serviceAccount:checkout@p.iam.gserviceaccount.com` | service `api` in p/europe-west1 |\n" +
		"| add roles/iam.serviceAccountTokenCreator | `group:ci@example.com` | `checkout` |\n"
	if b.String() != want {
		t.Errorf("RenderMarkdown:\n%s\nwant\n%s", b.String(), want)
	}
	empty := &Summary{}
	b.Reset()
	empty.RenderMarkdown(&b)
	if empty.Outcome() != "no changes" || !strings.HasPrefix(b.String(), "No changes") {
		t.Errorf("empty summary: %q, %q", empty.Outcome(), b.String())
	}
}
