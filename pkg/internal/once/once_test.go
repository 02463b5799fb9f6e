package once

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGetComputesOnceAndSharesTheError(t *testing.T) {
	var m Map[int]
	var calls atomic.Int32
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Get("k", func() (int, error) { calls.Add(1); return 0, boom }); !errors.Is(err, boom) {
				t.Errorf("err = %v, want boom", err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("computed %d times, want 1", calls.Load())
	}
	if v, err := m.Get("other", func() (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Fatalf("other = %d, %v", v, err)
	}
	if _, err := m.Get("never", nil); err == nil {
		t.Fatal("a value never computed came back without an error")
	}
}

func TestClaimRunsOnce(t *testing.T) {
	var m Map[int]
	n := 0
	for range 3 {
		m.Claim("k", func() { n++ })
	}
	if n != 1 {
		t.Fatalf("claim ran %d times, want 1", n)
	}
}
