package sshx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostileValues are strings a configuration could contain that would run
// commands or split words if they reached a shell unquoted.
var hostileValues = []string{
	"",
	"plain",
	"with space",
	"  leading and trailing  ",
	"single ' quote",
	"''",
	`double " quote`,
	`back\slash`,
	"$(touch /tmp/pwned)",
	"`touch /tmp/pwned`",
	"${HOME}",
	"$HOME",
	"a;touch /tmp/pwned;b",
	"a && touch /tmp/pwned",
	"a | touch /tmp/pwned",
	"new\nline",
	"\n",
	"tab\there",
	"*",
	"~",
	"~root",
	"a=b",
	"-n",
	"--flag=value",
	"!",
	"#comment",
	"{a,b}",
	"[abc]",
	"<in >out",
	"&",
	"'\"`$\\\n;|&<>(){}[]*?~#!= \t",
	"ünïcödé ✓",
	"\x01\x7f\xff",
}

// TestQuoteLocalShells runs every hostile value through the local dash and
// bash: printf %s must reproduce it byte for byte, and no marker file may
// appear (nothing was executed).
func TestQuoteLocalShells(t *testing.T) {
	pwned := filepath.Join(t.TempDir(), "pwned")
	for _, shell := range []string{"dash", "bash", "sh"} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		for _, v := range hostileValues {
			v = strings.ReplaceAll(v, "/tmp/pwned", pwned)
			out, err := exec.Command(shell, "-c", "printf %s "+Quote(v)).Output()
			if err != nil {
				t.Fatalf("%s: %q: %v", shell, v, err)
			}
			if string(out) != v {
				t.Errorf("%s: Quote(%q) came out as %q", shell, v, out)
			}
			// Command with several hostile arguments: each stays one argument.
			out, err = exec.Command(shell, "-c", Command("printf", "<%s>", v, v)).Output()
			if err != nil {
				t.Fatalf("%s: %v", shell, err)
			}
			if want := "<" + v + "><" + v + ">"; string(out) != want {
				t.Errorf("%s: Command with %q gave %q, want %q", shell, v, out, want)
			}
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a quoted value was executed")
	}
}

func TestQuoteForms(t *testing.T) {
	for in, want := range map[string]string{
		"":              "''",
		"abc":           "abc",
		"/usr/bin/etcd": "/usr/bin/etcd",
		"a b":           "'a b'",
		"it's":          `'it'\''s'`,
		"a=b":           "'a=b'",
		"~":             "'~'",
		"$x":            "'$x'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got, want := Command("etcdctl", "--endpoints", "http://a:2379", "put", "k", "v w"), "etcdctl --endpoints http://a:2379 put k 'v w'"; got != want {
		t.Errorf("Command = %s, want %s", got, want)
	}
}

func TestSudoCommand(t *testing.T) {
	cmd := "cat /etc/etcd/etcd.env | grep 'ETCD_NAME'"
	got := SudoCommand(cmd)
	want := `sudo -n sh -c 'cat /etc/etcd/etcd.env | grep '\''ETCD_NAME'\'''`
	if got != want {
		t.Fatalf("SudoCommand = %s\nwant        %s", got, want)
	}
	// Strip "sudo -n " and let a real shell run the rest: the inner command
	// must arrive intact.
	out, err := exec.Command("sh", "-c", strings.TrimPrefix(SudoCommand("printf '%s|' a 'b c' \"d'e\""), "sudo -n ")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "a|b c|d'e|" {
		t.Fatalf("inner command came out as %q", out)
	}

	w := wrapCommand("true", true)
	if !strings.HasPrefix(w, "sudo -n sh -c '") {
		t.Fatalf("with Sudo the whole wrapper must run under sudo -n sh -c: %s", w)
	}
	if strings.Contains(wrapCommand("true", false), "sudo") {
		t.Fatal("without Sudo there must be no sudo")
	}
}

// runLocal runs the wrapped command in a new session (as sshd does), and
// returns stdout and the raw stderr.
func runLocal(t *testing.T, wrapped string, newSession bool) (string, string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", wrapped)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: newSession}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return stdout.String(), stderr.String()
}

// TestWrapCommandLocal checks the wrapper with a local shell: the marker is
// the first stderr line, the reported id is the process group of the command,
// the command's own output and exit status are untouched, whether or not the
// starting shell leads its process group.
func TestWrapCommandLocal(t *testing.T) {
	for _, leader := range []bool{true, false} {
		stdout, stderr := runLocal(t, wrapCommand(`echo out; echo err >&2; ps -o pgid= -p $$; exit 3`, false), leader)
		first, rest, _ := strings.Cut(stderr, "\n")
		if !strings.HasPrefix(first, pgidMarker) {
			t.Fatalf("leader=%v: first stderr line %q has no marker", leader, first)
		}
		if rest != "err\n" {
			t.Fatalf("leader=%v: stderr after marker = %q", leader, rest)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 2 || lines[0] != "out" {
			t.Fatalf("leader=%v: stdout = %q", leader, stdout)
		}
		if strings.TrimSpace(lines[1]) != strings.TrimPrefix(first, pgidMarker) {
			t.Fatalf("leader=%v: command runs in group %s, marker says %s", leader, lines[1], first)
		}
	}
	cmd := exec.Command("sh", "-c", wrapCommand("exit 7", false))
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("exit status not preserved: %v", err)
	}
	// Hostile command text survives the two levels of quoting.
	pwned := filepath.Join(t.TempDir(), "pwned")
	for _, v := range hostileValues {
		v = strings.ReplaceAll(v, "/tmp/pwned", pwned)
		stdout, _ := runLocal(t, wrapCommand("printf %s "+Quote(v), false), true)
		if stdout != v {
			t.Errorf("wrapped printf of %q gave %q", v, stdout)
		}
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("a quoted value was executed")
	}
}

// TestKillScriptLocal: the kill script ends a whole process group, including
// a child that ignores SIGTERM.
func TestKillScriptLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the SIGKILL grace period")
	}
	cmd := exec.Command("sh", "-c", wrapCommand(`trap '' TERM; sleep 300 & sh -c 'trap "" TERM; sleep 301' & wait`, false))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	mw := newMarkerWriter(&bytes.Buffer{})
	cmd.Stderr = mw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-mw.found:
	case <-time.After(5 * time.Second):
		t.Fatal("no marker")
	}
	pgid := mw.pgid()
	time.Sleep(200 * time.Millisecond) // let the children start
	if err := syscall.Kill(-pgid, 0); err != nil {
		t.Fatalf("group %d not running: %v", pgid, err)
	}
	start := time.Now()
	if out, err := exec.Command("sh", "-c", killScript(pgid)).CombinedOutput(); err != nil {
		t.Fatalf("kill script: %v: %s", err, out)
	}
	_ = cmd.Wait()
	if live := groupMembers(t, pgid); live != "" {
		t.Fatalf("group %d still alive after the kill script:\n%s", pgid, live)
	}
	// Timing is only logged: on a loaded machine each poll can be slow.
	t.Logf("group gone %v after SIGTERM (grace before SIGKILL: %v)", time.Since(start).Round(time.Millisecond), killGrace)
}

func TestMarkerWriter(t *testing.T) {
	cases := []struct {
		writes []string
		want   string
		pgid   int
	}{
		{[]string{"sshx-pgid:123\nhello\n"}, "hello\n", 123},
		{[]string{"sshx-", "pgid:4", "56\n", "a", "b"}, "ab", 456},
		{[]string{"sudo: a password is required\n"}, "sudo: a password is required\n", 0},
		{[]string{strings.Repeat("x", 100)}, strings.Repeat("x", 100), 0},
		{[]string{"partial"}, "partial", 0}, // flushed at the end
		{[]string{"sshx-pgid:notanumber\n"}, "", 0},
	}
	for i, c := range cases {
		var b bytes.Buffer
		m := newMarkerWriter(&b)
		for _, w := range c.writes {
			if n, err := m.Write([]byte(w)); err != nil || n != len(w) {
				t.Fatalf("case %d: Write = %d, %v", i, n, err)
			}
		}
		m.flush()
		if b.String() != c.want || m.pgid() != c.pgid {
			t.Errorf("case %d: got %q pgid %d, want %q pgid %d", i, b.String(), m.pgid(), c.want, c.pgid)
		}
	}
}

func TestChmodMode(t *testing.T) {
	for m, want := range map[os.FileMode]string{
		0o755:                  "0755",
		0o600:                  "0600",
		0o755 | os.ModeSetuid:  "4755",
		0o1777 & os.ModePerm:   "0777",
		os.ModeSticky | 0o777:  "1777",
		os.ModeSetgid | 0o2750: "2750",
	} {
		if got := chmodMode(m); got != want {
			t.Errorf("chmodMode(%v) = %s, want %s", m, got, want)
		}
	}
}

// testKey returns a fresh ed25519 private key in OpenSSH PEM form, optionally
// encrypted.
func testKey(t testing.TB, passphrase string) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sshPub
}

func TestParsePrivateKey(t *testing.T) {
	plain, pub := testKey(t, "")
	enc, encPub := testKey(t, "s3cret passphrase")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024) // small: only the format matters here
	if err != nil {
		t.Fatal(err)
	}
	//nolint:staticcheck // legacy PEM encryption is what `ssh-keygen -m PEM` wrote for years
	legacyBlock, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), []byte("pw"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	legacy := pem.EncodeToMemory(legacyBlock)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	pkcs8PEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})

	ok := []struct {
		name     string
		key, pw  string
		wantType string
		want     ssh.PublicKey
	}{
		{"openssh plain", string(plain), "", ssh.KeyAlgoED25519, pub},
		{"openssh plain, surrounding whitespace", "\n\n" + string(plain) + "\n  ", "", ssh.KeyAlgoED25519, pub},
		{"openssh plain with an unneeded passphrase", string(plain), "ignored", ssh.KeyAlgoED25519, pub},
		{"openssh encrypted", string(enc), "s3cret passphrase", ssh.KeyAlgoED25519, encPub},
		{"legacy PEM encrypted rsa", string(legacy), "pw", ssh.KeyAlgoRSA, nil},
		{"pkcs8 rsa", string(pkcs8PEM), "", ssh.KeyAlgoRSA, nil},
	}
	for _, c := range ok {
		s, err := ParsePrivateKey([]byte(c.key), []byte(c.pw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if s.PublicKey().Type() != c.wantType {
			t.Errorf("%s: type %s", c.name, s.PublicKey().Type())
		}
		if c.want != nil && !bytes.Equal(s.PublicKey().Marshal(), c.want.Marshal()) {
			t.Errorf("%s: wrong public key", c.name)
		}
	}

	bad := []struct {
		name, key, pw, want string
	}{
		{"empty", "", "", "empty"},
		{"whitespace", " \n", "", "empty"},
		{"encrypted, no passphrase", string(enc), "", "encrypted and no passphrase"},
		{"encrypted, wrong passphrase", string(enc), "nope", "passphrase is wrong"},
		{"legacy encrypted, no passphrase", string(legacy), "", "encrypted and no passphrase"},
		{"public key", string(ssh.MarshalAuthorizedKey(pub)), "", "public key"},
		{"a path", "~/.ssh/id_ed25519", "", "file path"},
		{"garbage", "hello world\nsecond line", "", "not a private key"},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "", "X.509 certificate"},
		{"encrypted pkcs8", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", "", "unsupported private key format"},
	}
	for _, c := range bad {
		_, err := ParsePrivateKey([]byte(c.key), []byte(c.pw))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
		// Errors never quote the key or the passphrase.
		if c.key != "" && len(c.key) > 20 && strings.Contains(err.Error(), strings.TrimSpace(c.key)[10:20]) {
			t.Errorf("%s: error quotes the key: %v", c.name, err)
		}
		if c.pw != "" && strings.Contains(err.Error(), c.pw) {
			t.Errorf("%s: error quotes the passphrase", c.name)
		}
	}
}

func TestNewPoolErrors(t *testing.T) {
	if _, err := NewPool(Config{}); err == nil || !strings.Contains(err.Error(), "no SSH credentials") {
		t.Errorf("no credentials: %v", err)
	}
	if _, err := NewPool(Config{PrivateKey: []byte("nonsense\nkey")}); err == nil || !strings.Contains(err.Error(), "not a private key") {
		t.Errorf("bad key: %v", err)
	}
	key, _ := testKey(t, "")
	if _, err := NewPool(Config{PrivateKey: key, Bastion: &Bastion{Host: "b", PrivateKey: []byte("x\ny")}}); err == nil || !strings.Contains(err.Error(), "bastion") {
		t.Errorf("bad bastion key: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope", "known_hosts")
	p, err := NewPool(Config{PrivateKey: key, KnownHostsFile: missing})
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckKnownHosts()
	if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing known_hosts: %v", err)
	}
	// The same error from a Run, without any network traffic (the address
	// is unroutable; the file is checked after TCP connects, so use a
	// listener that accepts).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	n, _ := strconv.Atoi(port)
	_, err = p.Host("127.0.0.1", n).Run(t.Context(), "true")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Run with missing known_hosts: %v", err)
	}
	if p.Dials() != 0 {
		t.Errorf("Dials = %d", p.Dials())
	}
}

func TestPoolHostAddressing(t *testing.T) {
	key, _ := testKey(t, "")
	p, err := NewPool(Config{PrivateKey: key, Port: 2200})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Host("10.0.0.1", 0).Addr(); got != "10.0.0.1:2200" {
		t.Errorf("default port: %s", got)
	}
	if got := p.Host("10.0.0.1", 22).Addr(); got != "10.0.0.1:22" {
		t.Errorf("explicit port: %s", got)
	}
	if got := p.Host("10.0.0.1:2222", 0).Addr(); got != "10.0.0.1:2222" {
		t.Errorf("port in addr: %s", got)
	}
	if got := p.Host("::1", 0).Addr(); got != "[::1]:2200" {
		t.Errorf("ipv6: %s", got)
	}
	if p.Host("10.0.0.1", 0) != p.Host("10.0.0.1", 2200) {
		t.Error("same address must give the same Host")
	}
	z, _ := NewPool(Config{PrivateKey: key})
	if got := z.Host("h", 0).Addr(); got != "h:22" {
		t.Errorf("zero Port must mean 22: %s", got)
	}
}

// TestHostKeyErrors exercises the known_hosts checks without a network:
// plain, [host]:port and hashed entries; unknown; changed; and the algorithm
// restriction that keeps a genuine host from looking changed.
func TestHostKeyErrors(t *testing.T) {
	_, good := testKey(t, "")
	_, other := testKey(t, "")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024) // small: only the format matters here
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)

	file := filepath.Join(t.TempDir(), "known_hosts")
	lines := []string{
		knownhosts.Line([]string{"10.0.0.1"}, good),
		knownhosts.Line([]string{"[10.0.0.2]:2222"}, good),
		knownhosts.HashHostname("10.0.0.3") + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(good))),
		knownhosts.Line([]string{"10.0.0.4"}, rsaPub),
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadKnownHosts(file)
	if err != nil {
		t.Fatal(err)
	}
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 22}
	for _, h := range []string{"10.0.0.1:22", "[10.0.0.2]:2222", "10.0.0.3:22", "10.0.0.4:22"} {
		key := good
		if h == "10.0.0.4:22" {
			key = rsaPub
		}
		if err := k.callback(h, remote, key); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}

	// Unknown host.
	err = k.callback("10.0.0.9:22", remote, good)
	var hke *HostKeyError
	if !errors.As(err, &hke) || hke.Changed {
		t.Fatalf("unknown host: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"10.0.0.9:22", "not in " + file, "ssh-ed25519", ssh.FingerprintSHA256(good), "10.0.0.9 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(good)))} {
		if !strings.Contains(msg, want) {
			t.Errorf("unknown-host message lacks %q:\n%s", want, msg)
		}
	}
	// Unknown on a non-standard port: the line to add uses [host]:port.
	err = k.callback("10.0.0.9:2222", remote, good)
	if !strings.Contains(err.Error(), "[10.0.0.9]:2222 ssh-ed25519 ") {
		t.Errorf("non-22 port line:\n%v", err)
	}

	// Changed key, including for the hashed entry.
	for _, h := range []string{"10.0.0.1:22", "10.0.0.3:22"} {
		err = k.callback(h, remote, other)
		if !errors.As(err, &hke) || !hke.Changed {
			t.Fatalf("%s changed key: %v", h, err)
		}
		msg = err.Error()
		for _, want := range []string{"CHANGED", h, ssh.FingerprintSHA256(other), ssh.FingerprintSHA256(good), "man-in-the-middle", "ssh-keygen -R", file + ":"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s changed-key message lacks %q:\n%s", h, want, msg)
			}
		}
	}

	if got := k.algorithms("10.0.0.1:22"); fmt.Sprint(got) != "[ssh-ed25519]" {
		t.Errorf("algorithms for ed25519 host: %v", got)
	}
	if got := k.algorithms("10.0.0.3:22"); fmt.Sprint(got) != "[ssh-ed25519]" {
		t.Errorf("algorithms for hashed host: %v", got)
	}
	if got := k.algorithms("10.0.0.4:22"); len(got) != 3 || got[0] != ssh.KeyAlgoRSASHA512 {
		t.Errorf("algorithms for rsa host: %v", got)
	}
	if got := k.algorithms("10.0.0.9:22"); got != nil {
		t.Errorf("algorithms for unknown host: %v", got)
	}
}

func TestResultErr(t *testing.T) {
	if (Result{}).Err() != nil {
		t.Fatal("exit 0 is not an error")
	}
	err := Result{ExitStatus: 2, Stderr: strings.Repeat("line\n", 20) + "the cause\n"}.Err()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitStatus != 2 || !strings.Contains(err.Error(), "exit status 2") || !strings.HasSuffix(err.Error(), "the cause") {
		t.Fatalf("Err = %v", err)
	}
	if strings.Count(err.Error(), "line") > 10 {
		t.Fatalf("Err keeps only the last lines: %v", err)
	}
}

// groupMembers lists the live (non-zombie) processes of process group pgid.
func groupMembers(t *testing.T, pgid int) string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "pgid=,pid=,stat=,args=").Output()
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == strconv.Itoa(pgid) && !strings.HasPrefix(f[2], "Z") {
			live = append(live, l)
		}
	}
	return strings.Join(live, "\n")
}
