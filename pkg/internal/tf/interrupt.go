package tf

import (
	"context"
	"fmt"
	"time"
)

// InterruptGrace is how long a Terraform command whose context is cancelled
// gets to stop after its interrupt. Terraform stops gracefully on SIGINT: it
// finishes or abandons the requests in flight, writes state and stops its
// provider plugins. Whatever of its process group is still running after
// InterruptGrace is killed.
const InterruptGrace = 15 * time.Second

// orphanWait bounds how long the runner waits for killed processes to go.
const orphanWait = 5 * time.Second

// interruptible runs one terraform-exec call in dir so that cancelling ctx
// (SIGINT or SIGTERM reaching invokerctl) stops Terraform within grace and
// leaves no process behind:
//
//   - terraform-exec gets a context of its own, cancelled only when ctx is;
//     it then sends Terraform an interrupt (SIGINT), as on a terminal.
//   - Before that, the Terraform process (a child of this process working in
//     dir, leading its own process group as terraform-exec starts it) and its
//     group, provider plugins included, are noted.
//   - After grace, every process still in that group is killed (SIGKILL).
//   - When the command has returned, anything left in the group (a plugin
//     whose Terraform did not stop it) is killed too.
//
// Without cancellation, f runs as it would directly. The error of a
// cancelled call wraps ctx.Err().
func interruptible(ctx context.Context, dir string, grace time.Duration, f func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	runCtx, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	finished := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		groups := terraformGroups(dir)
		interrupt()
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-finished:
		case <-timer.C:
			// Terraform may have started after the first look.
			groups = append(groups, terraformGroups(dir)...)
			killGroups(groups)
			<-finished
		}
		killGroups(groups)
		waitGroupsGone(groups, orphanWait)
	}()
	err := f(runCtx)
	close(finished)
	<-watched
	if ctx.Err() != nil {
		if err == nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}
