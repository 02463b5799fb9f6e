package clock

import (
	"context"
	"sync"
	"time"
)

// Fake is a clock for tests: Sleep advances it at once (unless the context
// is done) and records each wait. It is safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewFake returns a fake clock that starts at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d without recording a wait.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep returns ctx.Err() when ctx is done; otherwise it records d and
// advances the clock by it.
func (c *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return nil
}

// Slept returns the waits asked for so far, in order.
func (c *Fake) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// TotalSlept is the sum of the waits asked for so far.
func (c *Fake) TotalSlept() time.Duration {
	var t time.Duration
	for _, d := range c.Slept() {
		t += d
	}
	return t
}
