package storage

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// timeFormat is how the JSON API renders times: RFC 3339, milliseconds, Z.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// callerLocked authenticates r. Called with e.Mu held.
func (a *api) callerLocked(r *http.Request) (string, *apiError) {
	principal, aerr := a.e.CallerLocked(r)
	if aerr != nil {
		return "", fromHTTPX(aerr)
	}
	return principal, nil
}

// authorizeLocked authenticates r and checks permission through the policy
// of projectID; what names the resource kind in the 403. Called with e.Mu
// held.
func (a *api) authorizeLocked(r *http.Request, permission, projectID, what string) (string, *apiError) {
	principal, err := a.callerLocked(r)
	if err != nil {
		return "", err
	}
	if !a.e.PrincipalPermitted(principal, permission, projectID) {
		return principal, errDenied(principal, permission, what)
	}
	return principal, nil
}

// bucketLocked finds bucket and checks permission on it; an unknown bucket
// is 404 only for a caller that is authenticated. Called with e.Mu held.
func (a *api) bucketLocked(r *http.Request, name, permission, what string) (*model.Bucket, string, *apiError) {
	b := a.e.St.Buckets[name]
	if b == nil {
		if _, err := a.callerLocked(r); err != nil {
			return nil, "", err
		}
		return nil, "", errNoBucket(name)
	}
	principal, err := a.authorizeLocked(r, permission, b.ProjectID, what)
	if err != nil {
		return nil, "", err
	}
	return b, principal, nil
}

// bucketForLocked is bucketLocked for a bucket method, with its
// metageneration preconditions. Called with e.Mu held.
func (a *api) bucketForLocked(r *http.Request, name, permission string) (*model.Bucket, *apiError) {
	b, _, err := a.bucketLocked(r, name, permission, "bucket")
	if err != nil {
		return nil, err
	}
	if err := checkConds(r, metagenerationConds, b.Metageneration); err != nil {
		return nil, err
	}
	return b, nil
}

// renderBucket is the JSON API's Bucket resource.
func (a *api) renderBucket(b *model.Bucket) map[string]any {
	locType := "region"
	if !strings.Contains(b.Location, "-") {
		locType = "multi-region"
	}
	out := map[string]any{
		"kind":           "storage#bucket",
		"selfLink":       a.e.URL() + "/storage/v1/b/" + b.Name,
		"id":             b.Name,
		"name":           b.Name,
		"projectNumber":  b.ProjectNumber,
		"metageneration": strconv.FormatInt(b.Metageneration, 10),
		"location":       b.Location,
		"locationType":   locType,
		"storageClass":   b.StorageClass,
		"etag":           b.Etag,
		"timeCreated":    b.CreateTime.Format(timeFormat),
		"updated":        b.UpdateTime.Format(timeFormat),
		"rpo":            "DEFAULT",
		"iamConfiguration": map[string]any{
			"bucketPolicyOnly":         map[string]any{"enabled": false},
			"uniformBucketLevelAccess": map[string]any{"enabled": false},
			"publicAccessPrevention":   "inherited",
		},
	}
	if len(b.Labels) > 0 {
		out["labels"] = b.Labels
	}
	return out
}

// bucketBody is the part of a Bucket resource that buckets.insert reads.
type bucketBody struct {
	Name         string            `json:"name"`
	Location     string            `json:"location"`
	StorageClass string            `json:"storageClass"`
	Labels       map[string]string `json:"labels"`
}

// insertBucket is buckets.insert: POST /storage/v1/b?project=P.
func (a *api) insertBucket(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var body bucketBody
	if err := httpx.ReadJSON(r, &body); err != nil {
		writeError(w, errf(http.StatusBadRequest, "parseError", "Parse Error"))
		return
	}
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	principal, err := a.callerLocked(r)
	if err != nil {
		writeError(w, err)
		return
	}
	project := r.URL.Query().Get("project")
	if project == "" {
		writeError(w, errf(http.StatusBadRequest, "required", "Required parameter: project"))
		return
	}
	p := a.e.ProjectLocked(project)
	if p == nil {
		writeError(w, errf(http.StatusBadRequest, "invalid", "Unknown project id: %s", project))
		return
	}
	if !a.e.PrincipalPermitted(principal, "storage.buckets.create", p.ID) {
		writeError(w, errDenied(principal, "storage.buckets.create", "project"))
		return
	}
	if body.Name == "" {
		writeError(w, errf(http.StatusBadRequest, "required", "Required"))
		return
	}
	if !model.BucketNameRe.MatchString(body.Name) || len(body.Name) > 63 && !strings.Contains(body.Name, ".") || strings.Contains(body.Name, "..") || strings.HasPrefix(body.Name, "goog") {
		writeError(w, errf(http.StatusBadRequest, "invalid", "Invalid bucket name: '%s'", body.Name))
		return
	}
	if old := a.e.St.Buckets[body.Name]; old != nil {
		msg := "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
		if old.ProjectID == p.ID {
			msg = "Your previous request to create the named bucket succeeded and you already own it."
		}
		writeError(w, errf(http.StatusConflict, "conflict", "%s", msg))
		return
	}
	b := model.NewBucket(body.Name, p, body.Location, body.StorageClass, a.e.Opts.Now())
	b.Labels = body.Labels
	if a.e.St.Buckets == nil {
		a.e.St.Buckets = map[string]*model.Bucket{}
	}
	a.e.St.Buckets[b.Name] = b
	a.e.SaveAndWrite(w, a.renderBucket(b))
}

// getBucket is buckets.get.
func (a *api) getBucket(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	b, err := a.bucketForLocked(r, v["bucket"], "storage.buckets.get")
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, a.renderBucket(b))
}

// deleteBucket is buckets.delete: only an empty bucket can go (409).
func (a *api) deleteBucket(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	b, err := a.bucketForLocked(r, v["bucket"], "storage.buckets.delete")
	if err != nil {
		writeError(w, err)
		return
	}
	if len(b.Objects) > 0 {
		writeError(w, errf(http.StatusConflict, "conflict", "The bucket you tried to delete is not empty."))
		return
	}
	delete(a.e.St.Buckets, b.Name)
	if serr := a.e.SaveLocked(); serr != nil {
		httpx.WriteError(w, serr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listBuckets is buckets.list: the project's buckets by name, prefix
// filtered, paged by maxResults and pageToken.
func (a *api) listBuckets(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	q := r.URL.Query()
	project := q.Get("project")
	if project == "" {
		if _, err := a.callerLocked(r); err != nil {
			writeError(w, err)
			return
		}
		writeError(w, errf(http.StatusBadRequest, "required", "Required parameter: project"))
		return
	}
	p := a.e.ProjectLocked(project)
	if p == nil {
		if _, err := a.callerLocked(r); err != nil {
			writeError(w, err)
			return
		}
		writeError(w, errf(http.StatusBadRequest, "invalid", "Unknown project id: %s", project))
		return
	}
	if _, err := a.authorizeLocked(r, "storage.buckets.list", p.ID, "project"); err != nil {
		writeError(w, err)
		return
	}
	var names []string
	for name, b := range a.e.St.Buckets {
		if b.ProjectID == p.ID && strings.HasPrefix(name, q.Get("prefix")) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	page, next, err := pageOf(names, q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := map[string]any{"kind": "storage#buckets"}
	if len(page) > 0 {
		items := make([]any, 0, len(page))
		for _, name := range page {
			items = append(items, a.renderBucket(a.e.St.Buckets[name]))
		}
		out["items"] = items
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// pageOf returns the window of the sorted keys that maxResults (default
// and cap 1000) and pageToken ask for, and the next token. Tokens are
// opaque: base64 of the last key returned.
func pageOf(keys []string, q url.Values) ([]string, string, *apiError) {
	size := 1000
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, "", errf(http.StatusBadRequest, "invalid", "Invalid value for maxResults: %s", s)
		}
		if n > 0 && n < size {
			size = n
		}
	}
	start := 0
	if t := q.Get("pageToken"); t != "" {
		after, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return nil, "", errf(http.StatusBadRequest, "invalid", "Invalid page token.")
		}
		start, _ = slices.BinarySearch(keys, string(after)+"\x00")
	}
	end := min(start+size, len(keys))
	next := ""
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return keys[start:end], next, nil
}

// nowUTC is the emulator clock in UTC.
func (a *api) nowUTC() time.Time { return a.e.Opts.Now().UTC() }
