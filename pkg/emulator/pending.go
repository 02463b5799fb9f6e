package emulator

// This file holds the cross-boundary declarations of the two halves of the
// emulator while they are being written. Each owner MOVES its declarations
// into its real file (deleting them here) as it implements them; the file is
// deleted when empty.

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"
)

// ---- owned by the management half (IAM, credentials, OAuth, certs, metadata, CRM) ----

// randomHex returns n random bytes hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// init loads stored state (or a new one), applies the seed (e.applySeed),
// creates the default project with the bootstrap owner in roles/owner, and
// makes sure a signing key exists.
func (e *Emulator) init() error { return nil }

func (e *Emulator) registerManagementRoutes() {}

// idClaims are the claims of a Google-signed ID token the emulator minted.
type idClaims struct {
	Issuer        string
	Audience      string
	Subject       string // SA uniqueId
	Email         string
	EmailVerified bool
	IssuedAt      time.Time
	Expiry        time.Time
}

// verifyIDToken checks signature (emulator Google keys), issuer and expiry
// (small skew) and returns the claims. Audience is NOT checked here.
func (e *Emulator) verifyIDToken(raw string) (*idClaims, error) { return nil, nil }

// principalPermitted reports whether principal (e.g. "serviceAccount:x@y" or
// "user:owner@example.com") holds permission through the union of policies
// (each may be nil), resolving predefined roles (data) and custom roles of
// projectID. Groups are expanded through State.Groups. Called with e.mu held.
func (e *Emulator) principalPermitted(principal, permission, projectID string, policies ...[]*Binding) bool {
	return false
}

// saveLocked persists state after a mutation. Called with e.mu held.
func (e *Emulator) saveLocked() error { return e.store.Save(e.st) }

// ---- owned by the run half (Run v2/v1/Knative, Functions v2, data plane, seed, serve) ----

func (e *Emulator) registerRunRoutes() {}

// serveDataPlane serves r if it is addressed to a Cloud Run service URL
// (by Host header) and reports whether it did.
func (e *Emulator) serveDataPlane(w http.ResponseWriter, r *http.Request) bool { return false }

// Seed is the initial state described by a seed file.
type Seed struct{}

// LoadSeed reads and validates a seed file.
func LoadSeed(path string) (*Seed, error) { return &Seed{}, nil }

// applySeed creates what seed describes. Called with e.mu held during init;
// it must validate everything before changing anything.
func (e *Emulator) applySeed(s *Seed) error { return nil }
