// Package config reads the desired-state declaration (invokers.yaml): which
// service accounts to create and who may invoke which Cloud Run service or
// Cloud Run function (2nd gen).
//
// Parse decodes strictly (unknown keys are errors), validates every rule
// before anything else runs, and resolves short account names to full IAM
// members. Every problem found is reported at once, each with
// file:line:column, the field path and the rule broken, in a
// *ValidationError.
package config

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// APIVersion is the only declaration format version this package reads.
const APIVersion = "invokerctl/v1"

// InvokerRole is the role every grant hands out.
const InvokerRole = "roles/run.invoker"

// TokenCreatorRole is the role smokeTest.tokenCreator receives on each
// created account so it can mint that account's ID tokens.
const TokenCreatorRole = "roles/iam.serviceAccountTokenCreator"

// MaxFileSize bounds the declaration size; larger inputs are refused.
const MaxFileSize = 1 << 20

// Position is a place in the declaration file (1-based).
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Declaration is a parsed, validated and resolved invokers.yaml.
type Declaration struct {
	// File is the path the declaration was read from, as given to Load
	// (or the name given to Parse).
	File string `json:"file,omitempty"`

	APIVersion      string            `json:"apiVersion"`
	Project         string            `json:"project"`
	Location        string            `json:"location"`
	Terraform       TerraformSettings `json:"terraform"`
	ServiceAccounts []ServiceAccount  `json:"serviceAccounts"`
	SmokeTest       SmokeTest         `json:"smokeTest"`
	Grants          []Grant           `json:"grants"`

	accounts map[string]int // short name -> index in ServiceAccounts
}

// TerraformSettings are the optional Terraform settings of a declaration.
type TerraformSettings struct {
	// Backend, when set, is written as a partial backend block and its
	// Config is passed to `terraform init -backend-config`.
	Backend *Backend `json:"backend,omitempty"`
}

// Backend is a Terraform backend: its type (gcs, s3, ...) and settings.
type Backend struct {
	Type   string            `json:"type"`
	Config map[string]string `json:"config,omitempty"`
}

// ServiceAccount is an account the declaration creates.
type ServiceAccount struct {
	// Name is the short name grants use to refer to the account.
	Name string `json:"name"`
	// AccountID is the part of the email before '@' (defaults to Name).
	AccountID   string   `json:"accountId"`
	DisplayName string   `json:"displayName,omitempty"`
	Description string   `json:"description,omitempty"`
	Pos         Position `json:"-"`
}

// Email is the account's address in project.
func (sa ServiceAccount) Email(project string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", sa.AccountID, project)
}

// Member is the account's IAM member string in project.
func (sa ServiceAccount) Member(project string) string {
	return "serviceAccount:" + sa.Email(project)
}

// SmokeTest holds settings for the identity that runs the proof after apply.
type SmokeTest struct {
	// TokenCreator, when set, is the resolved IAM member that receives
	// roles/iam.serviceAccountTokenCreator on every created account.
	TokenCreator string `json:"tokenCreator,omitempty"`
}

// TargetKind says whether a grant names a Cloud Run service or a function.
type TargetKind string

// Target kinds.
const (
	KindService  TargetKind = "service"
	KindFunction TargetKind = "function"
)

// Grant gives roles/run.invoker on one target to a list of members.
type Grant struct {
	// Kind and Name identify the target (exactly one of service/function
	// in the file).
	Kind TargetKind `json:"kind"`
	Name string     `json:"name"`
	// Location is the grant's own location or the declaration default.
	Location string `json:"location"`
	// Members are the members as written in the file.
	Members []string `json:"members"`
	// ResolvedMembers are Members with short names replaced by
	// serviceAccount:{accountId}@{project}.iam.gserviceaccount.com and
	// emails lower-cased, in the same order.
	ResolvedMembers []string `json:"resolvedMembers"`
	Authoritative   bool     `json:"authoritative"`
	Public          bool     `json:"public"`
	Invoke          Invoke   `json:"invoke"`
	Pos             Position `json:"-"`

	rawService, rawFunction string // as written, for validation
}

// Key identifies the grant's target: "service/us-central1/orders-api".
// It is unique within a declaration and stable across runs.
func (g Grant) Key() string { return string(g.Kind) + "/" + g.Location + "/" + g.Name }

// Invoke describes the smoke-test call made after apply.
type Invoke struct {
	Method       string `json:"method"`
	Path         string `json:"path"`
	Body         string `json:"body,omitempty"`
	ExpectStatus int    `json:"expectStatus"`
	// As is the caller as written (short name or member), possibly empty.
	As string `json:"as,omitempty"`
	// Caller is the resolved serviceAccount member the call is made as:
	// As resolved, or the grant's first serviceAccount member. Empty when
	// the grant has none (a public grant is then called without a token).
	Caller string `json:"caller,omitempty"`
	// RefusedCaller as written, and resolved in RefusedMember: a member
	// without a grant on this target whose call must be refused.
	RefusedCaller string `json:"refusedCaller,omitempty"`
	RefusedMember string `json:"refusedMember,omitempty"`
	Skip          bool   `json:"skip"`
}

// Account returns the declared account with the short name, if any.
func (d *Declaration) Account(name string) (ServiceAccount, bool) {
	i, ok := d.accounts[name]
	if !ok {
		return ServiceAccount{}, false
	}
	return d.ServiceAccounts[i], true
}

// ResolveMember turns a short account name into its IAM member; full members
// are returned normalized. ok is false for an unknown short name.
func (d *Declaration) ResolveMember(m string) (string, bool) {
	if isShortName(m) {
		sa, ok := d.Account(m)
		if !ok {
			return "", false
		}
		return sa.Member(d.Project), true
	}
	return NormalizeMember(m), true
}

// AccountByMember returns the declared account whose member string is m.
func (d *Declaration) AccountByMember(m string) (ServiceAccount, bool) {
	for _, sa := range d.ServiceAccounts {
		if sa.Member(d.Project) == m {
			return sa, true
		}
	}
	return ServiceAccount{}, false
}

// Members returns every distinct resolved member granted anywhere, sorted.
func (d *Declaration) Members() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range d.Grants {
		for _, m := range g.ResolvedMembers {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Load reads, validates and resolves the declaration at path. Errors in the
// content are a *ValidationError; a file that cannot be read is an
// *os.PathError.
func Load(path string) (*Declaration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}
