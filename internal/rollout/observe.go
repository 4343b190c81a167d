package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Observe gathers what the planner needs. Config files are read over SSH
// only when some member must change, so a plan with nothing to do opens no
// SSH connection.
func Observe(ctx context.Context, cluster Cluster, hosts Hosts, spec Spec) (Observation, error) {
	var obs Observation
	view, err := cluster.Observe(ctx)
	if err != nil {
		return obs, err
	}
	obs.ClusterID = view.ClusterIDHex()
	obs.ClusterVersion = view.ClusterVersion
	obs.Members = view.Members
	obs.Alarms = view.Alarms
	if !NeedsChange(obs, spec.Target) {
		return obs, nil
	}
	// Auth only blocks the 3.5 → 3.4 downgrade, and only 3.5+ members can
	// say whether it is on.
	if spec.Target.Minor == 4 && anyNewerMinor(obs, spec.Target) {
		if obs.AuthEnabled, err = cluster.AuthEnabled(ctx); err != nil {
			return obs, fmt.Errorf("checking whether auth is enabled: %w", err)
		}
	}
	obs.Configs = readConfigs(ctx, hosts, spec)
	if spec.Binary.Source != "" && !isURL(spec.Binary.Source) {
		obs.Source = inspectLocal(spec.Binary.Source)
	}
	return obs, nil
}

// readConfigs reads every configured member's config file in parallel. A
// host that cannot be reached is recorded as a config problem naming it.
func readConfigs(ctx context.Context, hosts Hosts, spec Spec) map[string]ConfigFile {
	out := make(map[string]ConfigFile, len(spec.Members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range spec.Members {
		wg.Add(1)
		go func(m MemberSpec) {
			defer wg.Done()
			cf := readConfig(ctx, hosts(m), spec.Service.ConfigFile)
			if cf.Err != "" {
				cf.Err = fmt.Sprintf("%s on %s", cf.Err, m.Host)
			}
			if cf.HostErr != "" {
				cf.HostErr = fmt.Sprintf("SSH to %s: %s", m.Host, cf.HostErr)
			}
			mu.Lock()
			out[m.Name] = cf
			mu.Unlock()
		}(m)
	}
	wg.Wait()
	return out
}

func readConfig(ctx context.Context, h Host, file string) ConfigFile {
	res, err := h.Run(ctx, sshx.Command("cat", "--", file))
	switch {
	case err != nil:
		return ConfigFile{HostErr: err.Error()}
	case res.ExitStatus != 0:
		return ConfigFile{Err: fmt.Sprintf("cannot read %s: %s", file, strings.TrimSpace(res.Stderr))}
	}
	return ConfigFile{Content: []byte(res.Stdout)}
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
