package model

// Names and enums of the emulated resources that several APIs and the seed
// rules share.

import (
	"regexp"
)

// Ingress values of the v2 API.
const (
	IngressAll        = "INGRESS_TRAFFIC_ALL"
	IngressInternal   = "INGRESS_TRAFFIC_INTERNAL_ONLY"
	IngressInternalLB = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
	IngressNone       = "INGRESS_TRAFFIC_NONE"
)

var (
	RunServiceIDRe = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	RunLocationRe  = regexp.MustCompile(`^[a-z]+(-[a-z]+)+[0-9]+$`)
)

// ServiceKey is the key of a Run service in State.Services.
func ServiceKey(projectID, location, name string) string {
	return "projects/" + projectID + "/locations/" + location + "/services/" + name
}

// FunctionKey is the key of a function in State.Functions.
func FunctionKey(projectID, location, name string) string {
	return "projects/" + projectID + "/locations/" + location + "/functions/" + name
}

// V1Ingress maps the v2 ingress enum to the v1 annotation value.
var V1Ingress = map[string]string{
	IngressAll:        "all",
	IngressInternal:   "internal",
	IngressInternalLB: "internal-and-cloud-load-balancing",
	IngressNone:       "none",
}

var (
	CustomRoleIDRE = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)
	PermissionRE   = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+){2,}$`)
)

var AccountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)
