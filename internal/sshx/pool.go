package sshx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	// keepaliveInterval is how often an idle connection is probed. A rollout
	// can wait minutes on health gates between commands to the same host; a
	// connection that died silently in that time is then found and closed
	// before the next command, not after a long TCP timeout.
	keepaliveInterval = 30 * time.Second

	// maxSessions bounds concurrent commands per connection. OpenSSH's
	// MaxSessions defaults to 10; staying at half leaves room for the extra
	// session each cancellation opens to kill its command.
	maxSessions = 5
)

// Pool holds one SSH connection per host address, opened on first use and
// shared by every command to that host. It is safe for concurrent use.
type Pool struct {
	cfg     Config
	target  authSource
	bastion authSource
	timeout time.Duration

	keysMu sync.Mutex
	keys   *hostKeys // loaded on first dial; see hostKeyCallback

	mu     sync.Mutex
	hosts  map[string]*Host
	closed bool

	bastionConn slot

	dials atomic.Int64
}

// NewPool checks cfg and parses its keys. It opens no connection and does not
// read known_hosts yet, so a provider that never needs SSH (e.g. only reads
// etcd) does not fail on SSH settings it does not use.
func NewPool(cfg Config) (*Pool, error) {
	p := &Pool{
		cfg:         cfg,
		timeout:     cfg.connectTimeout(),
		hosts:       map[string]*Host{},
		bastionConn: newSlot(),
	}
	p.target = authSource{user: cfg.user(), agent: cfg.Agent}
	if len(cfg.PrivateKey) > 0 {
		s, err := ParsePrivateKey(cfg.PrivateKey, cfg.Passphrase)
		if err != nil {
			return nil, fmt.Errorf("ssh private key: %w", err)
		}
		p.target.signers = []ssh.Signer{s}
	}
	if !cfg.Agent && len(p.target.signers) == 0 {
		return nil, errors.New("no SSH credentials: set a private key or enable the ssh-agent")
	}
	if b := cfg.Bastion; b != nil {
		if b.Host == "" {
			return nil, errors.New("ssh bastion: host is empty")
		}
		p.bastion = authSource{user: b.User, agent: cfg.Agent, signers: p.target.signers}
		if p.bastion.user == "" {
			p.bastion.user = p.target.user
		}
		if len(b.PrivateKey) > 0 {
			s, err := ParsePrivateKey(b.PrivateKey, b.Passphrase)
			if err != nil {
				return nil, fmt.Errorf("ssh bastion private key: %w", err)
			}
			p.bastion.signers = []ssh.Signer{s}
		}
	}
	return p, nil
}

// CheckKnownHosts reads the known_hosts file now, for callers that want a
// missing or unreadable file reported before the first connection.
func (p *Pool) CheckKnownHosts() error {
	_, err := p.hostKeyCallback()
	return err
}

// Dials returns how many SSH connections the pool has established, bastion
// connections included.
func (p *Pool) Dials() int { return int(p.dials.Load()) }

// Host returns the handle for addr. port 0 means the Config's port; addr may
// also carry its own port ("10.0.0.1:2222", "[::1]:22") when port is 0.
// The same address always yields the same *Host, so its connection is shared.
func (p *Pool) Host(addr string, port int) *Host {
	if port == 0 {
		if h, ps, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(ps); err == nil {
				addr, port = h, n
			}
		}
	}
	if port == 0 {
		port = p.cfg.port()
	}
	key := net.JoinHostPort(addr, strconv.Itoa(port))
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.hosts[key]
	if !ok {
		h = &Host{pool: p, addr: key, conn: newSlot(), sessions: make(chan struct{}, maxSessions)}
		p.hosts[key] = h
	}
	return h
}

// Close closes every connection. Commands still running fail; later calls
// to Run or Upload return an error.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	hosts := make([]*Host, 0, len(p.hosts))
	for _, h := range p.hosts {
		hosts = append(hosts, h)
	}
	p.mu.Unlock()
	for _, h := range hosts {
		h.conn.close()
	}
	// The bastion last: target connections run through it.
	p.bastionConn.close()
	return nil
}

func (p *Pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

var errPoolClosed = errors.New("ssh: pool is closed")

// hostKeyCallback loads known_hosts once; a failed load is not cached, so a
// file created after the first attempt is picked up.
func (p *Pool) hostKeyCallback() (*hostKeys, error) {
	if p.cfg.InsecureIgnoreHostKey {
		return nil, nil
	}
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	if p.keys != nil {
		return p.keys, nil
	}
	file, err := p.cfg.knownHostsFile()
	if err != nil {
		return nil, err
	}
	k, err := loadKnownHosts(file)
	if err != nil {
		return nil, err
	}
	p.keys = k
	return k, nil
}

// clientConfig builds the handshake settings for one address.
func (p *Pool) clientConfig(addr string, auth []ssh.AuthMethod, user string) (*ssh.ClientConfig, error) {
	cc := &ssh.ClientConfig{User: user, Auth: auth, Timeout: p.timeout}
	keys, err := p.hostKeyCallback()
	if err != nil {
		return nil, err
	}
	if keys == nil {
		cc.HostKeyCallback = ssh.InsecureIgnoreHostKey()
	} else {
		cc.HostKeyCallback = keys.callback
		cc.HostKeyAlgorithms = keys.algorithms(addr)
	}
	return cc, nil
}

// dialTarget opens a connection to addr, directly or through the bastion.
func (p *Pool) dialTarget(ctx context.Context, addr string) (*conn, error) {
	if p.cfg.Bastion == nil {
		nc, err := p.dialTCP(ctx, addr)
		if err != nil {
			return nil, err
		}
		return p.handshake(ctx, nc, addr, p.target)
	}
	// Through the bastion. If its connection has died since it was last
	// used, the tunnel fails: drop it and retry once on a fresh one.
	for attempt := 0; ; attempt++ {
		b, err := p.bastionConn.get(ctx, func(ctx context.Context) (*conn, error) { return p.dialBastion(ctx) })
		if err != nil {
			return nil, err
		}
		tctx, cancel := context.WithTimeout(ctx, p.timeout)
		nc, err := b.client.DialContext(tctx, "tcp", addr)
		cancel()
		if err != nil {
			if ctx.Err() == nil && attempt == 0 && !b.alive() {
				p.bastionConn.drop(b)
				continue
			}
			return nil, fmt.Errorf("ssh: connecting to %s through bastion %s: %w", addr, b.addr, err)
		}
		return p.handshake(ctx, nc, addr, p.target)
	}
}

func (p *Pool) dialBastion(ctx context.Context) (*conn, error) {
	b := p.cfg.Bastion
	port := b.Port
	if port == 0 {
		port = DefaultPort
	}
	addr := net.JoinHostPort(b.Host, strconv.Itoa(port))
	nc, err := p.dialTCP(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("bastion: %w", err)
	}
	c, err := p.handshake(ctx, nc, addr, p.bastion)
	if err != nil {
		var hke *HostKeyError
		if errors.As(err, &hke) {
			return nil, err // already names the bastion's address
		}
		return nil, fmt.Errorf("bastion: %w", err)
	}
	return c, nil
}

func (p *Pool) dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.timeout, KeepAlive: keepaliveInterval}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh: connecting to %s: %w", addr, err)
	}
	return nc, nil
}

// handshake runs the SSH handshake on nc, bounded by ctx and ConnectTimeout.
// Deadlines cannot be used (a tunnelled conn does not support them), so the
// conn is closed when either ends, which aborts the handshake.
func (p *Pool) handshake(ctx context.Context, nc net.Conn, addr string, auth authSource) (*conn, error) {
	methods, closeAgent, err := auth.methods()
	defer closeAgent()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ssh %s@%s: %w", auth.user, addr, err)
	}
	cc, err := p.clientConfig(addr, methods, auth.user)
	if err != nil {
		nc.Close()
		return nil, err
	}

	hctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	stop := context.AfterFunc(hctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cc)
	if !stop() {
		// The conn was closed under the handshake (or just after it).
		if sc != nil {
			sc.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh: connecting to %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("ssh: connecting to %s: handshake timed out after %s", addr, p.timeout)
	}
	if err != nil {
		nc.Close()
		var hke *HostKeyError
		if errors.As(err, &hke) {
			return nil, hke
		}
		if isAuthFailure(err) {
			return nil, fmt.Errorf("ssh %s@%s: authentication failed (tried %s): %w", auth.user, addr, auth.describe(), err)
		}
		return nil, fmt.Errorf("ssh %s@%s: %w", auth.user, addr, err)
	}
	p.dials.Add(1)
	c := newConn(ssh.NewClient(sc, chans, reqs), addr, p.timeout)
	if p.isClosed() {
		c.close()
		return nil, errPoolClosed
	}
	return c, nil
}

func isAuthFailure(err error) bool {
	var se *ssh.ServerAuthError
	if errors.As(err, &se) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") || strings.Contains(s, "no supported methods remain")
}

// conn is one established SSH connection.
type conn struct {
	client *ssh.Client
	addr   string
	done   chan struct{} // closed once the connection is gone, for any reason
}

func newConn(client *ssh.Client, addr string, timeout time.Duration) *conn {
	c := &conn{client: client, addr: addr, done: make(chan struct{})}
	go func() {
		_ = client.Wait()
		close(c.done)
	}()
	go c.keepalive(timeout)
	return c
}

func (c *conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

func (c *conn) close() { _ = c.client.Close() }

// keepalive probes the connection with the keepalive@openssh.com request
// OpenSSH answers, and closes it when no answer comes within timeout. Closing
// makes running commands fail instead of hanging, and the next command redial.
func (c *conn) keepalive(timeout time.Duration) {
	t := time.NewTicker(keepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(timeout)
		select {
		case <-c.done:
			timer.Stop()
			return
		case err := <-reply:
			timer.Stop()
			if err != nil {
				c.close()
				return
			}
		case <-timer.C:
			c.close()
			return
		}
	}
}

// slot holds at most one live connection and serialises dialling it, so that
// concurrent first uses of a host open one connection, not several. The
// one-element channel is the lock, so that waiting for it honours ctx.
type slot struct {
	lock chan struct{}
	mu   sync.Mutex // guards c, which close() reads without the dial lock
	c    *conn
}

func newSlot() slot { return slot{lock: make(chan struct{}, 1)} }

// get returns the live connection, dialling a new one if there is none or the
// current one has died.
func (s *slot) get(ctx context.Context, dial func(context.Context) (*conn, error)) (*conn, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()

	s.mu.Lock()
	c := s.c
	s.mu.Unlock()
	if c != nil && c.alive() {
		return c, nil
	}
	if c != nil {
		c.close()
	}
	nc, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.c = nc
	s.mu.Unlock()
	return nc, nil
}

// drop forgets c (if it is still the current connection) and closes it.
func (s *slot) drop(c *conn) {
	s.mu.Lock()
	if s.c == c {
		s.c = nil
	}
	s.mu.Unlock()
	c.close()
}

func (s *slot) close() {
	s.mu.Lock()
	c := s.c
	s.c = nil
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}
