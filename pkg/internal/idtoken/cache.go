package idtoken

import (
	"context"
	"sync"
	"time"
)

// DefaultSkew is how long before expiry a cached token is replaced.
const DefaultSkew = 5 * time.Minute

// CacheOptions configure a Cache.
type CacheOptions struct {
	// Skew: a token is reused until Skew before its exp claim; default
	// DefaultSkew.
	Skew time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Cache wraps a Source and keeps one token per audience, reusing it until
// shortly before it expires. Concurrent requests for one audience share one
// mint. Tokens live only in memory.
type Cache struct {
	src  Source
	skew time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
	mints   int
}

type cacheEntry struct {
	mu  sync.Mutex // held while minting for this audience
	tok Token
}

// NewCache wraps src.
func NewCache(src Source, o CacheOptions) *Cache {
	if o.Skew <= 0 {
		o.Skew = DefaultSkew
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{src: src, skew: o.Skew, now: o.Now, entries: map[string]*cacheEntry{}}
}

// Token returns the cached token for audience, or mints one.
func (c *Cache) Token(ctx context.Context, audience string) (Token, error) {
	c.mu.Lock()
	e := c.entries[audience]
	if e == nil {
		e = &cacheEntry{}
		c.entries[audience] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.tok.IsZero() && !e.tok.ExpiresWithin(c.now(), c.skew) {
		return e.tok, nil
	}
	t, err := c.src.Token(ctx, audience)
	if err != nil {
		return Token{}, err
	}
	c.mu.Lock()
	c.mints++
	c.mu.Unlock()
	if t.Expiry.IsZero() {
		// Without an exp claim there is no telling when to replace it.
		return t, nil
	}
	e.tok = t
	return t, nil
}

// Describe is the wrapped source's description.
func (c *Cache) Describe() string { return c.src.Describe() }

// Unwrap returns the wrapped source.
func (c *Cache) Unwrap() Source { return c.src }

// Mints is how many tokens were obtained from the wrapped source.
func (c *Cache) Mints() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mints
}

// Forget drops every cached token (e.g. after a 401 that may mean a
// revoked token).
func (c *Cache) Forget() {
	c.mu.Lock()
	c.entries = map[string]*cacheEntry{}
	c.mu.Unlock()
}
