// Package gcp is the one place that builds google.golang.org/api clients,
// from options that name the endpoint, the credentials and the HTTP client.
// Against Google the endpoint is left empty; against an emulator it is the
// emulator's base URL. No other code path differs.
package gcp

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	cloudasset "google.golang.org/api/cloudasset/v1"
	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	crm3 "google.golang.org/api/cloudresourcemanager/v3"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
	storage "google.golang.org/api/storage/v1"
)

// CloudPlatformScope is the OAuth scope the management calls use.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Options says how to reach the Google APIs.
type Options struct {
	// Endpoint is the base URL of every API ("http://127.0.0.1:8080/"); empty
	// means Google's own endpoints.
	Endpoint string
	// TokenSource supplies access tokens; nil means Application Default
	// Credentials.
	TokenSource oauth2.TokenSource
	// Base is the underlying transport; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Retry configures retries of 429 and 5xx; the zero value uses defaults.
	Retry RetryPolicy
	// UserAgent is added to requests.
	UserAgent string
}

// Clients are the API clients invokerctl uses.
type Clients struct {
	Run *run.Service
	CRM *crm.Service
	// CRM3 is Resource Manager v3: a project's parent, folders and
	// organizations with their policies.
	CRM3      *crm3.Service
	IAM       *iam.Service
	Functions *cloudfunctions.Service
	// Asset is Cloud Asset Inventory v1: resources and their own policies
	// under a project, folder or organization, a page at a time.
	Asset *cloudasset.Service
	// Storage is Cloud Storage's JSON API (the gcs backend's state bucket).
	Storage *storage.Service
}

// HTTPClient returns an authenticated client with the retry policy applied.
func HTTPClient(ctx context.Context, o Options) (*http.Client, error) {
	ts := o.TokenSource
	if ts == nil {
		creds, err := google.FindDefaultCredentials(ctx, CloudPlatformScope)
		if err != nil {
			return nil, fmt.Errorf("no Google credentials: %w (run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or use --emulator)", err)
		}
		ts = creds.TokenSource
	}
	base := o.Base
	if base == nil {
		base = http.DefaultTransport
	}
	rt := &RetryTransport{Base: base, Policy: o.Retry}
	return &http.Client{Transport: &oauth2.Transport{Source: ts, Base: rt}}, nil
}

// New builds every client from o.
func New(ctx context.Context, o Options) (*Clients, error) {
	hc, err := HTTPClient(ctx, o)
	if err != nil {
		return nil, err
	}
	// withEndpoint is the clients' options with the API at path under
	// o.Endpoint, when one is set.
	withEndpoint := func(path string) []option.ClientOption {
		opts := []option.ClientOption{option.WithHTTPClient(hc)}
		if o.Endpoint != "" {
			opts = append(opts, option.WithEndpoint(strings.TrimSuffix(o.Endpoint, "/")+path))
		}
		if o.UserAgent != "" {
			opts = append(opts, option.WithUserAgent(o.UserAgent))
		}
		return opts
	}
	opts := withEndpoint("/")
	c := &Clients{}
	if c.Run, err = run.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("run client: %w", err)
	}
	if c.CRM, err = crm.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("resource manager client: %w", err)
	}
	if c.CRM3, err = crm3.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("resource manager v3 client: %w", err)
	}
	if c.IAM, err = iam.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("iam client: %w", err)
	}
	if c.Functions, err = cloudfunctions.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("cloud functions client: %w", err)
	}
	if c.Asset, err = cloudasset.NewService(ctx, opts...); err != nil {
		return nil, fmt.Errorf("cloud asset client: %w", err)
	}
	// Cloud Storage's JSON API lives under /storage/v1/ of its host, on
	// Google (storage.googleapis.com) as on any endpoint standing in for it.
	if c.Storage, err = storage.NewService(ctx, withEndpoint("/storage/v1/")...); err != nil {
		return nil, fmt.Errorf("cloud storage client: %w", err)
	}
	return c, nil
}

// CustomRolePermissions reads the permissions of a custom role
// ("projects/P/roles/R" or "organizations/O/roles/R") through IAM v1; it is
// an iampolicy.CustomRoleGetter.
func (c *Clients) CustomRolePermissions(ctx context.Context, name string) ([]string, error) {
	switch {
	case strings.HasPrefix(name, "projects/"):
		r, err := c.IAM.Projects.Roles.Get(name).Context(ctx).Do()
		if err != nil {
			return nil, err
		}
		return r.IncludedPermissions, nil
	case strings.HasPrefix(name, "organizations/"):
		r, err := c.IAM.Organizations.Roles.Get(name).Context(ctx).Do()
		if err != nil {
			return nil, err
		}
		return r.IncludedPermissions, nil
	}
	return nil, fmt.Errorf("not a custom role: %s", name)
}
