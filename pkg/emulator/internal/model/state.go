// Package model holds the emulator's state (projects, accounts, keys,
// services, functions, policies, tokens) and its persistence as one JSON
// state file.
package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// State is everything the emulator knows. It is guarded by Emulator.mu and
// persisted as one JSON document when a state file is configured, so a
// restart with the same file keeps every account, key, service and policy.
type State struct {
	Projects map[string]*Project `json:"projects"` // by project id
	// Organizations by "organizations/{number}" and Folders by
	// "folders/{number}": the Resource Manager hierarchy above projects.
	Organizations map[string]*Organization `json:"organizations,omitempty"`
	Folders       map[string]*Folder       `json:"folders,omitempty"`
	// ServiceAccounts by email (live and deleted; deleted ones keep Deleted=true).
	ServiceAccounts map[string]*ServiceAccount `json:"serviceAccounts"`
	Services        map[string]*Service        `json:"services"`  // by "projects/{id}/locations/{l}/services/{s}"
	Functions       map[string]*Function       `json:"functions"` // by "projects/{id}/locations/{l}/functions/{f}"
	Roles           map[string]*CustomRole     `json:"roles"`     // custom roles by "projects/{id}/roles/{r}"
	// Groups maps "group:email" to its members (any IAM member strings,
	// nested groups allowed), for invocation checks.
	Groups map[string][]string `json:"groups"`
	// AccessTokens minted by the emulator, by token. Bootstrap tokens are
	// not stored here (they come from Options).
	AccessTokens map[string]*AccessToken `json:"accessTokens"`
	// Operations by name ("projects/{id}/locations/{l}/operations/{op}").
	Operations map[string]*Operation `json:"operations"`
	// SigningKeys are the emulator's "Google" ID-token signing keys (PEM,
	// PKCS#8), newest last; kid → key.
	SigningKeys []*SigningKey `json:"signingKeys"`
	// Buckets are Cloud Storage buckets by name (global, as in Google).
	Buckets map[string]*Bucket `json:"buckets,omitempty"`
	// WorkloadIdentityPools by name
	// ("projects/{number}/locations/global/workloadIdentityPools/{pool}").
	WorkloadIdentityPools map[string]*WorkloadIdentityPool `json:"workloadIdentityPools,omitempty"`
	// FederatedSubjects by principal identifier
	// ("principal://iam.googleapis.com/{pool}/subject/{sub}").
	FederatedSubjects map[string]*FederatedSubject `json:"federatedSubjects,omitempty"`
}

// Project is a Cloud Resource Manager project.
type Project struct {
	ID         string    `json:"id"`
	Number     string    `json:"number"`
	Name       string    `json:"name"`
	CreateTime time.Time `json:"createTime"`
	Policy     *Policy   `json:"policy"`
	// Parent is "organizations/{id}" or "folders/{id}", or empty.
	Parent string            `json:"parent,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Organization is a Resource Manager organization, the root of a hierarchy.
type Organization struct {
	Name                string    `json:"name"` // organizations/{number}
	DisplayName         string    `json:"displayName,omitempty"`
	DirectoryCustomerID string    `json:"directoryCustomerId,omitempty"`
	CreateTime          time.Time `json:"createTime"`
	Policy              *Policy   `json:"policy"`
}

// Folder is a Resource Manager folder under an organization or a folder.
type Folder struct {
	Name        string    `json:"name"`   // folders/{number}
	Parent      string    `json:"parent"` // organizations/{n} or folders/{n}
	DisplayName string    `json:"displayName,omitempty"`
	CreateTime  time.Time `json:"createTime"`
	Policy      *Policy   `json:"policy"`
}

// Policy is an IAM policy (contract §8.1), shared by every API.
type Policy struct {
	Version      int           `json:"version,omitempty"`
	Etag         string        `json:"etag,omitempty"`
	Bindings     []*Binding    `json:"bindings,omitempty"`
	AuditConfigs []AuditConfig `json:"auditConfigs,omitempty"`
	// UpdateTime is when the policy last changed; the data plane applies a
	// change only once UpdateTime+PropagationDelay has passed. PrevBindings
	// holds the bindings in force before that change.
	UpdateTime   time.Time  `json:"updateTime,omitempty"`
	PrevBindings []*Binding `json:"prevBindings,omitempty"`
}

// Binding binds members to a role, optionally under a condition.
type Binding struct {
	Role      string   `json:"role"`
	Members   []string `json:"members,omitempty"`
	Condition *Expr    `json:"condition,omitempty"`
}

// Expr is a CEL condition.
type Expr struct {
	Expression  string `json:"expression"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Location    string `json:"location,omitempty"`
}

// AuditConfig is stored and echoed back; nothing interprets it.
type AuditConfig struct {
	Service         string           `json:"service"`
	AuditLogConfigs []map[string]any `json:"auditLogConfigs,omitempty"`
}

// ServiceAccount is an IAM service account with its keys and policy.
type ServiceAccount struct {
	ProjectID   string            `json:"projectId"`
	AccountID   string            `json:"accountId"`
	Email       string            `json:"email"`
	UniqueID    string            `json:"uniqueId"`
	DisplayName string            `json:"displayName,omitempty"`
	Description string            `json:"description,omitempty"`
	Disabled    bool              `json:"disabled,omitempty"`
	Deleted     bool              `json:"deleted,omitempty"`
	Etag        string            `json:"etag,omitempty"`
	Keys        map[string]*SAKey `json:"keys,omitempty"` // by key id
	Policy      *Policy           `json:"policy"`
}

// SAKey is a service-account key; PrivateKeyPEM is kept so created key
// files stay valid across restarts of a persisted emulator.
type SAKey struct {
	ID            string    `json:"id"`
	PrivateKeyPEM string    `json:"privateKeyPem,omitempty"`
	PublicKeyPEM  string    `json:"publicKeyPem"`
	CertPEM       string    `json:"certPem"`
	Algorithm     string    `json:"algorithm,omitempty"` // e.g. KEY_ALG_RSA_2048, echoed by keys.get
	Origin        string    `json:"origin"`              // GOOGLE_PROVIDED or USER_PROVIDED
	Type          string    `json:"type"`                // USER_MANAGED or SYSTEM_MANAGED
	ValidAfter    time.Time `json:"validAfter"`
	ValidBefore   time.Time `json:"validBefore"`
	Disabled      bool      `json:"disabled,omitempty"`
}

// Service is a Cloud Run service: one stored object with a v2 and a v1
// (Knative) rendering.
type Service struct {
	ProjectID          string            `json:"projectId"`
	Location           string            `json:"location"`
	Name               string            `json:"name"` // short name
	UID                string            `json:"uid"`
	Description        string            `json:"description,omitempty"`
	Labels             map[string]string `json:"labels,omitempty"`
	Annotations        map[string]string `json:"annotations,omitempty"`
	Generation         int64             `json:"generation"`
	CreateTime         time.Time         `json:"createTime"`
	UpdateTime         time.Time         `json:"updateTime"`
	Creator            string            `json:"creator,omitempty"`
	LastModifier       string            `json:"lastModifier,omitempty"`
	Ingress            string            `json:"ingress,omitempty"`
	InvokerIAMDisabled bool              `json:"invokerIamDisabled,omitempty"`
	CustomAudiences    []string          `json:"customAudiences,omitempty"`
	DefaultURIDisabled bool              `json:"defaultUriDisabled,omitempty"`
	URI                string            `json:"uri"`
	URLs               []string          `json:"urls"`
	Template           map[string]any    `json:"template,omitempty"`
	Etag               string            `json:"etag"`
	Policy             *Policy           `json:"policy"`
	// Response, when set, is what the emulated container answers with
	// (status and body); by default it echoes the caller.
	ResponseStatus int `json:"responseStatus,omitempty"`
	// Port is the loopback port of the service's own data-plane listener
	// (its uri); kept so a restart listens on it again.
	Port int `json:"port,omitempty"`
}

// Function is a Cloud Functions v2 function backed by a Cloud Run service.
type Function struct {
	ProjectID    string            `json:"projectId"`
	Location     string            `json:"location"`
	Name         string            `json:"name"` // short name
	Description  string            `json:"description,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	State        string            `json:"state"`
	Environment  string            `json:"environment"` // GEN_2
	Service      string            `json:"service"`     // full Run service name backing it
	EventTrigger map[string]any    `json:"eventTrigger,omitempty"`
	Runtime      string            `json:"runtime,omitempty"`
	EntryPoint   string            `json:"entryPoint,omitempty"`
	CreateTime   time.Time         `json:"createTime"`
	UpdateTime   time.Time         `json:"updateTime"`
}

// CustomRole is an IAM custom role (projects.roles).
type CustomRole struct {
	Name                string   `json:"name"` // projects/{id}/roles/{roleId}
	Title               string   `json:"title,omitempty"`
	Description         string   `json:"description,omitempty"`
	IncludedPermissions []string `json:"includedPermissions,omitempty"`
	Stage               string   `json:"stage,omitempty"`
	Etag                string   `json:"etag,omitempty"`
	Deleted             bool     `json:"deleted,omitempty"`
}

// AccessToken is an OAuth2 access token the emulator minted.
type AccessToken struct {
	Principal string    `json:"principal"` // "serviceAccount:email"
	Scopes    []string  `json:"scopes,omitempty"`
	Expiry    time.Time `json:"expiry"`
}

// Operation is a long-running operation.
type Operation struct {
	Name     string         `json:"name"`
	Done     bool           `json:"done"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Response map[string]any `json:"response,omitempty"`
	Error    map[string]any `json:"error,omitempty"` // google.rpc.Status
}

// SigningKey is one of the emulator's Google ID-token signing keys.
type SigningKey struct {
	KID           string `json:"kid"`
	PrivateKeyPEM string `json:"privateKeyPem"`
	CertPEM       string `json:"certPem"`
}

// NewState is an empty state with every map made.
func NewState() *State {
	return &State{
		Projects:        map[string]*Project{},
		Organizations:   map[string]*Organization{},
		Folders:         map[string]*Folder{},
		ServiceAccounts: map[string]*ServiceAccount{},
		Services:        map[string]*Service{},
		Functions:       map[string]*Function{},
		Roles:           map[string]*CustomRole{},
		Groups:          map[string][]string{},
		AccessTokens:    map[string]*AccessToken{},
		Operations:      map[string]*Operation{},
		Buckets:         map[string]*Bucket{},

		WorkloadIdentityPools: map[string]*WorkloadIdentityPool{},
		FederatedSubjects:     map[string]*FederatedSubject{},
	}
}

// Store loads and saves State. The emulator holds state in memory and calls
// Save after every mutation.
type Store interface {
	Load() (*State, error) // nil, nil when there is nothing stored yet
	Save(*State) error
}

// MemStore keeps nothing: state lives only in the emulator's memory.
type MemStore struct{}

func (MemStore) Load() (*State, error) { return nil, nil }
func (MemStore) Save(*State) error     { return nil }

// FileStore persists state as JSON at Path, written atomically (temp file in
// the same directory, fsync, rename) with mode 0600: it holds private keys.
type FileStore struct{ Path string }

// Load reads the state file; a missing file is not an error.
func (f FileStore) Load() (*State, error) {
	b, err := os.ReadFile(f.Path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading emulator state: %w", err)
	}
	st := NewState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("emulator state file %s: %w", f.Path, err)
	}
	return st, nil
}

// Save writes the state file atomically.
func (f FileStore) Save(st *State) error {
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, ".emulator-state-*.json")
	if err != nil {
		return fmt.Errorf("writing emulator state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing emulator state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}
