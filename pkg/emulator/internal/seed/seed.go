// Package seed parses and validates seed files: the initial state of an
// emulator, written by hand.
//
// A seed file is YAML (or JSON, which is YAML too) decoded strictly: an
// unknown key is an error. Every top-level key is optional:
//
//	defaults:                 # used by entries that leave project/location out
//	  project: demo-project
//	  location: us-central1
//	organizations:            # Resource Manager organizations; the bootstrap
//	  - id: "4242"            # owner holds roles/owner in each it creates
//	    displayName: example.com
//	    directoryCustomerId: C0abc123   # optional
//	    policy:               # bindings inherited by every folder, project and service below
//	      - role: roles/cloudasset.viewer
//	        members: [group:auditors@example.com]
//	folders:                  # folders under an organization or another folder
//	  - id: "1001"            # digits
//	    parent: organizations/4242    # required: a declared or existing node
//	    displayName: Payments
//	    policy: [...]         # as for organizations
//	projects:                 # created unless they exist; the bootstrap owner
//	  - id: demo-project      # holds roles/owner in each, like a real creator
//	    number: "123456789012"  # optional, 12 digits; derived from id when absent
//	    name: Demo            # optional display name
//	    parent: folders/1001  # optional, or organizations/{id}; an undeclared
//	                          # node is a bare label (no policy, ends the chain)
//	    labels: {env: test}   # optional
//	    policy:               # extra project-level bindings (inherited by every service)
//	      - role: roles/run.invoker
//	        members: [group:invokers@example.com]
//	serviceAccounts:
//	  - accountId: orders-caller       # 6-30 chars, [a-z][-a-z0-9]*[a-z0-9]
//	    project: demo-project          # default: defaults.project
//	    displayName: Orders caller
//	    description: ...
//	    disabled: false
//	groups:                   # memberships used when a policy names group:...
//	  - name: invokers@example.com     # "group:" prefix optional
//	    members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
//	customRoles:
//	  - roleId: invokerLite            # [a-zA-Z0-9_.]{3,64}
//	    project: demo-project
//	    title: Invoker (lite)
//	    permissions: [run.routes.invoke]
//	services:                 # Cloud Run services (each gets its own URL)
//	  - name: orders-api               # [a-z]([-a-z0-9]*[a-z0-9])?, < 50 chars
//	    project: demo-project
//	    location: us-central1
//	    ingress: INGRESS_TRAFFIC_ALL   # or all | internal | internal-and-cloud-load-balancing | none
//	    invokerIamDisabled: false
//	    customAudiences: [https://orders.example.com]
//	    responseStatus: 200            # what the pretend container answers
//	    description: ...
//	    labels: {team: orders}
//	    policy:                        # the service's own IAM policy
//	      - role: roles/run.invoker
//	        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
//	functions:                # Cloud Functions (2nd gen), each backed by a Run service
//	  - name: resize-image
//	    project: demo-project
//	    location: us-central1
//	    runtime: go125
//	    entryPoint: Resize
//	    service: resize-image          # backing Run service; default: the function name.
//	                                   # Declared under services: → that one is used;
//	                                   # otherwise it is created with the fields below.
//	    ingress, invokerIamDisabled, customAudiences, responseStatus, policy: as for services
//	    eventTrigger:                  # makes it event-driven (its service stays private)
//	      eventType: google.cloud.storage.object.v1.finalized
//	      serviceAccountEmail: trigger@demo-project.iam.gserviceaccount.com
//	      triggerRegion: us-central1
//	      eventFilters: [{attribute: bucket, value: uploads}]
//	buckets:                  # Cloud Storage buckets (e.g. for Terraform's gcs backend)
//	  - name: demo-tfstate             # bucket naming rules; names are global
//	    project: demo-project          # default: defaults.project
//	    location: us-central1          # default: US
//	workloadIdentityPools:    # Workload Identity Federation (Google STS's token exchange)
//	  - pool: github                   # the pool id: 4-32 characters, a-z, 0-9, '-'
//	    project: demo-project          # default: defaults.project; names use its number
//	    displayName: GitHub Actions
//	    disabled: false
//	    providers:                     # OIDC providers (the real API's oidc.* and attribute fields)
//	      - id: github-actions
//	        issuerUri: https://token.actions.githubusercontent.com
//	        allowedAudiences: [...]    # default: https://iam.googleapis.com/{provider name}
//	        jwksJson: '{"keys":[...]}' # required: the emulator never fetches the issuer's keys
//	        attributeMapping:          # default: {google.subject: assertion.sub}
//	          google.subject: assertion.sub
//	          attribute.repository: assertion.repository
//	        attributeCondition: "assertion.repository_owner == 'acme'"   # optional
//	        disabled: false
//	    # Federated principals are principal://iam.googleapis.com/projects/{number}/
//	    # locations/global/workloadIdentityPools/{pool}/subject/{google.subject};
//	    # bind roles/iam.workloadIdentityUser to them, or to principalSet://...
//	    # /{pool}/attribute.repository/OWNER/REPO (or /*), e.g. in a project policy.
//	    # Mappings take assertion.CLAIM paths or quoted strings; conditions take
//	    # ==/!= comparisons joined by &&, as far as the emulator evaluates CEL.
//
// Rules: names are unique per kind; a folder's parent must be declared (or
// exist) and folders may not form a cycle; every project an entry names must be
// declared, already exist, or be the emulator's default project (which is then
// created); members follow IAM's grammar; a serviceAccount: member in a
// project the emulator knows must name a declared or existing account; a
// custom role used in a binding must exist. The trigger account of an
// event-driven function is granted roles/run.invoker on its backing service,
// as a deployment does. Entries that already exist in the state (a restart
// with a state file) are left as they are.
//
// Everything is validated before anything changes; a bad seed is one error
// listing each problem as "seed FILE: services[2] (orders-api): what".
package seed

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// Seed is the initial state described by a seed file (see the format above).
type Seed struct {
	Defaults        SeedDefaults         `yaml:"defaults" json:"defaults"`
	Organizations   []SeedOrganization   `yaml:"organizations" json:"organizations"`
	Folders         []SeedFolder         `yaml:"folders" json:"folders"`
	Projects        []SeedProject        `yaml:"projects" json:"projects"`
	ServiceAccounts []SeedServiceAccount `yaml:"serviceAccounts" json:"serviceAccounts"`
	Groups          []SeedGroup          `yaml:"groups" json:"groups"`
	CustomRoles     []SeedCustomRole     `yaml:"customRoles" json:"customRoles"`
	Services        []SeedService        `yaml:"services" json:"services"`
	Functions       []SeedFunction       `yaml:"functions" json:"functions"`
	Buckets         []SeedBucket         `yaml:"buckets" json:"buckets"`

	WorkloadIdentityPools []SeedWorkloadIdentityPool `yaml:"workloadIdentityPools" json:"workloadIdentityPools"`

	// source names the seed in errors (the file path).
	source string
}

// SeedDefaults fills project and location of entries that leave them out.
type SeedDefaults struct {
	Project  string `yaml:"project" json:"project"`
	Location string `yaml:"location" json:"location"`
}

// SeedOrganization declares a Resource Manager organization by number.
type SeedOrganization struct {
	ID                  string        `yaml:"id" json:"id"`
	DisplayName         string        `yaml:"displayName" json:"displayName"`
	DirectoryCustomerID string        `yaml:"directoryCustomerId" json:"directoryCustomerId"`
	Policy              []SeedBinding `yaml:"policy" json:"policy"`
}

// SeedFolder declares a folder by number under Parent
// ("organizations/{id}" or "folders/{id}").
type SeedFolder struct {
	ID          string        `yaml:"id" json:"id"`
	Parent      string        `yaml:"parent" json:"parent"`
	DisplayName string        `yaml:"displayName" json:"displayName"`
	Policy      []SeedBinding `yaml:"policy" json:"policy"`
}

// SeedProject declares a project.
type SeedProject struct {
	ID     string            `yaml:"id" json:"id"`
	Number string            `yaml:"number" json:"number"`
	Name   string            `yaml:"name" json:"name"`
	Parent string            `yaml:"parent" json:"parent"`
	Labels map[string]string `yaml:"labels" json:"labels"`
	Policy []SeedBinding     `yaml:"policy" json:"policy"`
}

// SeedBinding grants role to members.
type SeedBinding struct {
	Role    string   `yaml:"role" json:"role"`
	Members []string `yaml:"members" json:"members"`
}

// SeedServiceAccount declares a service account.
type SeedServiceAccount struct {
	Project     string `yaml:"project" json:"project"`
	AccountID   string `yaml:"accountId" json:"accountId"`
	DisplayName string `yaml:"displayName" json:"displayName"`
	Description string `yaml:"description" json:"description"`
	Disabled    bool   `yaml:"disabled" json:"disabled"`
}

// SeedGroup declares a group's members (any IAM members, nested groups too).
type SeedGroup struct {
	Name    string   `yaml:"name" json:"name"`
	Members []string `yaml:"members" json:"members"`
}

// SeedCustomRole declares a project-level custom role.
type SeedCustomRole struct {
	Project     string   `yaml:"project" json:"project"`
	RoleID      string   `yaml:"roleId" json:"roleId"`
	Title       string   `yaml:"title" json:"title"`
	Description string   `yaml:"description" json:"description"`
	Permissions []string `yaml:"permissions" json:"permissions"`
	Stage       string   `yaml:"stage" json:"stage"`
}

// SeedService declares a Cloud Run service.
type SeedService struct {
	Project            string            `yaml:"project" json:"project"`
	Location           string            `yaml:"location" json:"location"`
	Name               string            `yaml:"name" json:"name"`
	Description        string            `yaml:"description" json:"description"`
	Labels             map[string]string `yaml:"labels" json:"labels"`
	Ingress            string            `yaml:"ingress" json:"ingress"`
	InvokerIAMDisabled bool              `yaml:"invokerIamDisabled" json:"invokerIamDisabled"`
	CustomAudiences    []string          `yaml:"customAudiences" json:"customAudiences"`
	ResponseStatus     int               `yaml:"responseStatus" json:"responseStatus"`
	Policy             []SeedBinding     `yaml:"policy" json:"policy"`
}

// SeedBucket declares a Cloud Storage bucket.
type SeedBucket struct {
	Name     string `yaml:"name" json:"name"`
	Project  string `yaml:"project" json:"project"`
	Location string `yaml:"location" json:"location"`
}

// SeedFunction declares a Cloud Functions v2 function and its backing service.
type SeedFunction struct {
	Project            string            `yaml:"project" json:"project"`
	Location           string            `yaml:"location" json:"location"`
	Name               string            `yaml:"name" json:"name"`
	Description        string            `yaml:"description" json:"description"`
	Labels             map[string]string `yaml:"labels" json:"labels"`
	Runtime            string            `yaml:"runtime" json:"runtime"`
	EntryPoint         string            `yaml:"entryPoint" json:"entryPoint"`
	Service            string            `yaml:"service" json:"service"`
	Ingress            string            `yaml:"ingress" json:"ingress"`
	InvokerIAMDisabled bool              `yaml:"invokerIamDisabled" json:"invokerIamDisabled"`
	CustomAudiences    []string          `yaml:"customAudiences" json:"customAudiences"`
	ResponseStatus     int               `yaml:"responseStatus" json:"responseStatus"`
	Policy             []SeedBinding     `yaml:"policy" json:"policy"`
	EventTrigger       *SeedEventTrigger `yaml:"eventTrigger" json:"eventTrigger"`
}

// SeedEventTrigger makes a function event-driven.
type SeedEventTrigger struct {
	EventType           string            `yaml:"eventType" json:"eventType"`
	ServiceAccountEmail string            `yaml:"serviceAccountEmail" json:"serviceAccountEmail"`
	TriggerRegion       string            `yaml:"triggerRegion" json:"triggerRegion"`
	PubsubTopic         string            `yaml:"pubsubTopic" json:"pubsubTopic"`
	RetryPolicy         string            `yaml:"retryPolicy" json:"retryPolicy"`
	EventFilters        []SeedEventFilter `yaml:"eventFilters" json:"eventFilters"`
}

// SeedEventFilter is one eventTrigger filter.
type SeedEventFilter struct {
	Attribute string `yaml:"attribute" json:"attribute"`
	Value     string `yaml:"value" json:"value"`
	Operator  string `yaml:"operator" json:"operator"`
}

// LoadSeed reads a seed file and checks everything that does not depend on
// the emulator's state (formats, repeated names, references inside the file).
func LoadSeed(path string) (*Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	s, err := ParseSeed(b, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSeed decodes a seed document; name is used in errors.
func ParseSeed(b []byte, name string) (*Seed, error) {
	s := &Seed{source: name}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("seed %s: the file is empty", name)
		}
		return nil, fmt.Errorf("seed %s: %w", name, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("seed %s: more than one YAML document; put everything in one", name)
	}
	if err := s.Validate(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is how errors name the seed (its file, or Options.Seed).
func (s *Seed) Name() string {
	if s.source == "" {
		return "(Options.Seed)"
	}
	return s.source
}

var (
	seedProjectIDRe = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	seedNumberRe    = regexp.MustCompile(`^[1-9][0-9]{11}$`)
	seedParentRe    = regexp.MustCompile(`^(organizations|folders)/[1-9][0-9]*$`)
	seedNodeIDRe    = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
	seedEmailRe     = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	seedPermRe      = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+){2}$`)
)

// A seed accepts the account ids, custom role ids, service names and
// locations the APIs accept.
var (
	seedAccountIDRe = model.AccountIDRE
	seedRoleIDRe    = model.CustomRoleIDRE
	seedServiceRe   = model.RunServiceIDRe
	seedLocationRe  = model.RunLocationRe
)

// seedIngress maps accepted ingress spellings (v2 enum and the v1
// annotation values) to the v2 enum; absent means all.
var Ingress = func() map[string]string {
	m := map[string]string{"": model.IngressAll}
	for v2, v1 := range model.V1Ingress {
		m[v2], m[v1] = v2, v2
	}
	return m
}()

// seedProblems collects validation errors, each naming the entry.
type seedProblems struct {
	src  string
	errs []error
}

func (p *seedProblems) add(entry, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("seed %s: %s: %s", p.src, entry, fmt.Sprintf(format, args...)))
}

func (p *seedProblems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return errors.Join(p.errs...)
}

func seedEntry(kind string, i int, name string) string {
	if name == "" {
		return fmt.Sprintf("%s[%d]", kind, i)
	}
	return fmt.Sprintf("%s[%d] (%s)", kind, i, name)
}

// seedView is what validation knows exists: the seed's own entries plus,
// when checking against a state, what the state holds.
type seedView struct {
	projects map[string]bool // ids
	accounts map[string]bool // lower-case emails of live accounts
	roles    map[string]bool // projects/{p}/roles/{r}
	full     bool            // references to unknown things are errors
}

// Project is p, or the default project when p is empty.
func (s *Seed) Project(p string) string {
	if p == "" {
		return s.Defaults.Project
	}
	return p
}

// Location is l, or the default location when l is empty.
func (s *Seed) Location(l string) string {
	if l == "" {
		return s.Defaults.Location
	}
	return l
}

// Validate checks the seed. With st == nil it checks only what the file
// alone determines; with a state (and the default project id) it also
// resolves every reference against what exists.
func (s *Seed) Validate(st *State) error {
	p := &seedProblems{src: s.Name()}
	v := seedView{projects: map[string]bool{}, accounts: map[string]bool{}, roles: map[string]bool{}}
	if st != nil {
		v.full = true
		for id := range st.St.Projects {
			v.projects[id] = true
		}
		if st.DefaultProject != "" {
			v.projects[st.DefaultProject] = true
		}
		for email, sa := range st.St.ServiceAccounts {
			if !sa.Deleted {
				v.accounts[strings.ToLower(email)] = true
			}
		}
		for name, r := range st.St.Roles {
			if !r.Deleted {
				v.roles[name] = true
			}
		}
	}
	if s.Defaults.Project != "" && !seedProjectIDRe.MatchString(s.Defaults.Project) {
		p.add("defaults", "project %q is not a valid project id", s.Defaults.Project)
	}
	if s.Defaults.Location != "" && !seedLocationRe.MatchString(s.Defaults.Location) {
		p.add("defaults", "location %q is not a region such as us-central1", s.Defaults.Location)
	}

	s.checkHierarchy(p, st)

	numbers := map[string]string{}
	for i, pr := range s.Projects {
		ent := seedEntry("projects", i, pr.ID)
		switch {
		case pr.ID == "":
			p.add(ent, "id is required")
		case !seedProjectIDRe.MatchString(pr.ID):
			p.add(ent, "id %q is not a valid project id (6-30 characters: lower-case letters, digits, hyphens; starts with a letter)", pr.ID)
		case seedDeclared(s.Projects[:i], func(q SeedProject) bool { return q.ID == pr.ID }):
			p.add(ent, "project %q is declared twice", pr.ID)
		}
		if pr.Number != "" {
			if !seedNumberRe.MatchString(pr.Number) {
				p.add(ent, "number %q must be 12 digits", pr.Number)
			} else if other, dup := numbers[pr.Number]; dup {
				p.add(ent, "number %s is already used by project %q", pr.Number, other)
			}
			numbers[pr.Number] = pr.ID
			if st != nil {
				if ex := st.St.Projects[pr.ID]; ex != nil && ex.Number != pr.Number {
					p.add(ent, "project already exists with number %s, not %s", ex.Number, pr.Number)
				}
				for id, ex := range st.St.Projects {
					if id != pr.ID && ex.Number == pr.Number {
						p.add(ent, "number %s is already used by existing project %q", pr.Number, id)
					}
				}
			}
		}
		if pr.Parent != "" && !seedParentRe.MatchString(pr.Parent) {
			p.add(ent, "parent %q must be organizations/{number} or folders/{number}", pr.Parent)
		}
		v.projects[pr.ID] = true
	}

	for i, sa := range s.ServiceAccounts {
		ent := seedEntry("serviceAccounts", i, sa.AccountID)
		proj := s.Project(sa.Project)
		switch {
		case sa.AccountID == "":
			p.add(ent, "accountId is required")
		case len(sa.AccountID) < 6 || len(sa.AccountID) > 30 || !seedAccountIDRe.MatchString(sa.AccountID):
			p.add(ent, "accountId %q must be 6-30 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen", sa.AccountID)
		}
		if proj == "" {
			p.add(ent, "project is required (or set defaults.project)")
			continue
		}
		email := strings.ToLower(sa.AccountID + "@" + proj + ".iam.gserviceaccount.com")
		if seedDeclared(s.ServiceAccounts[:i], func(o SeedServiceAccount) bool {
			return o.AccountID == sa.AccountID && s.Project(o.Project) == proj
		}) {
			p.add(ent, "service account %s is declared twice", email)
		}
		v.accounts[email] = true
	}
	for i, sa := range s.ServiceAccounts {
		if proj := s.Project(sa.Project); proj != "" {
			s.checkProject(p, &v, seedEntry("serviceAccounts", i, sa.AccountID), proj)
		}
	}

	for i, cr := range s.CustomRoles {
		ent := seedEntry("customRoles", i, cr.RoleID)
		proj := s.Project(cr.Project)
		if cr.RoleID == "" {
			p.add(ent, "roleId is required")
		} else if !seedRoleIDRe.MatchString(cr.RoleID) {
			p.add(ent, "roleId %q must be 3-64 characters: letters, digits, '_' and '.'", cr.RoleID)
		}
		if proj == "" {
			p.add(ent, "project is required (or set defaults.project)")
			continue
		}
		s.checkProject(p, &v, ent, proj)
		if len(cr.Permissions) == 0 {
			p.add(ent, "permissions must list at least one permission")
		}
		for _, perm := range cr.Permissions {
			if !seedPermRe.MatchString(perm) {
				p.add(ent, "permission %q is not of the form service.resource.verb", perm)
			}
		}
		switch cr.Stage {
		case "", "ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP":
		default:
			p.add(ent, "stage %q is not one of ALPHA, BETA, GA, DEPRECATED, DISABLED, EAP", cr.Stage)
		}
		name := "projects/" + proj + "/roles/" + cr.RoleID
		if seedDeclared(s.CustomRoles[:i], func(o SeedCustomRole) bool { return o.RoleID == cr.RoleID && s.Project(o.Project) == proj }) {
			p.add(ent, "custom role %s is declared twice", name)
		}
		v.roles[name] = true
	}

	for i, g := range s.Groups {
		ent := seedEntry("groups", i, g.Name)
		email := strings.TrimPrefix(g.Name, "group:")
		if email == "" {
			p.add(ent, "name is required")
		} else if !seedEmailRe.MatchString(email) {
			p.add(ent, "name %q is not a group email address", g.Name)
		}
		if seedDeclared(s.Groups[:i], func(o SeedGroup) bool {
			return strings.EqualFold(strings.TrimPrefix(o.Name, "group:"), email)
		}) {
			p.add(ent, "group %s is declared twice", email)
		}
		for _, m := range g.Members {
			s.checkMember(p, &v, ent, m)
		}
	}

	for i, pr := range s.Projects {
		s.checkBindings(p, &v, seedEntry("projects", i, pr.ID), pr.ID, pr.Policy)
	}
	for i, o := range s.Organizations {
		s.checkBindings(p, &v, seedEntry("organizations", i, o.ID), "", o.Policy)
	}
	for i, f := range s.Folders {
		s.checkBindings(p, &v, seedEntry("folders", i, f.ID), "", f.Policy)
	}

	// Services, then functions (which may name a declared service or create one).
	declaredSvc := map[string]int{} // key → index in Services
	for i, sv := range s.Services {
		ent := seedEntry("services", i, sv.Name)
		proj, loc := s.Project(sv.Project), s.Location(sv.Location)
		s.checkServiceFields(p, &v, ent, proj, loc, sv)
		key := model.ServiceKey(proj, loc, sv.Name)
		if _, dup := declaredSvc[key]; dup {
			p.add(ent, "service %s is declared twice", key)
		}
		declaredSvc[key] = i
	}
	backedBy := map[string]string{} // service key → function name
	for i, fn := range s.Functions {
		ent := seedEntry("functions", i, fn.Name)
		proj, loc := s.Project(fn.Project), s.Location(fn.Location)
		if fn.Name == "" {
			p.add(ent, "name is required")
		} else if !seedServiceRe.MatchString(fn.Name) {
			p.add(ent, "name %q must be lower-case letters, digits and hyphens, start with a letter, at most 49 characters", fn.Name)
		}
		backing := fn.BackingService()
		svcName := backing.Name
		key := model.ServiceKey(proj, loc, svcName)
		if j, ok := declaredSvc[key]; ok {
			if fn.Ingress != "" || fn.InvokerIAMDisabled || len(fn.CustomAudiences) > 0 || fn.ResponseStatus != 0 || len(fn.Policy) > 0 {
				p.add(ent, "its backing service %s is declared in services[%d]; set ingress, invokerIamDisabled, customAudiences, responseStatus and policy there", svcName, j)
			}
			s.checkScope(p, &v, ent, proj, loc)
		} else {
			s.checkServiceFields(p, &v, ent, proj, loc, backing)
		}
		if other, dup := backedBy[key]; dup {
			p.add(ent, "service %s already backs function %q", svcName, other)
		}
		backedBy[key] = fn.Name
		if seedDeclared(s.Functions[:i], func(o SeedFunction) bool {
			return o.Name == fn.Name && s.Project(o.Project) == proj && s.Location(o.Location) == loc
		}) {
			p.add(ent, "function %s is declared twice", fn.Name)
		}
		if t := fn.EventTrigger; t != nil {
			if t.EventType == "" {
				p.add(ent, "eventTrigger.eventType is required")
			}
			if t.ServiceAccountEmail != "" {
				s.checkMember(p, &v, ent+": eventTrigger.serviceAccountEmail", "serviceAccount:"+t.ServiceAccountEmail)
			}
			if t.TriggerRegion != "" && t.TriggerRegion != "global" && !seedLocationRe.MatchString(t.TriggerRegion) {
				p.add(ent, "eventTrigger.triggerRegion %q is not a region", t.TriggerRegion)
			}
			switch t.RetryPolicy {
			case "", "RETRY_POLICY_UNSPECIFIED", "RETRY_POLICY_DO_NOT_RETRY", "RETRY_POLICY_RETRY":
			default:
				p.add(ent, "eventTrigger.retryPolicy %q is not RETRY_POLICY_DO_NOT_RETRY or RETRY_POLICY_RETRY", t.RetryPolicy)
			}
			for k, f := range t.EventFilters {
				if f.Attribute == "" || f.Value == "" {
					p.add(ent, "eventTrigger.eventFilters[%d] needs attribute and value", k)
				}
			}
		}
	}
	if st != nil {
		for i, fn := range s.Functions {
			proj, loc := s.Project(fn.Project), s.Location(fn.Location)
			if ex := st.St.Functions[model.FunctionKey(proj, loc, fn.Name)]; ex != nil {
				continue // exists: left as it is
			}
			svcName := fn.BackingService().Name
			svcKey := model.ServiceKey(proj, loc, svcName)
			for fk, f := range st.St.Functions {
				if f.Service == svcKey {
					p.add(seedEntry("functions", i, fn.Name), "service %s already backs function %s", svcName, fk)
				}
			}
		}
	}
	s.checkBuckets(p, &v, st)
	s.checkPools(p, &v)
	return p.err()
}

// checkHierarchy checks organizations and folders: numeric unique ids, no
// cycles, and (against a state) a folder's parent declared or existing.
func (s *Seed) checkHierarchy(p *seedProblems, st *State) {
	nodes := map[string]bool{}
	if st != nil {
		for n := range st.St.Organizations {
			nodes[n] = true
		}
		for n := range st.St.Folders {
			nodes[n] = true
		}
	}
	for i, o := range s.Organizations {
		ent := seedEntry("organizations", i, o.ID)
		switch {
		case o.ID == "":
			p.add(ent, "id is required (the organization number)")
		case !seedNodeIDRe.MatchString(o.ID):
			p.add(ent, "id %q must be the organization number (digits, not starting with 0)", o.ID)
		case seedDeclared(s.Organizations[:i], func(q SeedOrganization) bool { return q.ID == o.ID }):
			p.add(ent, "organization %s is declared twice", o.ID)
		}
		nodes["organizations/"+o.ID] = true
	}
	parents := map[string]string{}
	for i, f := range s.Folders {
		ent := seedEntry("folders", i, f.ID)
		switch {
		case f.ID == "":
			p.add(ent, "id is required (the folder number)")
		case !seedNodeIDRe.MatchString(f.ID):
			p.add(ent, "id %q must be the folder number (digits, not starting with 0)", f.ID)
		case seedDeclared(s.Folders[:i], func(q SeedFolder) bool { return q.ID == f.ID }):
			p.add(ent, "folder %s is declared twice", f.ID)
		}
		nodes["folders/"+f.ID] = true
		parents["folders/"+f.ID] = f.Parent
	}
	for i, f := range s.Folders {
		ent := seedEntry("folders", i, f.ID)
		switch {
		case f.Parent == "":
			p.add(ent, "parent is required (organizations/{id} or folders/{id})")
		case !seedParentRe.MatchString(f.Parent):
			p.add(ent, "parent %q must be organizations/{number} or folders/{number}", f.Parent)
		case st != nil && !nodes[f.Parent]:
			p.add(ent, "parent %s is not declared under organizations or folders", f.Parent)
		}
		seen := map[string]bool{}
		for n := "folders/" + f.ID; n != ""; n = parents[n] {
			if seen[n] {
				p.add(ent, "folders form a cycle through %s", n)
				break
			}
			seen[n] = true
		}
	}
}

// checkBuckets checks the buckets entries: a valid, unique name not held
// by another project, a project, a location name.
func (s *Seed) checkBuckets(p *seedProblems, v *seedView, st *State) {
	for i, b := range s.Buckets {
		ent := seedEntry("buckets", i, b.Name)
		switch {
		case !model.BucketNameRe.MatchString(b.Name) || len(b.Name) > 63 && !strings.Contains(b.Name, "."):
			p.add(ent, "name %q is not a valid bucket name (3-63 characters: a-z, 0-9, '-', '_', '.')", b.Name)
		case seedDeclared(s.Buckets[:i], func(o SeedBucket) bool { return o.Name == b.Name }):
			p.add(ent, "bucket %s is declared twice", b.Name)
		}
		proj := s.Project(b.Project)
		if proj == "" {
			p.add(ent, "project is required (or set defaults.project)")
		} else {
			s.checkProject(p, v, ent, proj)
		}
		if b.Location != "" && !seedBucketLocationRe.MatchString(b.Location) {
			p.add(ent, "location %q is not a location such as US or us-central1", b.Location)
		}
		if st != nil {
			if ex := st.St.Buckets[b.Name]; ex != nil && ex.ProjectID != proj {
				p.add(ent, "bucket %s already exists in project %s", b.Name, ex.ProjectID)
			}
		}
	}
}

// seedBucketLocationRe is the shape of a bucket location: a multi-region,
// dual-region or region name.
var seedBucketLocationRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`)

func seedDeclared[T any](prev []T, same func(T) bool) bool { return slices.ContainsFunc(prev, same) }

func (s *Seed) checkProject(p *seedProblems, v *seedView, ent, proj string) {
	if !seedProjectIDRe.MatchString(proj) {
		p.add(ent, "project %q is not a valid project id", proj)
		return
	}
	if v.full && !v.projects[proj] {
		p.add(ent, "project %q is not declared under projects", proj)
	}
}

func (s *Seed) checkScope(p *seedProblems, v *seedView, ent, proj, loc string) {
	if proj == "" {
		p.add(ent, "project is required (or set defaults.project)")
	} else {
		s.checkProject(p, v, ent, proj)
	}
	if loc == "" {
		p.add(ent, "location is required (or set defaults.location)")
	} else if !seedLocationRe.MatchString(loc) {
		p.add(ent, "location %q is not a region such as us-central1", loc)
	}
}

// checkServiceFields checks a service declared under services or the
// backing service a function declares (proj and loc with defaults applied).
func (s *Seed) checkServiceFields(p *seedProblems, v *seedView, ent, proj, loc string, sv SeedService) {
	if sv.Name == "" {
		p.add(ent, "name is required")
	} else if !seedServiceRe.MatchString(sv.Name) {
		p.add(ent, "service name %q must be lower-case letters, digits and hyphens, start with a letter, at most 49 characters", sv.Name)
	}
	s.checkScope(p, v, ent, proj, loc)
	if _, ok := Ingress[sv.Ingress]; !ok {
		p.add(ent, "ingress %q is not one of INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY, INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER, INGRESS_TRAFFIC_NONE (or all, internal, internal-and-cloud-load-balancing, none)", sv.Ingress)
	}
	for _, a := range sv.CustomAudiences {
		if strings.TrimSpace(a) == "" {
			p.add(ent, "customAudiences holds an empty audience")
		}
	}
	if sv.ResponseStatus != 0 && (sv.ResponseStatus < 100 || sv.ResponseStatus > 599 || http.StatusText(sv.ResponseStatus) == "") {
		p.add(ent, "responseStatus %d is not an HTTP status code", sv.ResponseStatus)
	}
	s.checkBindings(p, v, ent, proj, sv.Policy)
}

// BackingService is the Run service a function declares: its own fields
// under the service's name (service, else the function's name).
func (fn SeedFunction) BackingService() SeedService {
	name := fn.Service
	if name == "" {
		name = fn.Name
	}
	return SeedService{
		Project:            fn.Project,
		Location:           fn.Location,
		Name:               name,
		Description:        fn.Description,
		Labels:             fn.Labels,
		Ingress:            fn.Ingress,
		InvokerIAMDisabled: fn.InvokerIAMDisabled,
		CustomAudiences:    fn.CustomAudiences,
		ResponseStatus:     fn.ResponseStatus,
		Policy:             fn.Policy,
	}
}

func (s *Seed) checkBindings(p *seedProblems, v *seedView, ent, proj string, bs []SeedBinding) {
	for k, b := range bs {
		bent := fmt.Sprintf("%s: policy[%d]", ent, k)
		switch {
		case b.Role == "":
			p.add(bent, "role is required")
		case strings.HasPrefix(b.Role, "roles/"):
			if len(b.Role) == len("roles/") {
				p.add(bent, "role %q is empty", b.Role)
			}
		case strings.HasPrefix(b.Role, "projects/") || strings.HasPrefix(b.Role, "organizations/"):
			parts := strings.Split(b.Role, "/")
			if len(parts) != 4 || parts[2] != "roles" || !seedRoleIDRe.MatchString(parts[3]) {
				p.add(bent, "role %q is not of the form projects/PROJECT/roles/ROLE", b.Role)
			} else if v.full && !v.roles[b.Role] {
				p.add(bent, "custom role %s is not declared under customRoles", b.Role)
			}
		default:
			p.add(bent, "role %q must start with roles/ or projects/PROJECT/roles/", b.Role)
		}
		if len(b.Members) == 0 {
			p.add(bent, "members must list at least one member")
		}
		for _, m := range b.Members {
			s.checkMember(p, v, bent, m)
		}
	}
}

// checkMember validates one IAM member string with the emulator's member
// grammar and, when checking against a state, that a serviceAccount:
// member of a known project names a declared or existing account.
func (s *Seed) checkMember(p *seedProblems, v *seedView, ent, m string) {
	if _, err := authz.NormalizeMember(m); err != nil {
		p.add(ent, "%v", err)
		return
	}
	if proj, email, ok := authz.ServiceAccountProject(m); ok && v.full && v.projects[proj] && !v.accounts[email] {
		p.add(ent, "service account %s does not exist (declare it under serviceAccounts)", strings.TrimPrefix(m, "serviceAccount:"))
	}
}

// seedState is the state a seed is applied to.
type State struct {
	St             *model.State
	DefaultProject string
}

// seedUniqueID is a new 21-digit service-account unique id.
func UniqueID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	var sb strings.Builder
	sb.WriteByte('1')
	for _, c := range b {
		sb.WriteByte('0' + c%10)
	}
	return sb.String()
}

// Bindings are the seed bindings as policy bindings, members normalized.
func Bindings(bs []SeedBinding) []*model.Binding {
	var out []*model.Binding
	for _, b := range bs {
		members := make([]string, 0, len(b.Members))
		for _, m := range b.Members {
			members = append(members, authz.NormalizeMemberOrKeep(m))
		}
		out = MergeBinding(out, b.Role, members)
	}
	return out
}

// mergeSeedBinding adds members to the binding for role (unconditional),
// creating it when needed and skipping members already there.
func MergeBinding(bs []*model.Binding, role string, members []string) []*model.Binding {
	var b *model.Binding
	for _, x := range bs {
		if x.Role == role && x.Condition == nil {
			b = x
			break
		}
	}
	if b == nil {
		b = &model.Binding{Role: role}
		bs = append(bs, b)
	}
	for _, m := range members {
		if !slices.Contains(b.Members, m) {
			b.Members = append(b.Members, m)
		}
	}
	return bs
}
