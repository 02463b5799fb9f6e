// Package storage is the emulator's Cloud Storage: the part of the JSON API
// (and the XML-style media reads) that Terraform's gcs backend, the Go
// storage client and gcloud storage send — buckets insert, get, list and
// delete; objects get (metadata and media), list (prefix, delimiter,
// pages), insert (media, multipart and resumable uploads) and delete — with
// generation numbers and the generation and metageneration preconditions
// that the backend's state lock relies on (412 conditionNotMet).
//
// Errors come in the JSON API's own shape ({"error": {"code", "message",
// "errors": [{"domain", "reason", "message"}]}}), or as XML for the
// XML-style reads. Permissions are checked through the bucket's project
// policy (the emulator keeps no bucket IAM policies or ACLs).
package storage

import (
	"net/http"
	"sync"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// api holds what the storage routes share beyond the core server: the
// resumable upload sessions, which live in memory only (as an interrupted
// upload is lost on Google's side after a week, here after a restart).
type api struct {
	e       *core.Server
	mu      sync.Mutex
	uploads map[string]*upload // by upload_id
}

// Register adds the storage routes to e. The XML-style read path
// "/{bucket}/{object...}" is a fallback route, tried only when no other API
// claims the path.
func Register(e *core.Server) {
	a := &api{e: e, uploads: map[string]*upload{}}
	rt := e.Router
	rt.Handle(http.MethodPost, "/storage/v1/b", "storage.buckets.insert", a.insertBucket)
	rt.Handle(http.MethodGet, "/storage/v1/b", "storage.buckets.list", a.listBuckets)
	rt.Handle(http.MethodGet, "/storage/v1/b/{bucket}", "storage.buckets.get", a.getBucket)
	rt.Handle(http.MethodDelete, "/storage/v1/b/{bucket}", "storage.buckets.delete", a.deleteBucket)
	rt.Handle(http.MethodGet, "/storage/v1/b/{bucket}/o", "storage.objects.list", a.listObjects)
	rt.Handle(http.MethodGet, "/storage/v1/b/{bucket}/o/{object...}", "storage.objects.get", a.getObject)
	rt.Handle(http.MethodDelete, "/storage/v1/b/{bucket}/o/{object...}", "storage.objects.delete", a.deleteObject)
	rt.Handle(http.MethodPost, "/upload/storage/v1/b/{bucket}/o", "storage.objects.insert", a.insertObject)
	rt.Handle(http.MethodPut, "/upload/storage/v1/b/{bucket}/o", "storage.objects.insert", a.resumeUpload)
	rt.Handle(http.MethodGet, "/download/storage/v1/b/{bucket}/o/{object...}", "storage.objects.get", a.downloadObject)
	rt.HandleFallback(http.MethodGet, "/{bucket}/{object...}", "storage.xml.objects.get", a.xmlGetObject)
	rt.HandleFallback(http.MethodHead, "/{bucket}/{object...}", "storage.xml.objects.get", a.xmlGetObject)
}
