// Package iamroles holds the one copy of the predefined-role data: which of
// Google's predefined roles carry which of the permissions invokerctl and its
// emulator touch. invokerctl's IAM logic and the emulator's authorization both
// read it, each in its own way, so they never disagree about a role.
package iamroles

import _ "embed"

//go:embed predefined-roles.json
var predefinedRolesJSON []byte

// JSON returns the embedded table: {"roles": {"roles/x": {"title",
// "permissions": [...]}}}. Callers must not modify the returned bytes.
func JSON() []byte { return predefinedRolesJSON }
