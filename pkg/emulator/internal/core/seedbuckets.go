package core

import (
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// seedBucketsLocked creates the seed's Cloud Storage buckets that do not
// exist yet, creating the default project when a bucket names it without
// declaring it. The seed is validated. Called with e.Mu held.
func (e *Server) seedBucketsLocked(s *seed.Seed) error {
	for _, sb := range s.Buckets {
		if e.St.Buckets[sb.Name] != nil {
			continue
		}
		id, number := s.Project(sb.Project), ""
		if id == e.Opts.Project {
			number = e.Opts.ProjectNumber
		}
		p, err := e.ensureProjectLocked(id, number)
		if err != nil {
			return fmt.Errorf("seed %s: bucket %s: %w", s.Name(), sb.Name, err)
		}
		if e.St.Buckets == nil {
			e.St.Buckets = map[string]*model.Bucket{}
		}
		e.St.Buckets[sb.Name] = model.NewBucket(sb.Name, p, sb.Location, "", e.Opts.Now())
	}
	return nil
}
