package server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

const storageSeed = `
buckets:
  - name: seeded-state
    project: st-proj
    location: us-central1
`

func newStorageEmulator(t *testing.T) *core.Server {
	t.Helper()
	sd, err := seed.ParseSeed([]byte(storageSeed), "storage-seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return newTestEmulator(t, core.Options{Project: "st-proj", Seed: sd})
}

func storageAs(t *testing.T, e *core.Server, token string) *storage.Service {
	t.Helper()
	opts := append(withToken(e, token), option.WithEndpoint(e.URL()+"/storage/v1/"))
	s, err := storage.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantReason checks a storage error's status and legacy reason.
func wantReason(t *testing.T, err error, code int, reason string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason {
		t.Fatalf("got %v, want %d %s", err, code, reason)
	}
}

// TestStorageBuckets drives buckets insert, get and list through the
// Google API Go client: seeded buckets, name rules, 409 on a taken name,
// 404 in the storage error shape.
func TestStorageBuckets(t *testing.T) {
	t.Parallel()
	e := newStorageEmulator(t)
	st := storageAs(t, e, e.BootstrapToken())
	b, err := st.Buckets.Insert("st-proj", &storage.Bucket{Name: "tf-state", Location: "us-central1"}).Do()
	if err != nil || b.Name != "tf-state" || b.Location != "US-CENTRAL1" || b.Metageneration != 1 || b.StorageClass != "STANDARD" || b.ProjectNumber == 0 {
		t.Fatalf("insert: %v %+v", err, b)
	}
	tests := []struct {
		name   string
		bucket string
		code   int
		reason string
	}{
		{"taken", "tf-state", 409, "conflict"},
		{"taken by the seed", "seeded-state", 409, "conflict"},
		{"upper case", "Tf-State", 400, "invalid"},
		{"too short", "ab", 400, "invalid"},
		{"goog prefix", "google-state", 400, "invalid"},
	}
	for _, tt := range tests {
		_, err := st.Buckets.Insert("st-proj", &storage.Bucket{Name: tt.bucket}).Do()
		wantReason(t, err, tt.code, tt.reason)
	}
	if _, err := st.Buckets.Get("seeded-state").IfMetagenerationMatch(1).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Buckets.Get("seeded-state").IfMetagenerationMatch(2).Do()
	wantReason(t, err, 412, "conditionNotMet")
	_, err = st.Buckets.Get("no-such-bucket").Do()
	wantReason(t, err, 404, "notFound")

	var names []string
	err = st.Buckets.List("st-proj").MaxResults(1).Pages(context.Background(), func(l *storage.Buckets) error {
		for _, b := range l.Items {
			names = append(names, b.Name)
		}
		return nil
	})
	if err != nil || !slices.Equal(names, []string{"seeded-state", "tf-state"}) {
		t.Fatalf("list: %v %v", err, names)
	}
	if err := st.Buckets.Delete("tf-state").Do(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Buckets.Get("tf-state").Do()
	wantReason(t, err, 404, "notFound")
}

// TestStorageObjects covers what Terraform's gcs backend relies on: a
// create-only write (ifGenerationMatch=0) succeeds once, then 412; new
// generations; reads of data and metadata with hashes; listing with prefix,
// delimiter and pages; deletes guarded by generation.
func TestStorageObjects(t *testing.T) {
	t.Parallel()
	e := newStorageEmulator(t)
	st := storageAs(t, e, e.BootstrapToken())
	put := func(name, data string, ifGen *int64) (*storage.Object, error) {
		call := st.Objects.Insert("seeded-state", &storage.Object{Name: name}).Media(strings.NewReader(data))
		if ifGen != nil {
			call = call.IfGenerationMatch(*ifGen)
		}
		return call.Do()
	}
	zero := int64(0)
	lock, err := put("env/default.tflock", `{"ID":"x"}`, &zero)
	if err != nil || lock.Generation == 0 || lock.Metageneration != 1 {
		t.Fatalf("create-only write: %v %+v", err, lock)
	}
	_, err = put("env/default.tflock", `{"ID":"y"}`, &zero)
	wantReason(t, err, 412, "conditionNotMet")

	s1, err := put("env/default.tfstate", "one", nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := put("env/default.tfstate", "two", &s1.Generation)
	if err != nil || s2.Generation <= s1.Generation {
		t.Fatalf("second generation: %v %+v", err, s2)
	}
	_, err = put("env/default.tfstate", "three", &s1.Generation)
	wantReason(t, err, 412, "conditionNotMet")

	_, err = st.Objects.Get("seeded-state", "env/default.tfstate").IfMetagenerationNotMatch(1).Do()
	wantReason(t, err, 412, "conditionNotMet")
	meta, err := st.Objects.Get("seeded-state", "env/default.tfstate").IfGenerationMatch(s2.Generation).IfMetagenerationMatch(1).Do()
	sum := md5.Sum([]byte("two"))
	if err != nil || meta.Size != 3 || meta.Md5Hash != base64.StdEncoding.EncodeToString(sum[:]) || meta.Crc32c == "" || meta.Generation != s2.Generation {
		t.Fatalf("get: %v %+v", err, meta)
	}
	resp, err := st.Objects.Get("seeded-state", "env/default.tfstate").Download()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "two" || resp.Header.Get("X-Goog-Generation") != strconv.FormatInt(s2.Generation, 10) {
		t.Fatalf("download: %q %v", body, resp.Header)
	}

	for _, n := range []string{"env/sub/a.tfstate", "env/sub/b.tfstate", "other/c.tfstate"} {
		if _, err := put(n, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, delim  string
		items, prefixs []string
	}{
		{"env/", "/", []string{"env/default.tflock", "env/default.tfstate"}, []string{"env/sub/"}},
		{"env/", "", []string{"env/default.tflock", "env/default.tfstate", "env/sub/a.tfstate", "env/sub/b.tfstate"}, nil},
		{"", "/", nil, []string{"env/", "other/"}},
		{"nothing/", "/", nil, nil},
	}
	for _, tt := range tests {
		var items, prefixes []string
		err := st.Objects.List("seeded-state").Prefix(tt.prefix).Delimiter(tt.delim).MaxResults(1).Pages(context.Background(), func(l *storage.Objects) error {
			for _, o := range l.Items {
				items = append(items, o.Name)
			}
			prefixes = append(prefixes, l.Prefixes...)
			return nil
		})
		if err != nil || !slices.Equal(items, tt.items) || !slices.Equal(prefixes, tt.prefixs) {
			t.Errorf("list prefix %q delimiter %q: %v items %v prefixes %v", tt.prefix, tt.delim, err, items, prefixes)
		}
	}

	err = st.Objects.Delete("seeded-state", "env/default.tflock").IfGenerationMatch(lock.Generation + 1).Do()
	wantReason(t, err, 412, "conditionNotMet")
	if err := st.Objects.Delete("seeded-state", "env/default.tflock").IfGenerationMatch(lock.Generation).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = st.Objects.Get("seeded-state", "env/default.tflock").Do()
	wantReason(t, err, 404, "notFound")
	err = st.Objects.Delete("seeded-state", "env/default.tflock").Do()
	wantReason(t, err, 404, "notFound")
	_, err = st.Objects.List("no-such-bucket").Do()
	wantReason(t, err, 404, "notFound")
}

// TestStorageResumableUpload sends an object larger than the client's
// chunk size, which the client uploads as a resumable session in chunks.
func TestStorageResumableUpload(t *testing.T) {
	t.Parallel()
	e := newStorageEmulator(t)
	st := storageAs(t, e, e.BootstrapToken())
	data := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 000 bytes, three chunks
	obj, err := st.Objects.Insert("seeded-state", &storage.Object{Name: "big/state"}).
		Media(bytes.NewReader(data), googleapi.ChunkSize(256*1024)).Do()
	if err != nil || obj.Size != uint64(len(data)) {
		t.Fatalf("resumable upload: %v %+v", err, obj)
	}
	resp, err := st.Objects.Get("seeded-state", "big/state").Download()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes, want %d", len(got), len(data))
	}
	puts := 0
	for _, r := range e.Requests() {
		if strings.Contains(r.Query, "upload_id=") {
			puts++
		}
	}
	if puts != 3 {
		t.Fatalf("%d chunks sent to the session, want 3", puts)
	}
}

// TestStoragePermissions: object access follows the project policy's
// storage roles; replacing an object needs storage.objects.delete too.
func TestStoragePermissions(t *testing.T) {
	t.Parallel()
	e := newStorageEmulator(t)
	sa := createSA(t, e, "state-reader")
	st := storageAs(t, e, accessTokenFor(t, e, sa.Email))
	put := func() error {
		_, err := st.Objects.Insert("seeded-state", &storage.Object{Name: "s"}).Media(strings.NewReader("x")).Do()
		return err
	}
	_, err := st.Objects.List("seeded-state").Do()
	wantReason(t, err, 403, "forbidden")
	_, err = st.Buckets.Insert("st-proj", &storage.Bucket{Name: "sa-bucket"}).Do()
	wantReason(t, err, 403, "forbidden")

	grantOnProject(t, e, "roles/storage.objectViewer", "serviceAccount:"+sa.Email)
	if _, err := st.Objects.List("seeded-state").Do(); err != nil {
		t.Fatal(err)
	}
	wantReason(t, put(), 403, "forbidden")

	grantOnProject(t, e, "roles/storage.objectCreator", "serviceAccount:"+sa.Email)
	if err := put(); err != nil {
		t.Fatal(err)
	}
	wantReason(t, put(), 403, "forbidden") // a replace deletes the old generation

	grantOnProject(t, e, "roles/storage.objectAdmin", "serviceAccount:"+sa.Email)
	if err := put(); err != nil {
		t.Fatal(err)
	}
	_, err = storageAs(t, e, "not-a-token").Objects.List("seeded-state").Do()
	wantReason(t, err, 401, "required")
}

// TestSeedBucketsValidation: bad bucket entries fail the seed with the
// entry named.
func TestSeedBucketsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct{ seed, want string }{
		{"buckets: [{name: Bad_Name, project: p-one}]", "not a valid bucket name"},
		{"buckets: [{name: twice, project: p-one}, {name: twice, project: p-one}]", "declared twice"},
		{"buckets: [{name: nowhere, project: unknown-proj}]", `project "unknown-proj" is not declared`},
		{"buckets: [{name: no-project}]", "project is required"},
	}
	for _, tt := range tests {
		sd, err := seed.ParseSeed([]byte(tt.seed), "s.yaml")
		if err == nil {
			_, err = New(core.Options{Project: "p-one", Seed: sd})
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.seed, err, tt.want)
		}
	}
}

// TestGcloudStorage creates and lists buckets with the installed gcloud
// (JSON API through api_endpoint_overrides/storage). Skipped where gcloud
// is absent.
func TestGcloudStorage(t *testing.T) {
	e := newStorageEmulator(t)
	run := gcloudAgainst(t, e, "st-proj", map[string]string{"storage": e.URL() + "/storage/v1/"})
	t.Parallel()
	run("storage", "buckets", "create", "gs://gc-made", "--project", "st-proj", "--location", "us-central1")
	if out := run("storage", "ls"); !strings.Contains(out, "gs://gc-made/") || !strings.Contains(out, "gs://seeded-state/") {
		t.Fatalf("ls: %s", out)
	}
	if out := run("storage", "buckets", "describe", "gs://gc-made", "--format=value(location)"); strings.TrimSpace(out) != "US-CENTRAL1" {
		t.Fatalf("describe: %s", out)
	}
	if e.Calls()["storage.buckets.insert"] != 1 {
		t.Fatalf("counters %v", e.Calls())
	}
}
