package testhosts

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshRun runs command on h with the system ssh client, host key checked
// against the sandbox's known_hosts and nothing from ~/.ssh or /etc/ssh.
func sshRun(ctx context.Context, s *Sandbox, h *Host, command string) (string, error) {
	cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null",
		"-i", s.PrivateKeyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+s.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=5",
		"-o", "LogLevel=ERROR",
		"root@"+h.Addr, command)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needSSHClient(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		SkipOrFail(t, "ssh client not found: install openssh-client (scripts/prereqs.sh does)")
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestClusterOverSSH(t *testing.T) {
	t.Parallel()
	needSSHClient(t)
	s := ForTest(t, Options{})
	ctx := testContext(t)

	if len(s.Hosts) != 3 {
		t.Fatalf("got %d hosts, want 3", len(s.Hosts))
	}
	fingerprints := map[string]bool{}
	for _, h := range s.Hosts {
		fingerprints[h.HostKeyFingerprint] = true
	}
	if len(fingerprints) != 3 {
		t.Errorf("host keys are not distinct: %v", fingerprints)
	}

	for _, h := range s.Hosts {
		out, err := sshRun(ctx, s, h, "cat /etc/etcd/etcd.env; echo ---; command -v systemctl; etcd --version | head -n 1")
		if err != nil {
			t.Fatalf("%s: ssh: %v: %s", h.Name, err, out)
		}
		env, rest, _ := strings.Cut(out, "---\n")
		// Each host sees its own /etc/etcd: the bind mounts are per namespace.
		for _, o := range s.Hosts {
			has := strings.Contains(env, "\nETCD_NAME="+o.Name+"\n")
			if has != (o == h) {
				t.Errorf("%s: /etc/etcd/etcd.env has ETCD_NAME=%s: %v, want %v:\n%s", h.Name, o.Name, has, o == h, env)
			}
		}
		if !strings.Contains(env, "ETCD_INITIAL_CLUSTER=s1=http://127.0.") {
			t.Errorf("%s: no initial cluster in:\n%s", h.Name, env)
		}
		// The stand-ins and the version's binaries are the host's /usr/local/bin.
		if want := "/usr/local/bin/systemctl\netcd Version: 3.5.21\n"; rest != want {
			t.Errorf("%s: got %q, want %q", h.Name, rest, want)
		}
		if v, err := h.EtcdVersion(ctx); err != nil || v != "3.5.21" {
			t.Errorf("%s: /version: %q, %v; want 3.5.21", h.Name, v, err)
		}
	}

	// Nothing leaked into this machine's own /etc/etcd.
	if b, err := os.ReadFile("/etc/etcd/etcd.env"); err == nil && strings.Contains(string(b), "written by testhosts") {
		t.Errorf("this machine's /etc/etcd/etcd.env was written by a sandbox:\n%s", b)
	}

	// etcd runs with the clean environment a systemd unit gets, not the SSH
	// session's.
	s1 := s.Hosts[0]
	env, err := s1.Exec(ctx, `tr '\0' '\n' </proc/$(cat /var/lib/etcd/etcd.pid)/environ`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(env, "ETCD_NAME=s1\n") || strings.Contains(env, "SSH_") || strings.Contains(env, "HOME=") {
		t.Errorf("etcd's environment:\n%s", env)
	}

	// Stop and start one member with the provider's default commands.
	s2 := s.Hosts[1]
	if out, err := sshRun(ctx, s, s2, "systemctl stop etcd"); err != nil {
		t.Fatalf("systemctl stop etcd: %v: %s", err, out)
	}
	if err := s2.Health(ctx); err == nil {
		t.Fatal("s2 still healthy after systemctl stop etcd")
	}
	out, err := sshRun(ctx, s, s2, "systemctl is-active etcd")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || out != "inactive\n" {
		t.Errorf("is-active after stop: %q, %v; want inactive, exit 3", out, err)
	}
	if out, err := sshRun(ctx, s, s2, "systemctl stop etcd"); err != nil {
		t.Errorf("second systemctl stop etcd: %v: %s", err, out)
	}
	for _, h := range []*Host{s.Hosts[0], s.Hosts[2]} {
		if err := h.Health(ctx); err != nil {
			t.Errorf("with s2 stopped: %v", err)
		}
	}
	if out, err := sshRun(ctx, s, s2, "systemctl start etcd && systemctl start etcd && systemctl is-active etcd"); err != nil || out != "active\n" {
		t.Fatalf("systemctl start etcd: %v: %q", err, out)
	}
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	out, err = sshRun(ctx, s, s2, "journalctl -u etcd -n 40 --no-pager")
	if err != nil || strings.Count(out, "\n") != 40 || !strings.Contains(out, `"level":"info"`) {
		t.Errorf("journalctl -n 40: %v:\n%s", err, out)
	}
	out, err = sshRun(ctx, s, s2, "journalctl -u etcd --no-pager | grep -c 'systemd\\[1\\]: Stopping etcd'")
	if err != nil || out != "1\n" {
		t.Errorf("journalctl: the stop is logged %q times, %v", out, err)
	}

	// A host whose sshd is down refuses SSH; its etcd and namespace live on.
	s3 := s.Hosts[2]
	if err := s3.StopSSHD(); err != nil {
		t.Fatal(err)
	}
	if out, err := sshRun(ctx, s, s3, "true"); err == nil {
		t.Fatalf("ssh with sshd stopped succeeded: %s", out)
	}
	if err := s3.Health(ctx); err != nil {
		t.Errorf("etcd with sshd stopped: %v", err)
	}
	if out, err := s3.Exec(ctx, "cat /etc/etcd/etcd.env"); err != nil || !strings.Contains(out, "ETCD_NAME=s3\n") {
		t.Errorf("Exec with sshd stopped: %v: %s", err, out)
	}
	if err := s3.StartSSHD(); err != nil {
		t.Fatal(err)
	}
	if out, err := sshRun(ctx, s, s3, "cat /etc/etcd/etcd.env"); err != nil || !strings.Contains(out, "ETCD_NAME=s3\n") {
		t.Errorf("ssh after StartSSHD: %v: %s", err, out)
	}
}

func TestYAMLConfig(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{ConfigFormat: "yaml", ExtraEnv: map[string]string{"ETCD_SNAPSHOT_COUNT": "5000"}})
	ctx := testContext(t)
	if s.ConfigFile() != YAMLFile {
		t.Errorf("ConfigFile() = %s", s.ConfigFile())
	}
	for _, h := range s.Hosts {
		out, err := h.Exec(ctx, "grep -v '^#' /etc/etcd/etcd.env; grep -E '^(name|snapshot-count):' /etc/etcd/etcd.yml")
		if err != nil {
			t.Fatal(err)
		}
		if want := "ETCD_CONFIG_FILE=/etc/etcd/etcd.yml\nname: \"" + h.Name + "\"\nsnapshot-count: 5000\n"; out != want {
			t.Errorf("%s: got %q, want %q", h.Name, out, want)
		}
		// etcd really read the file: it logs the extra setting at start.
		if log := h.LogTail(1000); !strings.Contains(log, `"snapshot-count":5000`) {
			t.Errorf("%s: etcd did not log snapshot-count 5000:\n%s", h.Name, h.LogTail(20))
		}
	}
}

func TestEtcd34Cluster(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{EtcdVersion: "3.4.23"})
	ctx := testContext(t)
	for _, h := range s.Hosts {
		if v, err := h.EtcdVersion(ctx); err != nil || v != "3.4.23" {
			t.Errorf("%s: /version: %q, %v; want 3.4.23", h.Name, v, err)
		}
	}

	// A member that dies at once makes `systemctl start` fail, as with systemd.
	h := s.Hosts[0]
	out, err := h.Exec(ctx, "cp /etc/etcd/etcd.env /etc/etcd/etcd.env.bak && echo ETCD_SNAPSHOT_COUNT=many >>/etc/etcd/etcd.env && systemctl restart etcd")
	if err == nil || !strings.Contains(out, "Job for etcd.service failed") {
		t.Errorf("restart with a bad setting: %v: %s", err, out)
	}
	if h.EtcdRunning() {
		t.Error("etcd runs with a bad setting")
	}
	if out, err := h.Exec(ctx, "mv /etc/etcd/etcd.env.bak /etc/etcd/etcd.env && systemctl start etcd"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// A detached sandbox (etcd-sandbox up) outlives its process; Load in another
// process finds it and Close stops all of it.
func TestDetachedLoadClose(t *testing.T) {
	t.Parallel()
	if err := Prerequisites(Options{}); err != nil {
		SkipOrFail(t, "%v", err)
	}
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "sb")
	s, err := Start(ctx, Options{Members: 1, Dir: dir, Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// What remains when `etcd-sandbox up` exits: only the hosts hold the lock.
	s.lock.Close()
	s.lock = nil
	if f, err := lockBlock(s.Block); err == nil {
		f.Close()
		t.Fatal("block lock not held by the detached hosts")
	}

	l, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := l.Hosts[0]
	if h.Addr != s.Hosts[0].Addr || h.HostKeyFingerprint != s.Hosts[0].HostKeyFingerprint || string(l.PrivateKeyPEM) != string(s.PrivateKeyPEM) {
		t.Errorf("Load: got %+v", h)
	}
	if !l.Running() || !h.EtcdRunning() || !h.SSHDRunning() {
		t.Fatal("Load: sandbox not seen as running")
	}
	if out, err := h.Exec(ctx, "systemctl is-active etcd"); err != nil || out != "active\n" {
		t.Errorf("Exec through Load: %v: %q", err, out)
	}
	holder := h.holderProc()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if holder.alive() || h.SSHDRunning() || h.EtcdRunning() || l.Running() {
		t.Error("processes left after Close of a loaded sandbox")
	}
	if err := h.Health(ctx); err == nil {
		t.Error("etcd still answers after Close")
	}
	f, err := lockBlock(s.Block)
	if err != nil {
		t.Fatalf("block still locked after Close: %v", err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(dir, "sandbox.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox.json left behind: %v", err)
	}
}

// A fixed block in use is refused; one left by a crashed run is reclaimed.
func TestFixedBlockReclaim(t *testing.T) {
	t.Parallel()
	if err := Prerequisites(Options{NoEtcd: true}); err != nil {
		SkipOrFail(t, "%v", err)
	}
	ctx := testContext(t)
	const block = 250
	a, err := Start(ctx, Options{Members: 2, NoEtcd: true, Block: block})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if b, err := Start(ctx, Options{Members: 1, NoEtcd: true, Block: block}); err == nil {
		b.Close()
		t.Fatal("second sandbox on a busy block started")
	} else if !strings.Contains(err.Error(), "in use by the sandbox in "+a.Dir) {
		t.Errorf("busy block: %v", err)
	}

	// Crash: the lock goes away with the process, the hosts stay.
	a.lock.Close()
	a.lock = nil
	holder := a.Hosts[0].holderProc()
	b, err := Start(ctx, Options{Members: 1, NoEtcd: true, Block: block})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if holder.alive() || a.Hosts[1].SSHDRunning() {
		t.Error("leftovers of the crashed sandbox still run")
	}
	if _, err := os.Stat(a.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("crashed sandbox's temp dir: %v", err)
	}
}
