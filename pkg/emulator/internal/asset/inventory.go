package asset

// The inventory: every resource the emulator holds, as Cloud Asset
// Inventory names and places it.

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// The asset types the emulator inventories.
const (
	TypeOrganization = "cloudresourcemanager.googleapis.com/Organization"
	TypeFolder       = "cloudresourcemanager.googleapis.com/Folder"
	TypeProject      = "cloudresourcemanager.googleapis.com/Project"
	TypeRunService   = "run.googleapis.com/Service"
	TypeFunction     = "cloudfunctions.googleapis.com/Function"
)

// crmPrefix starts the full resource name of hierarchy nodes.
const crmPrefix = "//cloudresourcemanager.googleapis.com/"

// item is one inventoried resource.
type item struct {
	name      string // full resource name, e.g. //run.googleapis.com/projects/p/locations/l/services/s
	assetType string
	// ancestors are "projects/{number}", "folders/{n}", "organizations/{n}",
	// nearest first, the resource itself first when it is one of those.
	ancestors   []string
	policy      *model.Policy // the resource's own policy (nil: none)
	displayName string
	description string
	location    string
	state       string
	labels      map[string]string
	createTime  time.Time
	updateTime  time.Time
	// parent is the full name of the parent resource ("" for a root).
	parent, parentType string
	// discovery describes resource.data: API version, discovery name and
	// document URI.
	version, discoveryName, discoveryURI string
	data                                 map[string]any
}

// project is the "projects/{number}" the item belongs to, or "".
func (it *item) project() string {
	for _, a := range it.ancestors {
		if strings.HasPrefix(a, "projects/") {
			return a
		}
	}
	return ""
}

// folders are the item's folders, nearest first.
func (it *item) folders() []string {
	var out []string
	for _, a := range it.ancestors {
		if strings.HasPrefix(a, "folders/") {
			out = append(out, a)
		}
	}
	return out
}

// organization is the item's organization, or "".
func (it *item) organization() string {
	for _, a := range it.ancestors {
		if strings.HasPrefix(a, "organizations/") {
			return a
		}
	}
	return ""
}

// inScope reports whether the item lies in scope (a normalized ancestor
// name).
func (it *item) inScope(scope string) bool { return slices.Contains(it.ancestors, scope) }

// nodeParent is the full name and asset type of a hierarchy node.
func nodeParent(node string) (string, string) {
	switch {
	case node == "":
		return "", ""
	case strings.HasPrefix(node, "folders/"):
		return crmPrefix + node, TypeFolder
	case strings.HasPrefix(node, "projects/"):
		return crmPrefix + node, TypeProject
	default:
		return crmPrefix + node, TypeOrganization
	}
}

// inventoryLocked lists every resource, sorted by full name. Called with
// e.Mu held.
func inventoryLocked(e *core.Server) []*item {
	var items []*item
	crmDisc := "https://cloudresourcemanager.googleapis.com/$discovery/rest"
	for _, o := range e.St.Organizations {
		items = append(items, &item{name: crmPrefix + o.Name, assetType: TypeOrganization, ancestors: []string{o.Name},
			policy: o.Policy, displayName: o.DisplayName, location: "global", state: "ACTIVE",
			createTime: o.CreateTime, updateTime: o.CreateTime, version: "v3", discoveryName: "Organization", discoveryURI: crmDisc,
			data: map[string]any{"name": o.Name, "displayName": o.DisplayName, "directoryCustomerId": o.DirectoryCustomerID, "state": "ACTIVE"}})
	}
	for _, f := range e.St.Folders {
		pn, pt := nodeParent(f.Parent)
		items = append(items, &item{name: crmPrefix + f.Name, assetType: TypeFolder, ancestors: e.AncestorsLocked(f.Name),
			policy: f.Policy, displayName: f.DisplayName, location: "global", state: "ACTIVE",
			createTime: f.CreateTime, updateTime: f.CreateTime, parent: pn, parentType: pt,
			version: "v3", discoveryName: "Folder", discoveryURI: crmDisc,
			data: map[string]any{"name": f.Name, "parent": f.Parent, "displayName": f.DisplayName, "state": "ACTIVE"}})
	}
	for _, p := range e.St.Projects {
		pn, pt := nodeParent(p.Parent)
		data := map[string]any{"projectNumber": p.Number, "projectId": p.ID, "name": p.Name, "lifecycleState": "ACTIVE"}
		if p.Parent != "" {
			kind, id, _ := strings.Cut(p.Parent, "s/")
			data["parent"] = map[string]any{"type": kind, "id": id}
		}
		items = append(items, &item{name: crmPrefix + "projects/" + p.Number, assetType: TypeProject,
			ancestors: e.ProjectAncestorsLocked(p), policy: p.Policy, displayName: p.Name, location: "global",
			state: "ACTIVE", labels: p.Labels, createTime: p.CreateTime, updateTime: p.CreateTime,
			parent: pn, parentType: pt, version: "v1", discoveryName: "Project", discoveryURI: crmDisc, data: data})
	}
	for _, svc := range e.St.Services {
		p := e.St.Projects[svc.ProjectID]
		if p == nil {
			continue
		}
		short := "projects/" + p.ID + "/locations/" + svc.Location + "/services/" + svc.Name
		items = append(items, &item{name: "//run.googleapis.com/" + short, assetType: TypeRunService,
			ancestors: e.ProjectAncestorsLocked(p), policy: svc.Policy, displayName: svc.Name, description: svc.Description,
			location: svc.Location, labels: svc.Labels, createTime: svc.CreateTime, updateTime: svc.UpdateTime,
			parent: crmPrefix + "projects/" + p.Number, parentType: TypeProject,
			version: "v2", discoveryName: "Service", discoveryURI: "https://run.googleapis.com/$discovery/rest",
			data: map[string]any{"name": short, "uid": svc.UID, "uri": svc.URI, "ingress": svc.Ingress,
				"invokerIamDisabled": svc.InvokerIAMDisabled, "generation": strconv.FormatInt(svc.Generation, 10), // int64: a JSON string in Run v2
				"createTime": svc.CreateTime.UTC().Format(time.RFC3339Nano), "updateTime": svc.UpdateTime.UTC().Format(time.RFC3339Nano)}})
		if len(svc.CustomAudiences) > 0 { // Run v2 omits an empty list
			items[len(items)-1].data["customAudiences"] = svc.CustomAudiences
		}
	}
	for _, fn := range e.St.Functions {
		p := e.St.Projects[fn.ProjectID]
		if p == nil {
			continue
		}
		short := "projects/" + p.ID + "/locations/" + fn.Location + "/functions/" + fn.Name
		data := map[string]any{"name": short, "state": fn.State, "environment": fn.Environment,
			"serviceConfig": map[string]any{"service": fn.Service}}
		if fn.EventTrigger != nil {
			data["eventTrigger"] = fn.EventTrigger
		}
		items = append(items, &item{name: "//cloudfunctions.googleapis.com/" + short, assetType: TypeFunction,
			ancestors: e.ProjectAncestorsLocked(p), displayName: fn.Name, description: fn.Description,
			location: fn.Location, state: fn.State, labels: fn.Labels, createTime: fn.CreateTime, updateTime: fn.UpdateTime,
			parent: crmPrefix + "projects/" + p.Number, parentType: TypeProject,
			version: "v2", discoveryName: "Function", discoveryURI: "https://cloudfunctions.googleapis.com/$discovery/rest", data: data})
	}
	slices.SortFunc(items, func(a, b *item) int { return strings.Compare(a.name, b.name) })
	return items
}

// typeFilter parses the assetTypes parameter: each value is an RE2
// expression that must match a whole asset type, as Google reads it. An
// empty list admits every type; a value that does not compile is 400.
func typeFilter(values []string) (func(string) bool, *httpx.Error) {
	var res []*regexp.Regexp
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			re, err := regexp.Compile("^(?:" + t + ")$")
			if err != nil {
				return nil, httpx.ErrInvalid("Invalid asset type %q: %v", t, err)
			}
			res = append(res, re)
		}
	}
	return func(t string) bool {
		return len(res) == 0 || slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(t) })
	}, nil
}
