package tf

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// gcsFixture is an emulator with the quickstart's project and a state
// bucket, the quickstart declaration with a gcs backend in that bucket, and
// a Cloud Storage JSON API client as the bootstrap owner.
type gcsFixture struct {
	emu    *emulator.Emulator
	tg     target.Target
	decl   *config.Declaration
	st     *storage.Service
	tfPath string
	bin    string
}

const (
	gcsBucket = "qs-tfstate"
	gcsPrefix = "invokerctl/quickstart"
	gcsState  = gcsPrefix + "/default.tfstate"
	gcsLock   = gcsPrefix + "/default.tflock"
)

func newGCSFixture(t *testing.T) *gcsFixture {
	t.Helper()
	f := &gcsFixture{tfPath: needTerraform(t), bin: invokerctlBinary(t)}
	t.Setenv(tfprovider.SleepScaleEnv, "0")
	f.emu = testutil.StartEmulator(t, emulator.Options{SeedFile: "../../../examples/quickstart/seed.yaml"})
	var err error
	if f.tg, err = target.Emulator(f.emu.URL(), f.emu.BootstrapToken()); err != nil {
		t.Fatal(err)
	}
	opts := append(testutil.EmulatorClientOptions(f.emu), option.WithEndpoint(f.emu.URL()+"/storage/v1/"))
	if f.st, err = storage.NewService(context.Background(), opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Buckets.Insert("demo-project", &storage.Bucket{Name: gcsBucket, Location: "US"}).Do(); err != nil {
		t.Fatal(err)
	}
	f.decl = loadQuickstart(t)
	f.decl.Terraform.Backend = &config.Backend{Type: "gcs", Config: map[string]string{"bucket": gcsBucket, "prefix": gcsPrefix}}
	return f
}

// open lays out a fresh runner in dir, as a new CI job would, and runs init.
func (f *gcsFixture) open(t *testing.T, ctx context.Context, dir, lockTimeout string, out io.Writer) *Runner {
	t.Helper()
	r, err := Open(ctx, Options{Decl: f.decl, Target: f.tg, Workdir: dir, ExecPath: f.tfPath,
		ProviderExecutable: f.bin, Stdout: out, Stderr: out, LockTimeout: lockTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if err := r.Init(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// object returns the object's metadata, or nil when it does not exist.
func (f *gcsFixture) object(t *testing.T, name string) *storage.Object {
	t.Helper()
	o, err := f.st.Objects.Get(gcsBucket, name).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == 404 {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Apply from one working directory, delete it, plan from a new one: the
// state lives in the emulator's Cloud Storage, so the fresh runner sees no
// changes. The token is never written into a working directory.
func TestGCSBackendStateSurvivesTheWorkdir(t *testing.T) {
	f := newGCSFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out testutil.SyncBuffer
	dirA := filepath.Join(t.TempDir(), "a")
	a := f.open(t, ctx, dirA, "", &out)
	res, err := a.Plan(ctx, false)
	if err != nil || !res.Changes {
		t.Fatalf("plan A: %v %+v\n%s", err, res, out.String())
	}
	if err := a.Apply(ctx, res.PlanFile); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if a.WS.HasState() {
		t.Error("apply left local state in the working directory")
	}
	st := f.object(t, gcsState)
	if st == nil || st.Size == 0 || f.object(t, gcsLock) != nil {
		t.Fatalf("after apply: state %+v, lock left: %v", st, f.object(t, gcsLock) != nil)
	}
	token := f.emu.BootstrapToken()
	_ = filepath.WalkDir(dirA, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if b, rerr := os.ReadFile(p); rerr == nil && strings.Contains(string(b), token) {
			t.Errorf("%s holds the emulator token", p)
		}
		return nil
	})
	if strings.Contains(out.String(), token) {
		t.Error("terraform output shows the token")
	}
	if err := os.RemoveAll(dirA); err != nil {
		t.Fatal(err)
	}

	b := f.open(t, ctx, filepath.Join(t.TempDir(), "b"), "", &out)
	res, err = b.Plan(ctx, false)
	if err != nil || res.Changes {
		t.Fatalf("plan from a fresh runner: %v changes=%v\n%s", err, res != nil && res.Changes, out.String())
	}
	// The backend's requests, as Terraform's gcs backend sends them.
	seen := map[string]bool{}
	for _, r := range f.emu.Requests() {
		switch {
		case r.Method == "POST" && strings.Contains(r.Query, "uploadType=multipart") && strings.Contains(r.Query, "ifGenerationMatch=0"):
			seen["lock write"] = true
		case r.Method == "DELETE" && strings.HasSuffix(r.Path, gcsLock) && strings.Contains(r.Query, "ifGenerationMatch="):
			seen["lock delete"] = true
		case r.Method == "GET" && r.Path == "/"+gcsBucket+"/"+gcsState:
			seen["state read"] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("backend requests seen: %v", seen)
	}
}

// Two applies at once: one holds the lock (a real terraform apply waiting
// at its approval prompt); the other, with a short lock timeout, fails
// with Terraform's lock report naming the holder and the lock's generation
// as its ID; with a longer timeout it waits until the holder lets go, then
// applies. Nothing is lost: the state ends with the second apply's change.
func TestGCSBackendLock(t *testing.T) {
	f := newGCSFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out testutil.SyncBuffer
	base := t.TempDir()

	// The holder: a real terraform apply in its own working directory,
	// stopped at the approval prompt with the lock held.
	holder := f.open(t, ctx, filepath.Join(base, "holder"), "", &out)
	proxy, err := startRefusingProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	env := holder.WS.Env(environMap(os.Environ()), EnvSettings{RefusingProxy: proxy.URL()})
	cmd := exec.CommandContext(ctx, f.tfPath, "apply", "-input=true", "-no-color")
	cmd.Dir = holder.WS.Dir
	cmd.Env = envList(env)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var holderOut testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &holderOut, &holderOut
	// The second runner plans before the lock is taken.
	second := f.open(t, ctx, filepath.Join(base, "second"), "1s", &out)
	plan, err := second.Plan(ctx, false)
	if err != nil || !plan.Changes {
		t.Fatalf("plan: %v\n%s", err, out.String())
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var lock *storage.Object
	for deadline := time.Now().Add(time.Minute); lock == nil || !strings.Contains(holderOut.String(), "Enter a value"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the holder never took the lock:\n%s", holderOut.String())
		}
		lock = f.object(t, gcsLock)
	}
	resp, err := f.st.Objects.Get(gcsBucket, gcsLock).Download()
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Operation, Who, Path string }
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.Operation != "OperationTypeApply" || info.Who == "" || info.Path != "gs://"+gcsBucket+"/"+gcsLock {
		t.Fatalf("lock object: %v %+v", err, info)
	}

	var secondOut testutil.SyncBuffer
	blocked, err := Open(ctx, Options{Decl: f.decl, Target: f.tg, Workdir: second.WS.Dir, ExecPath: f.tfPath,
		ProviderExecutable: f.bin, Stdout: &secondOut, Stderr: &secondOut, LockTimeout: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	defer blocked.Close()
	if err := blocked.Init(ctx); err != nil { // Open resets the dependency lock file
		t.Fatal(err)
	}
	err = blocked.Apply(ctx, plan.PlanFile)
	msg := secondOut.String()
	if err != nil {
		msg += err.Error()
	}
	for _, want := range []string{"Error acquiring the state lock", "conditionNotMet", "ID:        " + strconv.FormatInt(lock.Generation, 10), "Who:       " + info.Who, "OperationTypeApply"} {
		if err == nil || !strings.Contains(msg, want) {
			t.Errorf("apply while locked: want %q in\n%v\n%s", want, err, msg)
		}
	}
	if _, serr := os.Stat(plan.PlanFile); serr != nil {
		t.Fatalf("the refused apply lost its plan: %v", serr)
	}

	// With a longer lock timeout the second apply waits for the holder,
	// which is then told "no" and lets go of the lock.
	waiting, err := Open(ctx, Options{Decl: f.decl, Target: f.tg, Workdir: second.WS.Dir, ExecPath: f.tfPath,
		ProviderExecutable: f.bin, Stdout: &secondOut, Stderr: &secondOut, LockTimeout: "2m"})
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	if err := waiting.Init(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- waiting.Apply(ctx, plan.PlanFile) }()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the apply did not wait for the lock: %v\n%s", err, secondOut.String())
	default:
	}
	_, _ = io.WriteString(stdin, "no\n")
	_ = stdin.Close()
	if err := cmd.Wait(); err == nil || !strings.Contains(holderOut.String(), "Apply cancelled") {
		t.Logf("holder: %v\n%s", err, holderOut.String())
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting apply: %v\n%s", err, secondOut.String())
	}
	if f.object(t, gcsLock) != nil {
		t.Error("a lock is left behind")
	}
	// Nothing lost: a fresh runner finds the second apply's state.
	fresh := f.open(t, ctx, filepath.Join(base, "fresh"), "", &out)
	res, err := fresh.Plan(ctx, false)
	if err != nil || res.Changes {
		t.Fatalf("plan after both: %v changes=%v\n%s", err, res != nil && res.Changes, out.String())
	}
}
