package core

// The management half of the emulator: IAM v1 (iam.go, roles.go), IAM
// Credentials (iamcredentials.go), the OAuth2 token endpoint (oauth.go),
// certificates (certs.go), the metadata server (metadata.go), Resource
// Manager (crm.go), over the shared policy model (policy.go), caller
// authentication (auth.go) and ID tokens (idtoken.go).
//
// Entry points the run half uses (all documented where defined):
//   - e.authorize / e.authorizeResource (auth.go): management API checks;
//   - e.serveGetIamPolicy / serveSetIamPolicy / serveTestIamPermissions,
//     e.getPolicyResponse, e.setPolicy, (*Policy).bindingsAt (policy.go);
//   - e.principalPermitted / e.principalPermittedAt (roles.go);
//   - e.verifyIDToken, e.mintIDToken (idtoken.go);
//   - e.serviceAccountLocked, e.projectLocked, e.ensureProjectLocked,
//     e.saveLocked, randomHex, newEtag.

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// management holds what the management half derives at init and never
// changes afterwards, so it can be read without e.mu.
type management struct {
	// Roles is the predefined-role table (data: pkg/internal/iamroles,
	// overridden per role by Options.RolesFile), by "roles/x".
	Roles map[string]*authz.Role
	// Signers are the parsed ID-token signing keys, by kid; signKID is the
	// newest one, used for minting.
	Signers map[string]*rsa.PrivateKey
	SignKID string
}

// RandomHex returns n random bytes hex-encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// init loads stored state (or starts empty), applies the seed, creates the
// default project with the bootstrap owner in roles/owner, makes sure an
// ID-token signing key exists, loads the role table, and saves.
//
// Order matters: the seed is applied before the default project is ensured,
// so a seed may define the default project itself (with its own policy); a
// seed that needs a project to exist first can call ensureProjectLocked.
func (e *Server) init() error {
	if _, aerr := NormalizeMember(e.Opts.BootstrapPrincipal); aerr != nil || !strings.Contains(e.Opts.BootstrapPrincipal, ":") {
		return fmt.Errorf("emulator: bootstrap principal %q is not an IAM member such as user:owner@example.com", e.Opts.BootstrapPrincipal)
	}
	st, err := e.store.Load()
	if err != nil {
		return fmt.Errorf("emulator: loading state: %w", err)
	}
	if st == nil {
		st = model.NewState()
	}
	fillStateMaps(st)

	roles, err := authz.LoadRoleTable(e.Opts.RolesFile)
	if err != nil {
		return err
	}
	e.Mgmt.Roles = roles

	e.Mu.Lock()
	defer e.Mu.Unlock()
	e.St = st

	sd := e.Opts.Seed
	if sd == nil && e.Opts.SeedFile != "" {
		if sd, err = seed.LoadSeed(e.Opts.SeedFile); err != nil {
			return err
		}
	}
	if sd != nil {
		if err := e.applySeed(sd); err != nil {
			return err
		}
	}
	if _, err := e.ensureProjectLocked(e.Opts.Project, e.Opts.ProjectNumber); err != nil {
		return err
	}
	if err := e.ensureSigningKeyLocked(); err != nil {
		return err
	}
	if err := e.SaveLocked(); err != nil {
		return fmt.Errorf("emulator: saving state: %w", err)
	}
	return nil
}

// fillStateMaps replaces nil maps of a loaded state with empty ones.
func fillStateMaps(st *model.State) {
	if st.Projects == nil {
		st.Projects = map[string]*model.Project{}
	}
	if st.Organizations == nil {
		st.Organizations = map[string]*model.Organization{}
	}
	if st.Folders == nil {
		st.Folders = map[string]*model.Folder{}
	}
	if st.ServiceAccounts == nil {
		st.ServiceAccounts = map[string]*model.ServiceAccount{}
	}
	if st.Services == nil {
		st.Services = map[string]*model.Service{}
	}
	if st.Functions == nil {
		st.Functions = map[string]*model.Function{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*model.CustomRole{}
	}
	if st.Groups == nil {
		st.Groups = map[string][]string{}
	}
	if st.AccessTokens == nil {
		st.AccessTokens = map[string]*model.AccessToken{}
	}
	if st.Operations == nil {
		st.Operations = map[string]*model.Operation{}
	}
}

// SaveLocked persists state after a mutation. Called with e.mu held.
func (e *Server) SaveLocked() error { return e.store.Save(e.St) }

// ProjectNumberFor derives a stable 12-digit project number from an id.
func ProjectNumberFor(id string) string {
	sum := sha256.Sum256([]byte("project-number:" + id))
	n := binary.BigEndian.Uint64(sum[:8]) % 900_000_000_000
	return strconv.FormatUint(100_000_000_000+n, 10)
}

// ensureProjectLocked returns project id, creating it when missing with a
// policy that gives roles/owner to the bootstrap principal (as a real
// project's creator holds). number may be empty (derived from id). Called
// with e.mu held; does not save.
func (e *Server) ensureProjectLocked(id, number string) (*model.Project, error) {
	if p := e.St.Projects[id]; p != nil {
		return p, nil
	}
	if id == "" {
		return nil, fmt.Errorf("emulator: empty project id")
	}
	if number == "" {
		number = ProjectNumberFor(id)
	}
	for _, p := range e.St.Projects {
		if p.Number == number {
			return nil, fmt.Errorf("emulator: project %s: number %s already used by project %s", id, number, p.ID)
		}
	}
	p := &model.Project{
		ID:         id,
		Number:     number,
		Name:       id,
		CreateTime: e.Opts.Now().UTC(),
		Policy: &model.Policy{
			Version:  1,
			Etag:     model.NewEtag(),
			Bindings: []*model.Binding{{Role: "roles/owner", Members: []string{authz.NormalizeMemberOrKeep(e.Opts.BootstrapPrincipal)}}},
		},
	}
	e.St.Projects[id] = p
	return p, nil
}

// ProjectLocked finds a project by id or number. Called with e.mu held.
func (e *Server) ProjectLocked(ref string) *model.Project {
	if p := e.St.Projects[ref]; p != nil {
		return p
	}
	for _, p := range e.St.Projects {
		if p.Number == ref {
			return p
		}
	}
	return nil
}
