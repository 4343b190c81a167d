package testhosts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A TLS cluster, in both config formats: https on both ports, certificates
// from the sandbox's CA, and clients without the client certificate turned
// away.
func TestTLSCluster(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"env", "yaml"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			s := ForTest(t, Options{TLS: true, ConfigFormat: format})
			ctx := testContext(t)
			checkTLSCluster(ctx, t, s)

			// Load, as etcd-sandbox down does, finds the certificates too.
			l, err := Load(s.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if !l.TLS || string(l.ClientKeyPEM) != string(s.ClientKeyPEM) || l.Hosts[0].ClientURL != s.Hosts[0].ClientURL {
				t.Errorf("Load: TLS %v, client key loaded %v, client URL %s", l.TLS, len(l.ClientKeyPEM) > 0, l.Hosts[0].ClientURL)
			}
			if err := l.WaitHealthy(ctx); err != nil {
				t.Errorf("health through a loaded sandbox: %v", err)
			}
		})
	}
}

func checkTLSCluster(ctx context.Context, t *testing.T, s *Sandbox) {
	t.Helper()
	if !s.TLS || len(s.CACertPEM) == 0 || len(s.ClientCertPEM) == 0 || len(s.ClientKeyPEM) == 0 {
		t.Fatalf("TLS material missing: TLS %v", s.TLS)
	}
	for path, mode := range map[string]os.FileMode{s.CACertFile: 0o644, s.ClientCertFile: 0o644, s.ClientKeyFile: 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", path, err, mode)
		}
	}
	client := parseCert(t, s.ClientCertPEM)
	if client.Subject.CommonName != ClientCertName {
		t.Errorf("client certificate CN %q, want %q", client.Subject.CommonName, ClientCertName)
	}

	for _, h := range s.Hosts {
		if !strings.HasPrefix(h.ClientURL, "https://"+h.Addr+":") || !strings.HasPrefix(h.PeerURL, "https://"+h.Addr+":") {
			t.Errorf("%s: URLs %s %s, want https", h.Name, h.ClientURL, h.PeerURL)
		}
		if v, err := h.EtcdVersion(ctx); err != nil || v != DefaultEtcdVersion {
			t.Errorf("%s: /version over TLS: %q, %v", h.Name, v, err)
		}
		// The certificates are where the host's etcd reads them, keys 0600.
		out, err := h.Exec(ctx, "stat -c '%n %a' "+strings.Join([]string{TLSCAFile, TLSServerCert, TLSServerKey, TLSPeerCert, TLSPeerKey}, " "))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{TLSServerKey + " 600", TLSPeerKey + " 600", TLSCAFile + " 644"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("%s: want %q in:\n%s", h.Name, want, out)
			}
		}
		for _, f := range []string{TLSServerCert, TLSPeerCert} {
			pemData, err := os.ReadFile(h.Path(f))
			if err != nil {
				t.Fatal(err)
			}
			c := parseCert(t, pemData)
			if err := c.VerifyHostname(h.Addr); err != nil {
				t.Errorf("%s: %s: %v", h.Name, f, err)
			}
			if err := c.VerifyHostname("127.0.0.1"); err != nil {
				t.Errorf("%s: %s: %v", h.Name, f, err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(s.CACertPEM)
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("%s: %s does not chain to the sandbox's CA for server and client use: %v", h.Name, f, err)
			}
		}
	}

	h := s.Hosts[0]
	// Plain http to the https port fails.
	plain := strings.Replace(h.ClientURL, "https://", "http://", 1) + "/health"
	if resp, err := healthClient.Get(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s answered 200 on a TLS member", plain)
		}
	}
	// Trusting the CA but without the client certificate: refused.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM)
	noCert := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get(h.ClientURL + "/health"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /health without a client certificate: %s, want a refused handshake", resp.Status)
	}
	// The peer port asks for a certificate too.
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(h.PeerURL, "https://"), &tls.Config{RootCAs: pool}); err == nil {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("peer port without a client certificate: read %v, want a certificate error", err)
		}
	}

	// etcdctl, as an operator would run it, with the files.
	etcdctl, err := EtcdctlBinary(s.EtcdVersion)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, etcdctl, "--endpoints="+strings.Join(s.ClientURLs(), ","),
		"--cacert="+s.CACertFile, "--cert="+s.ClientCertFile, "--key="+s.ClientKeyFile,
		"member", "list", "-w", "simple").CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl member list over TLS: %v\n%s", err, out)
	}
	for _, o := range s.Hosts {
		if !strings.Contains(string(out), ", "+o.PeerURL+", "+o.ClientURL+",") {
			t.Errorf("member list lacks %s's https URLs:\n%s", o.Name, out)
		}
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// etcd reads the transport security settings of its config file only from
// their two objects; top-level keys of the same names are ignored.
func TestTLSYAMLRendering(t *testing.T) {
	h := &Host{Name: "s1", ClientURL: "https://127.0.9.1:2379", PeerURL: "https://127.0.9.1:2380"}
	extra := map[string]string{"ETCD_SNAPSHOT_COUNT": "5000"}
	for _, kv := range tlsSettings() {
		extra[kv.key] = kv.value
	}
	yml := string(yamlFile("s1", memberSettings(h, []*Host{h}, "tok", extra)))
	want := "client-transport-security:\n" +
		"  cert-file: \"" + TLSServerCert + "\"\n" +
		"  client-cert-auth: true\n" +
		"  key-file: \"" + TLSServerKey + "\"\n" +
		"  trusted-ca-file: \"" + TLSCAFile + "\"\n" +
		"peer-transport-security:\n" +
		"  cert-file: \"" + TLSPeerCert + "\"\n" +
		"  client-cert-auth: true\n" +
		"  key-file: \"" + TLSPeerKey + "\"\n" +
		"  trusted-ca-file: \"" + TLSCAFile + "\"\n"
	if !strings.HasSuffix(yml, want) {
		t.Errorf("got:\n%s\nwant it to end with:\n%s", yml, want)
	}
	if !strings.Contains(yml, "\nsnapshot-count: 5000\n") || strings.Contains(yml, "\ncert-file") {
		t.Errorf("flat keys:\n%s", yml)
	}
	env := string(envFile("s1", memberSettings(h, []*Host{h}, "tok", extra)))
	for _, kv := range tlsSettings() {
		if !strings.Contains(env, "\n"+kv.key+"="+kv.value+"\n") {
			t.Errorf("env file lacks %s=%s:\n%s", kv.key, kv.value, env)
		}
	}
}
