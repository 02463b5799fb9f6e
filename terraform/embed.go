// Package terraform ships the project's Terraform modules inside the
// invokerctl binary, so a working directory can be laid out without a
// checkout of this repository.
package terraform

import "embed"

// Modules holds modules/<name>/*.tf and README.md.
//
//go:embed modules
var Modules embed.FS

// InvokersModule is the path of the cloud-run-invokers module inside Modules.
const InvokersModule = "modules/cloud-run-invokers"
