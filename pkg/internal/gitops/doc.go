// Package gitops tests the GitOps example in examples/gitops: it lints the
// GitHub Actions workflow with actionlint, checks the GitLab CI file, and
// runs the pipelines' steps as shipped through the built invokerctl
// against an in-process emulator. It has no code of its own: the example
// is a repository layout to copy, not a Go package.
package gitops
