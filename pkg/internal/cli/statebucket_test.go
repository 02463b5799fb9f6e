package cli

import (
	"context"
	"strings"
	"testing"

	iamcredentials "google.golang.org/api/iamcredentials/v1"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// A declared gcs backend whose bucket does not exist, or that the caller
// may not read, is refused before Terraform runs, naming the file, the
// field and what to do; nothing is changed.
func TestStateBucketRefusedBeforeTerraform(t *testing.T) {
	t.Parallel()
	const decl = `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
terraform:
  backend:
    type: gcs
    config: {bucket: team-state, prefix: invokers}
serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
`
	const services = "serviceAccounts:\n  - accountId: no-storage\nservices:\n  - name: orders-api\n"
	cases := []struct {
		name   string
		seed   string
		noRole bool // run as an account without any role, not the owner
		want   []string
	}{
		{name: "the bucket does not exist", seed: seedHead + services,
			want: []string{`terraform.backend.config.bucket: the state bucket "team-state" does not exist: create it first (gcloud storage buckets create gs://team-state`}},
		{name: "no permission on the bucket", seed: seedHead + services + "buckets:\n  - name: team-state\n", noRole: true,
			want: []string{`terraform.backend.config.bucket: no permission to list the objects of the state bucket "team-state" (403 `, "storage.objects.list", "roles/storage.objectAdmin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := testutil.StartSeeded(t, tc.seed)
			dir, file, fakeTF := badDeclBesideFakeTerraform(t, decl)
			env := emuEnv(emu)
			if tc.noRole {
				c, err := iamcredentials.NewService(context.Background(), testutil.EmulatorClientOptions(emu)...)
				if err != nil {
					t.Fatal(err)
				}
				tok, err := c.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/no-storage@demo-project.iam.gserviceaccount.com",
					&iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
				if err != nil {
					t.Fatal(err)
				}
				env = append(env, target.TokenEnv+"="+tok.AccessToken)
			}
			emu.ResetRequests()
			for _, args := range [][]string{{"plan"}, {"apply", "--auto-approve"}, {"destroy", "--auto-approve"}} {
				r := runInProcess(t, inProcess{Env: env}, append(args, "-f", file, "--terraform", fakeTF, "--emulator="+emu.URL())...)
				wantExit(t, r, cmdutil.ExitError, args[0])
				for _, want := range append(tc.want, file+": ", "nothing was changed") {
					if !strings.Contains(r.Stderr, want) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], want, r.Stderr)
					}
				}
			}
			wantNoTerraformRun(t, dir)
			reqs := emu.Requests()
			if len(reqs) != 3 {
				t.Errorf("%d requests, want the one list of the bucket per run: %+v", len(reqs), reqs)
			}
			for _, r := range reqs {
				if r.Method != "GET" || !strings.HasSuffix(r.Path, "/b/team-state/o") {
					t.Errorf("a refused run asked %s %s", r.Method, r.Path)
				}
			}
		})
	}
}
