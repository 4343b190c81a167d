// Package sshx is the provider's SSH client: one verified, reused connection
// per host, commands with real cancellation, and atomic uploads over a
// session's stdin. It knows nothing about Terraform.
//
// Security rules it enforces:
//   - host keys are always checked against a known_hosts file, unless the
//     caller explicitly sets InsecureIgnoreHostKey;
//   - it never logs, and no error it returns contains key material or
//     passphrases (only public fingerprints);
//   - callers build command lines with Quote and Command, so configuration
//     values reach the remote program byte for byte.
package sshx

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults applied to zero values of Config, so that a zero Config behaves
// like the provider's documented defaults.
const (
	DefaultUser           = "root"
	DefaultPort           = 22
	DefaultKnownHostsFile = "~/.ssh/known_hosts"
	DefaultConnectTimeout = 15 * time.Second
)

// Config describes how to reach and log in to every host of a Pool.
type Config struct {
	User       string // default "root"
	Port       int    // default 22; a Host can override it
	PrivateKey []byte // PEM or OpenSSH format; empty means no key
	Passphrase []byte // for an encrypted PrivateKey; empty means none

	// Agent adds the keys of the ssh-agent at $SSH_AUTH_SOCK, after PrivateKey.
	Agent bool

	// KnownHostsFile is the OpenSSH known_hosts file that every host key is
	// checked against; a leading "~" is the home directory. Default
	// ~/.ssh/known_hosts.
	KnownHostsFile string

	// InsecureIgnoreHostKey accepts any host key. It is the only way to skip
	// host key verification, and the caller is expected to warn about it.
	InsecureIgnoreHostKey bool

	// Sudo runs every command as `sudo -n sh -c '<command>'`.
	Sudo bool

	// Bastion, when set, is the jump host every connection goes through.
	Bastion *Bastion

	// ConnectTimeout bounds the TCP connect plus the SSH handshake, and how
	// long an open connection may take to answer before it counts as broken.
	// Default 15s.
	ConnectTimeout time.Duration
}

// Bastion is one jump host. Zero Port means 22; empty User and PrivateKey
// fall back to the Config's.
type Bastion struct {
	Host       string
	Port       int
	User       string
	PrivateKey []byte
	Passphrase []byte
}

func (c Config) user() string {
	if c.User == "" {
		return DefaultUser
	}
	return c.User
}

func (c Config) port() int {
	if c.Port == 0 {
		return DefaultPort
	}
	return c.Port
}

func (c Config) connectTimeout() time.Duration {
	if c.ConnectTimeout <= 0 {
		return DefaultConnectTimeout
	}
	return c.ConnectTimeout
}

func (c Config) knownHostsFile() (string, error) {
	f := c.KnownHostsFile
	if f == "" {
		f = DefaultKnownHostsFile
	}
	return ExpandHome(f)
}

// ExpandHome replaces a leading "~" or "~/" with the current user's home
// directory, the way a shell would for the user running Terraform.
func ExpandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expanding %q: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

// ParsePrivateKey parses a private key in any format OpenSSH writes (OpenSSH,
// PKCS#1, PKCS#8, SEC1 EC; optionally encrypted). An empty passphrase means
// none. The errors say what is wrong in terms a user can act on, and never
// quote the key.
func ParsePrivateKey(pemBytes, passphrase []byte) (ssh.Signer, error) {
	trimmed := bytes.TrimSpace(pemBytes)
	if len(trimmed) == 0 {
		return nil, errors.New("the private key is empty")
	}
	if err := notAPrivateKey(trimmed); err != nil {
		return nil, err
	}

	var (
		signer ssh.Signer
		err    error
	)
	if len(passphrase) == 0 {
		signer, err = ssh.ParsePrivateKey(trimmed)
	} else {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(trimmed, passphrase)
		if err != nil && isNotEncrypted(err) {
			// A passphrase for a key that has none is harmless: the key is
			// still exactly what the user gave.
			signer, err = ssh.ParsePrivateKey(trimmed)
		}
	}
	if err == nil {
		return signer, nil
	}

	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("the private key is encrypted and no passphrase was given: set the key's passphrase, or use an ssh-agent that holds the key")
	case errors.Is(err, x509.IncorrectPasswordError):
		return nil, errors.New("the private key could not be decrypted: the passphrase is wrong")
	case strings.Contains(err.Error(), "no key found"):
		return nil, errors.New("not a private key: no PEM block or OpenSSH private key was found (pass the key's contents, e.g. file(\"~/.ssh/id_ed25519\"), not its path)")
	case strings.Contains(err.Error(), "unsupported key type"):
		// The x/crypto message names the PEM block type, e.g.
		// "ENCRYPTED PRIVATE KEY" (encrypted PKCS#8), which is not secret.
		return nil, fmt.Errorf("unsupported private key format (%w); convert it with `ssh-keygen -p -f <keyfile>`, which rewrites it in OpenSSH format", err)
	default:
		// x/crypto's parse errors describe structure, never key bytes.
		return nil, fmt.Errorf("invalid private key: %w", err)
	}
}

// notAPrivateKey recognises common mistakes before the parser reports a
// generic "no key found".
func notAPrivateKey(b []byte) error {
	if _, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
		return errors.New("this is a public key (the .pub file); the private key is needed")
	}
	if bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) && !bytes.Contains(b, []byte("PRIVATE KEY-----")) {
		return errors.New("this is an X.509 certificate, not an SSH private key")
	}
	if !bytes.ContainsAny(b, "\n") && (b[0] == '/' || b[0] == '~' || bytes.HasPrefix(b, []byte("./"))) {
		return errors.New("this looks like a file path, not a private key: pass the key's contents, e.g. file(\"~/.ssh/id_ed25519\")")
	}
	return nil
}

func isNotEncrypted(err error) bool {
	s := err.Error()
	return strings.Contains(s, "not an encrypted key") || strings.Contains(s, "not password protected")
}

// authSource holds what a handshake needs to authenticate one user.
type authSource struct {
	user    string
	signers []ssh.Signer // parsed once, in NewPool
	agent   bool
}

// methods returns the auth methods for one handshake. The agent is dialled per
// handshake rather than once per Pool, so that an agent restarted during a
// long apply is picked up, and the returned closer releases its socket once the
// handshake is over.
func (a authSource) methods() ([]ssh.AuthMethod, func(), error) {
	signers := append([]ssh.Signer(nil), a.signers...)
	closer := func() {}
	if a.agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, closer, errors.New("agent authentication is enabled but SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, closer, fmt.Errorf("connecting to the ssh-agent at SSH_AUTH_SOCK: %w", err)
		}
		closer = func() { conn.Close() }
		agentSigners, err := agent.NewClient(conn).Signers()
		if err != nil {
			closer()
			return nil, func() {}, fmt.Errorf("listing the ssh-agent's keys: %w", err)
		}
		signers = append(signers, agentSigners...)
	}
	if len(signers) == 0 {
		return nil, closer, errors.New("no SSH credentials: no private key was configured and the agent holds no keys")
	}
	// One publickey method with every signer: x/crypto tries them in order,
	// explicit key first, as OpenSSH does with -i before the agent.
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closer, nil
}

// describe names the credentials tried, by public fingerprint only, for
// authentication errors.
func (a authSource) describe() string {
	var parts []string
	for _, s := range a.signers {
		parts = append(parts, "key "+s.PublicKey().Type()+" "+ssh.FingerprintSHA256(s.PublicKey()))
	}
	if a.agent {
		parts = append(parts, "ssh-agent keys")
	}
	return strings.Join(parts, ", ")
}
