package asset

// Cloud Asset's search quotas: calls per minute per consumer project and
// per organization. Counts live in memory, in fixed one-minute windows of
// the emulator's clock; a call past a limit is 429 RESOURCE_EXHAUSTED with
// Retry-After (seconds to the next window), like Google's quota errors.

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
)

// Google's default search quotas.
const (
	DefaultSearchPerMinute    = 400  // per consumer project
	DefaultOrgSearchPerMinute = 3000 // per organization
)

// quota counts search calls; guarded by the server's Mu.
type quota struct {
	window time.Time
	counts map[string]int
}

// bucket is one quota a call draws on: its counter key, the consumer the
// error names, the limit's name and size (≤ 0: unlimited).
type bucket struct {
	key, consumer, limitName string
	max                      int
}

// limit is a configured per-minute limit: 0 means def, negative unlimited.
func limit(configured, def int) int {
	if configured == 0 {
		return def
	}
	return configured
}

// consumerLocked is the project a call is billed to: the
// X-Goog-User-Project header, else the calling service account's project,
// else the emulator's default project (the quota project of a user's
// credentials). Returned as "projects/{number}" when the project is known.
func consumerLocked(e *core.Server, r *http.Request, principal string) string {
	ref := r.Header.Get("X-Goog-User-Project")
	if ref == "" {
		if proj, _, ok := authz.ServiceAccountProject(principal); ok {
			ref = proj
		} else {
			ref = e.Opts.Project
		}
	}
	if p := e.ProjectLocked(ref); p != nil {
		return "projects/" + p.Number
	}
	return "projects/" + ref
}

// takeLocked counts one search call by consumer in scope (whose
// organization, org, may be ""), or answers 429 when a limit is spent.
// Called with e.Mu held.
func (q *quota) takeLocked(e *core.Server, consumer, org string) *httpx.Error {
	now := e.Opts.Now()
	win := now.Truncate(time.Minute)
	if !win.Equal(q.window) || q.counts == nil {
		q.window, q.counts = win, map[string]int{}
	}
	retry := int(win.Add(time.Minute).Sub(now).Seconds() + 0.999)
	if retry < 1 {
		retry = 1
	}
	buckets := []bucket{{"consumer:" + consumer, "project_number:" + strings.TrimPrefix(consumer, "projects/"),
		"Search requests per minute per project", limit(e.Opts.AssetSearchPerMinute, DefaultSearchPerMinute)}}
	if org != "" {
		buckets = append(buckets, bucket{"org:" + org, strings.TrimPrefix(org, "organizations/"),
			"Search requests per minute per organization", limit(e.Opts.AssetOrgSearchPerMinute, DefaultOrgSearchPerMinute)})
	}
	for _, b := range buckets {
		if b.max > 0 && q.counts[b.key] >= b.max {
			ae := httpx.Errf(http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
				"Quota exceeded for quota metric 'Search requests' and limit '%s' of service 'cloudasset.googleapis.com' for consumer '%s'.", b.limitName, b.consumer)
			ae.RetryAfter = retry
			ae.Details = []map[string]any{{
				"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
				"reason": "RATE_LIMIT_EXCEEDED",
				"domain": "googleapis.com",
				"metadata": map[string]string{
					"service":           "cloudasset.googleapis.com",
					"consumer":          b.consumer,
					"quota_limit":       b.limitName,
					"quota_limit_value": fmt.Sprint(b.max),
				},
			}}
			return ae
		}
	}
	for _, b := range buckets {
		q.counts[b.key]++
	}
	return nil
}
