package rollout

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDiscoverScript runs the discovery script in a real shell against a
// real process, with a systemctl on PATH that answers `show` for it the way
// systemd does and counts its calls: one call gives the properties and the
// main pid, and the process's exe, arguments and ETCD_* environment are
// read from /proc.
func TestDiscoverScript(t *testing.T) {
	dir := t.TempDir()
	sleep := exec.Command("sleep", "30")
	sleep.Env = append(os.Environ(), "ETCD_NAME=s1", "OTHER=x")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	pid := strconv.Itoa(sleep.Process.Pid)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho call >> " + filepath.Join(dir, "calls") + "\n" +
		"printf 'MainPID=" + pid + "\\nExecStart={ path=/usr/bin/sleep ; argv[]=/usr/bin/sleep 30 }\\nType=notify\\nFragmentPath=/etc/systemd/system/etcd.service\\n'\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := shellHost(dir).Run(context.Background(), "PATH="+bin+":$PATH\n"+discoverScript("etcd"))
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("discovery script: %v, status %d: %s", err, res.ExitStatus, res.Stderr)
	}
	rt := parseDiscovery("etcd", res.Stdout)
	if rt.PID != sleep.Process.Pid || rt.UnitType != "notify" || rt.UnitFile != "/etc/systemd/system/etcd.service" {
		t.Errorf("pid %d, type %q, unit file %q; want %s, notify and the fragment path", rt.PID, rt.UnitType, rt.UnitFile, pid)
	}
	if !strings.HasSuffix(rt.Exe, "/sleep") || len(rt.Args) != 1 || rt.Args[0] != "30" {
		t.Errorf("exe %q, args %q; want sleep 30", rt.Exe, rt.Args)
	}
	if rt.Env["ETCD_NAME"] != "s1" || rt.Env["OTHER"] != "" {
		t.Errorf("environment %v, want ETCD_NAME=s1 only", rt.Env)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if n := strings.Count(string(calls), "call"); n != 1 {
		t.Errorf("systemctl ran %d times, want once", n)
	}
}
