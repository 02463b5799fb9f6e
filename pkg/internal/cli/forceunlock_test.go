package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// A killed run leaves the gcs backend's lock in the emulator's Cloud
// Storage; plan then reports who holds it and the force-unlock command,
// which refuses without confirmation and releases the lock with it.
func TestKilledApplyLockAndForceUnlock(t *testing.T) {
	testutil.NeedTerraform(t)
	src := filepath.Join(testutil.RepoRoot(), "examples", "authoritative", "invokers.yaml")
	d, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	b := d.Terraform.Backend
	if b == nil || b.Type != "gcs" {
		t.Fatalf("the authoritative example no longer declares a gcs backend: %+v", b)
	}
	lockName := b.Config["prefix"] + "/default.tflock"
	// Latency keeps a run inside its lock long enough to be killed there.
	emu := testutil.StartEmulator(t, emulator.Options{Project: d.Project, Seed: seedFor(d), Latency: 50 * time.Millisecond})
	st, err := storage.NewService(context.Background(), append(testutil.EmulatorClientOptions(emu), option.WithEndpoint(emu.URL()+"/storage/v1/"))...)
	if err != nil {
		t.Fatal(err)
	}
	lock := func() *storage.Object {
		o, err := st.Objects.Get(b.Config["bucket"], lockName).Do()
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == 404 {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	file := filepath.Join(t.TempDir(), "invokers.yaml")
	copyFile(t, src, file)
	flag := "--emulator=" + emu.URL()
	in := testutil.Exec{Env: emuEnv(emu)}

	// A first apply writes the state; the destroy that follows is killed
	// inside its lock.
	if r := testutil.RunBinary(t, in, "apply", "-f", file, flag, "--auto-approve"); r.Code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.Code, r.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	apply := exec.CommandContext(ctx, testutil.Binary(t), "destroy", "-f", file, flag, "--auto-approve")
	apply.Env = append(os.Environ(), in.Env...)
	apply.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // kill Terraform with it
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	var held *storage.Object
	for deadline := time.Now().Add(2 * time.Minute); held == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the destroy never took the lock")
		}
		held = lock()
	}
	_ = syscall.Kill(-apply.Process.Pid, syscall.SIGKILL)
	_ = apply.Wait()
	if lock() == nil {
		t.Fatal("the killed destroy left no lock")
	}
	id := strconv.FormatInt(held.Generation, 10)

	r := testutil.RunBinary(t, in, "plan", "-f", file, flag)
	wantCmd := "invokerctl force-unlock -f " + file + " " + flag + " " + id
	if r.Code != 1 || !strings.Contains(r.Stderr, "The state is locked by ") || !strings.Contains(r.Stderr, wantCmd) {
		t.Fatalf("plan on a locked state: exit %d, want 1 with %q in\n%s", r.Code, wantCmd, r.Stderr)
	}
	r = testutil.RunBinary(t, in, "force-unlock", "-f", file, flag, id)
	if r.Code != 1 || !strings.Contains(r.Stderr, "standard input is not a terminal") || lock() == nil {
		t.Fatalf("force-unlock without confirmation: exit %d\n%s", r.Code, r.Stderr)
	}
	r = testutil.RunBinary(t, in, "force-unlock", "-f", file, flag, id, "--auto-approve")
	if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "Released state lock "+id) || lock() != nil {
		t.Fatalf("force-unlock --auto-approve: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r = testutil.RunBinary(t, in, "plan", "-f", file, flag); r.Code == 1 {
		t.Fatalf("plan after force-unlock: exit %d\n%s", r.Code, r.Stderr)
	}
}

// The hint names the holder and the release command with the flags that
// reach the same target and working directory; a first-init lock gets the
// object removal instead; other errors pass through.
func TestWithUnlockHint(t *testing.T) {
	lockErr := func(op string) error {
		return errors.New("Error: Error acquiring the state lock\nLock Info:\n  ID:        42\n  Path:      gs://b/p/default.tflock\n  Operation: " + op + "\n  Who:       ci@runner\n  Created:   today\n")
	}
	tests := []struct {
		name string
		err  error
		o    ProvisionFlags
		want string
	}{
		{"google", lockErr("OperationTypeApply"), ProvisionFlags{File: "i.yaml"}, "\n  invokerctl force-unlock -f i.yaml 42"},
		{"emulator and workdir", lockErr("OperationTypePlan"), ProvisionFlags{File: "i.yaml", Workdir: "ws", Emulator: "http://127.0.0.1:1"}, "invokerctl force-unlock -f i.yaml --workdir ws --emulator=http://127.0.0.1:1 42"},
		{"in-process emulator", lockErr("OperationTypeApply"), ProvisionFlags{File: "i.yaml", Emulator: inProcessEmulator}, "invokerctl force-unlock -f i.yaml --emulator 42"},
		{"first init", lockErr("init"), ProvisionFlags{File: "i.yaml"}, "gcloud storage rm --if-generation-match=42 gs://b/p/default.tflock"},
		{"not a lock", errors.New("boom"), ProvisionFlags{File: "i.yaml"}, ""},
	}
	for _, tt := range tests {
		got := withUnlockHint(tt.err, &tt.o)
		if !errors.Is(got, tt.err) {
			t.Errorf("%s: the error is not wrapped", tt.name)
		}
		if tt.want == "" && got.Error() != tt.err.Error() || tt.want != "" && !strings.Contains(got.Error(), tt.want) {
			t.Errorf("%s: %v\nwant %q", tt.name, got, tt.want)
		}
	}
}
