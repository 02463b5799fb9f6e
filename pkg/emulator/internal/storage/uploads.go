package storage

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
)

// maxObjectSize bounds an upload's data (state files are small).
const maxObjectSize = 64 << 20

// uploadSpec is an upload's metadata part: the object fields plus the
// hashes the client may declare.
type uploadSpec struct {
	objectSpec
	MD5Hash string `json:"md5Hash"`
	CRC32C  string `json:"crc32c"`
}

// upload is a resumable upload session.
type upload struct {
	bucket string
	spec   uploadSpec
	// query holds the initiating request's parameters: the preconditions
	// apply when the upload completes.
	query url.Values
	data  bytes.Buffer
}

// insertObject is objects.insert: POST /upload/storage/v1/b/B/o with
// uploadType media (the body is the data, ?name=), multipart (a JSON part
// and a data part) or resumable (this request starts a session; PUTs to
// its Location send the data).
func (a *api) insertObject(w http.ResponseWriter, r *http.Request, v map[string]string) {
	q := r.URL.Query()
	if q.Get("upload_id") != "" {
		a.resumeUpload(w, r, v) // the Go clients send chunks with POST
		return
	}
	var spec uploadSpec
	var data []byte
	switch q.Get("uploadType") {
	case "media":
		b, err := io.ReadAll(io.LimitReader(r.Body, maxObjectSize+1))
		if err != nil {
			writeError(w, errf(http.StatusBadRequest, "invalid", "reading the upload: %v", err))
			return
		}
		data = b
		spec.ContentType = r.Header.Get("Content-Type")
	case "multipart":
		s, b, aerr := readMultipart(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		spec, data = s, b
	case "resumable":
		a.startResumable(w, r, v)
		return
	default:
		writeError(w, errf(http.StatusBadRequest, "invalid", "Upload requests must include an uploadType URL parameter and a URL-encoded object name."))
		return
	}
	if len(data) > maxObjectSize {
		writeError(w, errf(http.StatusRequestEntityTooLarge, "uploadTooLarge", "Upload too large."))
		return
	}
	if spec.Name == "" {
		spec.Name = q.Get("name")
	}
	a.finish(w, r, v["bucket"], spec, data)
}

// finish checks the declared hashes and writes the object.
func (a *api) finish(w http.ResponseWriter, r *http.Request, bucket string, spec uploadSpec, data []byte) {
	if aerr := checkSum(spec.MD5Hash, spec.CRC32C, data); aerr != nil {
		writeError(w, aerr)
		return
	}
	a.e.Mu.Lock()
	defer a.e.Mu.Unlock()
	out, aerr := a.writeObjectLocked(r, bucket, spec.objectSpec, data)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// readMultipart reads a multipart/related upload: the object resource as
// JSON, then the data.
func readMultipart(r *http.Request) (uploadSpec, []byte, *apiError) {
	var spec uploadSpec
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return spec, nil, errf(http.StatusBadRequest, "invalid", "Multipart upload requests must have a multipart/related Content-Type with a boundary.")
	}
	mr := multipart.NewReader(io.LimitReader(r.Body, maxObjectSize+1<<20), params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		return spec, nil, errf(http.StatusBadRequest, "invalid", "Multipart upload: metadata part: %v", err)
	}
	if err := json.NewDecoder(meta).Decode(&spec); err != nil && err != io.EOF {
		return spec, nil, errf(http.StatusBadRequest, "parseError", "Parse Error")
	}
	media, err := mr.NextPart()
	if err != nil {
		return spec, nil, errf(http.StatusBadRequest, "invalid", "Multipart upload: media part: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(media, maxObjectSize+1))
	if err != nil {
		return spec, nil, errf(http.StatusBadRequest, "invalid", "Multipart upload: media part: %v", err)
	}
	if spec.ContentType == "" {
		spec.ContentType = media.Header.Get("Content-Type")
	}
	return spec, data, nil
}

// startResumable opens a resumable session: the body (if any) is the
// object resource; the answer's Location is the session URI.
func (a *api) startResumable(w http.ResponseWriter, r *http.Request, v map[string]string) {
	var spec uploadSpec
	if err := httpx.ReadJSON(r, &spec); err != nil {
		writeError(w, errf(http.StatusBadRequest, "parseError", "Parse Error"))
		return
	}
	q := r.URL.Query()
	if spec.Name == "" {
		spec.Name = q.Get("name")
	}
	if spec.ContentType == "" {
		spec.ContentType = r.Header.Get("X-Upload-Content-Type")
	}
	a.e.Mu.Lock()
	_, _, aerr := a.bucketLocked(r, v["bucket"], "storage.objects.create", "object")
	a.e.Mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if spec.Name == "" {
		writeError(w, errf(http.StatusBadRequest, "required", "Required"))
		return
	}
	id := core.RandomHex(24)
	a.mu.Lock()
	a.uploads[id] = &upload{bucket: v["bucket"], spec: spec, query: q}
	a.mu.Unlock()
	loc := url.Values{"uploadType": {"resumable"}, "upload_id": {id}}
	for k, vs := range q {
		if k != "uploadType" && k != "upload_id" {
			loc[k] = vs
		}
	}
	w.Header().Set("Location", a.e.URL()+"/upload/storage/v1/b/"+url.PathEscape(v["bucket"])+"/o?"+loc.Encode())
	w.Header().Set("X-GUploader-UploadID", id)
	w.WriteHeader(http.StatusOK)
}

// resumeUpload is a PUT (or POST) to a session URI: a chunk ("Content-Range: bytes
// a-b/total", total "*" while unknown), a status query ("bytes */total"
// or "bytes */*"), or the whole data (no Content-Range). An incomplete
// upload answers 308 with the Range received (or, for a client that sends
// X-GUploader-No-308, 200 with X-Http-Status-Code-Override: 308, as
// Google does); the last chunk writes the object under the session's
// preconditions.
func (a *api) resumeUpload(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	id := r.URL.Query().Get("upload_id")
	a.mu.Lock()
	defer a.mu.Unlock()
	up := a.uploads[id]
	if up == nil {
		writeError(w, errf(http.StatusNotFound, "notFound", "No such upload session: %q", id))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxObjectSize+1))
	if err != nil {
		writeError(w, errf(http.StatusBadRequest, "invalid", "reading the upload: %v", err))
		return
	}
	total := int64(-1)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		first, last, tot, ok := parseContentRange(cr)
		if !ok {
			writeError(w, errf(http.StatusBadRequest, "invalid", "Failed to parse Content-Range header."))
			return
		}
		total = tot
		if first >= 0 {
			have := int64(up.data.Len())
			switch {
			case first > have:
				writeError(w, errf(http.StatusBadRequest, "invalid", "Invalid request. According to the Content-Range header, the upload offset is %d byte(s), which exceeds already uploaded size of %d byte(s).", first, have))
				return
			case last-first+1 != int64(len(body)):
				writeError(w, errf(http.StatusBadRequest, "invalid", "Content-Range does not match the request body length."))
				return
			}
			// A chunk resent after a lost answer overlaps what we have.
			if skip := have - first; skip < int64(len(body)) {
				up.data.Write(body[skip:])
			}
		}
	} else {
		up.data.Write(body)
		total = int64(up.data.Len())
	}
	if up.data.Len() > maxObjectSize {
		delete(a.uploads, id)
		writeError(w, errf(http.StatusRequestEntityTooLarge, "uploadTooLarge", "Upload too large."))
		return
	}
	if total < 0 || int64(up.data.Len()) < total {
		if n := up.data.Len(); n > 0 {
			w.Header().Set("Range", "bytes=0-"+strconv.Itoa(n-1))
		}
		w.Header().Set("Content-Length", "0")
		if r.Header.Get("X-GUploader-No-308") == "yes" {
			w.Header().Set("X-Http-Status-Code-Override", "308")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusPermanentRedirect)
		return
	}
	delete(a.uploads, id)
	// The preconditions are those of the request that opened the session.
	fin := r.Clone(r.Context())
	fin.URL.RawQuery = up.query.Encode()
	a.finish(w, fin, up.bucket, up.spec, up.data.Bytes())
}

// parseContentRange parses "bytes a-b/total", "bytes a-b/*", "bytes
// */total" and "bytes */*" (first = -1 when no bytes are sent, total = -1
// when unknown).
func parseContentRange(s string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(strings.TrimSpace(rest), "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, 0, false
		}
		total = n
	}
	if rng == "*" {
		return -1, -1, total, true
	}
	a, b, found := strings.Cut(rng, "-")
	f, err1 := strconv.ParseInt(a, 10, 64)
	l, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil || f < 0 || l < f {
		return 0, 0, 0, false
	}
	return f, l, total, true
}
