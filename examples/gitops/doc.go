// Package gitops holds no code: it is the GitOps example, a repository
// layout a platform team copies (declarations/, a GitHub Actions workflow
// under .github/workflows/, a .gitlab-ci.yml), and the tests that lint
// those pipelines and run their steps through the built invokerctl
// against the emulator. See README.md.
package gitops
