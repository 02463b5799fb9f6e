package tfprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	iamv1 "google.golang.org/api/iam/v1"
)

const (
	saPollInterval      = 500 * time.Millisecond
	saCreateTimeout     = 5 * time.Minute
	saUpdatePollTimeout = time.Minute
	saConsistentReads   = 3
	// The SDK's retry.Retry back-off, used when adopting an account.
	saRetryMinWait = 500 * time.Millisecond
	saRetryMaxWait = 10 * time.Second
)

var accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)

func validateAccountID(v string) error {
	if len(v) < 6 || len(v) > 30 {
		return fmt.Errorf("%q (%q) must be between 6 and 30 characters", "account_id", v)
	}
	if !accountIDRE.MatchString(v) {
		return fmt.Errorf("%q (%q) must match %q", "account_id", v, accountIDRE.String())
	}
	return nil
}

// saEmail is the address Google gives an account: predictable, so the
// provider plans it before the account exists.
func saEmail(accountID, project string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountID, project)
}

// flattenServiceAccount copies an API service account into d.
func flattenServiceAccount(d map[string]any, sa *iamv1.ServiceAccount) {
	d["email"] = sa.Email
	d["unique_id"] = sa.UniqueId
	d["project"] = sa.ProjectId
	d["account_id"] = strings.Split(sa.Email, "@")[0]
	d["name"] = sa.Name
	d["display_name"] = sa.DisplayName
	d["description"] = sa.Description
	d["disabled"] = sa.Disabled
	d["member"] = "serviceAccount:" + sa.Email
}

func createTimeout(d map[string]any) time.Duration {
	if t, ok := d["timeouts"].(map[string]any); ok {
		if s := str(t, "create"); s != "" {
			if v, err := time.ParseDuration(s); err == nil {
				return v
			}
		}
	}
	return saCreateTimeout
}

func serviceAccountResource() *resourceType {
	r := &resourceType{
		forceNew: []string{"account_id", "project"},
		validate: func(cfg map[string]any) []*tfprotov5.Diagnostic {
			var diags []*tfprotov5.Diagnostic
			if v, ok := cfg["account_id"].(string); ok {
				if err := validateAccountID(v); err != nil {
					diags = append(diags, attrDiag("account_id", err))
				}
			}
			if v, ok := cfg["description"].(string); ok && len(v) > 256 {
				diags = append(diags, attrDiag("description", fmt.Errorf("expected length of description to be in the range (0 - 256), got %s", v)))
			}
			if v, ok := cfg["deletion_policy"].(string); ok {
				switch v {
				case "DELETE", "ABANDON", "PREVENT":
				default:
					diags = append(diags, attrDiag("deletion_policy", fmt.Errorf("expected deletion_policy to be one of [DELETE ABANDON PREVENT], got %s", v)))
				}
			}
			return diags
		},
	}
	r.customizePlan = func(p *provider, prior, cfg, planned map[string]any, replace *[]string) error {
		if planned["disabled"] == nil {
			planned["disabled"] = false
		}
		if prior != nil {
			return nil
		}
		if planned["deletion_policy"] == nil || isUnknown(planned["deletion_policy"]) {
			planned["deletion_policy"] = "DELETE"
		}
		c, err := p.cfg()
		if err != nil {
			return err
		}
		if cfg["project"] == nil && c.Project != "" {
			planned["project"] = c.Project
		}
		project, pok := planned["project"].(string)
		aid, aok := planned["account_id"].(string)
		if pok && aok && c.predictEmails() {
			email := saEmail(aid, project)
			planned["email"] = email
			planned["member"] = "serviceAccount:" + email
		}
		return nil
	}
	r.read = func(ctx context.Context, p *provider, state map[string]any) (map[string]any, error) {
		svc, err := p.iam(ctx)
		if err != nil {
			return nil, err
		}
		id := str(state, "id")
		sa, err := svc.Projects.ServiceAccounts.Get(id).Context(ctx).Do()
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("Error reading Service Account %q: %w", id, err)
		}
		d := copyMap(state)
		flattenServiceAccount(d, sa)
		if d["deletion_policy"] == nil {
			d["deletion_policy"] = "DELETE"
		}
		return d, nil
	}
	r.create = func(ctx context.Context, p *provider, planned map[string]any) (map[string]any, error) {
		c, err := p.cfg()
		if err != nil {
			return nil, err
		}
		svc, err := p.iam(ctx)
		if err != nil {
			return nil, err
		}
		d := copyMap(planned)
		project := str(d, "project")
		if project == "" {
			project = c.Project
		}
		if project == "" {
			return nil, errors.New("project: required field is not set")
		}
		aid := str(d, "account_id")
		req := &iamv1.CreateServiceAccountRequest{
			AccountId: aid,
			ServiceAccount: &iamv1.ServiceAccount{
				DisplayName: str(d, "display_name"),
				Description: str(d, "description"),
			},
		}
		timeout := createTimeout(d)
		sa, err := svc.Projects.ServiceAccounts.Create("projects/"+project, req).Context(ctx).Do()
		if err != nil {
			if !(isGoogleAPIErrorWithCode(err, http.StatusConflict) && boolean(d, "create_ignore_already_exists")) {
				return nil, fmt.Errorf("Error creating service account: %w", err)
			}
			return adoptServiceAccount(ctx, p, svc, d, project, aid, timeout), nil
		}
		d["id"] = sa.Name
		flattenServiceAccount(d, sa)
		// The API is eventually consistent: wait until three reads in a row
		// find the account. A 404 starts the count again; any other error
		// ends the wait.
		pollConsistent(ctx, p, timeout, func() (bool, error) {
			_, err := svc.Projects.ServiceAccounts.Get(sa.Name).Context(ctx).Do()
			if err != nil {
				if isNotFound(err) {
					return false, nil
				}
				return false, err
			}
			return true, nil
		})
		return d, nil
	}
	r.update = func(ctx context.Context, p *provider, prior, planned map[string]any) (map[string]any, error) {
		svc, err := p.iam(ctx)
		if err != nil {
			return nil, err
		}
		d := copyMap(planned)
		id := str(d, "id")
		sa, err := svc.Projects.ServiceAccounts.Get(id).Context(ctx).Do()
		if err != nil {
			return nil, fmt.Errorf("Error retrieving service account %q: %w", id, err)
		}
		var mask []string
		if str(prior, "description") != str(planned, "description") {
			mask = append(mask, "description")
		}
		if str(prior, "display_name") != str(planned, "display_name") {
			mask = append(mask, "display_name")
		}
		if boolean(prior, "disabled") != boolean(planned, "disabled") {
			if boolean(planned, "disabled") {
				_, err = svc.Projects.ServiceAccounts.Disable(id, &iamv1.DisableServiceAccountRequest{}).Context(ctx).Do()
			} else {
				_, err = svc.Projects.ServiceAccounts.Enable(id, &iamv1.EnableServiceAccountRequest{}).Context(ctx).Do()
			}
			if err != nil {
				return prior, fmt.Errorf("Error updating service account %q: %w", id, err)
			}
		}
		if len(mask) == 0 {
			return d, nil
		}
		wantName, wantDesc := str(d, "display_name"), str(d, "description")
		_, err = svc.Projects.ServiceAccounts.Patch(id, &iamv1.PatchServiceAccountRequest{
			UpdateMask: strings.Join(mask, ","),
			ServiceAccount: &iamv1.ServiceAccount{
				DisplayName: wantName,
				Description: wantDesc,
				Etag:        sa.Etag,
			},
		}).Context(ctx).Do()
		if err != nil {
			return prior, fmt.Errorf("Error updating service account %q: %w", id, err)
		}
		ok := pollConsistent(ctx, p, saUpdatePollTimeout, func() (bool, error) {
			got, err := svc.Projects.ServiceAccounts.Get(id).Context(ctx).Do()
			if err != nil {
				return false, err
			}
			return got.DisplayName == wantName && got.Description == wantDesc, nil
		})
		if !ok {
			return d, fmt.Errorf("Error waiting for service account %q to show its new display_name and description", id)
		}
		return d, nil
	}
	r.delete = func(ctx context.Context, p *provider, state map[string]any) error {
		switch str(state, "deletion_policy") {
		case "ABANDON":
			return nil
		case "PREVENT":
			return fmt.Errorf("cannot destroy service account %q without setting deletion_policy to \"DELETE\" and running `terraform apply`", str(state, "id"))
		}
		svc, err := p.iam(ctx)
		if err != nil {
			return err
		}
		if _, err := svc.Projects.ServiceAccounts.Delete(str(state, "id")).Context(ctx).Do(); err != nil && !isNotFound(err) {
			return fmt.Errorf("Error deleting service account %q: %w", str(state, "id"), err)
		}
		return nil
	}
	r.importState = func(ctx context.Context, p *provider, id string) (map[string]any, error) {
		c, err := p.cfg()
		if err != nil {
			return nil, err
		}
		m, err := importIDQualifiers([]string{
			"^projects/(?P<project>[^/]+)/serviceAccounts/(?P<email>[^/]+)$",
			"^(?P<project>[^/]+)/(?P<email>[^/]+)$",
			"^(?P<email>[^/]+)$",
		}, id)
		if err != nil {
			return nil, err
		}
		project := m["project"]
		if project == "" {
			project = c.Project
		}
		if project == "" {
			return nil, errors.New("No value was found for project during import")
		}
		return map[string]any{
			"id":              fmt.Sprintf("projects/%s/serviceAccounts/%s", project, m["email"]),
			"project":         project,
			"deletion_policy": "DELETE",
			"disabled":        false,
		}, nil
	}
	return r
}

// pollConsistent calls check until it reports true saConsistentReads times
// in a row, every saPollInterval, within timeout. A false result resets the
// count; an error ends polling. It reports whether the reads converged.
func pollConsistent(ctx context.Context, p *provider, timeout time.Duration, check func() (bool, error)) bool {
	var waited time.Duration
	for ok := 0; ; {
		good, err := check()
		if err != nil {
			return false
		}
		if good {
			ok++
			if ok >= saConsistentReads {
				return true
			}
		} else {
			ok = 0
		}
		if waited >= timeout {
			return false
		}
		if p.sleep(ctx, saPollInterval) != nil {
			return false
		}
		waited += saPollInterval
	}
}

// adoptServiceAccount is create_ignore_already_exists after a 409, as the
// real provider does it: read the existing account (404s retried until the
// create timeout) and take it as it is into d. display_name and description
// are the account's, not the configuration's, so a difference shows in the
// next plan as an in-place update; nothing is patched now. There is no
// consistency poll: the account was already there. If the read never
// succeeds the real provider still reports success but sets no id, so the
// resource comes back null (Terraform then fails the apply with "Provider
// returned invalid result object after apply") and nothing is recorded;
// adoptServiceAccount returns nil then.
func adoptServiceAccount(ctx context.Context, p *provider, svc *iamv1.Service, d map[string]any, project, accountID string, timeout time.Duration) map[string]any {
	name := fmt.Sprintf("projects/%s/serviceAccounts/%s", project, saEmail(accountID, project))
	sa, err := getServiceAccountRetryingNotFound(ctx, p, svc, name, timeout)
	if err != nil {
		return nil
	}
	d["id"] = sa.Name
	flattenServiceAccount(d, sa)
	return d
}

// getServiceAccountRetryingNotFound reads an account, retrying 404s until
// timeout with the SDK's retry back-off: 0.5 s, doubling, at most 10 s.
func getServiceAccountRetryingNotFound(ctx context.Context, p *provider, svc *iamv1.Service, name string, timeout time.Duration) (*iamv1.ServiceAccount, error) {
	var waited time.Duration
	wait := saRetryMinWait
	for {
		sa, err := svc.Projects.ServiceAccounts.Get(name).Context(ctx).Do()
		if err == nil || !isNotFound(err) || waited+wait > timeout {
			return sa, err
		}
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
		wait = min(2*wait, saRetryMaxWait)
	}
}

// serviceAccountFQN resolves an account id, an email or a full name to a
// full name, the way the real data source and key resource do.
func serviceAccountFQN(id, project string) (string, error) {
	if strings.HasPrefix(id, "projects/") {
		return id, nil
	}
	if strings.Contains(id, "@") {
		return "projects/-/serviceAccounts/" + id, nil
	}
	if project == "" {
		return "", errors.New("project: required field is not set")
	}
	return "projects/-/serviceAccounts/" + saEmail(id, project), nil
}

func serviceAccountDataSource() *dataSourceType {
	return &dataSourceType{
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			c, err := p.cfg()
			if err != nil {
				return nil, err
			}
			project := str(cfg, "project")
			if project == "" {
				project = c.Project
			}
			name, err := serviceAccountFQN(str(cfg, "account_id"), project)
			if err != nil {
				return nil, err
			}
			svc, err := p.iam(ctx)
			if err != nil {
				return nil, err
			}
			sa, err := svc.Projects.ServiceAccounts.Get(name).Context(ctx).Do()
			if err != nil {
				if isNotFound(err) {
					return nil, fmt.Errorf("Service Account %q not found", name)
				}
				return nil, fmt.Errorf("Error reading Service Account %q: %w", name, err)
			}
			d := copyMap(cfg)
			d["id"] = sa.Name
			flattenServiceAccount(d, sa)
			delete(d, "description")
			return d, nil
		},
	}
}
