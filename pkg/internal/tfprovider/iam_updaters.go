package tfprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
)

// iamParent is what differs between the IAM resources of one kind of
// parent (a Cloud Run service, a project, a service account): its
// attributes, how to build the updater, and how to parse an import id.
type iamParent struct {
	// attrs are the parent-specific attributes, all ForceNew.
	attrs []string
	// suppress holds diff suppression for those attributes.
	suppress map[string]func(old, new any) bool
	// newUpdater builds the updater for a resource's data and may fill
	// parent attributes into d (the real updaters d.Set them).
	newUpdater func(p *provider, d map[string]any) (iamUpdater, error)
	// parseID fills d's parent attributes from the first word of an import
	// id and returns the resource id to use as the prefix.
	parseID func(p *provider, id string, d map[string]any) (string, error)
	// validate checks the parent attributes.
	validate func(d map[string]any) []error
}

// importIDQualifiers matches id against regexes in order (unanchored, like
// the real provider) and returns the named groups of the first match.
func importIDQualifiers(regexes []string, id string) (map[string]string, error) {
	for _, r := range regexes {
		re := regexp.MustCompile(r)
		if m := re.FindStringSubmatch(id); m != nil {
			out := map[string]string{}
			for i, n := range re.SubexpNames() {
				if i > 0 && n != "" {
					out[n] = m[i]
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("Import id %q doesn't match any of the accepted formats: %v", id, regexes)
}

// ---- Cloud Run v2 service ----

var cloudRunV2ServiceIDRegexes = []string{
	"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/services/(?P<name>[^/]+)",
	"(?P<project>[^/]+)/(?P<location>[^/]+)/(?P<name>[^/]+)",
	"(?P<location>[^/]+)/(?P<name>[^/]+)",
	"(?P<name>[^/]+)",
}

// cloudRunV2ServiceRef names a Cloud Run v2 service.
type cloudRunV2ServiceRef struct {
	Project, Location, Name string
}

func (r cloudRunV2ServiceRef) ID() string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", r.Project, r.Location, r.Name)
}

// resolveCloudRunV2Service resolves a service reference the way the real
// updater does: project from the resource or the provider; location from
// the resource or, failing that, the provider's zone (the real
// GetLocation); then whatever the name itself carries wins.
func resolveCloudRunV2Service(c *Config, project, location, name string) (cloudRunV2ServiceRef, error) {
	ref := cloudRunV2ServiceRef{Project: project, Location: location}
	if ref.Project == "" {
		ref.Project = c.Project
	}
	if ref.Location == "" {
		ref.Location = c.Zone
	}
	m, err := importIDQualifiers(cloudRunV2ServiceIDRegexes, name)
	if err != nil {
		return ref, err
	}
	if v, ok := m["project"]; ok {
		ref.Project = v
	}
	if v, ok := m["location"]; ok {
		ref.Location = v
	}
	ref.Name = m["name"]
	if ref.Project == "" {
		return ref, errors.New("project: required field is not set")
	}
	if ref.Location == "" {
		return ref, errors.New("Cannot determine location: set in this resource, or set provider-level zone.")
	}
	return ref, nil
}

type cloudRunV2ServiceIamUpdater struct {
	ref cloudRunV2ServiceRef
	p   *provider
}

func (u *cloudRunV2ServiceIamUpdater) url(method string) (string, error) {
	c, err := u.p.cfg()
	if err != nil {
		return "", err
	}
	return c.CloudRunV2BasePath + u.ref.ID() + ":" + method, nil
}

func (u *cloudRunV2ServiceIamUpdater) GetResourceIamPolicy(ctx context.Context) (*crm.Policy, error) {
	url, err := u.url("getIamPolicy")
	if err != nil {
		return nil, err
	}
	client, _, err := u.p.httpClient()
	if err != nil {
		return nil, err
	}
	obj, err := sendRequest(ctx, client, "GET", url, nil)
	if err != nil {
		return nil, fmt.Errorf("Error retrieving IAM policy for %s: %w", u.DescribeResource(), err)
	}
	out := &crm.Policy{}
	b, _ := json.Marshal(obj)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("Cannot convert a policy to a resource manager policy: %w", err)
	}
	return out, nil
}

func (u *cloudRunV2ServiceIamUpdater) SetResourceIamPolicy(ctx context.Context, p *crm.Policy) error {
	url, err := u.url("setIamPolicy")
	if err != nil {
		return err
	}
	client, _, err := u.p.httpClient()
	if err != nil {
		return err
	}
	// The policy goes through the Resource Manager struct, so empty fields
	// are left out; there is never an updateMask.
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var pm map[string]any
	if err := json.Unmarshal(b, &pm); err != nil {
		return err
	}
	if _, err := sendRequest(ctx, client, "POST", url, map[string]any{"policy": pm}); err != nil {
		return fmt.Errorf("Error setting IAM policy for %s: %w", u.DescribeResource(), err)
	}
	return nil
}

func (u *cloudRunV2ServiceIamUpdater) GetMutexKey() string {
	return "iam-cloudrunv2-service-" + u.ref.ID()
}
func (u *cloudRunV2ServiceIamUpdater) GetResourceId() string { return u.ref.ID() }
func (u *cloudRunV2ServiceIamUpdater) DescribeResource() string {
	return fmt.Sprintf("cloudrunv2 service %q", u.ref.ID())
}

// compareSelfLinkOrResourceName is the real diff suppression for "name":
// a bare name matches the last segment of the stored full name; otherwise
// the parts from "projects/" on must match.
func compareSelfLinkOrResourceName(old, new string) bool {
	parts := strings.Split(new, "/")
	if len(parts) == 1 && lastSegment(old) == parts[0] {
		return true
	}
	o, err1 := relativePath(old)
	n, err2 := relativePath(new)
	return err1 == nil && err2 == nil && o == n
}

func relativePath(selfLink string) (string, error) {
	parts := strings.SplitAfterN(selfLink, "projects/", 2)
	if len(parts) != 2 {
		return "", fmt.Errorf("String was not a self link: %s", selfLink)
	}
	return "projects/" + parts[1], nil
}

func stringSuppress(f func(old, new string) bool) func(old, new any) bool {
	return func(old, new any) bool {
		o, ok1 := old.(string)
		n, ok2 := new.(string)
		return ok1 && ok2 && f(o, n)
	}
}

var cloudRunV2ServiceParent = &iamParent{
	attrs: []string{"project", "location", "name"},
	suppress: map[string]func(old, new any) bool{
		"name": stringSuppress(compareSelfLinkOrResourceName),
	},
	newUpdater: func(p *provider, d map[string]any) (iamUpdater, error) {
		c, err := p.cfg()
		if err != nil {
			return nil, err
		}
		ref, err := resolveCloudRunV2Service(c, str(d, "project"), str(d, "location"), str(d, "name"))
		if err != nil {
			return nil, err
		}
		d["project"] = ref.Project
		d["location"] = ref.Location
		d["name"] = ref.ID()
		return &cloudRunV2ServiceIamUpdater{ref: ref, p: p}, nil
	},
	parseID: func(p *provider, id string, d map[string]any) (string, error) {
		c, err := p.cfg()
		if err != nil {
			return "", err
		}
		ref, err := resolveCloudRunV2Service(c, "", "", id)
		if err != nil {
			return "", err
		}
		d["project"] = ref.Project
		d["location"] = ref.Location
		d["name"] = ref.ID()
		return ref.ID(), nil
	},
}

// ---- project (Resource Manager v1) ----

type projectIamUpdater struct {
	resourceID string
	p          *provider
}

func (p *provider) resourceManager(ctx context.Context) (*crm.Service, error) {
	client, c, err := p.httpClient()
	if err != nil {
		return nil, err
	}
	return crm.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(c.ResourceManagerBasePath), option.WithUserAgent(c.UserAgent))
}

func (p *provider) iam(ctx context.Context) (*iamv1.Service, error) {
	client, c, err := p.httpClient()
	if err != nil {
		return nil, err
	}
	return iamv1.NewService(ctx, option.WithHTTPClient(client), option.WithEndpoint(c.IAMBasePath), option.WithUserAgent(c.UserAgent))
}

func (u *projectIamUpdater) GetResourceIamPolicy(ctx context.Context) (*crm.Policy, error) {
	svc, err := u.p.resourceManager(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := svc.Projects.GetIamPolicy(lastSegment(u.resourceID), &crm.GetIamPolicyRequest{
		Options: &crm.GetPolicyOptions{RequestedPolicyVersion: iamPolicyVersion},
	}).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("Error retrieving IAM policy for %s: %w", u.DescribeResource(), err)
	}
	return pol, nil
}

func (u *projectIamUpdater) SetResourceIamPolicy(ctx context.Context, pol *crm.Policy) error {
	svc, err := u.p.resourceManager(ctx)
	if err != nil {
		return err
	}
	_, err = svc.Projects.SetIamPolicy(lastSegment(u.resourceID), &crm.SetIamPolicyRequest{
		Policy:     pol,
		UpdateMask: "bindings,etag,auditConfigs",
	}).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("Error setting IAM policy for %s: %w", u.DescribeResource(), err)
	}
	return nil
}

func (u *projectIamUpdater) GetMutexKey() string      { return "iam-project-" + u.resourceID }
func (u *projectIamUpdater) GetResourceId() string    { return u.resourceID }
func (u *projectIamUpdater) DescribeResource() string { return fmt.Sprintf("project %q", u.resourceID) }

var projectParent = &iamParent{
	attrs: []string{"project"},
	suppress: map[string]func(old, new any) bool{
		"project": stringSuppress(func(o, n string) bool { return lastSegment(o) == lastSegment(n) }),
	},
	newUpdater: func(p *provider, d map[string]any) (iamUpdater, error) {
		return &projectIamUpdater{resourceID: str(d, "project"), p: p}, nil
	},
	parseID: func(p *provider, id string, d map[string]any) (string, error) {
		d["project"] = id
		return id, nil
	},
}

// ---- service account (IAM v1) ----

// serviceAccountLinkRE approximates the real provider's
// verify.ServiceAccountLinkRegex (matched unanchored, like it).
var serviceAccountLinkRE = regexp.MustCompile(`projects/(-|(?:[-a-z0-9]{1,63}\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?:)?(?:[0-9]{1,19}|[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?))/serviceAccounts/[\w.+-]+@[\w.-]+\.gserviceaccount\.com`)

type serviceAccountIamUpdater struct {
	serviceAccountID string
	p                *provider
}

func (u *serviceAccountIamUpdater) GetResourceIamPolicy(ctx context.Context) (*crm.Policy, error) {
	svc, err := u.p.iam(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := svc.Projects.ServiceAccounts.GetIamPolicy(u.serviceAccountID).OptionsRequestedPolicyVersion(iamPolicyVersion).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("Error retrieving IAM policy for %s: %w", u.DescribeResource(), err)
	}
	out := &crm.Policy{}
	if err := convertJSON(pol, out); err != nil {
		return nil, fmt.Errorf("Cannot convert a iam policy to a v1 policy: %w", err)
	}
	return out, nil
}

func (u *serviceAccountIamUpdater) SetResourceIamPolicy(ctx context.Context, pol *crm.Policy) error {
	svc, err := u.p.iam(ctx)
	if err != nil {
		return err
	}
	ip := &iamv1.Policy{}
	if err := convertJSON(pol, ip); err != nil {
		return fmt.Errorf("Cannot convert a v1 policy to a iam policy: %w", err)
	}
	if _, err := svc.Projects.ServiceAccounts.SetIamPolicy(u.serviceAccountID, &iamv1.SetIamPolicyRequest{Policy: ip}).Context(ctx).Do(); err != nil {
		return fmt.Errorf("Error setting IAM policy for %s: %w", u.DescribeResource(), err)
	}
	return nil
}

func (u *serviceAccountIamUpdater) GetMutexKey() string {
	return "iam-service-account-" + u.serviceAccountID
}
func (u *serviceAccountIamUpdater) GetResourceId() string { return u.serviceAccountID }
func (u *serviceAccountIamUpdater) DescribeResource() string {
	return fmt.Sprintf("service account '%s'", u.serviceAccountID)
}

func convertJSON(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

var serviceAccountParent = &iamParent{
	attrs: []string{"service_account_id"},
	newUpdater: func(p *provider, d map[string]any) (iamUpdater, error) {
		return &serviceAccountIamUpdater{serviceAccountID: str(d, "service_account_id"), p: p}, nil
	},
	parseID: func(p *provider, id string, d map[string]any) (string, error) {
		d["service_account_id"] = id
		return id, nil
	},
	validate: func(d map[string]any) []error {
		v, ok := d["service_account_id"].(string)
		if !ok || serviceAccountLinkRE.MatchString(v) {
			return nil
		}
		return []error{fmt.Errorf("%q (%q) doesn't match regexp %q", "service_account_id", v, serviceAccountLinkRE.String())}
	},
}
