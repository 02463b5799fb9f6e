package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/googleapi"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
)

// DefaultExistParallel bounds the concurrent reads of CheckTargetsExist.
const DefaultExistParallel = 8

// MissingTarget is a declared service or function that does not exist at
// the declared location.
type MissingTarget struct {
	// Grant is the index of the grant in the declaration; File, Pos and
	// Field say where it is written.
	Grant int
	File  string
	Pos   config.Position
	Field string
	// Kind, Name, Project and Location are what the grant names.
	Kind     config.TargetKind
	Name     string
	Project  string
	Location string
	// FoundIn are the locations of the project where a target of that
	// kind and name does exist (sorted); empty when there is none.
	FoundIn []string
	// Closest is the location the grant most likely meant: the one of
	// FoundIn nearest to Location by edit distance, or, when FoundIn is
	// empty and Location is not a Cloud Run region, the nearest region.
	Closest string
}

func (m MissingTarget) String() string {
	var b strings.Builder
	if m.File != "" && m.Pos.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", m.File, m.Pos.Line, m.Pos.Column)
	}
	fmt.Fprintf(&b, "%s: %s %q does not exist in %s (project %s)", m.Field, m.Kind, m.Name, m.Location, m.Project)
	switch {
	case len(m.FoundIn) > 0:
		fmt.Fprintf(&b, "; a %s of that name exists in %s: did you mean %s?", m.Kind, strings.Join(m.FoundIn, ", "), m.Closest)
	case m.Closest != "":
		fmt.Fprintf(&b, "; no %s of that name exists in any location, and %s is not a Cloud Run region: did you mean %s?", m.Kind, m.Location, m.Closest)
	default:
		fmt.Fprintf(&b, "; no %s of that name exists in any location of the project (deploy it first, or check the name)", m.Kind)
	}
	return b.String()
}

// MissingTargetsError lists every declared target that does not exist
// where the declaration says, found before Terraform changes anything.
type MissingTargetsError struct {
	Missing []MissingTarget
}

func (e *MissingTargetsError) Error() string {
	lines := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		lines[i] = m.String()
	}
	return fmt.Sprintf("%d declared target(s) not found; nothing was changed:\n%s", len(e.Missing), strings.Join(lines, "\n"))
}

// CheckTargetsExist reads every service and function the declaration's
// grants name, one read each (Run v2 services.get, Functions v2
// functions.get; at most parallel at once, DefaultExistParallel when
// parallel <= 0), so that a typo fails before any account is created.
//
// A target that is not found (404) is looked up in every location of its
// project (one list per project and kind, Run v2 or Functions v2 with
// location "-"), and reported in a *MissingTargetsError with the locations
// where that name exists and the closest one. Any other failure to read (an
// API error after the clients' retries) is returned as is, joined: the
// check is incomplete, not failed.
func CheckTargetsExist(ctx context.Context, d *config.Declaration, c *gcp.Clients, parallel int) error {
	if parallel <= 0 {
		parallel = DefaultExistParallel
	}
	ch := &existChecker{c: c, lists: map[string]*listing{}}
	missing := make([]*MissingTarget, len(d.Grants))
	errs := make([]error, len(d.Grants))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, g := range d.Grants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			missing[i], errs[i] = ch.check(ctx, d, i, g)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checking that the declared targets exist: %w", err)
	}
	var out MissingTargetsError
	for _, m := range missing {
		if m != nil {
			out.Missing = append(out.Missing, *m)
		}
	}
	if len(out.Missing) > 0 {
		return &out
	}
	return nil
}

type existChecker struct {
	c     *gcp.Clients
	mu    sync.Mutex
	lists map[string]*listing // by kind + project
}

// listing is the names of one kind of target in every location of a
// project, read once.
type listing struct {
	once sync.Once
	locs map[string][]string // name -> locations
	err  error
}

func (ch *existChecker) check(ctx context.Context, d *config.Declaration, i int, g config.Grant) (*MissingTarget, error) {
	name := fmt.Sprintf("projects/%s/locations/%s/%ss/%s", d.Project, g.Location, g.Kind, g.Name)
	var err error
	if g.Kind == config.KindFunction {
		_, err = ch.c.Functions.Projects.Locations.Functions.Get(name).Context(ctx).Do()
	} else {
		_, err = ch.c.Run.Projects.Locations.Services.Get(name).Context(ctx).Do()
	}
	if err == nil {
		return nil, nil
	}
	if !notFound(err) {
		return nil, fmt.Errorf("reading %s %s: %w", g.Kind, name, err)
	}
	l := ch.listing(ctx, g.Kind, d.Project)
	if l.err != nil {
		return nil, fmt.Errorf("%s %s not found; listing the %ss of project %s in every location: %w", g.Kind, name, g.Kind, d.Project, l.err)
	}
	m := &MissingTarget{Grant: i, File: d.File, Pos: g.Pos, Kind: g.Kind, Name: g.Name, Project: d.Project, Location: g.Location,
		FoundIn: l.locs[g.Name]}
	m.Field = fmt.Sprintf("grants[%d].%s", i, g.Kind)
	if len(m.FoundIn) > 0 {
		m.Field = fmt.Sprintf("grants[%d].location", i)
		if g.Location == d.Location {
			m.Field += " (the declaration's default location)"
		}
		m.Closest = Closest(g.Location, m.FoundIn)
	} else if !slices.Contains(CloudRunRegions, g.Location) {
		m.Closest = Closest(g.Location, CloudRunRegions)
	}
	return m, nil
}

// listing lists the targets of kind in every location of project, once.
func (ch *existChecker) listing(ctx context.Context, kind config.TargetKind, project string) *listing {
	ch.mu.Lock()
	l, ok := ch.lists[string(kind)+"/"+project]
	if !ok {
		l = &listing{}
		ch.lists[string(kind)+"/"+project] = l
	}
	ch.mu.Unlock()
	l.once.Do(func() {
		l.locs = map[string][]string{}
		add := func(resource string) {
			// projects/P/locations/L/{services,functions}/N
			parts := strings.Split(resource, "/")
			if len(parts) == 6 {
				l.locs[parts[5]] = append(l.locs[parts[5]], parts[3])
			}
		}
		parent := "projects/" + project + "/locations/-"
		if kind == config.KindFunction {
			l.err = ch.c.Functions.Projects.Locations.Functions.List(parent).Pages(ctx, func(r *cloudfunctions.ListFunctionsResponse) error {
				for _, f := range r.Functions {
					add(f.Name)
				}
				return nil
			})
		} else {
			l.err = ch.c.Run.Projects.Locations.Services.List(parent).Pages(ctx, func(r *run.GoogleCloudRunV2ListServicesResponse) error {
				for _, s := range r.Services {
					add(s.Name)
				}
				return nil
			})
		}
		for _, locs := range l.locs {
			slices.Sort(locs)
		}
	})
	return l
}

func notFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// Closest returns the candidate nearest to s by edit distance (the first
// of equals, in the order given); "" when there are none.
func Closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes: locations
// and names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CloudRunRegions are the regions Cloud Run serves (its published
// locations list), for naming the region a typo meant when no target of
// the name exists anywhere.
var CloudRunRegions = []string{
	"africa-south1",
	"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
	"asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
	"australia-southeast1", "australia-southeast2",
	"europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
	"europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6",
	"europe-west8", "europe-west9", "europe-west10", "europe-west12",
	"me-central1", "me-central2", "me-west1",
	"northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
	"southamerica-east1", "southamerica-west1",
	"us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
	"us-west1", "us-west2", "us-west3", "us-west4",
}
