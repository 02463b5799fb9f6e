//go:build !linux

package tf

import "time"

// Outside Linux the runner does not look for Terraform's process group:
// terraform-exec's interrupt and the exec package's WaitDelay (set to the
// grace period) bound a cancelled command, and Terraform stops its plugins.

func terraformGroups(string) []int { return nil }

func killGroups([]int) {}

func waitGroupsGone([]int, time.Duration) {}
