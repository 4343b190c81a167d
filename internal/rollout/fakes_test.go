package rollout

// Fakes for the executor tests.
//
// The executor is covered for real by the acceptance tests, against real
// sshd hosts and real etcd members (internal/resources). These fakes exist
// only to force faults that cannot be produced for real deterministically:
// a member that never passes its gate, a put-back that fails too, a cancel
// at the exact moment a member is stopped, a snapshot whose trailer is
// corrupted in transfer, leadership moving on its own at a chosen point.
//
// Only etcd is faked. The fake host runs every command the executor sends
// in a real shell (sh -c) in a directory of its own, with relative paths in
// the Spec, so the executor's cp/mv/if/cat command lines really act on
// files, and the fake service script records which binary and config etcd
// "started" with. The fake cluster reads those files back to decide what
// each member runs.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Paths and commands inside each fake host's directory.
const (
	fakeBinary     = "usr/local/bin/etcd"
	fakeConfig     = "etc/etcd/etcd.env"
	fakeStart      = "./systemctl start etcd"
	fakeStop       = "./systemctl stop etcd"
	fakeLogCommand = "tail -n 40 run/journal"
	fakeClusterID  = 0xc0ffee
)

// systemctlScript stands in for systemd: it remembers which binary and
// config etcd was started with.
const systemctlScript = `#!/bin/sh
case "$1" in
start)
	[ -e run/pid ] && exit 0
	cp usr/local/bin/etcd run/binary || exit 1
	cp etc/etcd/etcd.env run/config || exit 1
	echo $$ > run/pid
	echo "started: $(./usr/local/bin/etcd --version | head -n 1)" >> run/journal
	;;
stop)
	rm -f run/pid
	echo "stopped" >> run/journal
	;;
*)
	echo "usage: systemctl start|stop etcd" >&2
	exit 2
	;;
esac
`

// fakeEtcdBinary is a "binary" that answers --version like etcd.
func fakeEtcdBinary(version string) string {
	return fmt.Sprintf("#!/bin/sh\n# fake etcd %[1]s\necho \"etcd Version: %[1]s\"\necho \"Git SHA: fake\"\necho \"Go Version: go1.22.12\"\necho \"Go OS/Arch: linux/amd64\"\n", version)
}

var etcdVersionLine = regexp.MustCompile(`etcd Version: ([0-9]+\.[0-9]+\.[0-9]+)`)

type event struct {
	host string // member name, or "cluster" for etcd API calls
	what string // the command line, "upload <path> <mode>", or an API call
}

type fakeMember struct {
	id      uint64
	name    string
	url     string
	dir     string
	up      bool   // running and serving
	version string // the version it runs, when up
	config  string // the config it started with
	crash   string // why it is down although its service was started
	pid     string // the service's run/pid; a new one is a new start

	// Its raft indexes, as its Status reports them: committed is the
	// highest entry it knows committed (RaftIndex; the leader's is the
	// cluster's index), applied the highest it has applied
	// (RaftAppliedIndex), never above committed. They move in catchUp.
	committed uint64
	applied   uint64
	// applyLag keeps applied this many entries behind committed.
	applyLag uint64
	// applyStuck stops applied where it is, as a wedged apply loop would,
	// while committed still follows the leader.
	applyStuck bool
}

// fakeCluster is etcd as the executor sees it. Members are up when their
// host's service script has started them and nothing makes them crash.
type fakeCluster struct {
	mu             sync.Mutex
	members        []*fakeMember // by name
	leader         uint64
	index          uint64 // the leader's committed index; every Observe adds 3, as clients keep writing
	dataMinor      int    // the minor of the data directories: 5 for a cluster that ran 3.5
	clusterVersion string
	events         []event
	violations     []string
	snapshot       []byte
	rev            int64
	adminErr       error // what CheckAdmin returns
	alarmErr       error // why the alarms cannot be listed

	// crashOn, when set, makes a started member crash: it returns why.
	crashOn func(name, version string) string
	// fault, when set, replaces a command on a host with its result.
	fault func(host, cmd string) (sshx.Result, bool)
	// afterRun runs after each command, outside the lock.
	afterRun func(host, cmd string)
	// dropAfter, when it returns true, runs the command and then reports a
	// lost SSH connection instead of its result.
	dropAfter func(host, cmd string) bool
	// watchQuorum records a violation whenever the cluster loses quorum.
	watchQuorum bool
	// appliedOf, when set, decides the applied index Status reports for an
	// up member, apart from its committed index: it gets the member's name
	// and the leader's committed index and returns the applied index, or
	// false to keep the fake's own. It runs under the cluster's lock.
	appliedOf func(name string, committed uint64) (uint64, bool)
	// onStatus, when set, sees every Status answer, under the lock.
	onStatus func(name string, st *clientv3.StatusResponse)
	// observeErr, when set, makes the next Observe fail with it, once.
	observeErr error
	// job is the downgrade job's target minor, 0 when none is enabled.
	job int
	// downgradeCalls lists the downgrade API calls, "enable 3.5".
	downgradeCalls []string
}

func (c *fakeCluster) record(host, what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, event{host, what})
	return len(c.events) - 1
}

func (c *fakeCluster) member(name string) *fakeMember {
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

func (c *fakeCluster) byURL(url string) *fakeMember {
	for _, m := range c.members {
		if m.url == url {
			return m
		}
	}
	return nil
}

func (c *fakeCluster) quorum() bool {
	up := 0
	for _, m := range c.members {
		if m.up {
			up++
		}
	}
	return up > len(c.members)/2
}

func (c *fakeCluster) leaderMember() *fakeMember {
	for _, m := range c.members {
		if m.id == c.leader && m.up {
			return m
		}
	}
	return nil
}

// sync reads what a host's service runs, after a command ran there. A
// member's fate (its version, a crash) is decided when its service starts,
// as with a real process.
func (c *fakeCluster) sync(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.member(name)
	pid, err := os.ReadFile(filepath.Join(m.dir, "run/pid"))
	if err != nil {
		pid = nil
	}
	if string(pid) == m.pid {
		return
	}
	m.pid = string(pid)
	m.up, m.crash = false, ""
	if pid != nil {
		bin, _ := os.ReadFile(filepath.Join(m.dir, "run/binary"))
		cfg, _ := os.ReadFile(filepath.Join(m.dir, "run/config"))
		m.config = string(cfg)
		m.version = ""
		if sm := etcdVersionLine.FindSubmatch(bin); sm != nil {
			m.version = string(sm[1])
			m.crash = c.crashReason(m)
		} else {
			m.crash = "not an etcd binary"
		}
		m.up = m.crash == ""
		// A restarted member replays what it missed.
		m.committed = c.index - min(c.index, 40)
		m.applied = m.committed - min(m.committed, m.applyLag)
	}
	c.elect()
	if c.watchQuorum && !c.quorum() {
		c.violations = append(c.violations, fmt.Sprintf("quorum lost when %s changed", name))
	}
}

// kill makes a member fail on its own, outside the executor's doing.
func (c *fakeCluster) kill(name, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.member(name)
	m.up, m.crash = false, why
	c.events = append(c.events, event{"cluster", name + " failed on its own: " + why})
	c.elect()
}

// crashReason applies what real etcd refuses, plus the test's own faults.
func (c *fakeCluster) crashReason(m *fakeMember) string {
	v, err := etcdconf.ParseVersion(m.version)
	if err != nil {
		return "bad version " + m.version
	}
	if c.crashOn != nil {
		if why := c.crashOn(m.name, m.version); why != "" {
			return why
		}
	}
	// A 3.4 member on 3.5 data needs next-cluster-version-compatible.
	if v.Minor == 4 && c.dataMinor == 5 && !strings.Contains(m.config, "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true") {
		return "cluster cannot be downgraded"
	}
	// Nor does etcd start below the cluster version its leader raised
	// (mustDetectDowngrade); next-cluster-version-compatible lets 3.4 accept
	// one minor more.
	if cv, err := etcdconf.ParseVersion(c.clusterVersion); err == nil && cv.Major == v.Major {
		limit := v.Minor
		if v.Minor == 4 && strings.Contains(m.config, "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true") {
			limit++
		}
		if limit < cv.Minor {
			return fmt.Sprintf("cluster cannot be downgraded (current version: %s is lower than determined cluster version: %d.%d)", m.version, cv.Major, cv.Minor)
		}
	}
	// 3.5 removed capnslog.
	if v.Minor == 5 && strings.Contains(m.config, "ETCD_LOGGER=capnslog") {
		return "--logger=capnslog is removed in v3.5"
	}
	return ""
}

// elect makes the first member up by name the leader when the leader is
// gone, as an election would.
func (c *fakeCluster) elect() {
	if c.leaderMember() != nil {
		return
	}
	c.leader = 0
	if !c.quorum() {
		return
	}
	for _, m := range c.members {
		if m.up {
			c.leader = m.id
			return
		}
	}
}

// setLeader moves leadership on its own, as an election after a network
// blip would.
func (c *fakeCluster) setLeader(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = c.member(name).id
	c.events = append(c.events, event{"cluster", "leadership moved on its own to " + name})
}

func (c *fakeCluster) computeClusterVersion() {
	if c.job != 0 {
		// The leader lowers the cluster version at once (etcd: within its
		// 4 s loop), and ends the job when every member runs the target.
		c.clusterVersion = fmt.Sprintf("3.%d.0", c.job)
		for _, m := range c.members {
			if v, _ := etcdconf.ParseVersion(m.version); !m.up || v.Minor != c.job {
				return
			}
		}
		c.job = 0
		c.events = append(c.events, event{"cluster", "the cluster has been downgraded"})
		return
	}
	lowest := etcdconf.Version{}
	for _, m := range c.members {
		if !m.up {
			return // the leader only decides with every member answering
		}
		v, _ := etcdconf.ParseVersion(m.version)
		if lowest == (etcdconf.Version{}) || v.Compare(lowest) < 0 {
			lowest = v
		}
	}
	c.clusterVersion = lowest.ClusterVersion()
}

func (c *fakeCluster) Observe(ctx context.Context) (*etcdx.View, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index += 3 // clients keep writing
	if err := c.observeErr; err != nil {
		c.observeErr = nil
		return nil, err
	}
	if !c.anyUp() {
		return nil, &etcdx.NoEndpointError{Err: errors.New("connection refused")}
	}
	c.computeClusterVersion()
	view := &etcdx.View{ClusterID: fakeClusterID, ClusterVersion: c.clusterVersion, AlarmErr: c.alarmErr}
	for _, m := range c.members {
		em := etcdx.Member{ID: m.id, Name: m.name, ClientURLs: []string{m.url}, PeerURLs: []string{strings.Replace(m.url, ":2379", ":2380", 1)}}
		if m.up {
			em.Reachable = true
			em.Version = m.version
			em.DBSize = int64(len(c.snapshot))
			em.IsLeader = m.id == c.leader
			if v, _ := etcdconf.ParseVersion(m.version); v.Minor >= 6 {
				em.StorageVersion = c.clusterVersion
				em.DowngradeKnown, em.DowngradeEnabled = true, c.job != 0
				if c.job != 0 {
					em.DowngradeTarget = fmt.Sprintf("3.%d.0", c.job)
				}
			}
			if m.id == c.leader {
				c.catchUp(m)
			}
			em.RaftIndex = m.committed
			em.AppliedIndex = m.applied
			em.Healthy = c.quorum()
			if !em.Healthy {
				em.Problem = "linearizable read: etcdserver: request timed out"
			}
		} else {
			em.Problem = fmt.Sprintf("status from %s: connection refused", m.url)
			if m.crash != "" {
				em.Problem += " (" + m.crash + ")"
			}
		}
		view.Members = append(view.Members, em)
	}
	return view, nil
}

func (c *fakeCluster) anyUp() bool {
	for _, m := range c.members {
		if m.up {
			return true
		}
	}
	return false
}

// catchUp moves m's indexes on, as time passing would: the leader's
// committed index is the cluster's, a follower's follows it 10 entries at a
// time; applied follows committed, applyLag behind, unless its apply is
// stuck.
func (c *fakeCluster) catchUp(m *fakeMember) {
	if m.id == c.leader {
		m.committed = c.index
	} else {
		m.committed = min(m.committed+10, c.index)
	}
	if !m.applyStuck {
		m.applied = max(m.applied, m.committed-min(m.committed, m.applyLag))
	}
	m.applied = min(m.applied, m.committed)
}

// setApply sets how name applies: lag entries behind its committed index,
// or, stuck, not at all from now on.
func (c *fakeCluster) setApply(name string, lag uint64, stuck bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.member(name)
	m.applyLag, m.applyStuck = lag, stuck
}

func (c *fakeCluster) AuthEnabled(ctx context.Context) (bool, error) { return false, nil }

func (c *fakeCluster) CheckAdmin(ctx context.Context) error { return c.adminErr }

func (c *fakeCluster) Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byURL(endpoint)
	if m == nil || !m.up {
		return nil, fmt.Errorf("dial %s: connection refused", endpoint)
	}
	c.catchUp(m)
	applied := m.applied
	if c.appliedOf != nil {
		if a, ok := c.appliedOf(m.name, c.index); ok {
			applied = a
		}
	}
	st := &clientv3.StatusResponse{
		Header:           &pb.ResponseHeader{ClusterId: fakeClusterID, MemberId: m.id},
		Version:          m.version,
		DbSize:           int64(len(c.snapshot)),
		Leader:           c.leader,
		RaftIndex:        m.committed,
		RaftAppliedIndex: applied,
		RaftTerm:         4,
	}
	if c.onStatus != nil {
		c.onStatus(m.name, st)
	}
	return st, nil
}

func (c *fakeCluster) LinearizableRead(ctx context.Context, endpoint string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byURL(endpoint)
	switch {
	case m == nil || !m.up:
		return fmt.Errorf("dial %s: connection refused", endpoint)
	case !c.quorum() || c.leader == 0:
		return errors.New("etcdserver: request timed out")
	}
	return nil
}

func (c *fakeCluster) ClusterVersion(ctx context.Context, endpoint string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clusterVersion, nil
}

// Downgrade follows etcd's rules: the target is the cluster version minus
// one minor; one job at a time; a cancel without a job is refused only by
// a cluster all on 3.5.
func (c *fakeCluster) Downgrade(ctx context.Context, action etcdx.DowngradeAction, target string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downgradeCalls = append(c.downgradeCalls, action.String()+" "+target)
	c.events = append(c.events, event{"cluster", "downgrade " + action.String() + " " + target})
	t, err := etcdconf.ParseVersion(target + ".0")
	if err != nil {
		return err
	}
	cv, _ := etcdconf.ParseVersion(c.clusterVersion)
	switch action {
	case etcdx.DowngradeValidate, etcdx.DowngradeEnable:
		if c.job != 0 {
			return rpctypes.ErrDowngradeInProcess
		}
		if t.Minor != cv.Minor-1 {
			return rpctypes.ErrInvalidDowngradeTargetVersion
		}
		if action == etcdx.DowngradeEnable {
			c.job = t.Minor
			c.computeClusterVersion()
		}
	case etcdx.DowngradeCancel:
		if c.job == 0 && cv.Minor <= 5 {
			return rpctypes.ErrNoInflightDowngrade
		}
		c.job = 0
	}
	return nil
}

func (c *fakeCluster) MoveLeader(ctx context.Context, leaderEndpoint string, to uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.byURL(leaderEndpoint)
	var target *fakeMember
	for _, m := range c.members {
		if m.id == to {
			target = m
		}
	}
	switch {
	case from == nil || from.id != c.leader:
		return errors.New("etcdserver: not leader")
	case target == nil || !target.up:
		return errors.New("etcdserver: bad leader transferee")
	}
	c.leader = to
	c.events = append(c.events, event{"cluster", fmt.Sprintf("move-leader %s→%s (%s)", from.name, target.name, target.version)})
	return nil
}

func (c *fakeCluster) Snapshot(ctx context.Context, endpoint string, w io.Writer) (int64, error) {
	c.mu.Lock()
	m := c.byURL(endpoint)
	data, rev := c.snapshot, c.rev
	leads := m != nil && m.id == c.leader
	c.events = append(c.events, event{"cluster", fmt.Sprintf("snapshot from %s (leader %v)", m.name, leads)})
	c.mu.Unlock()
	for len(data) > 0 {
		n := min(len(data), 700)
		if _, err := w.Write(data[:n]); err != nil {
			return 0, err
		}
		data = data[n:]
	}
	return rev, nil
}

// snapshotBytes is a bolt-sized database (pages of 512 bytes) followed by
// etcd's sha256 trailer.
func snapshotBytes(pages int) []byte {
	db := make([]byte, pages*512)
	for i := range db {
		db[i] = byte(i*7 + i/512)
	}
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}

// fakeHost runs commands in a real shell, in its own directory.
type fakeHost struct {
	c    *fakeCluster
	name string
	dir  string
}

// GatewayAnswers: the fake members serve no HTTP/JSON gateway, as if
// it were switched off everywhere, so the gate has nothing to compare.
func (c *fakeCluster) GatewayAnswers(ctx context.Context, endpoint string) (bool, error) {
	return false, nil
}

func (h *fakeHost) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	if err := ctx.Err(); err != nil {
		h.c.record(h.name, "refused, context done: "+cmd)
		return sshx.Result{}, err
	}
	h.c.mu.Lock()
	h.c.events = append(h.c.events, event{h.name, cmd})
	if strings.Contains(cmd, fakeStop) {
		if m := h.c.leaderMember(); m != nil && m.name == h.name {
			h.c.violations = append(h.c.violations, fmt.Sprintf("%s stopped while leading: %s", h.name, cmd))
		}
	}
	fault := h.c.fault
	h.c.mu.Unlock()
	if fault != nil {
		if res, ok := fault(h.name, cmd); ok {
			return res, nil
		}
	}
	var stdout, stderr bytes.Buffer
	sh := exec.CommandContext(ctx, "sh", "-c", cmd)
	sh.Dir = h.dir
	sh.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	sh.Stdout, sh.Stderr = &stdout, &stderr
	err := sh.Run()
	h.c.sync(h.name)
	if drop := h.c.dropAfter; drop != nil && drop(h.name, cmd) {
		h.c.record(h.name, "connection lost after: "+cmd)
		return sshx.Result{}, errors.New("ssh: connection lost: wait: remote command exited without exit status or exit signal")
	}
	res := sshx.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.ExitStatus = exit.ExitCode()
	case err != nil:
		return res, err
	}
	if f := h.c.afterRun; f != nil {
		f(h.name, cmd)
	}
	return res, nil
}

func (h *fakeHost) Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error {
	if err := ctx.Err(); err != nil {
		h.c.record(h.name, "refused, context done: upload "+remotePath)
		return err
	}
	h.c.record(h.name, fmt.Sprintf("upload %s %#o", remotePath, mode))
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dst := filepath.Join(h.dir, remotePath)
	tmp := dst + ".upload"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// rig is a fake cluster of n members on hosts s1..sn, each running
// `from` with its config from configOf, and the Spec to move it to target.
type rig struct {
	t     *testing.T
	c     *fakeCluster
	hosts map[string]*fakeHost
	spec  Spec

	mu     sync.Mutex
	done   []string
	snap   *SnapshotInfo
	logged []string
}

func newRig(t *testing.T, n, leader int, from, target string, configOf func(i int) string) *rig {
	t.Helper()
	root := t.TempDir()
	c := &fakeCluster{index: 1000, snapshot: snapshotBytes(16), rev: 4711}
	fromV := mustVersion(t, from)
	c.dataMinor = fromV.Minor
	r := &rig{t: t, c: c, hosts: map[string]*fakeHost{}}
	for i := 1; i <= n; i++ {
		name := memberName(i)
		dir := filepath.Join(root, name)
		for _, d := range []string{"usr/local/bin", "etc/etcd", "run"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, "systemctl"), systemctlScript, 0o755)
		writeFile(t, filepath.Join(dir, fakeBinary), fakeEtcdBinary(from), 0o755)
		writeFile(t, filepath.Join(dir, fakeConfig), configOf(i), 0o644)
		c.members = append(c.members, &fakeMember{id: 0xa1b2c3d400000000 + uint64(i), name: name, url: memberURL(i), dir: dir})
		r.hosts[name] = &fakeHost{c: c, name: name, dir: dir}
	}
	for _, m := range c.members {
		if _, err := r.hosts[m.name].Run(context.Background(), fakeStart); err != nil {
			t.Fatal(err)
		}
		if !m.up {
			t.Fatalf("%s did not start: %s", m.name, m.crash)
		}
	}
	c.leader = c.members[leader-1].id
	c.events = nil
	c.watchQuorum = true

	source := filepath.Join(root, "etcd-"+target)
	writeFile(t, source, fakeEtcdBinary(target), 0o755)
	sum := sha256.Sum256([]byte(fakeEtcdBinary(target)))
	r.spec = planSpec(t, target, n)
	r.spec.Binary = Binary{Path: fakeBinary, Source: source, SHA256: fmt.Sprintf("%x", sum)}
	r.spec.Service = Service{StartCommand: fakeStart, StopCommand: fakeStop, ConfigFile: fakeConfig, LogCommand: fakeLogCommand}
	r.spec.SnapshotDir = filepath.Join(root, "snapshots")
	r.spec.RecordDir = "var/lib/terraform-provider-etcd"
	r.spec.Health = Health{Timeout: 2e9, StableFor: 50e6}
	return r
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) hostsFunc() Hosts {
	return func(m MemberSpec) Host { return r.hosts[m.Name] }
}

// plan is what terraform plan computes and shows.
func (r *rig) plan() *Plan {
	r.t.Helper()
	obs, err := Observe(context.Background(), r.c, r.hostsFunc(), r.spec)
	if err != nil {
		r.t.Fatal(err)
	}
	plan, probs := MakePlan(obs, r.spec)
	if len(probs) > 0 {
		r.t.Fatalf("plan refused: %v", probs)
	}
	return plan
}

// executor is what terraform apply builds: it only has the planned steps.
func (r *rig) executor(planned []string) *Executor {
	return &Executor{
		Spec:    r.spec,
		Plan:    &Plan{Steps: planned},
		Cluster: r.c,
		Hosts:   r.hostsFunc(),
		Log: func(msg string, fields map[string]any) {
			r.mu.Lock()
			r.logged = append(r.logged, fmt.Sprint(msg, fields))
			r.mu.Unlock()
		},
		MemberDone: func(name, version string) {
			r.mu.Lock()
			r.done = append(r.done, name+"="+version)
			r.mu.Unlock()
			r.c.record("cluster", "member done "+name)
		},
		SnapshotSaved: func(s SnapshotInfo) {
			r.mu.Lock()
			r.snap = &s
			r.mu.Unlock()
			r.c.record("cluster", "snapshot saved")
		},
		PollInterval: 10e6,
	}
}

func (r *rig) events() []event {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return append([]event(nil), r.c.events...)
}

func (r *rig) commands(host string) []string {
	var out []string
	for _, e := range r.events() {
		if e.host == host {
			out = append(out, e.what)
		}
	}
	return out
}

// stops lists, in order, the members stopped by the executor's stop step.
func (r *rig) stops() []string {
	var out []string
	for _, e := range r.events() {
		// The stop step; a put-back's undo stops with "|| true".
		if strings.Contains(e.what, fakeStop) && !strings.Contains(e.what, "|| true") {
			out = append(out, e.host)
		}
	}
	return out
}

// firstEvent is the index of the first event on host (any host when "")
// whose text contains s, or -1.
func (r *rig) firstEvent(host, s string) int {
	for i, e := range r.events() {
		if (host == "" || e.host == host) && strings.Contains(e.what, s) {
			return i
		}
	}
	return -1
}

func (r *rig) file(host, path string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.hosts[host].dir, path))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *rig) mode(host, path string) os.FileMode {
	r.t.Helper()
	st, err := os.Stat(filepath.Join(r.hosts[host].dir, path))
	if err != nil {
		r.t.Fatal(err)
	}
	return st.Mode().Perm()
}

func (r *rig) running(name string) (version string, up bool) {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	m := r.c.member(name)
	return m.version, m.up
}

func (r *rig) doneList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.done...)
}

func (r *rig) checkNoViolations() {
	r.t.Helper()
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for _, v := range r.c.violations {
		r.t.Errorf("violation: %s", v)
	}
}

// checkUntouched: a member the rollout must not have touched saw only
// read-only and staging commands, runs its old binary and config, and was
// never restarted.
func (r *rig) checkUntouched(name, from string, config string) {
	r.t.Helper()
	staged := StagedPath(fakeBinary, r.spec.Target)
	for _, cmd := range r.commands(name) {
		switch {
		case readOnly(cmd), strings.HasPrefix(cmd, "sha256sum -- "),
			cmd == staged+" --version", strings.HasPrefix(cmd, "upload "+staged+" "):
		default:
			r.t.Errorf("%s must not be touched, but ran %q", name, cmd)
		}
	}
	if v, up := r.running(name); !up || v != from {
		r.t.Errorf("%s: up %v on %s, want up on %s", name, up, v, from)
	}
	if got := r.file(name, fakeBinary); got != fakeEtcdBinary(from) {
		r.t.Errorf("%s: binary changed to %q", name, got)
	}
	if got := r.file(name, fakeConfig); got != config {
		r.t.Errorf("%s: config changed:\n%s", name, got)
	}
	if n := strings.Count(r.file(name, "run/journal"), "started"); n != 1 {
		r.t.Errorf("%s was restarted (%d starts)", name, n)
	}
}

func (r *rig) dumpEvents() string {
	var b strings.Builder
	for i, e := range r.events() {
		fmt.Fprintf(&b, "%3d %-7s %s\n", i, e.host, e.what)
	}
	return b.String()
}

// readOnly tells commands that only read the host: discovery and reading
// files or a member's record.
func readOnly(cmd string) bool {
	return strings.HasPrefix(cmd, "cat -- ") || strings.HasPrefix(cmd, readOnlyMarker) ||
		(strings.HasPrefix(cmd, "if [ -f ") && strings.HasSuffix(cmd, ".jsonl; fi"))
}

// isStart tells the start step (and a put-back's start) by the service
// command it runs.
func isStart(cmd string) bool { return strings.Contains(cmd, fakeStart) }
