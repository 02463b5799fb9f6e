package tf

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one line of /proc/PID/stat, the part the runner needs.
type proc struct {
	pid, ppid, pgrp int
	state           byte
}

// readProc reads /proc/PID/stat. The command name may hold spaces and
// parentheses: the fields start after the last ')'.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

// procs lists the live processes (zombies are dead and left out).
func procs() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.state != 'Z' && p.state != 'X' {
			out = append(out, p)
		}
	}
	return out
}

// terraformGroups finds the Terraform processes this process started in
// dir: children of this process working in dir that lead their own process
// group (terraform-exec starts Terraform with Setpgid). Their group ids are
// returned; provider plugins share them.
func terraformGroups(dir string) []int {
	want, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	if r, err := filepath.EvalSymlinks(want); err == nil {
		want = r
	}
	self := os.Getpid()
	var out []int
	for _, p := range procs() {
		if p.ppid != self || p.pgrp != p.pid {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + strconv.Itoa(p.pid) + "/cwd"); err == nil && cwd == want {
			out = append(out, p.pid)
		}
	}
	return out
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for _, p := range procs() {
		if p.pgrp == pgid {
			out = append(out, p.pid)
		}
	}
	return out
}

// killGroups sends SIGKILL to every group that still has live members. A
// group id cannot be reused while the group has members, so only groups
// just seen alive are signalled.
func killGroups(pgids []int) {
	for _, g := range pgids {
		if len(groupMembers(g)) > 0 {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
	}
}

// waitGroupsGone waits, at most max, until no member of pgids is alive.
func waitGroupsGone(pgids []int, max time.Duration) {
	deadline := time.Now().Add(max)
	for _, g := range pgids {
		for len(groupMembers(g)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
