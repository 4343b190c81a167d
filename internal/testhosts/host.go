package testhosts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

var (
	//go:embed standin/systemctl
	systemctlStandin []byte
	//go:embed standin/journalctl
	journalctlStandin []byte
)

// hostEnv is the environment of everything started inside a host from Go:
// root's PATH with the stand-ins first, nothing inherited from the test.
var hostEnv = []string{
	"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
}

// healthClient talks to members directly: no proxy, and no kept-alive
// connections that would outlive a restarted member and fail the next check.
var healthClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// Host is one sandbox machine: an sshd on Addr:22 in its own mount namespace.
type Host struct {
	Name      string // etcd member name: s1, s2, ...
	Addr      string // 127.0.N.i; sshd listens on Addr:22
	Root      string // the host's files on this machine; see Path
	ClientURL string // http://Addr:2379, or https:// with Options.TLS
	PeerURL   string // http://Addr:2380, or https:// with Options.TLS

	HostKey            ssh.PublicKey // the sshd's ed25519 host key
	HostKeyFingerprint string        // "SHA256:...", as ssh prints it

	sb     *Sandbox
	owners []ownership // set inside the host when it starts
	// Guarded by sb.mu.
	ns     string // the mount namespace, "mnt:[...]"
	holder proc   // keeps ns alive whether or not sshd runs
	sshd   proc
}

func (h *Host) sshdDir() string     { return filepath.Join(h.Root, "sshd") }
func (h *Host) hostKeyFile() string { return filepath.Join(h.sshdDir(), "ssh_host_ed25519_key") }
func (h *Host) sshdPidFile() string { return filepath.Join(h.sshdDir(), "sshd.pid") }
func (h *Host) bashrcFile() string  { return filepath.Join(h.sshdDir(), "root.bashrc") }
func (h *Host) sshdConfigFile() string {
	return filepath.Join(h.sshdDir(), "sshd_config")
}

// SSHDLog is the sshd's log file (sshd -D -e), on this machine's file system.
func (h *Host) SSHDLog() string { return filepath.Join(h.sshdDir(), "sshd.log") }

// Path returns where the host's path p is on this machine's file system,
// Root+p. Under /etc/etcd, /var/lib/etcd and /usr/local/bin, which are bound
// to these folders, that is the host's file itself: read and write it freely.
// Elsewhere under the overlaid directories (/etc, /usr/bin,
// /usr/lib/systemd/system, /opt, /var/lib/dpkg, /home) it is the overlay's
// upper layer, which holds only what the host created or changed, and is not
// reliably seen by a running host when written from outside: inspect those
// paths with Stat or Exec, and change them with Exec. Paths outside all of
// these are the machine's own, not the host's. On a merged-/usr machine
// (/lib -> usr/lib) a /lib/... path is taken as the /usr/lib/... it is.
func (h *Host) Path(p string) string {
	if rest, ok := strings.CutPrefix(p, "/lib/"); ok && mergedUsr() {
		p = "/usr/lib/" + rest
	}
	return filepath.Join(h.Root, p)
}

// mergedUsr reports whether this machine's /lib is a link to /usr/lib, as on
// Debian 12.
func mergedUsr() bool {
	target, err := os.Readlink("/lib")
	return err == nil && (target == "usr/lib" || target == "/usr/lib")
}

func (h *Host) etcdPidFile() string { return h.Path("/var/lib/etcd/etcd.pid") }

// writeFiles creates the host's folders and overlay layers, host key, sshd
// config, stand-ins, sudoers rule and etcd binaries.
func (h *Host) writeFiles(opts Options, tools map[string]string) error {
	dirs := []string{h.Path("/etc/etcd"), h.Path("/var/lib/etcd"), h.Path("/usr/local/bin"), h.sshdDir()}
	for _, d := range overlaid {
		dirs = append(dirs, h.Path(d), h.overlayWorkDir(d))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+h.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(h.hostKeyFile(), pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	if h.HostKey, err = ssh.NewPublicKey(pub); err != nil {
		return err
	}
	h.HostKeyFingerprint = ssh.FingerprintSHA256(h.HostKey)
	if err := os.WriteFile(h.sshdConfigFile(), []byte(sshdConfig(h, h.sb.authorizedKeysFile())), 0o644); err != nil {
		return err
	}
	bashrc, err := os.ReadFile("/usr/share/base-files/dot.bashrc")
	if err != nil {
		bashrc = []byte("# ~/.bashrc of a testhosts host\n")
	}
	if err := os.WriteFile(h.bashrcFile(), bashrc, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(h.Path("/usr/local/bin/systemctl"), systemctlStandin, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(h.Path("/usr/local/bin/journalctl"), journalctlStandin, 0o755); err != nil {
		return err
	}
	if err := h.writeSudoers(opts.SudoPolicy); err != nil {
		return err
	}
	return h.installEtcd(opts.Shape, opts.EtcdVersion, tools)
}

func (h *Host) writeEtcdConfig(opts Options, token string) error {
	extra := opts.ExtraEnv
	if opts.TLS {
		// ExtraEnv still wins, e.g. to turn client-cert-auth off.
		extra = map[string]string{}
		for _, kv := range tlsSettings() {
			extra[kv.key] = kv.value
		}
		maps.Copy(extra, opts.ExtraEnv)
	}
	return h.writeUnitAndConfig(opts, memberSettings(h, h.sb.Hosts, token, extra))
}

// startNamespace starts the process that owns the host's mount namespace and
// mounts the host's folders there. sshd, etcd and Exec all enter this
// namespace, which therefore survives StopSSHD.
func (h *Host) startNamespace(ctx context.Context, lock *os.File) error {
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sleep", "infinity")
	cmd.Env = hostEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal signals from the test's session
	if lock != nil {
		cmd.ExtraFiles = []*os.File{lock}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start namespace: %w", h.Name, err)
	}
	go func() { _ = cmd.Wait() }() // reap it whenever it ends
	holder, err := newProc(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("%s: start namespace: %w", h.Name, err)
	}
	self, err := selfMntNS()
	if err != nil {
		return err
	}
	// unshare(1) calls unshare(2) before it execs sleep; until then the
	// process is still in this machine's namespace, where nothing may be
	// mounted.
	var ns string
	err = poll(ctx, 2*time.Millisecond, func() bool {
		if !holder.alive() {
			return true
		}
		ns, _ = mntNS(holder.PID)
		return ns != "" && ns != self
	})
	if err == nil && !holder.alive() {
		err = errors.New("unshare exited")
	}
	if err != nil {
		holder.signal(syscall.SIGKILL)
		return fmt.Errorf("%s: start namespace: %w", h.Name, err)
	}
	h.sb.mu.Lock()
	h.holder, h.ns = holder, ns
	err = h.sb.save()
	h.sb.mu.Unlock()
	if err != nil {
		return err
	}

	// The script checks once more that it runs in that namespace, not this
	// machine's, before it mounts anything. The overlays come first: the
	// bind mounts land on /etc/etcd inside the host's own /etc. A directory
	// this machine lacks gets no overlay (there is nothing to lay over).
	// /run is a tmpfs of the host's own, as on a machine of its own: the
	// systemctl stand-in keeps its state there, sudo its timestamps, and
	// sshd needs its privilege separation directory. Root's ~/.bashrc, which
	// bash reads for every SSH command, is swapped for Debian's default: the
	// test runner's (pyenv, toolchains) slows every command down, and
	// anything it prints would end up in the provider's command output.
	const mounts = `set -e
root=$1 ns=$2 bashrc=$3
shift 3
[ "$(readlink /proc/self/ns/mnt)" = "$ns" ] || { echo "not in the host's mount namespace" >&2; exit 1; }
for d in "$@"; do
	[ -d "$d" ] || continue
	mount -t overlay overlay -o "lowerdir=$d,upperdir=$root$d,workdir=$root/.overlay$d" "$d"
done
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /run/sshd
mount --bind "$root/etc/etcd" /etc/etcd
mount --bind "$root/var/lib/etcd" /var/lib/etcd
mount --bind "$root/usr/local/bin" /usr/local/bin
if [ -f /root/.bashrc ]; then mount --bind "$bashrc" /root/.bashrc; fi`
	args := append([]string{h.Root, ns, h.bashrcFile()}, overlaid...)
	if _, stderr, err := h.nsRun(ctx, holder, mounts, args...); err != nil {
		return fmt.Errorf("%s: mounts: %w: %s", h.Name, err, strings.TrimSpace(stderr))
	}
	var status string
	if h.sb.Shape == ShapeDebian {
		status = dpkgStatus(h.sb.EtcdVersion)
	}
	if _, stderr, err := h.nsRun(ctx, holder, h.provisionScript(), h.sb.SudoPassword, status); err != nil {
		return fmt.Errorf("%s: users and owners: %w: %s", h.Name, err, strings.TrimSpace(stderr))
	}
	return nil
}

// nsRun runs `sh -c script sh args...` as root in the host's namespace,
// with root's PATH, and returns stdout and stderr apart.
func (h *Host) nsRun(ctx context.Context, holder proc, script string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{h.nsFlag(holder), "--", "sh", "-c", script, "sh"}, args...)...)
	cmd.Env = hostEnv
	cmd.Dir = "/"
	// A script that leaves a background process holding its output would
	// otherwise keep it waiting for that process's end.
	cmd.WaitDelay = 5 * time.Second
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func (h *Host) nsFlag(holder proc) string {
	return fmt.Sprintf("--mount=/proc/%d/ns/mnt", holder.PID)
}

func (h *Host) holderProc() proc {
	h.sb.mu.Lock()
	defer h.sb.mu.Unlock()
	return h.holder
}

func (h *Host) sshdProc() proc {
	h.sb.mu.Lock()
	defer h.sb.mu.Unlock()
	return h.sshd
}

// liveHolder returns the namespace holder if it still runs and still owns
// the host's namespace.
func (h *Host) liveHolder() (proc, error) {
	h.sb.mu.Lock()
	holder, ns := h.holder, h.ns
	h.sb.mu.Unlock()
	if !holder.alive() {
		return proc{}, fmt.Errorf("host %s is down: the process holding its mount namespace (pid %d) is gone", h.Name, holder.PID)
	}
	if cur, err := mntNS(holder.PID); err != nil || cur != ns {
		return proc{}, fmt.Errorf("host %s: pid %d is no longer in the host's mount namespace", h.Name, holder.PID)
	}
	return holder, nil
}

// Exec runs `sh -c script` as root inside the host, i.e. in its mount
// namespace, with root's PATH, and returns stdout and stderr combined. It is
// for test set-up and fault injection; the provider under test uses SSH.
func (h *Host) Exec(ctx context.Context, script string) (string, error) {
	holder, err := h.liveHolder()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "nsenter", h.nsFlag(holder), "--", "sh", "-c", script)
	cmd.Env = hostEnv
	cmd.Dir = "/"
	// A script that leaves a background process holding its output would
	// otherwise keep Exec waiting for that process's end.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %q: %w", h.Name, script, err)
	}
	return string(out), nil
}

// StartSSHD starts the host's sshd (again) in the host's namespace and waits
// until it listens. It does nothing if sshd runs.
func (h *Host) StartSSHD() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.startSSHD(ctx)
}

func (h *Host) startSSHD(ctx context.Context) error {
	if h.SSHDRunning() {
		return nil
	}
	holder, err := h.liveHolder()
	if err != nil {
		return err
	}
	os.Remove(h.sshdPidFile())
	logf, err := os.OpenFile(h.SSHDLog(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// nsenter without --pid execs sshd in place, so its pid is sshd's.
	cmd := exec.Command("nsenter", h.nsFlag(holder), "--", sshdPath, "-D", "-e", "-f", h.sshdConfigFile())
	cmd.Env = hostEnv
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("%s: start sshd: %w", h.Name, err)
	}
	go func() { _ = cmd.Wait() }()
	p, err := newProc(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("%s: start sshd: %w", h.Name, err)
	}
	h.sb.mu.Lock()
	h.sshd = p
	err = h.sb.save()
	h.sb.mu.Unlock()
	if err != nil {
		return err
	}

	// sshd writes its pid file once its listening socket is bound.
	want := strconv.Itoa(p.PID)
	err = poll(ctx, 5*time.Millisecond, func() bool {
		b, _ := os.ReadFile(h.sshdPidFile())
		return strings.TrimSpace(string(b)) == want || !p.alive()
	})
	if err == nil && !p.alive() {
		err = errors.New("sshd exited")
	}
	if err != nil {
		return fmt.Errorf("%s: sshd on %s:22: %w; %s:\n%s", h.Name, h.Addr, err, h.SSHDLog(), TailFile(h.SSHDLog(), 10))
	}
	return nil
}

// SSHDRunning reports whether the host's sshd runs.
func (h *Host) SSHDRunning() bool { return h.sshdProc().alive() }

// StopSSHD kills the host's sshd and every connection it serves, as if the
// machine dropped off the network. etcd keeps running; StartSSHD brings SSH
// back.
func (h *Host) StopSSHD() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sshd := h.sshdProc()
	if !sshd.alive() {
		return nil
	}
	// Per-connection sshd processes are found through their parent, so
	// they are listed before the listener dies and they are orphaned.
	if err := killAll(ctx, append(descendants(sshd.PID, "sshd"), sshd)); err != nil {
		return fmt.Errorf("%s: stop sshd: %w", h.Name, err)
	}
	os.Remove(h.sshdPidFile())
	h.sb.mu.Lock()
	defer h.sb.mu.Unlock()
	h.sshd = proc{}
	return h.sb.save()
}

// StartEtcd runs `systemctl start etcd` on the host.
func (h *Host) StartEtcd(ctx context.Context) error {
	if out, err := h.Exec(ctx, "systemctl start etcd"); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
	}
	return nil
}

// StopEtcd runs `systemctl stop etcd` on the host.
func (h *Host) StopEtcd(ctx context.Context) error {
	if out, err := h.Exec(ctx, "systemctl stop etcd"); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
	}
	return nil
}

// EtcdRunning reports whether the host's etcd process runs.
func (h *Host) EtcdRunning() bool {
	_, ok := pidFromFile(h.etcdPidFile(), "etcd")
	return ok
}

// Health returns nil if the member answers GET /health with health true.
func (h *Host) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.ClientURL+"/health", nil)
	if err != nil {
		return err
	}
	client, err := h.sb.healthHTTP()
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("%s: /health: %w", h.Name, err)
	}
	var health struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(body, &health); err != nil || health.Health != "true" {
		return fmt.Errorf("%s: /health: %s %s", h.Name, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// EtcdVersion returns the member's server version from GET /version.
func (h *Host) EtcdVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.ClientURL+"/version", nil)
	if err != nil {
		return "", err
	}
	client, err := h.sb.healthHTTP()
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", h.Name, err)
	}
	defer resp.Body.Close()
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&v); err != nil || v.Server == "" {
		return "", fmt.Errorf("%s: /version: %s: no server version", h.Name, resp.Status)
	}
	return v.Server, nil
}

// LogTail returns the last n lines of the host's etcd log.
func (h *Host) LogTail(n int) string { return TailFile(h.Path(EtcdLog), n) }

// kill stops every process of the host. With the namespace holder alive
// that is everything in its namespace (etcd, sshd, sessions, leftovers of
// Exec); otherwise the recorded sshd and the etcd of the pid file.
func (h *Host) kill(ctx context.Context) error {
	h.sb.mu.Lock()
	holder, sshd, ns := h.holder, h.sshd, h.ns
	h.sb.mu.Unlock()

	var ps []proc
	if holder.alive() {
		if cur, err := mntNS(holder.PID); err == nil && cur == ns {
			inNS, err := procsInNS(ns)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			ps = append(ps, inNS...)
		}
	}
	if sshd.alive() {
		ps = append(ps, sshd)
		ps = append(ps, descendants(sshd.PID, "sshd")...)
	}
	if p, ok := pidFromFile(h.etcdPidFile(), "etcd"); ok {
		ps = append(ps, p)
	}
	if err := killAll(ctx, ps); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	return nil
}

// TailFile returns the last n lines of the file at path, or why it could
// not be read, for test diagnostics.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
