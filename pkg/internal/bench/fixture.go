package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// Fixture names used by every scenario.
const (
	project  = "bench-proj"
	location = "us-central1"
	operator = "user:owner@example.com" // the emulator's bootstrap principal
	outsider = "outsider"               // an account with no grant: every refusal probe calls as it
)

// Size is the scale of a scenario: Services Cloud Run services, each granted
// to two of Callers accounts (so 2 × Services member grants).
type Size struct {
	Services int
	Callers  int
}

// Grants is the number of member grants (two per service).
func (s Size) Grants() int { return 2 * s.Services }

func (s Size) String() string {
	return fmt.Sprintf("%d services / %d grants", s.Services, s.Grants())
}

func serviceName(i int) string { return fmt.Sprintf("svc-%03d", i) }
func callerName(i int) string  { return fmt.Sprintf("caller-%02d", i) }
func accountMember(name string) string {
	return "serviceAccount:" + name + "@" + project + ".iam.gserviceaccount.com"
}

// members are the two callers granted on service i; the first is the one
// invoke calls as. They differ whenever there are two callers or more.
func (s Size) members(i int) [2]string {
	return [2]string{callerName(i % s.Callers), callerName((i + 1) % s.Callers)}
}

// accounts lists every declared account: the callers and the outsider.
func (s Size) accounts() []string {
	out := make([]string, 0, s.Callers+1)
	for c := 0; c < s.Callers; c++ {
		out = append(out, callerName(c))
	}
	return append(out, outsider)
}

// Declaration is the invokers.yaml every scenario uses: one grant per
// service with its two callers, the outsider as each grant's refused
// caller, and the operator as token creator.
func (s Size) Declaration() (*config.Declaration, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: invokerctl/v1\nproject: %s\nlocation: %s\nserviceAccounts:\n", project, location)
	for _, a := range s.accounts() {
		fmt.Fprintf(&b, "  - name: %s\n", a)
	}
	fmt.Fprintf(&b, "smokeTest:\n  tokenCreator: %s\ngrants:\n", operator)
	for i := 0; i < s.Services; i++ {
		m := s.members(i)
		fmt.Fprintf(&b, "  - service: %s\n    members: [%s, %s]\n    invoke: {refusedCaller: %s}\n", serviceName(i), m[0], m[1], outsider)
	}
	return config.Parse("bench-invokers.yaml", []byte(b.String()))
}

// seed is the emulator's initial state. Bare holds the project and its
// services only (what apply starts from); otherwise the accounts, the
// grants and the operator's token-creator role are in force already (what
// verify and invoke prove).
func (s Size) seed(bare bool) (*emulator.Seed, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {project: %s, location: %s}\nprojects:\n  - id: %s\n", project, location, project)
	if !bare {
		fmt.Fprintf(&b, "    policy:\n      - role: roles/iam.serviceAccountTokenCreator\n        members: [%q]\n", operator)
		b.WriteString("serviceAccounts:\n")
		for _, a := range s.accounts() {
			fmt.Fprintf(&b, "  - accountId: %s\n", a)
		}
	}
	b.WriteString("services:\n")
	for i := 0; i < s.Services; i++ {
		fmt.Fprintf(&b, "  - name: %s\n", serviceName(i))
		if !bare {
			m := s.members(i)
			fmt.Fprintf(&b, "    policy:\n      - role: roles/run.invoker\n        members: [%q, %q]\n", accountMember(m[0]), accountMember(m[1]))
		}
	}
	return emulator.ParseSeed([]byte(b.String()), "bench-seed.yaml")
}

// emu is a running emulator and the target that points invokerctl at it.
type emu struct {
	*emulator.Emulator
	target target.Target
}

// startEmulator starts a fresh emulator for one measurement, so that ours
// and the baseline each begin from the same state.
func startEmulator(s Size, bare bool, latency time.Duration) (*emu, error) {
	sd, err := s.seed(bare)
	if err != nil {
		return nil, err
	}
	e, err := emulator.New(emulator.Options{Project: project, Seed: sd, Latency: latency})
	if err != nil {
		return nil, err
	}
	t, err := target.Emulator(e.URL(), e.BootstrapToken())
	if err != nil {
		e.Close()
		return nil, err
	}
	return &emu{Emulator: e, target: t}, nil
}

// clients are the Google API clients invokerctl builds, pointed at e.
func (e *emu) clients(ctx context.Context) (*gcp.Clients, error) {
	return gcp.New(ctx, gcp.Options{Endpoint: e.target.APIEndpoint(), TokenSource: e.target.TokenSource()})
}

// dataPlanePrefix marks the counters of calls to the services themselves,
// which are not API calls.
const dataPlanePrefix = "run.dataplane."

// apiCalls is the number of Google API requests the emulator has served
// since its counters were last reset (data-plane calls excluded).
func (e *emu) apiCalls() int {
	n := 0
	for k, v := range e.Calls() {
		if !strings.HasPrefix(k, dataPlanePrefix) {
			n += v
		}
	}
	return n
}

// calls is one counter, e.g. "iamcredentials.v1.generateIdToken".
func (e *emu) calls(name string) int { return e.Calls()[name] }
