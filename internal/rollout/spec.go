// Package rollout plans and carries out a rolling etcd version change. It
// takes plain Go values: the planner is a pure function of an Observation and
// a Spec, and the executor works through two small interfaces, Host (SSH) and
// Cluster (etcd), so both can be tested without Terraform.
package rollout

import (
	"context"
	"io"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Defaults for the optional settings, shared by the schema and the docs.
const (
	DefaultStartCommand = "systemctl start etcd"
	DefaultStopCommand  = "systemctl stop etcd"
	DefaultRecordDir    = "/var/lib/terraform-provider-etcd"
	DefaultLogCommand   = "journalctl -u etcd -n 40 --no-pager"
	DefaultSnapshotDir  = "etcd-snapshots"
	DefaultTimeout      = 5 * time.Minute
	DefaultStableFor    = 5 * time.Second
	DefaultMemberPause  = 0 * time.Second
)

// MemberSpec is one configured member.
type MemberSpec struct {
	Name      string
	Host      string // SSH address
	SSHPort   int    // 0: the provider's port
	ClientURL string
}

// Binary says where the target etcd binary comes from and where it goes.
type Binary struct {
	Path   string // the binary the service runs
	Source string // local file, or http(s) URL (a release .tar.gz is unpacked)
	SHA256 string // optional, lower-case hex
	// ReplacePackaged allows replacing a binary that a dpkg or rpm package
	// owns.
	ReplacePackaged bool
}

// Service holds the commands that manage etcd on a host.
type Service struct {
	StartCommand string
	StopCommand  string
	ConfigFile   string // "": what the running member uses
	LogCommand   string
}

// SnapshotCopy is a host that keeps a copy of each snapshot, so that it
// outlives the machine running Terraform (often an ephemeral CI runner). It
// is reached with the provider's SSH settings, like the etcd hosts.
type SnapshotCopy struct {
	Host      string // SSH address
	SSHPort   int    // 0: the provider's port
	Directory string // absolute path on Host; created (0700) when missing
}

// Health bounds the gates.
type Health struct {
	Timeout     time.Duration
	StableFor   time.Duration
	MemberPause time.Duration
}

// Spec is the desired state: everything the configuration says.
type Spec struct {
	Target      etcdconf.Version
	Members     []MemberSpec // sorted by name
	Binary      Binary
	Service     Service
	SnapshotDir string
	// SnapshotCopy, when set, is where a copy of the snapshot goes over
	// SSH before any member stops.
	SnapshotCopy *SnapshotCopy
	Health       Health
	// RecordDir is where each host keeps the record of a member's change;
	// DefaultRecordDir when empty.
	RecordDir string
}

func (s Spec) recordDir() string {
	if s.RecordDir != "" {
		return s.RecordDir
	}
	return DefaultRecordDir
}

// Member finds a configured member by name.
func (s Spec) Member(name string) (MemberSpec, bool) {
	for _, m := range s.Members {
		if m.Name == name {
			return m, true
		}
	}
	return MemberSpec{}, false
}

// Host is one etcd machine, reached over SSH. *sshx.Host implements it.
type Host interface {
	Run(ctx context.Context, cmd string) (sshx.Result, error)
	Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error
}

// Cluster is the etcd API a rollout needs. *etcdx.Client implements it.
type Cluster interface {
	Observe(ctx context.Context) (*etcdx.View, error)
	AuthEnabled(ctx context.Context) (bool, error)
	CheckAdmin(ctx context.Context) error
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	LinearizableRead(ctx context.Context, endpoint string) error
	ClusterVersion(ctx context.Context, endpoint string) (string, error)
	GatewayAnswers(ctx context.Context, endpoint string) (bool, error)
	MoveLeader(ctx context.Context, leaderEndpoint string, to uint64) error
	Snapshot(ctx context.Context, endpoint string, w io.Writer) (revision int64, err error)
	Downgrade(ctx context.Context, action etcdx.DowngradeAction, target string) error
}

// Hosts gives the Host for a configured member.
type Hosts func(m MemberSpec) Host
