package testhosts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Paths of a TLS member's certificates as seen on its host. They live under
// /etc/etcd, which is the host's own folder, so the etcd process started in
// the host's mount namespace can read them.
const (
	TLSDir         = "/etc/etcd/pki"
	TLSCAFile      = TLSDir + "/ca.crt"
	TLSServerCert  = TLSDir + "/server.crt" // client port; IP SANs: the host's Addr and 127.0.0.1
	TLSServerKey   = TLSDir + "/server.key"
	TLSPeerCert    = TLSDir + "/peer.crt" // peer port; same SANs, server and client use
	TLSPeerKey     = TLSDir + "/peer.key"
	ClientCertName = "root" // the CN of Sandbox.ClientCertPEM: etcd's user name when auth is on
)

// tlsSettings are the member settings of a cluster with Options.TLS: https on
// both ports, and a certificate from the sandbox's CA required of every
// client and every peer.
func tlsSettings() []setting {
	return []setting{
		{"ETCD_CERT_FILE", TLSServerCert},
		{"ETCD_KEY_FILE", TLSServerKey},
		{"ETCD_TRUSTED_CA_FILE", TLSCAFile},
		{"ETCD_CLIENT_CERT_AUTH", "true"},
		{"ETCD_PEER_CERT_FILE", TLSPeerCert},
		{"ETCD_PEER_KEY_FILE", TLSPeerKey},
		{"ETCD_PEER_TRUSTED_CA_FILE", TLSCAFile},
		{"ETCD_PEER_CLIENT_CERT_AUTH", "true"},
	}
}

// yamlNested places the transport security settings, which etcd's config
// file only reads from its client-transport-security and
// peer-transport-security objects, never as top-level keys.
var yamlNested = map[string][2]string{
	"ETCD_CERT_FILE":             {"client-transport-security", "cert-file"},
	"ETCD_KEY_FILE":              {"client-transport-security", "key-file"},
	"ETCD_TRUSTED_CA_FILE":       {"client-transport-security", "trusted-ca-file"},
	"ETCD_CLIENT_CERT_AUTH":      {"client-transport-security", "client-cert-auth"},
	"ETCD_AUTO_TLS":              {"client-transport-security", "auto-tls"},
	"ETCD_PEER_CERT_FILE":        {"peer-transport-security", "cert-file"},
	"ETCD_PEER_KEY_FILE":         {"peer-transport-security", "key-file"},
	"ETCD_PEER_TRUSTED_CA_FILE":  {"peer-transport-security", "trusted-ca-file"},
	"ETCD_PEER_CLIENT_CERT_AUTH": {"peer-transport-security", "client-cert-auth"},
	"ETCD_PEER_AUTO_TLS":         {"peer-transport-security", "auto-tls"},
}

// certAuthority signs the sandbox's certificates. Its key stays in memory:
// nothing needs new certificates once the sandbox runs.
type certAuthority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCertAuthority(name string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := certTemplate(name)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func certTemplate(cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"testhosts"}},
		// Backdated a little: a clock a moment behind must not see it as
		// not yet valid.
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(30 * 24 * time.Hour),
	}, nil
}

// issue returns a PEM certificate and PKCS#8 key for cn, valid for ips.
func (ca *certAuthority) issue(cn string, ips []net.IP, usage ...x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := certTemplate(cn)
	if err != nil {
		return nil, nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = usage
	tmpl.IPAddresses = ips
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func (s *Sandbox) pkiDir() string { return filepath.Join(s.Dir, "pki") }

// writeClientTLS creates the sandbox's CA and its client certificate (CN
// root) under Dir/pki, and returns the CA for the hosts' certificates.
func (s *Sandbox) writeClientTLS() (*certAuthority, error) {
	ca, err := newCertAuthority(fmt.Sprintf("testhosts CA 127.0.%d.0/24", s.Block))
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.issue(ClientCertName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.pkiDir(), 0o700); err != nil {
		return nil, err
	}
	s.TLS = true
	s.CACertPEM, s.ClientCertPEM, s.ClientKeyPEM = ca.certPEM, certPEM, keyPEM
	s.CACertFile = filepath.Join(s.pkiDir(), "ca.crt")
	s.ClientCertFile = filepath.Join(s.pkiDir(), "client.crt")
	s.ClientKeyFile = filepath.Join(s.pkiDir(), "client.key")
	return ca, errors.Join(
		os.WriteFile(s.CACertFile, s.CACertPEM, 0o644),
		os.WriteFile(s.ClientCertFile, s.ClientCertPEM, 0o644),
		os.WriteFile(s.ClientKeyFile, s.ClientKeyPEM, 0o600),
	)
}

// loadClientTLS reads back what writeClientTLS wrote, for Load.
func (s *Sandbox) loadClientTLS() error {
	var errs [3]error
	s.CACertPEM, errs[0] = os.ReadFile(s.CACertFile)
	s.ClientCertPEM, errs[1] = os.ReadFile(s.ClientCertFile)
	s.ClientKeyPEM, errs[2] = os.ReadFile(s.ClientKeyFile)
	return errors.Join(errs[:]...)
}

// writeTLS gives the host its CA, server and peer certificates. Both are
// valid for the host's address and for 127.0.0.1: peers connect from
// 127.0.0.1, the source address the kernel picks on loopback, and etcd
// checks a peer's certificate against the address it connects from.
func (h *Host) writeTLS(ca *certAuthority) error {
	ips := []net.IP{net.ParseIP(h.Addr), net.IPv4(127, 0, 0, 1)}
	// etcd's gRPC gateway presents the server certificate as a client one.
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	serverCert, serverKey, err := ca.issue(h.Name, ips, both...)
	if err != nil {
		return err
	}
	peerCert, peerKey, err := ca.issue(h.Name+"-peer", ips, both...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.Path(TLSDir), 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{TLSCAFile, ca.certPEM, 0o644},
		{TLSServerCert, serverCert, 0o644},
		{TLSServerKey, serverKey, 0o600},
		{TLSPeerCert, peerCert, 0o644},
		{TLSPeerKey, peerKey, 0o600},
	} {
		if err := os.WriteFile(h.Path(f.path), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ClientTLSConfig is a client configuration that trusts the sandbox's CA and
// presents its client certificate; nil without Options.TLS.
func (s *Sandbox) ClientTLSConfig() (*tls.Config, error) {
	if !s.TLS {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM) {
		return nil, fmt.Errorf("testhosts: %s: no CA certificate", s.CACertFile)
	}
	pair, err := tls.X509KeyPair(s.ClientCertPEM, s.ClientKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("testhosts: client certificate: %w", err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// healthHTTP is the http client of Health and EtcdVersion: the plain one,
// or with TLS one that presents the client certificate.
func (s *Sandbox) healthHTTP() (*http.Client, error) {
	if !s.TLS {
		return healthClient, nil
	}
	s.tlsHTTPOnce.Do(func() {
		cfg, err := s.ClientTLSConfig()
		if err != nil {
			s.tlsHTTPErr = err
			return
		}
		s.tlsHTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: cfg}}
	})
	return s.tlsHTTP, s.tlsHTTPErr
}
