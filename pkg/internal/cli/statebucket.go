package cli

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/api/googleapi"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// StateBucketError is a declared gcs backend whose bucket Terraform could
// not use: it does not exist, or the identity invokerctl runs as may not
// list its objects. Found before Terraform runs, so nothing was changed.
type StateBucketError struct {
	File, Bucket string
	// Missing: the bucket does not exist; Unauthenticated: the credentials
	// were refused; else access was refused.
	Missing, Unauthenticated bool
	// Err is Cloud Storage's answer.
	Err error
}

func (e *StateBucketError) Error() string {
	where := e.File + ": terraform.backend.config.bucket"
	switch {
	case e.Missing:
		return fmt.Sprintf("%s: the state bucket %q does not exist: create it first (gcloud storage buckets create gs://%s --uniform-bucket-level-access), or fix the name; nothing was changed", where, e.Bucket, e.Bucket)
	case e.Unauthenticated:
		return fmt.Sprintf("%s: Cloud Storage refused the credentials invokerctl runs with while listing the state bucket %q (%v): renew them (gcloud auth application-default login) or check GOOGLE_APPLICATION_CREDENTIALS; nothing was changed", where, e.Bucket, googleMessage(e.Err))
	}
	return fmt.Sprintf("%s: no permission to list the objects of the state bucket %q (%v): the gcs backend needs storage.objects.list, get, create and delete on it, e.g. roles/storage.objectAdmin on the bucket for the identity invokerctl runs as; nothing was changed", where, e.Bucket, googleMessage(e.Err))
}

func (e *StateBucketError) Unwrap() error { return e.Err }

// googleMessage is the message of a Google API error, else the error.
func googleMessage(err error) string {
	var g *googleapi.Error
	if errors.As(err, &g) && g.Message != "" {
		return fmt.Sprintf("%d %s", g.Code, g.Message)
	}
	return err.Error()
}

// checkStateBucket lists one object of the declared gcs backend's bucket
// under its prefix — the backend's own first call — before Terraform runs,
// so a missing bucket or a refused access is said plainly instead of in
// the middle of terraform init. It checks only a backend that reaches the
// bucket as invokerctl does (not tf.BackendHasOwnAccess); any other is
// left to Terraform.
func checkStateBucket(env cmdEnv, d *config.Declaration, t target.Target) error {
	typ, bucket, prefix := tf.StateBackend(d, t)
	if typ != "gcs" || bucket == "" || tf.BackendHasOwnAccess(d, t, env.Factory.Getenv) {
		return nil
	}
	clients, err := gcp.New(env.Ctx, gcp.Options{Endpoint: t.APIEndpoint(), TokenSource: t.TokenSource(), UserAgent: "invokerctl/" + Version})
	if err != nil {
		return err
	}
	_, err = clients.Storage.Objects.List(bucket).Prefix(prefix).MaxResults(1).Fields("items/name").Context(env.Ctx).Do()
	var g *googleapi.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &g) && g.Code == http.StatusNotFound:
		return &StateBucketError{File: d.File, Bucket: bucket, Missing: true, Err: err}
	case errors.As(err, &g) && g.Code == http.StatusUnauthorized:
		return &StateBucketError{File: d.File, Bucket: bucket, Unauthenticated: true, Err: err}
	case errors.As(err, &g) && g.Code == http.StatusForbidden:
		return &StateBucketError{File: d.File, Bucket: bucket, Err: err}
	}
	return fmt.Errorf("%s: checking the state bucket %q: %w", d.File, bucket, err)
}
