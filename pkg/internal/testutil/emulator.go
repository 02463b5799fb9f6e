package testutil

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"golang.org/x/oauth2"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
)

// StartEmulator starts an in-process emulator with o, closed when the test
// ends.
func StartEmulator(t testing.TB, o emulator.Options) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.New(o)
	if err != nil {
		t.Fatalf("starting the emulator: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

// SeedOptions parses seedYAML (the seed file format) into emulator options.
func SeedOptions(t testing.TB, seedYAML string) emulator.Options {
	t.Helper()
	seed, err := emulator.ParseSeed([]byte(seedYAML), t.Name()+"/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return emulator.Options{Seed: seed}
}

// StartSeeded starts an emulator seeded with seedYAML.
func StartSeeded(t testing.TB, seedYAML string) *emulator.Emulator {
	t.Helper()
	return StartSeededWith(t, seedYAML, emulator.Options{})
}

// StartSeededWith starts an emulator with o, seeded with seedYAML.
func StartSeededWith(t testing.TB, seedYAML string, o emulator.Options) *emulator.Emulator {
	t.Helper()
	o.Seed = SeedOptions(t, seedYAML).Seed
	return StartEmulator(t, o)
}

// TokenSource is the emulator's bootstrap token as an oauth2 source.
func TokenSource(emu *emulator.Emulator) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: emu.BootstrapToken()})
}

// GCPClients builds invokerctl's API clients against emu with its bootstrap
// token and retry policy r (the zero value: the defaults).
func GCPClients(t testing.TB, emu *emulator.Emulator, r gcp.RetryPolicy) *gcp.Clients {
	t.Helper()
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: emu.URL(), TokenSource: TokenSource(emu), Retry: r})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ClientOptions point a Google API client at an emulator at url with its
// bootstrap token.
func ClientOptions(url, token string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(url + "/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})),
	}
}

// EmulatorClientOptions are ClientOptions for emu.
func EmulatorClientOptions(emu *emulator.Emulator) []option.ClientOption {
	return ClientOptions(emu.URL(), emu.BootstrapToken())
}

// Calls reads the request counters of the emulator at url (in this process
// or served by `invokerctl emulator serve`) from GET /_emulator/calls,
// with its bootstrap token.
func Calls(t testing.TB, url, token string) map[string]int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/_emulator/calls", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reading the emulator's counters: %v", err)
	}
	defer resp.Body.Close()
	var calls map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reading the emulator's counters: status %d, %v", resp.StatusCode, err)
	}
	return calls
}

// Accounts lists, sorted, the emails of project's service accounts on emu
// through IAM v1 (each as often as IAM lists it).
func Accounts(t testing.TB, emu *emulator.Emulator, project string) []string {
	t.Helper()
	svc, err := iam.NewService(context.Background(), EmulatorClientOptions(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = svc.Projects.ServiceAccounts.List("projects/"+project).Pages(context.Background(), func(r *iam.ListServiceAccountsResponse) error {
		for _, a := range r.Accounts {
			out = append(out, a.Email)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
