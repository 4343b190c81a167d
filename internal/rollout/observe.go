package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
)

// Observe gathers what the planner needs. Hosts are discovered over SSH
// only when some member must change and a binary is configured, so a plan
// with nothing to do, or a drift alarm, opens no SSH connection.
func Observe(ctx context.Context, cluster Cluster, hosts Hosts, spec Spec) (Observation, error) {
	obs := Observation{Took: map[string]time.Duration{}}
	lap := time.Now()
	took := func(part string) {
		now := time.Now()
		obs.Took[part] += now.Sub(lap)
		lap = now
	}
	view, err := cluster.Observe(ctx)
	took("etcd")
	if err != nil {
		return obs, err
	}
	obs.ClusterID = view.ClusterIDHex()
	obs.ClusterVersion = view.ClusterVersion
	obs.Members = view.Members
	obs.Alarms = view.Alarms
	if view.AlarmErr != nil {
		obs.AlarmErr = view.AlarmErr.Error()
	}
	obs.Downgrade.Enabled, obs.Downgrade.Target, obs.Downgrade.Known = view.Downgrade()
	// With a member down the plan only says that apply refuses: nothing
	// more is asked of the cluster or the hosts.
	if !NeedsChange(obs, spec.Target) || len(HealthProblems(obs)) > 0 {
		return obs, nil
	}
	// The snapshot, and from 3.6 on the status, move-leader and downgrade
	// calls, need the root role once auth is on: known now, not mid-rollout.
	if err := cluster.CheckAdmin(ctx); err != nil {
		obs.AdminErr = err
	}
	// Auth only blocks the 3.5 → 3.4 downgrade, and only 3.5+ members can
	// say whether it is on.
	if spec.Target.Minor == 4 && anyNewerMinor(obs, spec.Target) {
		if obs.AuthEnabled, err = cluster.AuthEnabled(ctx); err != nil {
			return obs, fmt.Errorf("checking whether auth is enabled: %w", err)
		}
	}
	// A downgrade through the API is asked of etcd now, so its refusal
	// shows in the plan; nothing changes (validate only).
	if needsDowngradeAPI(obs, spec.Target) && !obs.Downgrade.Enabled {
		if err := cluster.Downgrade(ctx, etcdx.DowngradeValidate, spec.Target.MinorVersion()); err != nil {
			obs.DowngradeErr = err.Error()
		}
	}
	took("checks")
	if spec.Binary.Source != "" {
		obs.Runtimes = discoverAll(ctx, hosts, spec)
		took("discovery")
		if needsLogCheck(obs, spec.Target) {
			obs.Logs = checkLogs(ctx, hosts, spec, obs)
			took("logs")
		}
	}
	obs.Gateway = map[string]bool{}
	for _, m := range spec.Members {
		if ok, err := cluster.GatewayAnswers(ctx, m.ClientURL); err == nil && ok {
			obs.Gateway[m.Name] = true
		}
	}
	took("gateway")
	if spec.Binary.Source != "" && !isURL(spec.Binary.Source) {
		obs.Source = inspectLocal(spec.Binary.Source)
		took("source")
	}
	return obs, nil
}

// needsDowngradeAPI reports whether some member goes down a minor through
// the downgrade API while the cluster version is still the higher one.
func needsDowngradeAPI(obs Observation, target etcdconf.Version) bool {
	if obs.ClusterVersion == target.ClusterVersion() {
		return false
	}
	for _, m := range obs.Members {
		if v, err := etcdconf.ParseVersion(m.Version); err == nil && etcdconf.UsesDowngradeAPI(v, target) {
			return true
		}
	}
	return false
}

// discoverAll learns how every configured member runs, in parallel. A host
// that cannot be reached is recorded as such, naming it.
func discoverAll(ctx context.Context, hosts Hosts, spec Spec) map[string]Runtime {
	out := make(map[string]Runtime, len(spec.Members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	unit := unitOf(spec.Service.StartCommand)
	for _, m := range spec.Members {
		wg.Add(1)
		go func(m MemberSpec) {
			defer wg.Done()
			rt, err := Discover(ctx, hosts(m), unit, spec.Service.ConfigFile, spec.Binary.Path)
			if err != nil {
				rt.HostErr = fmt.Sprintf("SSH to %s: %s", m.Host, err)
			}
			mu.Lock()
			out[m.Name] = rt
			mu.Unlock()
		}(m)
	}
	wg.Wait()
	return out
}

// localSums caches the digest of local binaries by path, size and
// modification time, so that a plan of many clusters, and the staging of
// many hosts, hash each file once.
var localSums sync.Map // localKey → LocalSource

type localKey struct {
	path  string
	size  int64
	mtime time.Time
}

func inspectLocal(path string) LocalSource {
	src := LocalSource{Checked: true}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		src.Err = fmt.Sprintf("binary.source %q: %v", path, err)
		return src
	case st.IsDir():
		src.Err = fmt.Sprintf("binary.source %q is a directory, not the etcd binary", path)
		return src
	}
	key := localKey{path, st.Size(), st.ModTime()}
	if cached, ok := localSums.Load(key); ok {
		return cached.(LocalSource)
	}
	f, err := os.Open(path)
	if err != nil {
		src.Err = fmt.Sprintf("binary.source %q: %v", path, err)
		return src
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		src.Err = fmt.Sprintf("binary.source %q: %v", path, err)
		return src
	}
	src.SHA256 = hex.EncodeToString(h.Sum(nil))
	src.Size = n
	localSums.Store(key, src)
	return src
}

func anyNewerMinor(obs Observation, target etcdconf.Version) bool {
	for _, m := range obs.Members {
		if v, err := etcdconf.ParseVersion(m.Version); err == nil && v.Minor > target.Minor {
			return true
		}
	}
	return false
}
