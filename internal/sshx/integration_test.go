package sshx

// Tests against real OpenSSH sshd hosts from internal/testhosts. They skip
// themselves (via testhosts.ForTest) where the machine cannot run hosts.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

func sandbox(t *testing.T, members int) *testhosts.Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against real sshd hosts")
	}
	return testhosts.ForTest(t, testhosts.Options{Members: members, NoEtcd: true})
}

// newTestPool returns a pool for sb's root key and known_hosts, adjusted by
// mod, closed when t ends.
func newTestPool(t *testing.T, sb *testhosts.Sandbox, mod func(*Config)) *Pool {
	t.Helper()
	cfg := Config{
		User:           "root",
		Port:           22,
		PrivateKey:     sb.PrivateKeyPEM,
		KnownHostsFile: sb.KnownHostsFile,
		ConnectTimeout: 10 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustRun(t *testing.T, h *Host, cmd string) Result {
	t.Helper()
	r, err := h.Run(testCtx(t), cmd)
	if err != nil {
		t.Fatalf("%s: %q: %v", h.Addr(), cmd, err)
	}
	if r.ExitStatus != 0 {
		t.Fatalf("%s: %q: exit %d: %s", h.Addr(), cmd, r.ExitStatus, r.Stderr)
	}
	return r
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func token(t *testing.T) string {
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(n.Int64()+100000, 10)
}

// liveProcs lists the live (non-zombie) processes on the machine whose
// command line matches the extended regexp re. Hosts share the PID namespace,
// so this sees every host's processes.
func liveProcs(t *testing.T, re string) string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pid=,stat=,args=").Output()
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || strings.HasPrefix(f[1], "Z") {
			continue
		}
		if ok, _ := regexp.MatchString(re, strings.Join(f[2:], " ")); ok {
			live = append(live, strings.TrimSpace(l))
		}
	}
	return strings.Join(live, "\n")
}

func TestIntegrationRunBasics(t *testing.T) {
	sb := sandbox(t, 1)
	p := newTestPool(t, sb, nil)
	h := p.Host(sb.Hosts[0].Addr, 0)
	if h.Addr() != sb.Hosts[0].Addr+":22" {
		t.Fatalf("Addr = %s", h.Addr())
	}
	ctx := testCtx(t)

	r, err := h.Run(ctx, "echo out; echo err >&2; exit 42")
	if err != nil || r.Stdout != "out\n" || r.Stderr != "err\n" || r.ExitStatus != 42 {
		t.Fatalf("Run = %+v, %v", r, err)
	}
	if r.Err() == nil || !strings.Contains(r.Err().Error(), "exit status 42: err") {
		t.Fatalf("Result.Err = %v", r.Err())
	}
	// Killed by a signal: 128+N, like a shell reports it.
	r, err = h.Run(ctx, "kill -KILL $$")
	if err != nil || r.ExitStatus != 128+9 {
		t.Fatalf("signalled command: %+v, %v", r, err)
	}
	// No stdin means an immediate EOF, not a hang.
	r = mustRun(t, h, "cat; echo eof")
	if r.Stdout != "eof\n" {
		t.Fatalf("cat without stdin: %q", r.Stdout)
	}
	// The command runs in the host's namespace, as root, with its PATH.
	if err := os.WriteFile(sb.Hosts[0].Path("/etc/etcd/sshx-whoami"), []byte(sb.Hosts[0].Name), 0o644); err != nil {
		t.Fatal(err)
	}
	if r = mustRun(t, h, "id -u; cat /etc/etcd/sshx-whoami"); r.Stdout != "0\n"+sb.Hosts[0].Name {
		t.Fatalf("identity: %q", r.Stdout)
	}
	// Stream with stdin.
	var out bytes.Buffer
	st, err := h.Stream(ctx, "tr a-z A-Z", strings.NewReader("hello\nworld"), &out, nil)
	if err != nil || st != 0 || out.String() != "HELLO\nWORLD" {
		t.Fatalf("Stream = %d, %q, %v", st, out.String(), err)
	}
	// Output that does not end in a newline, on stderr too (the marker
	// search must not swallow it).
	r = mustRun(t, h, "printf x >&2")
	if r.Stderr != "x" {
		t.Fatalf("short stderr: %q", r.Stderr)
	}
	// An already-cancelled context fails at once, without connecting again.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Run(dead, "true"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if p.Dials() != 1 {
		t.Fatalf("Dials = %d", p.Dials())
	}
}

func TestIntegrationHostKeyMismatch(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	_, otherKey := testKey(t, "")
	kh := writeFile(t, "known_hosts", knownhosts.Line([]string{host.Addr}, otherKey)+"\n")
	p := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = kh })

	_, err := p.Host(host.Addr, 0).Run(testCtx(t), "true")
	var hke *HostKeyError
	if !errors.As(err, &hke) {
		t.Fatalf("want a HostKeyError, got %v", err)
	}
	if !hke.Changed || hke.Fingerprint != host.HostKeyFingerprint || hke.KeyType != ssh.KeyAlgoED25519 {
		t.Fatalf("HostKeyError = %+v", hke)
	}
	msg := err.Error()
	for _, want := range []string{"CHANGED", host.Addr, host.HostKeyFingerprint, ssh.FingerprintSHA256(otherKey), kh + ":1", "man-in-the-middle", "ssh-keygen -R"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	t.Logf("message shown to the user:\n%s", msg)
	if p.Dials() != 0 {
		t.Fatalf("a rejected host counts as no connection: Dials = %d", p.Dials())
	}
}

func TestIntegrationHostKeyUnknown(t *testing.T) {
	sb := sandbox(t, 2)
	target, other := sb.Hosts[0], sb.Hosts[1]
	kh := writeFile(t, "known_hosts", knownhosts.Line([]string{other.Addr}, other.HostKey)+"\n")
	p := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = kh })

	_, err := p.Host(target.Addr, 0).Run(testCtx(t), "true")
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Changed {
		t.Fatalf("want an unknown-host HostKeyError, got %v", err)
	}
	wantLine := target.Addr + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(target.HostKey)))
	if hke.Line != wantLine || hke.Fingerprint != target.HostKeyFingerprint {
		t.Fatalf("line %q fingerprint %s; want %q %s", hke.Line, hke.Fingerprint, wantLine, target.HostKeyFingerprint)
	}
	for _, want := range []string{"not in " + kh, target.HostKeyFingerprint, wantLine} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
	t.Logf("message shown to the user:\n%s", err)

	// The suggested line, once added, is accepted.
	f, err := os.OpenFile(kh, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, hke.Line)
	f.Close()
	p2 := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = kh })
	mustRun(t, p2.Host(target.Addr, 0), "true")

	// No known_hosts file at all: a clear error, and no connection.
	missing := filepath.Join(t.TempDir(), "absent_known_hosts")
	p3 := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = missing })
	_, err = p3.Host(target.Addr, 0).Run(testCtx(t), "true")
	if err == nil || !strings.Contains(err.Error(), missing+" does not exist") {
		t.Fatalf("missing known_hosts: %v", err)
	}
	// Only the explicit opt-out skips verification.
	p4 := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = missing; c.InsecureIgnoreHostKey = true })
	mustRun(t, p4.Host(target.Addr, 0), "true")
}

// TestIntegrationHashedKnownHosts hashes the sandbox's known_hosts with
// OpenSSH's own ssh-keygen -H, as HashKnownHosts=yes systems have it.
func TestIntegrationHashedKnownHosts(t *testing.T) {
	sb := sandbox(t, 1)
	data, err := os.ReadFile(sb.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	kh := writeFile(t, "known_hosts", string(data))
	if out, err := exec.Command("ssh-keygen", "-H", "-f", kh).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v: %s", err, out)
	}
	hashed, _ := os.ReadFile(kh)
	if !strings.HasPrefix(string(hashed), "|1|") || strings.Contains(string(hashed), sb.Hosts[0].Addr) {
		t.Fatalf("known_hosts not hashed:\n%s", hashed)
	}
	p := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = kh })
	if r := mustRun(t, p.Host(sb.Hosts[0].Addr, 0), "echo ok"); r.Stdout != "ok\n" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	// A hashed entry with a different key is still a mismatch, not "unknown".
	_, otherKey := testKey(t, "")
	kh2 := writeFile(t, "known_hosts2", knownhosts.HashHostname(sb.Hosts[0].Addr)+" "+string(ssh.MarshalAuthorizedKey(otherKey)))
	p2 := newTestPool(t, sb, func(c *Config) { c.KnownHostsFile = kh2 })
	_, err = p2.Host(sb.Hosts[0].Addr, 0).Run(testCtx(t), "true")
	var hke *HostKeyError
	if !errors.As(err, &hke) || !hke.Changed {
		t.Fatalf("hashed mismatch: %v", err)
	}
}

// TestIntegrationBastion reaches host 2 (and 3) through host 1.
func TestIntegrationBastion(t *testing.T) {
	sb := sandbox(t, 3)
	bastion, h2, h3 := sb.Hosts[0], sb.Hosts[1], sb.Hosts[2]
	for _, h := range sb.Hosts {
		if err := os.WriteFile(h.Path("/etc/etcd/sshx-whoami"), []byte(h.Name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := newTestPool(t, sb, func(c *Config) { c.Bastion = &Bastion{Host: bastion.Addr} })
	ctx := testCtx(t)

	// Keep a command running on host 2 while looking at who holds the TCP
	// connection to it: the bastion's sshd, not this process.
	started := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := p.Host(h2.Addr, 0).Stream(ctx, "echo up; sleep 2", nil, writerFunc(func([]byte) { once.Do(func() { close(started) }) }), nil)
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("command through bastion: %v", err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	ss, err := exec.Command("ss", "-Htnp", "state", "established", "dst", h2.Addr+":22").CombinedOutput()
	if err != nil {
		t.Fatalf("ss: %v: %s", err, ss)
	}
	if !strings.Contains(string(ss), `"sshd"`) || strings.Contains(string(ss), "pid="+strconv.Itoa(os.Getpid())+",") {
		t.Fatalf("the connection to %s should come from the bastion's sshd, not from this process:\n%s", h2.Addr, ss)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if r := mustRun(t, p.Host(h2.Addr, 0), "cat /etc/etcd/sshx-whoami"); r.Stdout != h2.Name {
		t.Fatalf("reached %q, want %s", r.Stdout, h2.Name)
	}
	if r := mustRun(t, p.Host(h3.Addr, 0), "cat /etc/etcd/sshx-whoami"); r.Stdout != h3.Name {
		t.Fatalf("reached %q, want %s", r.Stdout, h3.Name)
	}
	// One bastion connection shared by both targets.
	if p.Dials() != 3 {
		t.Fatalf("Dials = %d, want 3 (bastion + 2 targets)", p.Dials())
	}

	// The bastion's host key is verified too.
	_, otherKey := testKey(t, "")
	data, _ := os.ReadFile(sb.KnownHostsFile)
	var kept []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, bastion.Addr+" ") {
			kept = append(kept, l)
		}
	}
	kept = append(kept, knownhosts.Line([]string{bastion.Addr}, otherKey))
	kh := writeFile(t, "known_hosts", strings.Join(kept, "\n")+"\n")
	p2 := newTestPool(t, sb, func(c *Config) { c.Bastion = &Bastion{Host: bastion.Addr}; c.KnownHostsFile = kh })
	_, err = p2.Host(h2.Addr, 0).Run(ctx, "true")
	var hke *HostKeyError
	if !errors.As(err, &hke) || !hke.Changed || hke.Host != bastion.Addr+":22" {
		t.Fatalf("bastion with a changed key: %v", err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func TestIntegrationUpload50MB(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	p := newTestPool(t, sb, nil)
	h := p.Host(host.Addr, 0)

	data := make([]byte, 50<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	const remote = "/usr/local/bin/sshx-upload-test"
	if err := os.WriteFile(host.Path(remote), []byte("old content"), 0o644); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := h.Upload(testCtx(t), bytes.NewReader(data), remote, 0o750); err != nil {
		t.Fatal(err)
	}
	t.Logf("50 MiB uploaded in %v", time.Since(began).Round(time.Millisecond))
	r := mustRun(t, h, Command("sha256sum", "--", remote)+" && "+Command("stat", "-c", "%a %s", "--", remote))
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], hex.EncodeToString(sum[:])+" ") {
		t.Fatalf("remote sha256 differs: %q, want %x", r.Stdout, sum)
	}
	if lines[1] != "750 "+strconv.Itoa(len(data)) {
		t.Fatalf("mode and size: %q", lines[1])
	}
	assertNoTempFiles(t, h, "/usr/local/bin")
}

func assertNoTempFiles(t *testing.T, h *Host, dir string) {
	t.Helper()
	if r := mustRun(t, h, Command("ls", "-A", "--", dir)); strings.Contains(r.Stdout, ".sshx-") {
		t.Fatalf("temporary files left in %s:\n%s", dir, r.Stdout)
	}
}

// TestIntegrationUploadGzip: a binary sent compressed arrives whole, with
// its mode, in fewer bytes; a size that does not match what the host
// unpacked, or data that is not gzip, leaves the target as it was and no
// temporary file behind.
func TestIntegrationUploadGzip(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	p := newTestPool(t, sb, nil)
	h := p.Host(host.Addr, 0)
	ctx := testCtx(t)
	if ok, err := h.HasGzip(ctx); err != nil || !ok {
		t.Fatalf("HasGzip = %v, %v; the sandbox host has gzip", ok, err)
	}

	exe, err := os.Executable() // a Go binary, built like etcd
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes sent as %d", len(data), gz.Len())
	if gz.Len() > len(data)*3/4 {
		t.Errorf("the compressed binary is %d of %d bytes", gz.Len(), len(data))
	}
	const remote = "/usr/local/bin/sshx-gzip-test"
	if err := h.UploadGzip(ctx, bytes.NewReader(gz.Bytes()), int64(len(data)), remote, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r := mustRun(t, h, Command("sha256sum", "--", remote)+" && "+Command("stat", "-c", "%a %s", "--", remote))
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], hex.EncodeToString(sum[:])+" ") || lines[1] != "755 "+strconv.Itoa(len(data)) {
		t.Fatalf("after the upload: %q, want sha256 %x, mode 755, %d bytes", r.Stdout, sum, len(data))
	}

	const target = "/var/lib/etcd/sshx-gzip-target"
	if err := os.WriteFile(host.Path(target), []byte("original"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = h.UploadGzip(ctx, bytes.NewReader(gz.Bytes()), int64(len(data))-1, target, 0o644)
	if err == nil || !strings.Contains(err.Error(), "the host wrote") {
		t.Fatalf("a size one short: %v", err)
	}
	err = h.UploadGzip(ctx, strings.NewReader("not gzip at all"), 15, target, 0o644)
	if err == nil {
		t.Fatal("data that is not gzip was accepted")
	}
	if got, _ := os.ReadFile(host.Path(target)); string(got) != "original" {
		t.Fatalf("target changed to %q", got)
	}
	assertNoTempFiles(t, h, "/var/lib/etcd")
}

// TestIntegrationUploadFailures: a failing reader, a cancelled context and a
// missing directory leave the target untouched and no temporary file behind.
func TestIntegrationUploadFailures(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	p := newTestPool(t, sb, nil)
	h := p.Host(host.Addr, 0)
	const remote = "/var/lib/etcd/sshx-target"
	if err := os.WriteFile(host.Path(remote), []byte("original"), 0o600); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)

	errBoom := errors.New("boom")
	err := h.Upload(testCtx(t), io.MultiReader(bytes.NewReader(chunk), errReader{errBoom}), remote, 0o644)
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing reader: %v", err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	err = h.Upload(ctx, io.MultiReader(bytes.NewReader(chunk), blockingReader{ctx}), remote, 0o644)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	got, _ := os.ReadFile(host.Path(remote))
	if string(got) != "original" {
		t.Fatalf("target changed to %d bytes", len(got))
	}
	assertNoTempFiles(t, h, "/var/lib/etcd")
	if live := liveProcs(t, `^cat$`); live != "" {
		t.Logf("(cat processes on the machine, possibly other tests': %s)", live)
	}

	err = h.Upload(testCtx(t), strings.NewReader("x"), "/var/lib/etcd/no/such/dir/file", 0o644)
	if err == nil || !strings.Contains(err.Error(), "directory /var/lib/etcd/no/such/dir/ does not exist") {
		t.Fatalf("missing directory: %v", err)
	}

	// A hostile file name is created exactly as named.
	name := "/var/lib/etcd/we ird '$(touch pwned)' \"q\" `x`;n\nl"
	if err := h.Upload(testCtx(t), strings.NewReader("hostile"), name, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(host.Path(name)); err != nil || string(got) != "hostile" {
		t.Fatalf("hostile name: %q, %v", got, err)
	}
	if _, err := os.Stat(host.Path("/var/lib/etcd/pwned")); err == nil {
		t.Fatal("the file name was executed")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type blockingReader struct{ ctx context.Context }

func (r blockingReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// TestIntegrationCancelKillsRemote cancels a Run of `sleep 300` (with a
// background child) and checks on the host that every process is gone.
func TestIntegrationCancelKillsRemote(t *testing.T) {
	sb := sandbox(t, 1)
	p := newTestPool(t, sb, nil)
	testCancel(t, p.Host(sb.Hosts[0].Addr, 0), sb.Hosts[0])
	if p.Dials() != 1 {
		t.Fatalf("Dials = %d: the kill and the next command reuse the connection", p.Dials())
	}
}

func testCancel(t *testing.T, h *Host, host *testhosts.Host) {
	t.Helper()
	// A unique duration identifies this test's sleeps among all processes.
	d := "300." + token(t)
	sleepRE := `^sleep ` + regexp.QuoteMeta(d) + `$` // the sleeps themselves
	anyRE := `sleep ` + regexp.QuoteMeta(d)          // and the shells running them
	cmd := "sleep " + d + " & sleep " + d + "; echo not reached"

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	type result struct {
		r   Result
		err error
	}
	res := make(chan result, 1)
	go func() {
		r, err := h.Run(ctx, cmd)
		res <- result{r, err}
	}()
	// Wait until both sleeps run on the host.
	deadline := time.Now().Add(20 * time.Second)
	for {
		live := liveProcs(t, sleepRE)
		if strings.Count(live, "\n") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleeps did not start; running: %q", live)
		}
		time.Sleep(50 * time.Millisecond)
	}
	began := time.Now()
	cancel()
	var got result
	select {
	case got = <-res:
	case <-time.After(killTimeout + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	took := time.Since(began)
	if !errors.Is(got.err, context.Canceled) || strings.Contains(got.r.Stdout, "not reached") {
		t.Fatalf("Run after cancel = %+v, %v", got.r, got.err)
	}
	t.Logf("Run returned %v after cancel: %v", took.Round(time.Millisecond), got.err)
	// Run returns only after the kill; nothing may be left, right away.
	if live := liveProcs(t, anyRE); live != "" {
		t.Fatalf("remote processes survived the cancel:\n%s", live)
	}
	// The same check from inside the host, with the host's own tools.
	out, _ := host.Exec(testCtx(t), "ps -eo stat=,args= | grep -v '^Z' | grep -c "+Quote("slee[p] "+regexp.QuoteMeta(d))+" || true")
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("ps on the host still lists %s processes", out)
	}
	// The connection is still good.
	mustRun(t, h, "true")
}

// TestIntegrationHostileValues passes hostile strings through Command and
// Quote to a real remote shell: they come back byte for byte, and nothing in
// them runs.
func TestIntegrationHostileValues(t *testing.T) {
	sb := sandbox(t, 1)
	p := newTestPool(t, sb, nil)
	h := p.Host(sb.Hosts[0].Addr, 0)
	pwned := filepath.Join(t.TempDir(), "pwned") // /tmp is shared with the hosts
	for _, v := range hostileValues {
		v = strings.ReplaceAll(v, "/tmp/pwned", pwned)
		r := mustRun(t, h, "printf %s "+Quote(v))
		if r.Stdout != v {
			t.Errorf("Quote(%q) came back as %q", v, r.Stdout)
		}
		r = mustRun(t, h, Command("printf", "[%s]", v, "second arg"))
		if want := "[" + v + "][second arg]"; r.Stdout != want {
			t.Errorf("Command with %q gave %q, want %q", v, r.Stdout, want)
		}
	}
	// All values at once, as separate argv entries.
	args := append([]string{"printf", "%s\\0"}, hostileValues...)
	r := mustRun(t, h, Command(args...))
	if want := strings.Join(hostileValues, "\x00") + "\x00"; r.Stdout != want {
		t.Errorf("all values at once: got %q", r.Stdout)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a quoted value was executed on the host")
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Log("note: /tmp/pwned exists on this machine (not created by this test's values)")
	}
}

// fakeSudo stands in for sudo on a test host (which is root already). Like
// sudo without a pty it runs the command as a child in its own process group,
// so the wrapper's setsid path is used, and it records its arguments.
const fakeSudo = `#!/bin/sh
printf '%s\n' "$*" >> /var/lib/etcd/sudo.log
[ "$1" = -n ] || { echo "fake sudo: -n missing" >&2; exit 1; }
shift
"$@"
`

func TestIntegrationSudo(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	if err := os.WriteFile(host.Path("/usr/local/bin/sudo"), []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	p := newTestPool(t, sb, func(c *Config) { c.Sudo = true })
	h := p.Host(host.Addr, 0)

	v := "it's \"$(touch /tmp/pwned)\" `x`;\n$HOME"
	if r := mustRun(t, h, "printf %s "+Quote(v)); r.Stdout != v {
		t.Fatalf("through sudo: %q", r.Stdout)
	}
	if r, err := h.Run(testCtx(t), "exit 5"); err != nil || r.ExitStatus != 5 {
		t.Fatalf("exit status through sudo: %+v %v", r, err)
	}
	log, _ := os.ReadFile(host.Path("/var/lib/etcd/sudo.log"))
	if n := strings.Count(string(log), "-n sh -c "); n < 2 {
		t.Fatalf("sudo was not used for every command:\n%s", log)
	}
	if err := h.Upload(testCtx(t), strings.NewReader("via sudo"), "/var/lib/etcd/sshx-sudo-upload", 0o640); err != nil {
		t.Fatal(err)
	}
	// Cancellation kills the command through sudo, too.
	testCancel(t, h, host)
}

func TestIntegrationConnectionReuse(t *testing.T) {
	sb := sandbox(t, 1)
	p := newTestPool(t, sb, nil)
	h := p.Host(sb.Hosts[0].Addr, 0)
	for i := 0; i < 30; i++ {
		if r := mustRun(t, h, "echo "+strconv.Itoa(i)); r.Stdout != strconv.Itoa(i)+"\n" {
			t.Fatalf("run %d: %q", i, r.Stdout)
		}
	}
	// Concurrent commands, more than the per-connection session limit.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Host(sb.Hosts[0].Addr, 22).Run(testCtx(t), "sleep 0.2; echo "+strconv.Itoa(i))
			if err == nil && r.Stdout != strconv.Itoa(i)+"\n" {
				err = fmt.Errorf("run %d: %q", i, r.Stdout)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p.Dials() != 1 {
		t.Fatalf("Dials = %d after 50 commands, want 1", p.Dials())
	}
}

func TestIntegrationPassphraseKey(t *testing.T) {
	sb := sandbox(t, 1)
	// Encrypt the sandbox's authorised key with OpenSSH's own tool.
	keyFile := writeFile(t, "id_ed25519", string(sb.PrivateKeyPEM))
	const pass = "correct horse 'battery' staple"
	if out, err := exec.Command("ssh-keygen", "-q", "-p", "-P", "", "-N", pass, "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -p: %v: %s", err, out)
	}
	enc, _ := os.ReadFile(keyFile)
	if bytes.Equal(enc, sb.PrivateKeyPEM) {
		t.Fatal("key not re-encrypted")
	}
	if _, err := NewPool(Config{PrivateKey: enc, KnownHostsFile: sb.KnownHostsFile}); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("without passphrase: %v", err)
	}
	if _, err := NewPool(Config{PrivateKey: enc, Passphrase: []byte("wrong"), KnownHostsFile: sb.KnownHostsFile}); err == nil || !strings.Contains(err.Error(), "passphrase is wrong") || strings.Contains(err.Error(), "wrong\"") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	p := newTestPool(t, sb, func(c *Config) { c.PrivateKey = enc; c.Passphrase = []byte(pass) })
	mustRun(t, p.Host(sb.Hosts[0].Addr, 0), "true")
}

func TestIntegrationAgent(t *testing.T) {
	sb := sandbox(t, 1)
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		testhosts.SkipOrFail(t, "no ssh-agent on PATH (Debian's openssh-client has it; run make prereqs)")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentCmd := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agentCmd.Process.Kill(); _ = agentCmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i > 100 {
			t.Fatal("ssh-agent did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	add := exec.Command("ssh-add", sb.PrivateKeyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	p := newTestPool(t, sb, func(c *Config) { c.PrivateKey = nil; c.Agent = true })
	mustRun(t, p.Host(sb.Hosts[0].Addr, 0), "true")
}

func TestIntegrationWrongKey(t *testing.T) {
	sb := sandbox(t, 1)
	key, pub := testKey(t, "")
	p := newTestPool(t, sb, func(c *Config) { c.PrivateKey = key })
	_, err := p.Host(sb.Hosts[0].Addr, 0).Run(testCtx(t), "true")
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), ssh.FingerprintSHA256(pub)) {
		t.Fatalf("wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatal("error quotes the key")
	}
}

// TestIntegrationRedial: the host's sshd dies with all its connections and
// comes back; the next command redials transparently.
func TestIntegrationRedial(t *testing.T) {
	sb := sandbox(t, 1)
	host := sb.Hosts[0]
	p := newTestPool(t, sb, func(c *Config) { c.ConnectTimeout = 3 * time.Second })
	h := p.Host(host.Addr, 0)
	mustRun(t, h, "true")

	if err := host.StopSSHD(); err != nil {
		t.Fatal(err)
	}
	if err := host.StartSSHD(); err != nil {
		t.Fatal(err)
	}
	if r := mustRun(t, h, "echo back"); r.Stdout != "back\n" {
		t.Fatalf("after restart: %q", r.Stdout)
	}
	if p.Dials() != 2 {
		t.Fatalf("Dials = %d, want 2", p.Dials())
	}

	// While sshd is down, commands fail fast with a connection error, and
	// work again once it is back.
	if err := host.StopSSHD(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err := h.Run(testCtx(t), "true")
	if err == nil || !strings.Contains(err.Error(), host.Addr) {
		t.Fatalf("sshd down: %v", err)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("failing took %v", d)
	}
	t.Logf("with sshd down: %v", err)
	if err := host.StartSSHD(); err != nil {
		t.Fatal(err)
	}
	mustRun(t, h, "true")
	if p.Dials() != 3 {
		t.Fatalf("Dials = %d, want 3", p.Dials())
	}
	p.Close()
	if _, err := h.Run(testCtx(t), "true"); !errors.Is(err, errPoolClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
