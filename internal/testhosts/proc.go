package testhosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc names one process across invocations of etcd-sandbox. A pid alone can
// be reused once the process is gone; the pair (pid, start time) cannot, so
// nothing is signalled unless both still match.
type proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // /proc/<pid>/stat field 22, clock ticks since boot
}

// procStat returns the state letter, parent pid and start time of pid.
func procStat(pid int) (state byte, ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name (field 2) may contain spaces and parentheses; the
	// fixed-format fields start after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, 0, 0, err
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, 0, err
	}
	return f[0][0], ppid, start, nil
}

func newProc(pid int) (proc, error) {
	_, _, start, err := procStat(pid)
	if err != nil {
		return proc{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return proc{PID: pid, Start: start}, nil
}

// alive reports whether p still runs. A zombie counts as gone: it holds no
// ports or files, and its parent (init, for detached processes) reaps it in
// its own time.
func (p proc) alive() bool {
	if p.PID <= 0 {
		return false
	}
	state, _, start, err := procStat(p.PID)
	return err == nil && start == p.Start && state != 'Z'
}

func (p proc) signal(sig syscall.Signal) {
	if p.alive() {
		_ = syscall.Kill(p.PID, sig)
	}
}

// poll calls cond every interval until it returns true or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// killAll sends SIGKILL to every process in ps and waits until all are gone.
func killAll(ctx context.Context, ps []proc) error {
	for _, p := range ps {
		p.signal(syscall.SIGKILL)
	}
	err := poll(ctx, 10*time.Millisecond, func() bool {
		for _, p := range ps {
			if p.alive() {
				return false
			}
		}
		return true
	})
	if err != nil {
		var left []string
		for _, p := range ps {
			if p.alive() {
				left = append(left, strconv.Itoa(p.PID))
			}
		}
		return fmt.Errorf("processes %s survived SIGKILL: %w", strings.Join(left, ", "), err)
	}
	return nil
}

// mntNS returns the mount namespace of pid, e.g. "mnt:[4026532281]".
func mntNS(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
}

// selfMntNS is the namespace every sandbox host must differ from: a mount or a
// kill meant for a host must never reach the machine's own namespace.
func selfMntNS() (string, error) {
	return mntNS(os.Getpid())
}

// procsInNS lists the live processes in mount namespace ns.
func procsInNS(ns string) ([]proc, error) {
	self, err := selfMntNS()
	if err != nil {
		return nil, err
	}
	if ns == "" || ns == self {
		return nil, errors.New("refusing to list the processes of this machine's own mount namespace")
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if got, err := mntNS(pid); err != nil || got != ns {
			continue
		}
		if p, err := newProc(pid); err == nil && p.alive() {
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// descendants lists the live processes below root whose command name is comm.
func descendants(root int, comm string) []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, _, err := procStat(pid); err == nil {
			parent[pid] = ppid
		}
	}
	var ps []proc
	for pid := range parent {
		for a := parent[pid]; a > 1; a = parent[a] {
			if a != root {
				continue
			}
			if procComm(pid) == comm {
				if p, err := newProc(pid); err == nil {
					ps = append(ps, p)
				}
			}
			break
		}
	}
	return ps
}

func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// pidFromFile reads a pid file and returns the process if it is alive and its
// command name is comm (a stale file may name a reused pid).
func pidFromFile(path, comm string) (proc, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return proc{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || procComm(pid) != comm {
		return proc{}, false
	}
	p, err := newProc(pid)
	if err != nil || !p.alive() {
		return proc{}, false
	}
	return p, true
}
