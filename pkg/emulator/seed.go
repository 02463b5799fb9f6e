package emulator

import "github.com/invokerctl/invokerctl/pkg/emulator/internal/server"

// Seed is the initial state described by a seed file: projects, service
// accounts, groups, custom roles, Cloud Run services and Cloud Functions.
// The format is documented on ParseSeed's package (internal seed rules) and
// in the example seed shipped with the project.
type Seed = server.Seed

// The entries of a Seed.
type (
	SeedDefaults       = server.SeedDefaults
	SeedProject        = server.SeedProject
	SeedBinding        = server.SeedBinding
	SeedServiceAccount = server.SeedServiceAccount
	SeedGroup          = server.SeedGroup
	SeedCustomRole     = server.SeedCustomRole
	SeedService        = server.SeedService
	SeedFunction       = server.SeedFunction
	SeedEventTrigger   = server.SeedEventTrigger
	SeedEventFilter    = server.SeedEventFilter
)

// LoadSeed reads and validates a seed file (YAML or JSON).
func LoadSeed(path string) (*Seed, error) { return server.LoadSeed(path) }

// ParseSeed parses and validates a seed document; name labels errors.
func ParseSeed(b []byte, name string) (*Seed, error) { return server.ParseSeed(b, name) }
