package idtoken

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingSource mints a fresh token per call, valid for life from the
// clock, and counts calls.
type countingSource struct {
	t     testing.TB
	now   func() time.Time
	life  time.Duration
	n     atomic.Int32
	fail  atomic.Bool
	delay time.Duration
}

func (s *countingSource) Token(_ context.Context, aud string) (Token, error) {
	s.n.Add(1)
	time.Sleep(s.delay)
	if s.fail.Load() {
		return Token{}, errors.New("mint failed")
	}
	c := idClaims(aud, "sa@p.iam.gserviceaccount.com", s.now().Add(s.life))
	c["jti"] = s.n.Load()
	return ParseToken(fakeJWT(s.t, c))
}

func (s *countingSource) Describe() string { return "counting" }

func TestCache(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := &countingSource{t: t, now: clock, life: time.Hour}
	c := NewCache(src, CacheOptions{Now: clock})
	ctx := context.Background()

	first, err := c.Token(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := c.Token(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if c.Mints() != 1 {
		t.Fatalf("6 requests for one audience minted %d tokens", c.Mints())
	}
	if _, err := c.Token(ctx, "b"); err != nil || c.Mints() != 2 {
		t.Fatalf("a second audience should mint its own token (mints=%d, err=%v)", c.Mints(), err)
	}
	now = now.Add(54 * time.Minute) // 6 min left: still outside the 5 min skew
	if _, _ = c.Token(ctx, "a"); c.Mints() != 2 {
		t.Fatalf("token with 6 min left was replaced (mints=%d)", c.Mints())
	}
	now = now.Add(2 * time.Minute) // 4 min left: inside the skew
	second, err := c.Token(ctx, "a")
	if err != nil || c.Mints() != 3 {
		t.Fatalf("token inside the skew not replaced (mints=%d, err=%v)", c.Mints(), err)
	}
	if !second.Expiry.After(first.Expiry) {
		t.Fatal("the replacement is not newer")
	}

	src.fail.Store(true)
	now = now.Add(2 * time.Hour)
	if _, err := c.Token(ctx, "a"); err == nil {
		t.Fatal("mint error swallowed")
	}
	src.fail.Store(false)
	if _, err := c.Token(ctx, "a"); err != nil {
		t.Fatal("a failure must not be cached:", err)
	}
	c.Forget()
	before := c.Mints()
	if _, _ = c.Token(ctx, "a"); c.Mints() != before+1 {
		t.Fatal("Forget did not drop the token")
	}
	if c.Describe() != "counting" || c.Unwrap() != Source(src) {
		t.Fatal("Describe/Unwrap")
	}
}

func TestCacheConcurrentMintsOnce(t *testing.T) {
	src := &countingSource{t: t, now: time.Now, life: time.Hour, delay: 5 * time.Millisecond}
	c := NewCache(src, CacheOptions{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Token(context.Background(), "a"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if src.n.Load() != 1 {
		t.Fatalf("20 concurrent requests minted %d tokens", src.n.Load())
	}
}

func TestCacheShortLivedToken(t *testing.T) {
	// A token that lives less than the skew is never reused.
	src := &countingSource{t: t, now: time.Now, life: time.Minute}
	c := NewCache(src, CacheOptions{})
	_, _ = c.Token(context.Background(), "a")
	_, _ = c.Token(context.Background(), "a")
	if c.Mints() != 2 {
		t.Fatalf("mints = %d", c.Mints())
	}
}
