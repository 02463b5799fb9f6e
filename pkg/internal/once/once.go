// Package once computes each key's value once and shares it, error
// included, with every caller, concurrent or later: how verify and audit
// read each policy, parent and service no more than once per run.
package once

import (
	"fmt"
	"sync"
)

// Map is the zero-value-ready store of values by key.
type Map[V any] struct {
	mu sync.Mutex
	m  map[string]*entry[V]
}

type entry[V any] struct {
	claimed bool
	once    sync.Once
	v       V
	err     error
}

func (o *Map[V]) entry(key string) *entry[V] {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]*entry[V]{}
	}
	e, ok := o.m[key]
	if !ok {
		e = &entry[V]{}
		o.m[key] = e
	}
	return e
}

// Claim runs f for the first claim of key only (e.g. to start key's read on
// a worker pool once).
func (o *Map[V]) Claim(key string, f func()) {
	e := o.entry(key)
	o.mu.Lock()
	first := !e.claimed
	e.claimed = true
	o.mu.Unlock()
	if first {
		f()
	}
}

// Get returns key's value, computing it with f the first time; with a nil
// f, a value never computed is an error.
func (o *Map[V]) Get(key string, f func() (V, error)) (V, error) {
	e := o.entry(key)
	e.once.Do(func() {
		if f == nil {
			e.err = fmt.Errorf("%s was not read", key)
			return
		}
		e.v, e.err = f()
	})
	return e.v, e.err
}
