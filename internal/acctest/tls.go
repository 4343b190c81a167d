package acctest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// ProviderConfigWith is ProviderConfig with attrs added to the provider
// block itself, beside ssh: tls, username, password.
func ProviderConfigWith(sb *testhosts.Sandbox, attrs []string, sshExtra ...string) string {
	cfg := ProviderConfig(sb, sshExtra...)
	end := strings.LastIndex(cfg, "}")
	return cfg[:end] + "  " + strings.Join(attrs, "\n  ") + "\n" + cfg[end:]
}

// TLSAttribute renders the provider's tls attribute for a sandbox started
// with Options.TLS: its CA, and its client certificate and key, read with
// file() as an operator would.
func TLSAttribute(sb *testhosts.Sandbox) string {
	return fmt.Sprintf(`tls = {
    ca_cert = file(%q)
    cert    = file(%q)
    key     = file(%q)
  }`, sb.CACertFile, sb.ClientCertFile, sb.ClientKeyFile)
}

// StartTLSWriter is StartWriter for a sandbox started with Options.TLS,
// whose members require the client certificate. The writer's client talks
// plain gRPC to one local relay per member; each relay opens its own TLS
// connection to that member, with the client certificate, for every
// connection it accepts. A relay holds no state, so the client sees a
// member's restart as it would directly: its connection drops and redials
// fail until the member is back.
func StartTLSWriter(t *testing.T, sb *testhosts.Sandbox, clients int) *Writer {
	t.Helper()
	cfg, err := sb.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		t.Fatal("StartTLSWriter: the sandbox was not started with Options.TLS")
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"} // etcd serves gRPC over TLS only as HTTP/2 negotiated by ALPN
	var endpoints []string
	for _, h := range sb.Hosts {
		r, err := startTLSRelay(strings.TrimPrefix(h.ClientURL, "https://"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Cleanups run last-in first-out: the writer, registered below,
		// stops before its relays do.
		t.Cleanup(r.close)
		endpoints = append(endpoints, "http://"+r.addr())
	}
	return StartWriter(t, endpoints, clients)
}

type tlsRelay struct {
	l      net.Listener
	target string
	cfg    *tls.Config
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func startTLSRelay(target string, cfg *tls.Config) (*tlsRelay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &tlsRelay{l: l, target: target, cfg: cfg, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *tlsRelay) addr() string { return r.l.Addr().String() }

func (r *tlsRelay) serve() {
	defer r.wg.Done()
	for {
		in, err := r.l.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.relay(in)
		}()
	}
}

func (r *tlsRelay) relay(in net.Conn) {
	defer in.Close()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: r.cfg}
	out, err := d.Dial("tcp", r.target)
	if err != nil {
		return // the member is down: the client sees a dropped connection
	}
	defer out.Close()
	if !r.track(in, out) {
		return
	}
	defer r.untrack(in, out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Either side ending ends both, as one TCP connection would.
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// track records a live pair so close can cut it; false once closed.
func (r *tlsRelay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		return false
	}
	for _, c := range cs {
		r.conns[c] = true
	}
	return true
}

func (r *tlsRelay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		delete(r.conns, c)
	}
}

func (r *tlsRelay) close() {
	err := r.l.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	if err == nil || errors.Is(err, net.ErrClosed) {
		r.wg.Wait()
	}
}
