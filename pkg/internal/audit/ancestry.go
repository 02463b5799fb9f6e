package audit

import (
	"context"
	"fmt"
	"strings"

	crm3 "google.golang.org/api/cloudresourcemanager/v3"

	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
)

// Ancestry reads what lies above a project: each resource's parent and the
// IAM policies of folders and organizations. The engine asks each question
// once per resource, however many services share it.
type Ancestry interface {
	// Parent returns the parent of "projects/p" or "folders/f"
	// ("folders/123", "organizations/456"), or "" when it has none.
	Parent(ctx context.Context, resource string) (string, error)
	// Policy returns the IAM policy of "folders/f" or "organizations/o".
	Policy(ctx context.Context, resource string) (*iampolicy.Policy, error)
}

// ResourceManager is the Ancestry of Google's Resource Manager v3: a
// project's or folder's parent from projects.get / folders.get, and
// folders.getIamPolicy / organizations.getIamPolicy.
type ResourceManager struct {
	CRM *crm3.Service
}

// Parent implements Ancestry.
func (rm ResourceManager) Parent(ctx context.Context, resource string) (string, error) {
	switch {
	case strings.HasPrefix(resource, "projects/"):
		p, err := rm.CRM.Projects.Get(resource).Context(ctx).Do()
		if err != nil {
			return "", err
		}
		return p.Parent, nil
	case strings.HasPrefix(resource, "folders/"):
		f, err := rm.CRM.Folders.Get(resource).Context(ctx).Do()
		if err != nil {
			return "", err
		}
		return f.Parent, nil
	case strings.HasPrefix(resource, "organizations/"):
		return "", nil
	}
	return "", fmt.Errorf("no parent for %q: not a project or folder", resource)
}

// Policy implements Ancestry.
func (rm ResourceManager) Policy(ctx context.Context, resource string) (*iampolicy.Policy, error) {
	req := &crm3.GetIamPolicyRequest{Options: &crm3.GetPolicyOptions{RequestedPolicyVersion: 3}}
	var pol *crm3.Policy
	var err error
	switch {
	case strings.HasPrefix(resource, "folders/"):
		pol, err = rm.CRM.Folders.GetIamPolicy(resource, req).Context(ctx).Do()
	case strings.HasPrefix(resource, "organizations/"):
		pol, err = rm.CRM.Organizations.GetIamPolicy(resource, req).Context(ctx).Do()
	default:
		return nil, fmt.Errorf("not a folder or organization: %q", resource)
	}
	if err != nil {
		return nil, err
	}
	return iampolicy.FromAPI(pol)
}

// pathKindOf is the kind of an ancestor resource.
func pathKindOf(resource string) PathKind {
	switch {
	case strings.HasPrefix(resource, "folders/"):
		return PathFolder
	case strings.HasPrefix(resource, "organizations/"):
		return PathOrganization
	case strings.HasPrefix(resource, "projects/"):
		return PathProject
	}
	return PathService
}
