package model

import (
	"regexp"
	"strings"
	"time"
)

// BucketNameRe is Cloud Storage's rule for bucket names: 3-63 characters
// of lower-case letters, digits, '-', '_' and '.', starting and ending
// with a letter or digit (dotted names may be longer).
var BucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$`)

// Bucket is a Cloud Storage bucket with its objects (live generations
// only: the emulator keeps no noncurrent versions).
type Bucket struct {
	Name           string             `json:"name"`
	ProjectID      string             `json:"projectId"`
	ProjectNumber  string             `json:"projectNumber"`
	Location       string             `json:"location"`     // upper case, e.g. US or US-CENTRAL1
	StorageClass   string             `json:"storageClass"` // STANDARD unless given
	Labels         map[string]string  `json:"labels,omitempty"`
	Metageneration int64              `json:"metageneration"`
	CreateTime     time.Time          `json:"createTime"`
	UpdateTime     time.Time          `json:"updateTime"`
	Etag           string             `json:"etag"`
	Objects        map[string]*Object `json:"objects,omitempty"` // by object name
	// LastGeneration is the highest object generation handed out, so
	// generations stay strictly increasing even within one microsecond.
	LastGeneration int64 `json:"lastGeneration,omitempty"`
}

// Object is the live generation of a Cloud Storage object.
type Object struct {
	Name            string            `json:"name"`
	Data            []byte            `json:"data"`
	ContentType     string            `json:"contentType,omitempty"`
	ContentEncoding string            `json:"contentEncoding,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Generation      int64             `json:"generation"`
	Metageneration  int64             `json:"metageneration"`
	CreateTime      time.Time         `json:"createTime"`
	UpdateTime      time.Time         `json:"updateTime"`
}

// NewBucket is a bucket as buckets.insert creates it: location in upper
// case (default US), storage class STANDARD unless given, metageneration 1.
func NewBucket(name string, p *Project, location, storageClass string, now time.Time) *Bucket {
	if location == "" {
		location = "US"
	}
	if storageClass == "" {
		storageClass = "STANDARD"
	}
	now = now.UTC()
	return &Bucket{
		Name: name, ProjectID: p.ID, ProjectNumber: p.Number,
		Location: strings.ToUpper(location), StorageClass: strings.ToUpper(storageClass),
		Metageneration: 1, CreateTime: now, UpdateTime: now, Etag: "CAE=",
		Objects: map[string]*Object{},
	}
}

// NextGeneration returns a new object generation: the time in microseconds,
// as Cloud Storage does, bumped past the last one handed out.
func (b *Bucket) NextGeneration(now time.Time) int64 {
	g := now.UnixMicro()
	if g <= b.LastGeneration {
		g = b.LastGeneration + 1
	}
	b.LastGeneration = g
	return g
}
