package sshx

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// KnownKey is a key that known_hosts holds for a host.
type KnownKey struct {
	File        string
	Line        int
	KeyType     string
	Fingerprint string // SHA256:...
}

// HostKeyError is returned when a host's key cannot be verified: the host is
// not in known_hosts, its key differs from the one on file (Changed), or the
// key is marked @revoked. Its message is meant to be shown to the user as is.
type HostKeyError struct {
	Host           string // as dialled, host:port
	KeyType        string // type of the key the server presented, e.g. ssh-ed25519
	Fingerprint    string // SHA256 fingerprint of the presented key
	KnownHostsFile string
	Line           string     // the known_hosts line that would accept the presented key
	Changed        bool       // known_hosts has other keys for this host
	Revoked        bool       // the key is marked @revoked
	Known          []KnownKey // the keys on file for this host, if any
	Key            ssh.PublicKey
}

func (e *HostKeyError) Error() string {
	var b strings.Builder
	switch {
	case e.Revoked:
		fmt.Fprintf(&b, "ssh: host key verification failed for %s: the server presented its %s key, fingerprint %s, which %s marks as @revoked. Do not connect; find out why the key was revoked.",
			e.Host, e.KeyType, e.Fingerprint, e.KnownHostsFile)
	case e.Changed:
		fmt.Fprintf(&b, "ssh: host key verification failed for %s: the host key has CHANGED.\n", e.Host)
		fmt.Fprintf(&b, "The server presented its %s key, fingerprint %s, but %s has a different key for this host:\n", e.KeyType, e.Fingerprint, e.KnownHostsFile)
		for _, k := range e.Known {
			fmt.Fprintf(&b, "  %s:%d: %s %s\n", k.File, k.Line, k.KeyType, k.Fingerprint)
		}
		b.WriteString("Someone could be intercepting the connection (man-in-the-middle), or the host was reinstalled or its host keys regenerated. ")
		fmt.Fprintf(&b, "Do not proceed until you have checked the new fingerprint on the host itself, e.g. on its console: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub\n", keyFileStem(e.KeyType))
		fmt.Fprintf(&b, "If the change is expected, remove the old entry (ssh-keygen -R %s -f %s) and add this line to %s:\n%s",
			Quote(knownhosts.Normalize(e.Host)), Quote(e.KnownHostsFile), e.KnownHostsFile, e.Line)
	default:
		fmt.Fprintf(&b, "ssh: host key verification failed for %s: the host is not in %s.\n", e.Host, e.KnownHostsFile)
		fmt.Fprintf(&b, "The server presented its %s key, fingerprint %s.\n", e.KeyType, e.Fingerprint)
		fmt.Fprintf(&b, "Check that fingerprint on the host itself (e.g. on its console: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then add this line to %s:\n%s",
			keyFileStem(e.KeyType), e.KnownHostsFile, e.Line)
	}
	return b.String()
}

// keyFileStem maps a key type to the name part of OpenSSH's host key files.
func keyFileStem(keyType string) string {
	switch {
	case strings.Contains(keyType, "ed25519"):
		return "ed25519"
	case strings.Contains(keyType, "ecdsa"):
		return "ecdsa"
	case strings.Contains(keyType, "rsa"):
		return "rsa"
	default:
		return "*"
	}
}

// hostKeys verifies host keys against one known_hosts file.
type hostKeys struct {
	file    string
	cb      ssh.HostKeyCallback
	caLines map[int]bool // line numbers of @cert-authority entries
}

func loadKnownHosts(file string) (*hostKeys, error) {
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("known_hosts file %s does not exist. Host keys are always verified: add each host's key to it (check the fingerprints on the hosts themselves), or point the known_hosts file setting at the right file", file)
		}
		return nil, fmt.Errorf("known_hosts file %s: %w", file, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts file %s: %w", file, err)
	}
	lines := strings.Split(string(data), "\n")
	caLines := map[int]bool{}
	for i, line := range lines {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] == "@cert-authority" {
			caLines[i+1] = true
		}
		// x/crypto matches wildcards with exponential backtracking: a
		// pattern with many '*' would stall every connection for minutes.
		hosts := ""
		if len(fields) > 0 {
			hosts = fields[0]
			if strings.HasPrefix(hosts, "@") && len(fields) > 1 {
				hosts = fields[1]
			}
		}
		if strings.Count(hosts, "*") > maxWildcards {
			return nil, fmt.Errorf("known_hosts file %s, line %d: a host pattern with more than %d '*' is not supported; list the hosts, or use fewer wildcards", file, i+1, maxWildcards)
		}
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts file %s: %w", file, err)
	}
	return &hostKeys{file: file, cb: cb, caLines: caLines}, nil
}

// maxWildcards bounds '*' in one known_hosts host pattern.
const maxWildcards = 8

// callback turns knownhosts' bare errors into a HostKeyError.
func (k *hostKeys) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := k.cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	hke := &HostKeyError{
		Host:           hostname,
		KeyType:        key.Type(),
		Fingerprint:    ssh.FingerprintSHA256(key),
		KnownHostsFile: k.file,
		Line:           knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key),
		Key:            key,
	}
	var keyErr *knownhosts.KeyError
	var revErr *knownhosts.RevokedError
	switch {
	case errors.As(err, &revErr):
		hke.Revoked = true
	case errors.As(err, &keyErr):
		for _, w := range keyErr.Want {
			// A matching @cert-authority line vouches for certificates, not
			// for this plain key: the host is unknown, not changed.
			if w.Filename != k.file || !k.caLines[w.Line] {
				hke.Changed = true
			}
			hke.Known = append(hke.Known, KnownKey{File: w.Filename, Line: w.Line, KeyType: w.Key.Type(), Fingerprint: ssh.FingerprintSHA256(w.Key)})
		}
	default:
		// e.g. a certificate that fails validation: keep the cause.
		return fmt.Errorf("ssh: host key verification failed for %s: %w", hostname, err)
	}
	return hke
}

// probeKey is a key no host can have; checking it against known_hosts lists
// the keys on file for a host (as a mismatch) without a connection.
var probeKey = func() ssh.PublicKey {
	pub, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return pub
}()

// algorithms returns the host key algorithms to offer for hostname: those of
// the keys known_hosts holds for it. Without this the server picks its
// preferred key type (say ecdsa) while known_hosts holds another of its keys
// (say ed25519), and a genuine host would be reported as changed. Nil (the
// library defaults) for unknown hosts, so the error shows the server's key.
func (k *hostKeys) algorithms(hostname string) []string {
	remote := &net.TCPAddr{IP: net.IPv4zero}
	err := k.cb(hostname, remote, probeKey)
	var keyErr *knownhosts.KeyError
	if !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var algos []string
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, w := range keyErr.Want {
		if w.Key.Type() == ssh.KeyAlgoRSA {
			// An RSA key is negotiated under SHA-2 signature algorithms;
			// ssh-rsa (SHA-1) last, for old servers.
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
			continue
		}
		add(w.Key.Type())
	}
	return algos
}
