// Package audittest starts the seeded audit estates of examples/audit in an
// emulator and audits them with the real Google clients, for the tests of
// the audit engine, its renderers and the audit command.
package audittest

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/oauth2"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// The estates of examples/audit: Full holds every finding (drifting from
// FullDeclaration), Clean none.
const (
	FullSeed         = "seed.yaml"
	FullDeclaration  = "invokers.yaml"
	FullProject      = "audit-project"
	CleanSeed        = "clean-seed.yaml"
	CleanDeclaration = "clean-invokers.yaml"
	CleanProject     = "clean-project"
)

// Example is the path of examples/audit/name.
func Example(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "examples", "audit", name)
}

// Start starts an emulator seeded with examples/audit/seed and o's knobs.
func Start(t testing.TB, seed string, o emulator.Options) *emulator.Emulator {
	t.Helper()
	o.SeedFile = Example(seed)
	return testutil.StartEmulator(t, o)
}

// Clients are the real Google clients pointed at emu, retrying without
// waiting.
func Clients(t testing.TB, emu *emulator.Emulator) *gcp.Clients {
	t.Helper()
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: emu.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: emu.BootstrapToken()}),
		Retry:       gcp.RetryPolicy{Initial: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Audit runs the project engine on emu's projects.
func Audit(t testing.TB, emu *emulator.Emulator, projects ...string) *audit.Report {
	t.Helper()
	rep, err := (&audit.Engine{Clients: Clients(t, emu)}).Audit(context.Background(), audit.Scope{Projects: projects})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Declaration loads examples/audit/name.
func Declaration(t testing.TB, name string) *config.Declaration {
	t.Helper()
	d, err := config.Load(Example(name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// WithFindings adds the findings and the drift from declaration to rep.
func WithFindings(t testing.TB, rep *audit.Report, declaration string) *audit.Report {
	t.Helper()
	rep.Findings = append(audit.Findings(rep), audit.Drift(rep, pipeline.Expectations(Declaration(t, declaration)))...)
	rep.Sort()
	return rep
}

// Full audits the estate with every finding, drift included.
func Full(t testing.TB) (*audit.Report, *emulator.Emulator) {
	t.Helper()
	emu := Start(t, FullSeed, emulator.Options{})
	return WithFindings(t, Audit(t, emu, FullProject), FullDeclaration), emu
}

// SARIFSchema is the OASIS SARIF 2.1.0 schema kept in audit/render/testdata.
func SARIFSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join(filepath.Dir(file), "..", "render", "testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// ValidateSARIF fails t unless out is valid SARIF 2.1.0.
func ValidateSARIF(t testing.TB, out []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := SARIFSchema(t).Validate(doc); err != nil {
		t.Fatalf("not valid SARIF 2.1.0: %v", err)
	}
}
