package core

// The Resource Manager hierarchy above projects: organizations and folders,
// each with an IAM policy that everything below it inherits, as in Google.
// A project's parent may name a node the emulator does not know (a bare
// label from an older seed): such a node has no policy and ends the chain.

import (
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// maxHierarchyDepth bounds ancestor walks (Google allows 10 folder levels
// under an organization); it also guards against a cycle in stored state.
const maxHierarchyDepth = 12

// AncestorsLocked is the chain of nodes from parent ("folders/N" or
// "organizations/N") up to the root, nearest first. An unknown node is
// listed and ends the chain. Called with e.Mu held.
func (e *Server) AncestorsLocked(parent string) []string {
	var out []string
	for n := parent; n != "" && len(out) < maxHierarchyDepth; {
		out = append(out, n)
		f := e.St.Folders[n]
		if f == nil {
			break
		}
		n = f.Parent
	}
	return out
}

// ProjectAncestorsLocked is p's ancestry as Cloud Asset lists it:
// "projects/{number}" then its folders and organization, nearest first.
func (e *Server) ProjectAncestorsLocked(p *model.Project) []string {
	return append([]string{"projects/" + p.Number}, e.AncestorsLocked(p.Parent)...)
}

// NodePolicyLocked is the policy stored on an organization or folder (nil
// when the node is unknown or has none). Called with e.Mu held.
func (e *Server) NodePolicyLocked(name string) *model.Policy {
	if o := e.St.Organizations[name]; o != nil {
		return o.Policy
	}
	if f := e.St.Folders[name]; f != nil {
		return f.Policy
	}
	return nil
}

// NodeExistsLocked reports whether name is a known organization or folder.
func (e *Server) NodeExistsLocked(name string) bool {
	return e.St.Organizations[name] != nil || e.St.Folders[name] != nil
}

// ancestorBindingsLocked is the current bindings of each node of parent's
// chain (parent included).
func (e *Server) ancestorBindingsLocked(parent string) [][]*model.Binding {
	var sets [][]*model.Binding
	for _, n := range e.AncestorsLocked(parent) {
		sets = append(sets, e.NodePolicyLocked(n).CurrentBindings())
	}
	return sets
}

// NodePermittedLocked reports whether principal holds permission on scope
// ("projects/{id or number}", "folders/N" or "organizations/N") through the
// scope's own policy and every ancestor's. Unknown scopes grant nothing.
// Called with e.Mu held.
func (e *Server) NodePermittedLocked(principal, permission, scope string) bool {
	if ref, ok := strings.CutPrefix(scope, "projects/"); ok {
		p := e.ProjectLocked(ref)
		return p != nil && e.PrincipalPermitted(principal, permission, p.ID)
	}
	if !e.NodeExistsLocked(scope) {
		return false
	}
	return e.Checker().Grants(principal, permission, e.ancestorBindingsLocked(scope)...)
}

// isNodeName reports whether name is an organization's or a folder's.
func isNodeName(name string) bool {
	return strings.HasPrefix(name, "organizations/") || strings.HasPrefix(name, "folders/")
}
