package core

// Applying a validated seed to the emulator's state.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// applySeed creates what s describes. Called with e.mu held during init,
// before the default project is created; it validates everything against
// the current state before changing anything.
func (e *Server) applySeed(s *seed.Seed) error {
	if s == nil {
		return nil
	}
	if err := s.Validate(&seed.State{St: e.St, DefaultProject: e.Opts.Project}); err != nil {
		return err
	}
	now := e.Opts.Now().UTC()
	ensureProject := func(id, number, name string, bindings []seed.SeedBinding, parent string, labels map[string]string) error {
		if number == "" && id == e.Opts.Project {
			number = e.Opts.ProjectNumber
		}
		existed := e.St.Projects[id] != nil
		pr, err := e.ensureProjectLocked(id, number)
		if err != nil {
			return fmt.Errorf("seed %s: project %s: %w", s.Name(), id, err)
		}
		if !existed && name != "" {
			pr.Name = name
		}
		if !existed {
			pr.Parent, pr.Labels = parent, labels
		}
		if len(bindings) > 0 {
			for _, b := range seed.Bindings(bindings) {
				pr.Policy.Bindings = seed.MergeBinding(pr.Policy.Bindings, b.Role, b.Members)
			}
			pr.Policy.Etag = model.NewEtag()
		}
		return nil
	}
	// The hierarchy, then projects (validated above, so this cannot fail in
	// practice).
	e.seedHierarchyLocked(s)
	for _, pr := range s.Projects {
		if err := ensureProject(pr.ID, pr.Number, pr.Name, pr.Policy, pr.Parent, pr.Labels); err != nil {
			return err
		}
	}
	// The default project, when an entry uses it without declaring it.
	uses := func(p string) bool { return s.Project(p) == e.Opts.Project }
	if slices.ContainsFunc(s.ServiceAccounts, func(x seed.SeedServiceAccount) bool { return uses(x.Project) }) ||
		slices.ContainsFunc(s.CustomRoles, func(x seed.SeedCustomRole) bool { return uses(x.Project) }) ||
		slices.ContainsFunc(s.Services, func(x seed.SeedService) bool { return uses(x.Project) }) ||
		slices.ContainsFunc(s.Functions, func(x seed.SeedFunction) bool { return uses(x.Project) }) {
		if err := ensureProject(e.Opts.Project, "", "", nil, "", nil); err != nil {
			return err
		}
	}
	for _, sa := range s.ServiceAccounts {
		proj := s.Project(sa.Project)
		email := strings.ToLower(sa.AccountID + "@" + proj + ".iam.gserviceaccount.com")
		if ex := e.St.ServiceAccounts[email]; ex != nil && !ex.Deleted {
			continue
		}
		e.St.ServiceAccounts[email] = &model.ServiceAccount{
			ProjectID:   proj,
			AccountID:   sa.AccountID,
			Email:       email,
			UniqueID:    seed.UniqueID(),
			DisplayName: sa.DisplayName,
			Description: sa.Description,
			Disabled:    sa.Disabled,
			Etag:        model.NewEtag(),
			Keys:        map[string]*model.SAKey{},
			Policy:      &model.Policy{Etag: model.NewEtag()},
		}
	}
	for _, cr := range s.CustomRoles {
		name := "projects/" + s.Project(cr.Project) + "/roles/" + cr.RoleID
		if ex := e.St.Roles[name]; ex != nil && !ex.Deleted {
			continue
		}
		stage := cr.Stage
		if stage == "" {
			stage = "GA"
		}
		e.St.Roles[name] = &model.CustomRole{Name: name, Title: cr.Title, Description: cr.Description,
			IncludedPermissions: slices.Clone(cr.Permissions), Stage: stage, Etag: model.NewEtag()}
	}
	for _, g := range s.Groups {
		key := "group:" + strings.ToLower(strings.TrimPrefix(g.Name, "group:"))
		if _, ok := e.St.Groups[key]; ok {
			continue
		}
		members := make([]string, 0, len(g.Members))
		for _, m := range g.Members {
			members = append(members, authz.NormalizeMemberOrKeep(m))
		}
		e.St.Groups[key] = members
	}
	for _, sv := range s.Services {
		e.seedServiceLocked(e.St.Projects[s.Project(sv.Project)], s.Location(sv.Location), sv)
	}
	for _, fn := range s.Functions {
		proj := e.St.Projects[s.Project(fn.Project)]
		loc := s.Location(fn.Location)
		fkey := model.FunctionKey(proj.ID, loc, fn.Name)
		if e.St.Functions[fkey] != nil {
			continue
		}
		svc := e.seedServiceLocked(proj, loc, fn.BackingService())
		f := &model.Function{
			ProjectID:   proj.ID,
			Location:    loc,
			Name:        fn.Name,
			Description: fn.Description,
			Labels:      fn.Labels,
			State:       "ACTIVE",
			Environment: "GEN_2",
			Service:     model.ServiceKey(proj.ID, loc, svc.Name),
			Runtime:     fn.Runtime,
			EntryPoint:  fn.EntryPoint,
			CreateTime:  now,
			UpdateTime:  now,
		}
		if t := fn.EventTrigger; t != nil {
			f.EventTrigger = seedTrigger(proj.ID, loc, fn.Name, t)
			if t.ServiceAccountEmail != "" {
				svc.Policy.Bindings = seed.MergeBinding(svc.Policy.Bindings, "roles/run.invoker",
					[]string{"serviceAccount:" + strings.ToLower(t.ServiceAccountEmail)})
			}
		}
		e.St.Functions[fkey] = f
	}
	if err := e.seedBucketsLocked(s); err != nil {
		return err
	}
	return e.seedPoolsLocked(s)
}

// seedHierarchyLocked creates the organizations and folders s declares
// unless they exist. Like a real organization's first administrator, the
// bootstrap principal holds roles/owner in each organization it creates.
func (e *Server) seedHierarchyLocked(s *seed.Seed) {
	now := e.Opts.Now().UTC()
	for _, o := range s.Organizations {
		name := "organizations/" + o.ID
		if e.St.Organizations[name] != nil {
			continue
		}
		bs := seed.MergeBinding(seed.Bindings(o.Policy), "roles/owner", []string{authz.NormalizeMemberOrKeep(e.Opts.BootstrapPrincipal)})
		e.St.Organizations[name] = &model.Organization{Name: name, DisplayName: o.DisplayName,
			DirectoryCustomerID: o.DirectoryCustomerID, CreateTime: now,
			Policy: &model.Policy{Version: 1, Etag: model.NewEtag(), Bindings: bs}}
	}
	for _, f := range s.Folders {
		name := "folders/" + f.ID
		if e.St.Folders[name] != nil {
			continue
		}
		e.St.Folders[name] = &model.Folder{Name: name, Parent: f.Parent, DisplayName: f.DisplayName, CreateTime: now,
			Policy: &model.Policy{Version: 1, Etag: model.NewEtag(), Bindings: seed.Bindings(f.Policy)}}
	}
}

// seedServiceLocked returns the service sv declares in proj and loc,
// creating it (with its policy) unless it exists.
func (e *Server) seedServiceLocked(proj *model.Project, loc string, sv seed.SeedService) *model.Service {
	if svc := e.St.Services[model.ServiceKey(proj.ID, loc, sv.Name)]; svc != nil {
		return svc
	}
	svc := e.NewServiceLocked(proj, loc, sv.Name, ServiceSpec{
		Description:        sv.Description,
		Labels:             sv.Labels,
		Ingress:            seed.Ingress[sv.Ingress],
		InvokerIAMDisabled: sv.InvokerIAMDisabled,
		CustomAudiences:    slices.Clone(sv.CustomAudiences),
		ResponseStatus:     sv.ResponseStatus,
	}, e.Opts.BootstrapPrincipal)
	svc.Policy.Bindings = seed.Bindings(sv.Policy)
	return svc
}

// seedTrigger renders an event trigger as Cloud Functions v2 shows it.
func seedTrigger(project, location, fn string, t *seed.SeedEventTrigger) map[string]any {
	m := map[string]any{"eventType": t.EventType}
	if t.TriggerRegion != "" {
		m["triggerRegion"] = t.TriggerRegion
	}
	if t.RetryPolicy != "" {
		m["retryPolicy"] = t.RetryPolicy
	}
	if t.ServiceAccountEmail != "" {
		m["serviceAccountEmail"] = strings.ToLower(t.ServiceAccountEmail)
	}
	if t.PubsubTopic != "" {
		m["pubsubTopic"] = t.PubsubTopic
	}
	if len(t.EventFilters) > 0 {
		var fs []any
		for _, f := range t.EventFilters {
			ef := map[string]any{"attribute": f.Attribute, "value": f.Value}
			if f.Operator != "" {
				ef["operator"] = f.Operator
			}
			fs = append(fs, ef)
		}
		m["eventFilters"] = fs
	}
	FillTriggerDefaults(m, project, location, fn)
	return m
}
