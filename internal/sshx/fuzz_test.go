package sshx

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The host's key, and a key that a known_hosts file only lists when the
// fuzzer copies it from a seed. Both are fixed so the seeds can name them.
var (
	fuzzHostKey  = fixedEd25519Key(1)
	fuzzOtherKey = fixedEd25519Key(2)
)

func fixedEd25519Key(b byte) ssh.PublicKey {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		panic(err)
	}
	return pub
}

// fuzzHosts are dialled addresses as the pool passes them to the callback:
// port 22 (bare host in known_hosts), another port ([host]:port), a name
// and an IPv6 address.
var fuzzHosts = []struct {
	addr   string
	remote net.Addr
}{
	{"10.0.0.9:22", &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 22}},
	{"10.0.0.9:2222", &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 2222}},
	{"etcd-1.example.com:22", &net.TCPAddr{IP: net.ParseIP("10.0.0.21"), Port: 22}},
	{"[2001:db8::9]:22", &net.TCPAddr{IP: net.ParseIP("2001:db8::9"), Port: 22}},
}

// FuzzKnownHosts feeds arbitrary known_hosts files to the host key
// verification the pool uses (loadKnownHosts, callback, algorithms).
// Properties, for every host:
//   - nothing panics;
//   - a key is only ever accepted when the file holds it;
//   - every refusal is a HostKeyError for that host and key, and "revoked"
//     only when the file says @revoked;
//   - the line the error tells the user to add (plain or hashed, before or
//     after everything else) makes the host verify, unless the file revokes
//     the key; and the key's algorithm is then offered in the handshake.
func FuzzKnownHosts(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(knownhosts.Line([]string{"10.0.0.9"}, fuzzHostKey) + "\n"))
	dir := fuzzDir(f)
	f.Fuzz(func(t *testing.T, content []byte) {
		if starHeavy(content) {
			t.Skip("a host pattern with many '*': knownhosts matches it in exponential time (golang/go#79726)")
		}
		checkKnownHosts(t, dir, content)
	})
}

// fuzzDir is one directory per fuzzing process, reused for every input: a
// fresh t.TempDir per input would cost more than the checks. It is memory
// backed where the machine has /dev/shm, which makes the file writes several
// times cheaper, so the fuzzer (and its minimizer) runs that much faster.
func fuzzDir(f *testing.F) string {
	dir, err := os.MkdirTemp("/dev/shm", "FuzzKnownHosts-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// starHeavy reports a line with more than maxStars '*'. x/crypto's
// wildcardMatch backtracks: "****************x" takes seconds per host and
// every further '*' triples that, which would stall the fuzzer rather than
// fail it.
func starHeavy(content []byte) bool {
	const maxStars = 4
	for _, line := range bytes.Split(content, []byte("\n")) {
		if bytes.Count(line, []byte("*")) > maxStars {
			return true
		}
	}
	return false
}

// checkKnownHosts runs the properties for every host, on content and on
// content with the lines the errors advise added.
func checkKnownHosts(t *testing.T, dir string, content []byte) {
	if k, err := loadFuzzFile(t, dir, content); err == nil {
		for _, h := range fuzzHosts {
			k.algorithms(h.addr)
			for _, key := range []ssh.PublicKey{fuzzHostKey, fuzzOtherKey} {
				checkVerdict(t, content, k.callback(h.addr, h.remote, key), h.addr, key)
			}
		}
	}

	var plain, hashed []byte
	for _, h := range fuzzHosts {
		host := knownhosts.Normalize(h.addr)
		plain = append(plain, knownhosts.Line([]string{host}, fuzzHostKey)+"\n"...)
		hashed = append(hashed, knownhosts.HashHostname(host)+" "+serializeKey(fuzzHostKey)+"\n"...)
	}
	for _, variant := range [][]byte{
		joinLines(content, plain),
		joinLines(plain, content),
		joinLines(content, hashed),
	} {
		k, err := loadFuzzFile(t, dir, variant)
		if errors.Is(err, bufio.ErrTooLong) {
			continue // a line over 64 KiB: the file is refused as a whole
		}
		if err != nil {
			t.Fatalf("a file with a valid line does not load: %v\nfile: %q", err, variant)
		}
		for _, h := range fuzzHosts {
			err := k.callback(h.addr, h.remote, fuzzHostKey)
			if err == nil {
				if algos := k.algorithms(h.addr); algos != nil && !slices.Contains(algos, fuzzHostKey.Type()) {
					t.Fatalf("%s verifies with %s, but the handshake would offer only %v\nfile: %q", h.addr, fuzzHostKey.Type(), algos, variant)
				}
				continue
			}
			if hke, ok := asHostKeyError(err); ok && hke.Revoked && bytes.Contains(content, []byte("@revoked")) {
				continue
			}
			t.Fatalf("%s: a file with its line does not verify: %v\nfile: %q", h.addr, err, variant)
		}
	}
}

// checkVerdict checks one callback result for key.
func checkVerdict(t *testing.T, content []byte, err error, host string, key ssh.PublicKey) {
	blob := base64.StdEncoding.EncodeToString(key.Marshal())
	if err == nil {
		// base64 decoding skips \r and \n, so a blob split by \r still counts.
		if !bytes.Contains(bytes.ReplaceAll(content, []byte("\r"), nil), []byte(blob)) {
			t.Fatalf("%s: accepted %s, which the file does not hold\nfile: %q", host, ssh.FingerprintSHA256(key), content)
		}
		return
	}
	hke, ok := asHostKeyError(err)
	if !ok {
		t.Fatalf("%s: refusal is not a HostKeyError: %v", host, err)
	}
	if hke.Host != host || hke.Fingerprint != ssh.FingerprintSHA256(key) || hke.KeyType != key.Type() {
		t.Fatalf("%s: HostKeyError for the wrong host or key: %+v", host, hke)
	}
	if hke.Revoked && !bytes.Contains(content, []byte("@revoked")) {
		t.Fatalf("%s: revoked, but the file has no @revoked line\nfile: %q", host, content)
	}
	if bytes.Equal(key.Marshal(), fuzzHostKey.Marshal()) {
		// The line the message tells the user to add, which the variants
		// in checkKnownHosts add.
		if want := knownhosts.Line([]string{knownhosts.Normalize(host)}, key); hke.Line != want {
			t.Fatalf("%s: the line to add is %q, want %q", host, hke.Line, want)
		}
	}
	msg := hke.Error()
	if !strings.Contains(msg, hke.Fingerprint) || !strings.Contains(msg, host) {
		t.Fatalf("%s: message lacks the host or fingerprint: %s", host, msg)
	}
}

func asHostKeyError(err error) (*HostKeyError, bool) {
	var hke *HostKeyError
	ok := errors.As(err, &hke)
	return hke, ok
}

func loadFuzzFile(t *testing.T, dir string, content []byte) (*hostKeys, error) {
	file := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return loadKnownHosts(file)
}

func joinLines(a, b []byte) []byte {
	out := append(append([]byte(nil), a...), '\n')
	return append(append(out, b...), '\n')
}

func serializeKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}
