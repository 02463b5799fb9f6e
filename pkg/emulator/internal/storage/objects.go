package storage

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hashes are the object's base64 MD5 and CRC32C (big-endian), as the API
// reports them in md5Hash, crc32c and X-Goog-Hash.
func hashes(data []byte) (md5b64, crcb64 string) {
	sum := md5.Sum(data)
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.Checksum(data, castagnoli))
	return base64.StdEncoding.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(c[:])
}

// objectEtag is the object's etag: base64 of its generation, as Cloud
// Storage's "CPm..." etags are.
func objectEtag(o *model.Object) string {
	return base64.StdEncoding.EncodeToString(binary.AppendUvarint(nil, uint64(o.Generation)))
}

// renderObject is the JSON API's Object resource.
func (a *api) renderObject(b *model.Bucket, o *model.Object) map[string]any {
	md5b64, crcb64 := hashes(o.Data)
	gen := strconv.FormatInt(o.Generation, 10)
	esc := url.PathEscape(o.Name)
	out := map[string]any{
		"kind":                    "storage#object",
		"id":                      b.Name + "/" + o.Name + "/" + gen,
		"selfLink":                a.e.URL() + "/storage/v1/b/" + b.Name + "/o/" + esc,
		"mediaLink":               a.e.URL() + "/download/storage/v1/b/" + b.Name + "/o/" + esc + "?generation=" + gen + "&alt=media",
		"name":                    o.Name,
		"bucket":                  b.Name,
		"generation":              gen,
		"metageneration":          strconv.FormatInt(o.Metageneration, 10),
		"contentType":             o.ContentType,
		"storageClass":            b.StorageClass,
		"size":                    strconv.Itoa(len(o.Data)),
		"md5Hash":                 md5b64,
		"crc32c":                  crcb64,
		"etag":                    objectEtag(o),
		"timeCreated":             o.CreateTime.Format(timeFormat),
		"updated":                 o.UpdateTime.Format(timeFormat),
		"timeStorageClassUpdated": o.CreateTime.Format(timeFormat),
		"timeFinalized":           o.CreateTime.Format(timeFormat),
	}
	if o.ContentEncoding != "" {
		out["contentEncoding"] = o.ContentEncoding
	}
	if len(o.Metadata) > 0 {
		out["metadata"] = o.Metadata
	}
	return out
}

// condition reads one precondition from the query (JSON API) or its
// x-goog-if-* header (XML API). ok is false when absent.
func condition(r *http.Request, param, header string) (int64, bool, *apiError) {
	s := r.URL.Query().Get(param)
	if s == "" {
		s = r.Header.Get(header)
	}
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, errf(http.StatusBadRequest, "invalid", "Invalid argument for %s: %s", param, s)
	}
	return n, true, nil
}

// cond is one precondition: its query parameter, its XML API header, and
// whether the value must equal (match) or differ from the current one.
type cond struct {
	param, header string
	match         bool
}

var (
	generationConds = []cond{
		{"ifGenerationMatch", "x-goog-if-generation-match", true},
		{"ifGenerationNotMatch", "x-goog-if-generation-not-match", false},
	}
	metagenerationConds = []cond{
		{"ifMetagenerationMatch", "x-goog-if-metageneration-match", true},
		{"ifMetagenerationNotMatch", "x-goog-if-metageneration-not-match", false},
	}
)

// checkConds applies conds to the current value: a failed one is 412
// conditionNotMet.
func checkConds(r *http.Request, conds []cond, value int64) *apiError {
	for _, c := range conds {
		v, ok, err := condition(r, c.param, c.header)
		if err != nil {
			return err
		}
		if ok && (v == value) != c.match {
			return errConditionNotMet()
		}
	}
	return nil
}

// checkPreconditions applies the generation and metageneration
// preconditions to o (nil: the object does not exist, generation 0, which
// ifGenerationMatch=0 asks for). A failed ifGenerationNotMatch on a read
// is 304, as Cloud Storage answers.
func checkPreconditions(r *http.Request, o *model.Object, read bool) *apiError {
	var gen int64
	if o != nil {
		gen = o.Generation
	}
	if v, ok, _ := condition(r, "ifGenerationNotMatch", "x-goog-if-generation-not-match"); read && ok && v == gen {
		return errf(http.StatusNotModified, "notModified", "Not Modified")
	}
	if err := checkConds(r, generationConds, gen); err != nil || o == nil {
		return err
	}
	return checkConds(r, metagenerationConds, o.Metageneration)
}

// objectLocked finds the object a read or delete names (the live
// generation; with ?generation=N only that one) and checks permission and
// preconditions. Called with e.Mu held.
func (a *api) objectLocked(r *http.Request, v map[string]string, permission string, read bool) (*model.Bucket, *model.Object, *apiError) {
	b, _, err := a.bucketLocked(r, v["bucket"], permission, "object")
	if err != nil {
		return nil, nil, err
	}
	name := v["object"]
	if strings.HasSuffix(r.URL.Path, "/") {
		name += "/" // the router trims it; "dir/" is a name of its own
	}
	o := b.Objects[name]
	if g := r.URL.Query().Get("generation"); o != nil && g != "" && g != strconv.FormatInt(o.Generation, 10) {
		o = nil
	}
	if o == nil {
		return nil, nil, errNoObject(b.Name, name)
	}
	if perr := checkPreconditions(r, o, read); perr != nil {
		return nil, nil, perr
	}
	return b, o, nil
}

// getObject is objects.get: the metadata, or the data with alt=media.
func (a *api) getObject(w http.ResponseWriter, r *http.Request, v map[string]string) {
	if r.URL.Query().Get("alt") == "media" {
		a.downloadObject(w, r, v)
		return
	}
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	b, o, err := a.objectLocked(r, v, "storage.objects.get", true)
	if err != nil {
		writeError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, a.renderObject(b, o))
}

// downloadObject is objects.get with alt=media (also under /download).
func (a *api) downloadObject(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	_, o, err := a.objectLocked(r, v, "storage.objects.get", true)
	a.e.Mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	serveMedia(w, r, o)
}

// xmlGetObject is the XML API's GET/HEAD /{bucket}/{object}, where the Go
// storage client reads object data.
func (a *api) xmlGetObject(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	_, o, err := a.objectLocked(r, v, "storage.objects.get", true)
	a.e.Mu.Unlock()
	if err != nil {
		writeXMLError(w, r, err)
		return
	}
	serveMedia(w, r, o)
}

// serveMedia answers an object's data with the headers the clients read
// (generation, metageneration, hashes, stored length and encoding) and
// Range support.
func serveMedia(w http.ResponseWriter, r *http.Request, o *model.Object) {
	md5b64, crcb64 := hashes(o.Data)
	h := w.Header()
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("X-Goog-Generation", strconv.FormatInt(o.Generation, 10))
	h.Set("X-Goog-Metageneration", strconv.FormatInt(o.Metageneration, 10))
	h.Set("X-Goog-Hash", "crc32c="+crcb64+",md5="+md5b64)
	h.Set("X-Goog-Stored-Content-Length", strconv.Itoa(len(o.Data)))
	enc := o.ContentEncoding
	if enc == "" {
		enc = "identity"
	}
	h.Set("X-Goog-Stored-Content-Encoding", enc)
	h.Set("X-Goog-Storage-Class", "STANDARD")
	h.Set("Etag", `"`+objectEtag(o)+`"`)
	http.ServeContent(w, r, "", o.UpdateTime, bytes.NewReader(o.Data))
}

// deleteObject is objects.delete: 204, with preconditions.
func (a *api) deleteObject(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	b, o, err := a.objectLocked(r, v, "storage.objects.delete", false)
	if err != nil {
		writeError(w, err)
		return
	}
	delete(b.Objects, o.Name)
	if serr := a.e.SaveLocked(); serr != nil {
		httpx.WriteError(w, serr)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listObjects is objects.list: names in order, filtered by prefix and
// startOffset/endOffset; with a delimiter, names with the delimiter past
// the prefix are rolled up into prefixes. Items and prefixes page
// together by maxResults and pageToken.
func (a *api) listObjects(w http.ResponseWriter, r *http.Request, v map[string]string) {
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	b, _, err := a.bucketLocked(r, v["bucket"], "storage.objects.list", "bucket")
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	start, end := q.Get("startOffset"), q.Get("endOffset")
	isPrefix := map[string]bool{}
	var keys []string
	for name := range b.Objects {
		if !strings.HasPrefix(name, prefix) || name < start || end != "" && name >= end {
			continue
		}
		if delim != "" {
			if i := strings.Index(name[len(prefix):], delim); i >= 0 {
				p := name[:len(prefix)+i+len(delim)]
				if !isPrefix[p] {
					isPrefix[p] = true
					keys = append(keys, p)
				}
				continue
			}
		}
		keys = append(keys, name)
	}
	slices.Sort(keys)
	page, next, err := pageOf(keys, q)
	if err != nil {
		writeError(w, err)
		return
	}
	out := map[string]any{"kind": "storage#objects"}
	var items, prefixes []any
	for _, k := range page {
		if isPrefix[k] {
			prefixes = append(prefixes, k)
		} else {
			items = append(items, a.renderObject(b, b.Objects[k]))
		}
	}
	if len(items) > 0 {
		out["items"] = items
	}
	if len(prefixes) > 0 {
		out["prefixes"] = prefixes
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// objectSpec is what an upload sets: the object's name and metadata
// fields (the upload's JSON part or body) and its data.
type objectSpec struct {
	Name            string            `json:"name"`
	ContentType     string            `json:"contentType"`
	ContentEncoding string            `json:"contentEncoding"`
	Metadata        map[string]string `json:"metadata"`
}

// writeObjectLocked stores a new generation of spec.Name in bucket once
// the caller's permissions (storage.objects.create, and
// storage.objects.delete to replace a live object) and the request's
// preconditions hold. r carries the token and preconditions. Called with
// e.Mu held; saves.
func (a *api) writeObjectLocked(r *http.Request, bucket string, spec objectSpec, data []byte) (map[string]any, *apiError) {
	b, principal, err := a.bucketLocked(r, bucket, "storage.objects.create", "object")
	if err != nil {
		return nil, err
	}
	if spec.Name == "" {
		return nil, errf(http.StatusBadRequest, "required", "Required")
	}
	old := b.Objects[spec.Name]
	if old != nil && !a.e.PrincipalPermitted(principal, "storage.objects.delete", b.ProjectID) {
		return nil, errDenied(principal, "storage.objects.delete", "object")
	}
	if perr := checkPreconditions(r, old, false); perr != nil {
		return nil, perr
	}
	now := a.nowUTC()
	o := &model.Object{
		Name: spec.Name, Data: data, ContentType: spec.ContentType, ContentEncoding: spec.ContentEncoding,
		Metadata: spec.Metadata, Generation: b.NextGeneration(now), Metageneration: 1,
		CreateTime: now, UpdateTime: now,
	}
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	if b.Objects == nil {
		b.Objects = map[string]*model.Object{}
	}
	b.Objects[o.Name] = o
	if serr := a.e.SaveLocked(); serr != nil {
		return nil, errf(http.StatusInternalServerError, "backendError", "%v", serr)
	}
	return a.renderObject(b, o), nil
}

// checkSum compares the hashes an upload declared (md5Hash, crc32c in the
// metadata part) with the data received: a mismatch is 400, as on Google.
func checkSum(declaredMD5, declaredCRC string, data []byte) *apiError {
	md5b64, crcb64 := hashes(data)
	if declaredMD5 != "" && declaredMD5 != md5b64 {
		return errf(http.StatusBadRequest, "invalid", "Provided MD5 hash %q doesn't match calculated MD5 hash %q.", declaredMD5, md5b64)
	}
	if declaredCRC != "" && declaredCRC != crcb64 {
		return errf(http.StatusBadRequest, "invalid", "Provided CRC32C %q doesn't match calculated CRC32C %q.", declaredCRC, crcb64)
	}
	return nil
}
