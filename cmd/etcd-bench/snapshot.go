package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/rollout"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// fillValueSize stays under etcd's default 1.5 MiB request limit.
const fillValueSize = 1 << 20

// dataValueSize is the data scenario's value size.
const dataValueSize = 16 << 10

// dataSnapshotCount is the data scenario's ETCD_SNAPSHOT_COUNT.
const dataSnapshotCount = 10000

// snapshotScenario fills a cluster to about b.snapshotMiB and measures its
// snapshots (snapshotRuns).
func (b *bench) snapshotScenario(ctx context.Context, version string) (*SnapshotResult, error) {
	sb, err := testhosts.Start(ctx, testhosts.Options{
		Members: b.snapshotMembers, EtcdVersion: version,
		// The default 2 GiB quota would leave little room above 1 GiB.
		ExtraEnv: map[string]string{"ETCD_QUOTA_BACKEND_BYTES": strconv.FormatInt(8<<30, 10)},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	t0 := time.Now()
	if err := fill(ctx, sb.ClientURLs(), b.snapshotMiB, fillValueSize); err != nil {
		return nil, err
	}
	res := &SnapshotResult{FillS: secs(time.Since(t0))}
	return res, b.snapshotRuns(ctx, sb, res)
}

// snapshotRuns takes snapshots from the first member of sb, a filled
// cluster, alternately with the provider's snapshot step
// (rollout.SaveSnapshot through etcdx, the code path apply uses) and with
// `etcdctl snapshot save`.
func (b *bench) snapshotRuns(ctx context.Context, sb *testhosts.Sandbox, res *SnapshotResult) error {
	endpoint := sb.Hosts[0].ClientURL
	cluster, err := etcdx.New(etcdx.Config{Endpoints: sb.ClientURLs()})
	if err != nil {
		return err
	}
	defer cluster.Close()
	st, err := cluster.Status(ctx, endpoint)
	if err != nil {
		return err
	}
	res.DBBytes = st.DbSize
	clusterID := strconv.FormatUint(st.Header.GetClusterId(), 16)
	b.logf("  %s holds %.0f MiB (filled in %.1fs)", endpoint, float64(res.DBBytes)/(1<<20), res.FillS)

	dir := filepath.Join(b.work, "snapshot")
	for run := 1; run <= b.runs; run++ {
		methods := []string{"provider", "etcdctl"}
		if run%2 == 0 {
			methods[0], methods[1] = methods[1], methods[0]
		}
		for _, method := range methods {
			out := filepath.Join(dir, fmt.Sprintf("%s-run%d", method, run))
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			var size int64
			start := time.Now()
			switch method {
			case "provider":
				info, err := rollout.SaveSnapshot(ctx, cluster, endpoint, out, clusterID, time.Now())
				if err != nil {
					return fmt.Errorf("provider snapshot: %w", err)
				}
				size = info.SizeBytes
			case "etcdctl":
				file := filepath.Join(out, "snapshot.db")
				cmd := exec.CommandContext(ctx, b.etcdctl, "--endpoints="+endpoint, "snapshot", "save", file)
				cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
				if o, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("etcdctl snapshot save: %w\n%s", err, o)
				}
				fi, err := os.Stat(file)
				if err != nil {
					return err
				}
				size = fi.Size()
			}
			took := time.Since(start)
			r := SnapshotRun{Method: method, Run: run, Bytes: size, Seconds: secs(took), MBps: round3(float64(size) / 1e6 / took.Seconds())}
			res.Runs = append(res.Runs, r)
			b.logf("  snapshot %-8s run %d: %.0f MiB in %.2fs = %.0f MB/s", method, run, float64(size)/(1<<20), r.Seconds, r.MBps)
			// Only one copy on disk at a time: the next run writes as much.
			if err := os.RemoveAll(out); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill puts about mib MiB of random bytes (so nothing compresses them) in
// values of valueSize, 16 requests at a time, each a transaction of as many
// values as fit in about 1 MiB (etcd's default request limit is 1.5 MiB):
// one raft entry carries many keys, as a busy cluster's batched proposals
// do, and the fill is bounded by bytes rather than by requests.
func fill(ctx context.Context, endpoints []string, mib, valueSize int) error {
	perTxn := max(1, (1<<20)/valueSize)
	n := int64(mib) * (1 << 20) / int64(valueSize)
	// One random pool; each value is a different window of it.
	pool := make([]byte, 64<<20)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(pool)
	return putAll(ctx, endpoints, (n+int64(perTxn)-1)/int64(perTxn), func(i int64) []clientv3.Op {
		var ops []clientv3.Op
		for k := i * int64(perTxn); k < min(n, (i+1)*int64(perTxn)); k++ {
			off := (k * 7919 * 4096) % int64(len(pool)-valueSize)
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/bench-fill/%08d", k), string(pool[off:off+int64(valueSize)-64])))
		}
		return ops
	})
}

// settle writes entries small keys one request each, so that every member
// takes a raft snapshot (ETCD_SNAPSHOT_COUNT) after a fill: a restarted
// member then replays only the entries since, as on a cluster that has run
// a while, not the whole fill from its write-ahead log.
func settle(ctx context.Context, endpoints []string, entries int64) error {
	return putAll(ctx, endpoints, entries, func(i int64) []clientv3.Op {
		return []clientv3.Op{clientv3.OpPut(fmt.Sprintf("/bench-settle/%08d", i), strconv.FormatInt(i, 10))}
	})
}

// putAll sends requests 0..n-1, each a transaction of ops(i), 16 at a time.
func putAll(ctx context.Context, endpoints []string, n int64, ops func(i int64) []clientv3.Op) error {
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cl.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := cl.Txn(pctx).Then(ops(i)...).Commit()
				cancel()
				if err != nil {
					errs <- fmt.Errorf("filling the cluster (request %d): %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// dataScenario measures rollouts on a 3-member cluster holding about
// b.dataMiB, writers running: every method in turn on the same filled
// cluster, the direction alternating (p, then back, then p again), since
// filling one cluster per method would cost more than the rollouts.
// When every method succeeded, after runs on the cluster before it is
// removed, given how long the fill took.
func (b *bench) dataScenario(ctx context.Context, p versionPath, measure func(runSpec) measured, after func(sb *testhosts.Sandbox, fillS float64) error) error {
	back := versionPath{From: p.To, To: p.From, Members: p.Members}
	var err error
	if back.TargetBinary, err = testhosts.EtcdBinary(p.From); err != nil {
		return err
	}
	if back.Etcdctl, err = testhosts.EtcdctlBinary(p.To); err != nil {
		return err
	}
	// Values of 16 KiB, the size of a large Kubernetes object, and a
	// snapshot every 10000 entries, as kubeadm sets it (and etcd 3.6's
	// default): a restarted member replays at most that many entries. With
	// 1 MiB values and 3.5's default of 100000, the whole 1 GiB stays in
	// the log and every restart replays it (71 s a member here).
	sb, err := testhosts.Start(ctx, testhosts.Options{
		Members: 3, EtcdVersion: p.From,
		ExtraEnv: map[string]string{"ETCD_QUOTA_BACKEND_BYTES": strconv.FormatInt(8<<30, 10), "ETCD_SNAPSHOT_COUNT": strconv.Itoa(dataSnapshotCount)},
	})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	t0 := time.Now()
	if err := fill(ctx, sb.ClientURLs(), b.dataMiB, dataValueSize); err != nil {
		return err
	}
	if err := settle(ctx, sb.ClientURLs(), dataSnapshotCount+1); err != nil {
		return err
	}
	fillS := secs(time.Since(t0))
	b.logf("  filled 3 members with %d MiB in %.1fs", b.dataMiB, fillS)
	for i, method := range b.methodOrder(p, 0) {
		path := p
		if i%2 == 1 {
			path = back
		}
		if m := measure(runSpec{method: method, path: path, members: 3, run: 1, unit: "notify", clients: "writers", sb: sb, dataMiB: b.dataMiB}); m.Failed() {
			// The cluster is no longer where the next method starts.
			return fmt.Errorf("data scenario stopped after %s failed", method)
		}
	}
	if after != nil {
		return after(sb, fillS)
	}
	return nil
}
