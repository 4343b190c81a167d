package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// planScenario times `terraform plan` without and with a version change,
// for one cluster and for b.planClusters distinct clusters of 3 members in
// one configuration, and counts the SSH logins each plan cost on the sshd
// side.
func (b *bench) planScenario(ctx context.Context, from, to, targetBinary string) ([]PlanRun, error) {
	n := b.planClusters
	sbs := make([]*testhosts.Sandbox, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range sbs {
		wg.Go(func() {
			sbs[i], errs[i] = testhosts.Start(ctx, testhosts.Options{Members: 3, EtcdVersion: from})
		})
	}
	wg.Wait()
	defer func() {
		for _, sb := range sbs {
			if sb != nil {
				sb.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("starting %d sandboxes: %w", n, err)
	}
	dir := filepath.Join(b.work, "plan")
	knownHosts, err := shareAccess(dir, sbs)
	if err != nil {
		return nil, err
	}
	configs := map[int]tfConfig{}
	for _, clusters := range []int{1, n} {
		c := tfConfig{Dir: filepath.Join(dir, fmt.Sprintf("clusters-%d", clusters)), Clusters: sbs[:clusters],
			PrivateKeyFile: sbs[0].PrivateKeyFile, KnownHostsFile: knownHosts, TargetBinary: targetBinary, StableFor: b.stableFor}
		if err := c.write(); err != nil {
			return nil, err
		}
		if _, err := b.terraform(ctx, c.Dir, "adopt", nil, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "etcd_version="+from); err != nil {
			return nil, fmt.Errorf("adopting %d clusters: %w", clusters, err)
		}
		configs[clusters] = c
	}

	var out []PlanRun
	for run := 1; run <= b.runs; run++ {
		for _, clusters := range []int{1, n} {
			for _, change := range []bool{false, true} {
				version := from
				if change {
					version = to
				}
				before := sshAccepted(sbs...)
				name := fmt.Sprintf("plan-%v-run%d", change, run)
				logPath := filepath.Join(configs[clusters].Dir, name+".log")
				took, err := b.terraform(ctx, configs[clusters].Dir, name, []string{"TF_LOG_PROVIDER=INFO", "TF_LOG_PATH=" + logPath},
					"plan", "-input=false", "-no-color", "-var", "etcd_version="+version)
				if err != nil {
					return out, err
				}
				pr := PlanRun{Clusters: clusters, Change: change, Run: run, WallS: secs(took), SSHConnections: sshAccepted(sbs...) - before}
				if change {
					// Each resource's ModifyPlan: observe, read configs over SSH, plan.
					if ds, err := modifyPlanDurations(logPath); err == nil && len(ds) > 0 {
						pr.ModifyPlanMaxS, pr.ModifyPlanSumS = secs(slices.Max(ds)), secs(sum(ds))
					}
				}
				b.logf("  plan  %2d cluster(s)  change=%-5v  run %d: %5.2fs, %d SSH connections, ModifyPlan max %.2fs sum %.2fs",
					clusters, change, run, pr.WallS, pr.SSHConnections, pr.ModifyPlanMaxS, pr.ModifyPlanSumS)
				out = append(out, pr)
			}
		}
	}
	return out, nil
}

// shareAccess lets one provider configuration reach every sandbox, as one
// operator's key and known_hosts reach every machine: sbs[0]'s client key is
// authorised on every host, and one known_hosts file lists them all. It
// returns that file.
func shareAccess(dir string, sbs []*testhosts.Sandbox) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	signer, err := ssh.ParsePrivateKey(sbs[0].PrivateKeyPEM)
	if err != nil {
		return "", err
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	var known []byte
	for _, sb := range sbs {
		kh, err := os.ReadFile(sb.KnownHostsFile)
		if err != nil {
			return "", err
		}
		known = append(known, kh...)
		if sb == sbs[0] {
			continue
		}
		// testhosts' sshd reads the sandbox's authorized keys from the
		// client key's path + ".pub".
		auth := sb.PrivateKeyFile + ".pub"
		f, err := os.OpenFile(auth, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return "", fmt.Errorf("authorising one key on every sandbox: %w", err)
		}
		_, err = f.Write(pub)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, "known_hosts")
	return path, os.WriteFile(path, known, 0o644)
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}
