// Package examples ships the example declarations so that `invokerctl demo`
// runs the quickstart from any directory. Each example is also exercised by
// the tests.
package examples

import "embed"

// Quickstart holds quickstart/invokers.yaml and quickstart/seed.yaml (the
// emulator seed with the services the declaration grants on).
//
//go:embed quickstart/invokers.yaml quickstart/seed.yaml
var Quickstart embed.FS
