package tfprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	crm "google.golang.org/api/cloudresourcemanager/v1"
)

// snakeToCamel maps a schema attribute name to the API's JSON field name.
func snakeToCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// flattenAPI maps decoded API JSON onto a schema type generically:
// object attributes are looked up under their camelCase names, a single
// message fills a one-element list (the SDK's MaxItems:1 blocks), int64
// strings fill numbers and numbers fill strings. Fields the API leaves out
// are null.
func flattenAPI(t tftypes.Type, v any) any {
	if v == nil {
		return nil
	}
	switch {
	case t.Is(tftypes.Object{}):
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		out := map[string]any{}
		for name, at := range t.(tftypes.Object).AttributeTypes {
			if val, ok := m[snakeToCamel(name)]; ok {
				out[name] = flattenAPI(at, val)
			} else if val, ok := m[name]; ok {
				out[name] = flattenAPI(at, val)
			}
		}
		return out
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}):
		var et tftypes.Type
		if l, ok := t.(tftypes.List); ok {
			et = l.ElementType
		} else {
			et = t.(tftypes.Set).ElementType
		}
		switch x := v.(type) {
		case []any:
			out := make([]any, 0, len(x))
			for _, e := range x {
				out = append(out, flattenAPI(et, e))
			}
			return out
		case map[string]any:
			return []any{flattenAPI(et, x)}
		}
		return nil
	case t.Is(tftypes.Map{}):
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		et := t.(tftypes.Map).ElementType
		out := map[string]any{}
		for k, e := range m {
			out[k] = flattenAPI(et, e)
		}
		return out
	case t.Is(tftypes.String):
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		case bool:
			return strconv.FormatBool(x)
		case map[string]any, []any:
			b, _ := json.Marshal(x)
			return string(b)
		}
		return nil
	case t.Is(tftypes.Number):
		switch x := v.(type) {
		case json.Number, string, float64:
			return x
		}
		return nil
	case t.Is(tftypes.Bool):
		if b, ok := v.(bool); ok {
			return b
		}
		return nil
	}
	return nil
}

// flattenInto fills every computed top-level attribute of s from the API
// object, leaving the attributes named in keep as they are in d.
func flattenInto(s *tfprotov5.Schema, d, api map[string]any, keep ...string) {
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	for _, a := range s.Block.Attributes {
		if kept[a.Name] || !a.Computed {
			continue
		}
		if v, ok := api[snakeToCamel(a.Name)]; ok {
			d[a.Name] = flattenAPI(a.Type, v)
		}
	}
}

// readAPIDataSource reads the API object id (under base) of a data
// source: its state is cfg with id and project set and every computed
// attribute the object has, labels included in effective_labels and
// terraform_labels (data sources report all labels). kind names the
// object in errors.
func readAPIDataSource(ctx context.Context, client *http.Client, s *tfprotov5.Schema, cfg map[string]any, base, id, project, kind string) (map[string]any, error) {
	api, err := sendRequest(ctx, client, "GET", base+id, nil)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s not found", id)
		}
		return nil, fmt.Errorf("Error reading %s %q: %w", kind, id, err)
	}
	d := copyMap(cfg)
	d["id"] = id
	d["project"] = project
	flattenInto(s, d, api, "id", "name", "location", "project")
	d["effective_labels"] = d["labels"]
	d["terraform_labels"] = d["labels"]
	return d, nil
}

// readLocatedDataSource reads projects/P/locations/L/COLLECTION/NAME, where
// P is the data source's project or else the provider's, and L its location or
// else fallbackLocation(c) (nil: no fallback). It returns the location used.
func readLocatedDataSource(ctx context.Context, p *provider, s *tfprotov5.Schema, cfg map[string]any, collection, kind string, basePath, fallbackLocation func(*Config) string) (map[string]any, string, error) {
	client, c, err := p.httpClient()
	if err != nil {
		return nil, "", err
	}
	project := firstNonEmpty(str(cfg, "project"), c.Project)
	if project == "" {
		return nil, "", fmt.Errorf("project: required field is not set")
	}
	location := str(cfg, "location")
	if location == "" && fallbackLocation != nil {
		location = fallbackLocation(c)
	}
	if location == "" {
		return nil, "", fmt.Errorf("location: required field is not set (set it here or set the provider region)")
	}
	id := fmt.Sprintf("projects/%s/locations/%s/%s/%s", project, location, collection, str(cfg, "name"))
	d, err := readAPIDataSource(ctx, client, s, cfg, basePath(c), id, project, kind)
	return d, location, err
}

// ---- google_cloud_run_v2_service ----

func cloudRunV2ServiceDataSource(s *tfprotov5.Schema) *dataSourceType {
	return &dataSourceType{
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			d, location, err := readLocatedDataSource(ctx, p, s, cfg, "services", "Service",
				func(c *Config) string { return c.CloudRunV2BasePath }, func(c *Config) string { return c.Region })
			if err != nil {
				return nil, err
			}
			d["location"] = location
			d["effective_annotations"] = d["annotations"]
			for _, k := range []string{"deletion_policy", "deletion_protection", "tags"} {
				d[k] = nil
			}
			return d, nil
		},
	}
}

// ---- google_cloudfunctions2_function ----

func cloudFunctions2FunctionDataSource(s *tfprotov5.Schema) *dataSourceType {
	return &dataSourceType{
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			d, _, err := readLocatedDataSource(ctx, p, s, cfg, "functions", "function",
				func(c *Config) string { return c.Functions2BasePath }, nil)
			if err != nil {
				return nil, err
			}
			d["deletion_policy"] = nil
			return d, nil
		},
	}
}

// ---- google_cloud_run_v2_service_iam_policy ----

func cloudRunV2ServiceIamPolicyDataSource() *dataSourceType {
	return &dataSourceType{
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			d, u, err := cloudRunV2ServiceParent.updater(p, cfg)
			if err != nil {
				return nil, err
			}
			pol, err := iamPolicyReadWithRetry(ctx, u)
			if err != nil {
				return nil, err
			}
			d["id"] = u.GetResourceId()
			d["etag"] = pol.Etag
			d["policy_data"] = marshalIamPolicy(pol)
			return d, nil
		},
	}
}

// ---- google_iam_policy ----

// hashcode is the SDK's string hash (crc32), used for this data source id.
func hashcode(s string) int {
	v := int(crc32.ChecksumIEEE([]byte(s)))
	if v < 0 {
		v = -v
	}
	return v
}

func iamPolicyDataSource() *dataSourceType {
	return &dataSourceType{
		validate: func(cfg map[string]any) []*tfprotov5.Diagnostic {
			var diags []*tfprotov5.Diagnostic
			l, _ := cfg["binding"].([]any)
			for _, b := range l {
				bm, _ := b.(map[string]any)
				for _, m := range strList(bm, "members") {
					if strings.HasPrefix(m, "deleted:") {
						diags = append(diags, attrDiag("binding", fmt.Errorf("invalid value for members (Terraform does not support IAM policies for deleted principals)")))
					}
				}
			}
			return diags
		},
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			policy := renderIamPolicy(cfg)
			b, err := json.Marshal(policy)
			if err != nil {
				return nil, err
			}
			d := copyMap(cfg)
			d["policy_data"] = string(b)
			d["id"] = strconv.Itoa(hashcode(string(b)))
			return d, nil
		},
	}
}

// renderIamPolicy builds the policy of a google_iam_policy configuration:
// bindings that differ only in members are merged, bindings sorted by role
// then condition, members sorted.
func renderIamPolicy(cfg map[string]any) *crm.Policy {
	byKey := map[string]*crm.Binding{}
	var order []string
	l, _ := cfg["binding"].([]any)
	for _, e := range l {
		bm, _ := e.(map[string]any)
		if bm == nil {
			continue
		}
		role := str(bm, "role")
		cond := expandIamCondition(bm["condition"])
		key := role
		if cond != nil {
			key += fmt.Sprintf("-[%s]-[%s]-[%s]-[%s]", cond.Expression, cond.Title, cond.Description, cond.Location)
		}
		if b, ok := byKey[key]; ok {
			b.Members = append(b.Members, strList(bm, "members")...)
			continue
		}
		byKey[key] = &crm.Binding{Role: role, Members: strList(bm, "members"), Condition: cond}
		order = append(order, key)
	}
	policy := &crm.Policy{Bindings: []*crm.Binding{}}
	for _, k := range order {
		policy.Bindings = append(policy.Bindings, byKey[k])
	}
	sort.SliceStable(policy.Bindings, func(i, j int) bool {
		a, b := policy.Bindings[i], policy.Bindings[j]
		if a.Role != b.Role {
			return a.Role < b.Role
		}
		if (a.Condition == nil) != (b.Condition == nil) {
			return a.Condition == nil
		}
		if a.Condition == nil {
			return false
		}
		if a.Condition.Expression != b.Condition.Expression {
			return a.Condition.Expression < b.Condition.Expression
		}
		if a.Condition.Title != b.Condition.Title {
			return a.Condition.Title < b.Condition.Title
		}
		return a.Condition.Description < b.Condition.Description
	})
	for _, b := range policy.Bindings {
		sort.Strings(b.Members)
	}
	acl, _ := cfg["audit_config"].([]any)
	for _, e := range acl {
		am, _ := e.(map[string]any)
		if am == nil {
			continue
		}
		ac := &crm.AuditConfig{Service: str(am, "service")}
		lcs, _ := am["audit_log_configs"].([]any)
		for _, lc := range lcs {
			lm, _ := lc.(map[string]any)
			ac.AuditLogConfigs = append(ac.AuditLogConfigs, &crm.AuditLogConfig{
				LogType:         str(lm, "log_type"),
				ExemptedMembers: strList(lm, "exempted_members"),
			})
		}
		policy.AuditConfigs = append(policy.AuditConfigs, ac)
	}
	return policy
}

// ---- google_project ----

func projectDataSource() *dataSourceType {
	return &dataSourceType{
		read: func(ctx context.Context, p *provider, cfg map[string]any) (map[string]any, error) {
			c, err := p.cfg()
			if err != nil {
				return nil, err
			}
			project := str(cfg, "project_id")
			if project == "" {
				project = c.Project
			}
			if project == "" {
				return nil, fmt.Errorf("no project value set. `project_id` must be set at the resource level, or a default `project` value must be specified on the provider")
			}
			id := "projects/" + project
			svc, err := p.resourceManager(ctx)
			if err != nil {
				return nil, err
			}
			pr, err := svc.Projects.Get(project).Context(ctx).Do()
			if err != nil {
				if isNotFound(err) || isGoogleAPIErrorWithCode(err, 403) && strings.Contains(err.Error(), "caller does not have permission") {
					return nil, fmt.Errorf("%s not found or not in ACTIVE state", id)
				}
				return nil, fmt.Errorf("Error reading Project %q: %w", project, err)
			}
			if pr.LifecycleState != "" && pr.LifecycleState != "ACTIVE" {
				return nil, fmt.Errorf("%s not found or not in ACTIVE state", id)
			}
			d := copyMap(cfg)
			d["id"] = id
			d["project_id"] = pr.ProjectId
			d["number"] = strconv.FormatInt(pr.ProjectNumber, 10)
			d["name"] = pr.Name
			labels := map[string]any{}
			for k, v := range pr.Labels {
				labels[k] = v
			}
			d["labels"] = labels
			d["effective_labels"] = labels
			d["terraform_labels"] = labels
			d["org_id"], d["folder_id"] = "", ""
			if pr.Parent != nil {
				switch pr.Parent.Type {
				case "organization":
					d["org_id"] = pr.Parent.Id
				case "folder":
					d["folder_id"] = pr.Parent.Id
				}
			}
			// Billing lives in another API this build does not call.
			d["billing_account"] = nil
			d["auto_create_network"] = nil
			d["deletion_policy"] = nil
			d["tags"] = nil
			return d, nil
		},
	}
}

// registerDataSources wires every data source into p.
func registerDataSources(p *provider) {
	p.dataSources["google_cloud_run_v2_service"] = cloudRunV2ServiceDataSource(p.schemas.DataSources["google_cloud_run_v2_service"])
	p.dataSources["google_cloud_run_v2_service_iam_policy"] = cloudRunV2ServiceIamPolicyDataSource()
	p.dataSources["google_cloudfunctions2_function"] = cloudFunctions2FunctionDataSource(p.schemas.DataSources["google_cloudfunctions2_function"])
	p.dataSources["google_iam_policy"] = iamPolicyDataSource()
	p.dataSources["google_project"] = projectDataSource()
	p.dataSources["google_service_account"] = serviceAccountDataSource()
}

// registerResources wires every resource into p.
func registerResources(p *provider) {
	p.resources["google_service_account"] = serviceAccountResource()
	p.resources["google_cloud_run_v2_service_iam_member"] = iamMemberResource(cloudRunV2ServiceParent)
	p.resources["google_cloud_run_v2_service_iam_binding"] = iamBindingResource(cloudRunV2ServiceParent)
	p.resources["google_cloud_run_v2_service_iam_policy"] = iamPolicyResource(cloudRunV2ServiceParent)
	p.resources["google_project_iam_member"] = iamMemberResource(projectParent)
	p.resources["google_service_account_iam_member"] = iamMemberResource(serviceAccountParent)
	p.resources["google_service_account_iam_binding"] = iamBindingResource(serviceAccountParent)
}
