package tf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// parsePlanJSON decodes `terraform show -json` output as terraform-exec's
// ShowPlanFile does (json.Number for numbers, the format version checked).
func parsePlanJSON(b []byte) (*tfjson.Plan, error) {
	var p tfjson.Plan
	p.UseJSONNumber(true)
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// FuzzSummarizePlanJSON feeds arbitrary plan JSON to Summarize and Render:
// they never panic, give the same summary every time (whatever the map
// order), keep every member list sorted and free of repeats, never list a
// member as both added and removed on one service, and Render's closing
// counts agree with the summary.
func FuzzSummarizePlanJSON(f *testing.F) {
	f.Add([]byte(`{"format_version":"1.2"}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"address":"a","mode":"managed","type":"google_cloud_run_v2_service_iam_member","index":"service/us-central1/orders|user:a@x.com","change":{"actions":["create"],"before":null,"after":{"project":"p","location":"us-central1","name":"orders","member":"user:a@x.com"}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePlanJSON(data)
		if err != nil {
			return
		}
		s := Summarize(p)
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("the summary does not marshal: %v", err)
		}
		var out bytes.Buffer
		s.Render(&out)
		for range 3 {
			again, _ := parsePlanJSON(data)
			s2 := Summarize(again)
			js2, _ := json.Marshal(s2)
			if !bytes.Equal(js, js2) {
				t.Fatalf("Summarize is not deterministic:\n%s\n%s", js, js2)
			}
			var out2 bytes.Buffer
			s2.Render(&out2)
			if out.String() != out2.String() {
				t.Fatalf("Render is not deterministic:\n%s\n%s", out.String(), out2.String())
			}
		}
		for _, sc := range s.Services {
			for _, l := range [][]string{sc.Add, sc.Remove, sc.Set} {
				if !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
					t.Fatalf("service %+v: a member list is unsorted or repeats a member", sc)
				}
			}
			for _, m := range sc.Add {
				if slices.Contains(sc.Remove, m) {
					t.Fatalf("service %+v: %q both added and removed", sc, m)
				}
			}
			if len(sc.Add)+len(sc.Remove)+len(sc.Set) == 0 {
				t.Fatalf("service %+v listed with no change", sc)
			}
		}
		add, remove := s.memberCounts()
		if s.Empty() != (len(out.String()) > 0 && strings.HasPrefix(out.String(), "No changes")) {
			t.Fatalf("Empty() = %v but Render wrote %q", s.Empty(), out.String())
		}
		if !s.Empty() {
			want := fmt.Sprintf("Plan: %d account(s) to create, %d to update, %d to delete; %d invoker member(s) to add, %d to remove.\n",
				len(s.AccountsToCreate), len(s.AccountsToUpdate), len(s.AccountsToDelete), add, remove)
			if !strings.HasSuffix(out.String(), want) {
				t.Fatalf("Render does not end with the counts %q:\n%s", want, out.String())
			}
		}
	})
}

// Found by FuzzSummarizePlanJSON: two functions backed by one service are
// two entries of Services with equal project, location and service, whose
// order followed map iteration; and a null entry of resource_changes made
// Summarize panic.
func TestSummarizeIsDeterministicAndToleratesNullChanges(t *testing.T) {
	plan, err := parsePlanJSON([]byte(`{"format_version":"1.2","resource_changes":[null,
	{"address":"a","mode":"managed","type":"google_cloud_run_v2_service_iam_member","index":"function/us-central1/fb|user:b@x.com","change":{"actions":["create"],"after":{"project":"p","location":"us-central1","name":"shared","member":"user:b@x.com"}}},
	{"address":"b","mode":"managed","type":"google_cloud_run_v2_service_iam_member","index":"function/us-central1/fa|user:a@x.com","change":{"actions":["create"],"after":{"project":"p","location":"us-central1","name":"shared","member":"user:a@x.com"}}},
	{"address":"c","mode":"managed","type":"google_cloud_run_v2_service_iam_member","index":"service/us-central1/shared|user:c@x.com","change":{"actions":["create"],"after":{"project":"p","location":"us-central1","name":"shared","member":"user:c@x.com"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var got []string
		for _, sc := range Summarize(plan).Services {
			got = append(got, sc.Function+":"+strings.Join(sc.Add, ","))
		}
		if want := []string{":user:c@x.com", "fa:user:a@x.com", "fb:user:b@x.com"}; !slices.Equal(got, want) {
			t.Fatalf("services = %q, want %q", got, want)
		}
	}
}
