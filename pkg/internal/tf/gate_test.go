//go:build linux

package tf

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// hold says where a gate keeps a request.
type hold int

const (
	pass   hold = iota
	before      // held before the emulator sees it
	after       // handled by the emulator, its answer held back
)

// gate serves the emulator's API through a rule that can hold chosen
// requests, so a test reaches a point of a Terraform run deterministically
// (e.g. "the account exists, the provider has not heard so") and acts there.
// A held request is let go when its client goes away (a killed provider) or
// when the gate closes.
type gate struct {
	emu  *emulator.Emulator
	srv  *httptest.Server
	mu   sync.Mutex
	rule func(r *http.Request) hold
	// held receives "METHOD path" for each request as it is held.
	held chan string
	done chan struct{}
}

func newGate(t *testing.T, emu *emulator.Emulator, rule func(r *http.Request) hold) *gate {
	t.Helper()
	g := &gate{emu: emu, rule: rule, held: make(chan string, 64), done: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		close(g.done)
		g.srv.Close()
	})
	return g
}

func (g *gate) URL() string { return g.srv.URL }

func (g *gate) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	h := g.rule(r)
	g.mu.Unlock()
	switch h {
	case before:
		g.held <- r.Method + " " + r.URL.Path
		g.wait(r)
		return
	case after:
		rec := httptest.NewRecorder()
		g.emu.ServeHTTP(rec, r)
		g.held <- r.Method + " " + r.URL.Path
		g.wait(r)
		return
	}
	g.emu.ServeHTTP(w, r)
}

// wait blocks until the client gives up or the gate closes; the request is
// never answered.
func (g *gate) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-g.done:
	}
}

// descendants lists the live processes below this test process: Terraform
// and the provider plugins it started.
func descendants(t *testing.T) []int {
	t.Helper()
	children := map[int][]int{}
	for _, p := range procs() {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []int
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// alive lists which of pids still run (zombies are dead).
func alive(pids []int) []string {
	var out []string
	for _, pid := range pids {
		if p, ok := readProc(pid); ok && p.state != 'Z' && p.state != 'X' {
			cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			out = append(out, strconv.Itoa(pid)+" "+string(cmd))
		}
	}
	return out
}
