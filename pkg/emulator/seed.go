package emulator

import "github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"

// Seed is the initial state described by a seed file: organizations,
// folders, projects, service accounts, groups, custom roles, Cloud Run
// services, Cloud Functions and Cloud Storage buckets.
// The format and its rules are documented in
// pkg/emulator/internal/seed/seed.go; examples/emulator-seed.yaml is an example.
type Seed = seed.Seed

// The entries of a Seed.
type (
	SeedDefaults       = seed.SeedDefaults
	SeedOrganization   = seed.SeedOrganization
	SeedFolder         = seed.SeedFolder
	SeedProject        = seed.SeedProject
	SeedBinding        = seed.SeedBinding
	SeedServiceAccount = seed.SeedServiceAccount
	SeedGroup          = seed.SeedGroup
	SeedCustomRole     = seed.SeedCustomRole
	SeedService        = seed.SeedService
	SeedFunction       = seed.SeedFunction
	SeedEventTrigger   = seed.SeedEventTrigger
	SeedEventFilter    = seed.SeedEventFilter
	SeedBucket         = seed.SeedBucket
)

// LoadSeed reads and validates a seed file (YAML or JSON).
func LoadSeed(path string) (*Seed, error) { return seed.LoadSeed(path) }

// ParseSeed parses and validates a seed document; name labels errors.
func ParseSeed(b []byte, name string) (*Seed, error) { return seed.ParseSeed(b, name) }
