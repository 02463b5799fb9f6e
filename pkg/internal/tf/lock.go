package tf

import (
	"context"
	"errors"
	"regexp"
	"strings"
)

// LockInfo is what Terraform reports about a state lock held by another
// run: its ID (for the gcs backend, the lock object's generation), who
// holds it, for which operation, since when, and where the lock lives.
type LockInfo struct {
	ID, Path, Operation, Who, Created string
}

// lockInfoLineRE matches one line of Terraform's "Lock Info:" block.
var lockInfoLineRE = regexp.MustCompile(`(?m)^[\s│|]*(ID|Path|Operation|Who|Created):\s+(.*?)\s*$`)

// StateLocked reports whether err is Terraform finding the state locked by
// another run ("Error acquiring the state lock", or, during init, "Error
// loading state" with the lock's report) and, if so, the lock's details as
// Terraform printed them.
func StateLocked(err error) (LockInfo, bool) {
	if err == nil {
		return LockInfo{}, false
	}
	msg := err.Error()
	i := strings.Index(msg, "Lock Info:")
	if i < 0 {
		return LockInfo{}, false
	}
	var info LockInfo
	for _, m := range lockInfoLineRE.FindAllStringSubmatch(msg[i:], -1) {
		v := m[2]
		switch m[1] {
		case "ID":
			info.ID = v
		case "Path":
			info.Path = v
		case "Operation":
			info.Operation = v
		case "Who":
			info.Who = v
		case "Created":
			info.Created = v
		}
	}
	return info, true
}

// ForceUnlock initializes the working directory and releases the state
// lock with the given ID (terraform force-unlock -force): for a lock left by
// a run that was killed. A lock taken by the very first init of a gcs
// backend (Operation "init": no state object yet) cannot be released this
// way, since the backend needs the lock to create the empty state; see
// UnlockCommand.
func (r *Runner) ForceUnlock(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("tf: no lock ID")
	}
	if err := r.Init(ctx); err != nil {
		return err
	}
	err := r.run(ctx, func(ctx context.Context) error { return r.tf.ForceUnlock(ctx, id) })
	if err != nil {
		return &StepError{Step: "force-unlock", Workdir: r.WS.Dir, Err: err}
	}
	return nil
}
