// Package etcdx is the provider's etcd client: it observes a cluster member by
// member, and performs the few maintenance calls a rollout needs (snapshot,
// move-leader). It takes plain Go values, so it can be used without Terraform.
package etcdx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config holds how to reach a cluster. TLS material is PEM content, not paths,
// so it can come straight from Terraform configuration.
type Config struct {
	Endpoints   []string
	CACert      []byte
	Cert        []byte
	Key         []byte
	Username    string
	Password    string
	DialTimeout time.Duration // default 5s
	CallTimeout time.Duration // per member call; default 5s
}

// Client talks to one cluster. It keeps one gRPC client per endpoint, because
// health checks must reach a given member and not whichever the balancer picks.
type Client struct {
	cfg     Config
	tls     *tls.Config
	http    *http.Client
	mu      sync.Mutex
	clients map[string]*clientv3.Client
}

// New validates cfg and prepares a client; it dials lazily.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("no etcd endpoints given")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	tlsCfg, err := TLSConfig(cfg.CACert, cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	return &Client{
		cfg:     cfg,
		tls:     tlsCfg,
		http:    &http.Client{Transport: transport, Timeout: cfg.CallTimeout},
		clients: map[string]*clientv3.Client{},
	}, nil
}

// TLSConfig builds a client TLS configuration from PEM contents. It returns
// nil when no TLS material is given (plain http endpoints).
func TLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	if len(caPEM) == 0 && len(certPEM) == 0 && len(keyPEM) == 0 {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("tls.ca_cert: no PEM certificate found")
		}
		cfg.RootCAs = pool
	}
	if (len(certPEM) == 0) != (len(keyPEM) == 0) {
		return nil, errors.New("tls.cert and tls.key must be set together")
	}
	if len(certPEM) > 0 {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Close releases every connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for ep, cl := range c.clients {
		errs = append(errs, cl.Close())
		delete(c.clients, ep)
	}
	return errors.Join(errs...)
}

func (c *Client) endpoint(endpoints ...string) (*clientv3.Client, error) {
	key := strings.Join(endpoints, ",")
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[key]; ok {
		return cl, nil
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          c.cfg.DialTimeout,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		TLS:                  c.tls,
		Username:             c.cfg.Username,
		Password:             c.cfg.Password,
		Logger:               zap.NewNop(),
		// gRPC's default reconnect backoff grows to two minutes; a gate
		// watching a member restart must see it as soon as it listens.
		// With a 2 s ceiling a member stopped for a few seconds was
		// redialled up to 2 s after it served (on average 1 s of every
		// member's stop-to-healthy, measured by make bench); a dial to a
		// loopback or LAN port that refuses costs next to nothing.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 250 * time.Millisecond},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, err
	}
	c.clients[key] = cl
	return cl, nil
}

// Cluster returns a client balanced over every configured endpoint.
func (c *Client) Cluster() (*clientv3.Client, error) { return c.endpoint(c.cfg.Endpoints...) }

// Member is what one member looks like right now.
type Member struct {
	ID         uint64
	Name       string
	ClientURLs []string
	PeerURLs   []string
	IsLearner  bool

	// From the member's own Status; zero when it did not answer.
	Reachable    bool
	Version      string
	DBSize       int64
	IsLeader     bool
	RaftTerm     uint64
	RaftIndex    uint64
	AppliedIndex uint64
	Errors       []string
	// From 3.6 on: the version of the member's data, and the downgrade job
	// the member knows of. A 3.5 member reports neither (DowngradeKnown
	// false, StorageVersion "").
	StorageVersion   string
	DowngradeKnown   bool
	DowngradeEnabled bool
	DowngradeTarget  string
	// Healthy means: Status answered without errors and a linearizable read
	// through this member succeeded, as `etcdctl endpoint health` checks.
	Healthy bool
	Problem string // why it is not healthy, for diagnostics
}

// IDHex is the member ID the way etcdctl prints it.
func (m Member) IDHex() string { return strconv.FormatUint(m.ID, 16) }

// View is a whole-cluster observation.
type View struct {
	ClusterID      uint64
	ClusterVersion string // from GET /version; "" when no member answered
	Members        []Member
	Alarms         []string
	AlarmErr       error    // why the alarms could not be listed; nil when they were
	Tried          []string // endpoints that were tried for the member list
}

// ClusterIDHex is the cluster ID the way etcdctl prints it.
func (v *View) ClusterIDHex() string { return strconv.FormatUint(v.ClusterID, 16) }

// Leader returns the leading member, if any member reported one.
func (v *View) Leader() (Member, bool) {
	for _, m := range v.Members {
		if m.IsLeader {
			return m, true
		}
	}
	return Member{}, false
}

// Downgrade tells whether a downgrade job is enabled, as the first member
// that reports it (3.6 and later) says, and to which version; known is
// false when no member reports it (every answering member runs 3.5).
func (v *View) Downgrade() (enabled bool, target string, known bool) {
	for _, m := range v.Members {
		if m.DowngradeKnown {
			return m.DowngradeEnabled, m.DowngradeTarget, true
		}
	}
	return false, "", false
}

// Member finds a member by name.
func (v *View) Member(name string) (Member, bool) {
	for _, m := range v.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// NoEndpointError says that not one endpoint answered.
type NoEndpointError struct {
	Tried []string
	Err   error
}

func (e *NoEndpointError) Error() string {
	return fmt.Sprintf("no etcd endpoint answered (tried %s): %v", strings.Join(e.Tried, ", "), e.Err)
}

func (e *NoEndpointError) Unwrap() error { return e.Err }

// IsOutage tells whether err says the cluster is away (no endpoint
// answered: refused, timed out) rather than that the provider's settings
// do not fit it (a certificate the cluster or the client does not accept).
func IsOutage(err error) bool {
	var none *NoEndpointError
	if !errors.As(err, &none) {
		return false
	}
	// A handshake the cluster turned down ("remote error: tls: certificate
	// required") reaches us only as text.
	var verify *tls.CertificateVerificationError
	msg := err.Error()
	if errors.As(err, &verify) || strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ") {
		return false
	}
	// Credentials the cluster turned down.
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) {
		switch grpcErr.GRPCStatus().Code() {
		case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition:
			return false
		}
	}
	return !errors.Is(err, rpctypes.ErrAuthFailed) && !strings.Contains(msg, "authentication failed")
}

// Observe lists the members and asks each one for its status and health, in
// parallel. A member that does not answer is reported unhealthy, not as an
// error: only a cluster where no endpoint answers is an error.
func (c *Client) Observe(ctx context.Context) (*View, error) {
	view := &View{Tried: c.cfg.Endpoints}
	list, err := c.memberList(ctx)
	if err != nil {
		return nil, &NoEndpointError{Tried: c.cfg.Endpoints, Err: err}
	}
	view.ClusterID = list.Header.GetClusterId()
	for _, m := range list.Members {
		view.Members = append(view.Members, Member{
			ID: m.ID, Name: m.Name, ClientURLs: m.ClientURLs, PeerURLs: m.PeerURLs, IsLearner: m.IsLearner,
		})
	}
	sort.Slice(view.Members, func(i, j int) bool { return view.Members[i].Name < view.Members[j].Name })

	var wg sync.WaitGroup
	for i := range view.Members {
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			c.probe(ctx, m)
		}(&view.Members[i])
	}
	wg.Wait()

	for _, m := range view.Members {
		if !m.Reachable {
			continue
		}
		if v, err := c.ClusterVersion(ctx, m.ClientURLs[0]); err == nil {
			view.ClusterVersion = v
			break
		}
	}
	view.Alarms, view.AlarmErr = c.alarms(ctx)
	return view, nil
}

// alarms lists the cluster's active alarms. The error is kept, not
// dropped: a check that cannot be answered must not read as "no alarms".
func (c *Client) alarms(ctx context.Context) ([]string, error) {
	cl, err := c.Cluster()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	resp, err := cl.AlarmList(cctx)
	if err != nil {
		return nil, explainPermission(err, "alarm list")
	}
	var out []string
	for _, a := range resp.Alarms {
		out = append(out, fmt.Sprintf("%s on member %x", a.Alarm, a.MemberID))
	}
	return out, nil
}

func (c *Client) memberList(ctx context.Context) (*clientv3.MemberListResponse, error) {
	var errs []error
	// One endpoint at a time, so a single stopped member cannot stall the list
	// behind the balancer's retries.
	for _, ep := range c.cfg.Endpoints {
		cl, err := c.endpoint(ep)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		resp, err := cl.MemberList(cctx)
		cancel()
		if err == nil {
			return resp, nil
		}
		// clientv3 reports a connection that never comes up only as a
		// deadline; say why: refused, an unknown CA, no client certificate.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if why := c.explainDial(ctx, ep); why != nil {
				err = fmt.Errorf("%w: %w", err, why)
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// explainDial says why a connection to endpoint does not come up.
func (c *Client) explainDial(ctx context.Context, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	d := &net.Dialer{}
	if u.Scheme != "https" {
		conn, err := d.DialContext(dctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tls != nil {
		cfg = c.tls.Clone()
	}
	conn, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(dctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A TLS 1.3 server turns a client certificate down after the handshake,
	// with an alert that only a read returns.
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	}
	return nil
}

// probe fills m's live fields from its first client URL.
func (c *Client) probe(ctx context.Context, m *Member) {
	if len(m.ClientURLs) == 0 {
		m.Problem = "member has not published a client URL yet (not started?)"
		return
	}
	ep := m.ClientURLs[0]
	st, err := c.Status(ctx, ep)
	if err != nil {
		m.Problem = fmt.Sprintf("status from %s: %v", ep, err)
		return
	}
	m.Reachable = true
	m.Version = st.Version
	m.DBSize = st.DbSize
	m.IsLeader = st.Leader == st.Header.GetMemberId() && st.Leader != 0
	m.RaftTerm = st.RaftTerm
	m.RaftIndex = st.RaftIndex
	m.AppliedIndex = st.RaftAppliedIndex
	m.Errors = st.Errors
	m.StorageVersion = st.StorageVersion
	if di := st.DowngradeInfo; di != nil {
		m.DowngradeKnown, m.DowngradeEnabled, m.DowngradeTarget = true, di.Enabled, di.TargetVersion
	}
	if len(st.Errors) > 0 {
		m.Problem = "member reports: " + strings.Join(st.Errors, "; ")
		return
	}
	if err := c.LinearizableRead(ctx, ep); err != nil {
		m.Problem = fmt.Sprintf("linearizable read through %s: %v", ep, err)
		return
	}
	m.Healthy = true
}

// Status asks one endpoint for its own status.
func (c *Client) Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	cl, err := c.endpoint(endpoint)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	return cl.Status(cctx, endpoint)
}

// LinearizableRead performs the read `etcdctl endpoint health` uses: it only
// succeeds when the member is part of a quorum with a leader. Permission
// denied still proves that, as etcdctl also accepts, and so does "user name
// is empty": etcd checks the caller only after the read's quorum round.
func (c *Client) LinearizableRead(ctx context.Context, endpoint string) error {
	cl, err := c.endpoint(endpoint)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	_, err = cl.Get(cctx, "health")
	if err == nil || errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserEmpty) {
		return nil
	}
	return err
}

// ClusterVersion reads GET <endpoint>/version, the same value etcd's guide
// checks with curl.
func (c *Client) ClusterVersion(ctx context.Context, endpoint string) (string, error) {
	var v struct {
		Server  string `json:"etcdserver"`
		Cluster string `json:"etcdcluster"`
	}
	if err := c.getJSON(ctx, strings.TrimRight(endpoint, "/")+"/version", &v); err != nil {
		return "", err
	}
	return v.Cluster, nil
}

// GatewayAnswers tells whether the member's HTTP/JSON gateway serves a
// range request, as clients such as Patroni's etcd3 backend use it. Any
// answer but 404 counts: with auth on, a 401 still proves the gateway is
// there. Only a refused connection or a timeout is an error.
func (c *Client) GatewayAnswers(ctx context.Context, endpoint string) (bool, error) {
	url := strings.TrimRight(endpoint, "/") + "/v3/kv/range"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"key":"AA=="}`))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode != http.StatusNotFound, nil
}

func (c *Client) getJSON(ctx context.Context, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(into)
}

// AuthEnabled tells whether auth is on. etcd answers AuthStatus only to
// authenticated users once auth is enabled, so "user name is empty" also
// means enabled. 3.4 members do not know AuthStatus; each endpoint is asked
// in turn until one that does answers.
func (c *Client) AuthEnabled(ctx context.Context) (bool, error) {
	var errs []error
	for _, ep := range c.cfg.Endpoints {
		cl, err := c.endpoint(ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
		resp, err := cl.AuthStatus(cctx)
		cancel()
		switch {
		case err == nil:
			return resp.Enabled, nil
		case errors.Is(err, rpctypes.ErrUserEmpty), strings.Contains(err.Error(), "user name is empty"),
			// Only a root user may ask once auth is on.
			errors.Is(err, rpctypes.ErrPermissionDenied):
			return true, nil
		case status.Code(err) == codes.Unimplemented:
			errs = append(errs, fmt.Errorf("%s runs a version without AuthStatus (3.4)", ep))
		default:
			errs = append(errs, fmt.Errorf("%s: %w", ep, err))
		}
	}
	return false, errors.Join(errs...)
}

// PermissionError says the configured user may not make the maintenance
// calls a rollout needs.
type PermissionError struct {
	User  string
	Roles []string // the user's roles, when they could be read
}

func (e *PermissionError) Error() string {
	if e.User == "" {
		return "the provider has no username"
	}
	roles := "no roles"
	if len(e.Roles) > 0 {
		roles = "roles " + strings.Join(e.Roles, ", ")
	}
	return fmt.Sprintf("user %q has %s, not root", e.User, roles)
}

// CheckAdmin tells whether the configured credentials may make the calls a
// rollout needs: with auth on, etcd allows the snapshot (and, from 3.6 on,
// member status, move-leader and the downgrade API) to the root role only.
// Listing roles is allowed to exactly those callers (root, or anyone while
// auth is off), so it is the probe. It returns a *PermissionError when the
// user lacks root, and another error when the question cannot be answered.
func (c *Client) CheckAdmin(ctx context.Context) error {
	cl, err := c.Cluster()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	_, err = cl.RoleList(cctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpctypes.ErrPermissionDenied), errors.Is(err, rpctypes.ErrUserEmpty):
		perr := &PermissionError{User: c.cfg.Username}
		if perr.User != "" {
			if resp, err := cl.UserGet(cctx, perr.User); err == nil {
				perr.Roles = resp.Roles
			}
		}
		return perr
	default:
		return fmt.Errorf("checking the user's permissions (role list): %w", err)
	}
}

// explainPermission adds to a permission error which call it was.
func explainPermission(err error, call string) error {
	if errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrUserEmpty) {
		return fmt.Errorf("%s: %w (with auth enabled this needs the root role)", call, err)
	}
	return fmt.Errorf("%s: %w", call, err)
}

// MoveLeader hands leadership to the member with ID to. It must be sent to
// the current leader.
func (c *Client) MoveLeader(ctx context.Context, leaderEndpoint string, to uint64) error {
	cl, err := c.endpoint(leaderEndpoint)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout*2)
	defer cancel()
	_, err = cl.MoveLeader(cctx, to)
	return err
}

// Snapshot streams a snapshot of the member at endpoint into w and returns
// the revision it contains at least: the revision of a read made just
// before, through the same member.
func (c *Client) Snapshot(ctx context.Context, endpoint string, w io.Writer) (int64, error) {
	cl, err := c.endpoint(endpoint)
	if err != nil {
		return 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	resp, err := cl.Get(cctx, "health", clientv3.WithSerializable(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reading the revision before the snapshot: %w", err)
	}
	rev := resp.Header.GetRevision()
	rc, err := cl.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return 0, err
	}
	return rev, nil
}
