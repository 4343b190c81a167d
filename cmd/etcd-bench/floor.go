package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/rollout"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// The physical floor: what no tool can avoid. Per member, followers first
// and the leader last (its leadership moved to a member already done, as
// the provider and the script do), it stops the member, renames the target
// binary over the old one, starts it and waits for the provider's gate, all
// run directly on the host (in its namespace, no SSH), with the target
// binary put beside the old one before the clock starts (no staging) and
// no snapshot, no plan, no Terraform. Paths through etcd's downgrade API
// are not measured this way: their waits belong to etcd, and the floor
// would only repeat the script.

// floorPoll is how often the floor's gate checks, as the provider's gates.
const floorPoll = 100 * time.Millisecond

// floorTimeout bounds one member's gate.
const floorTimeout = time.Minute

// floorResult is one floor rollout.
type floorResult struct {
	stopToHealthy map[string]float64
	stops         []StopEvent
}

// floorRollout moves every member of sb to target (the binary at
// targetBinary, version want). start is the run's clock.
func floorRollout(ctx context.Context, sb *testhosts.Sandbox, targetBinary, want string, start time.Time) (floorResult, error) {
	res := floorResult{stopToHealthy: map[string]float64{}}
	// Untimed, like the provider's staging: the binary beside the old one.
	staged := sb.BinaryPath + ".floor"
	for _, h := range sb.Hosts {
		if err := copyFile(targetBinary, h.Path(staged)); err != nil {
			return res, err
		}
	}
	cluster, err := etcdx.New(etcdx.Config{Endpoints: sb.ClientURLs()})
	if err != nil {
		return res, err
	}
	defer cluster.Close()
	order, err := floorOrder(ctx, cluster, sb)
	if err != nil {
		return res, err
	}
	swap := sshx.Command("systemctl", "stop", "etcd") + " && " + sshx.Command("mv", "-f", "--", staged, sb.BinaryPath) + " && " + sshx.Command("systemctl", "start", "etcd")
	var done []*testhosts.Host
	for _, h := range order {
		if err := moveLeaderFrom(ctx, cluster, h, done); err != nil {
			return res, err
		}
		stopped := time.Now()
		res.stops = append(res.stops, StopEvent{T: secs(stopped.Sub(start)), Member: h.Name})
		if out, err := h.Exec(ctx, swap); err != nil {
			return res, fmt.Errorf("floor: %s: %w: %s", h.Name, err, strings.TrimSpace(out))
		}
		healthy, err := floorGate(ctx, cluster, h, want)
		if err != nil {
			return res, fmt.Errorf("floor: %s: gate: %w", h.Name, err)
		}
		res.stopToHealthy[h.Name] = secs(healthy.Sub(stopped))
		done = append(done, h)
	}
	return res, nil
}

// floorOrder puts the leader last.
func floorOrder(ctx context.Context, cluster *etcdx.Client, sb *testhosts.Sandbox) ([]*testhosts.Host, error) {
	view, err := cluster.Observe(ctx)
	if err != nil {
		return nil, err
	}
	leader, ok := view.Leader()
	if !ok {
		return nil, errors.New("floor: no leader")
	}
	var order []*testhosts.Host
	var last *testhosts.Host
	for _, h := range sb.Hosts {
		if h.Name == leader.Name {
			last = h
			continue
		}
		order = append(order, h)
	}
	if last == nil {
		return nil, fmt.Errorf("floor: leader %s is none of the hosts", leader.Name)
	}
	return append(order, last), nil
}

// moveLeaderFrom hands leadership from h to a member already done, if h
// leads.
func moveLeaderFrom(ctx context.Context, cluster *etcdx.Client, h *testhosts.Host, done []*testhosts.Host) error {
	view, err := cluster.Observe(ctx)
	if err != nil {
		return err
	}
	leader, ok := view.Leader()
	if !ok || leader.Name != h.Name || len(done) == 0 {
		return nil
	}
	for _, m := range view.Members {
		if m.Name == done[len(done)-1].Name {
			return cluster.MoveLeader(ctx, h.ClientURL, m.ID)
		}
	}
	return fmt.Errorf("floor: no member %s to move the leadership to", done[len(done)-1].Name)
}

// floorGate is the provider's gate (rollout.MemberReady), checked every
// floorPoll. It returns when the first check passed.
func floorGate(ctx context.Context, cluster *etcdx.Client, h *testhosts.Host, want string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, floorTimeout)
	defer cancel()
	var catchUp uint64
	member := rollout.MemberSpec{Name: h.Name, Host: h.Addr, ClientURL: h.ClientURL}
	check := func() error { return rollout.MemberReady(ctx, cluster, member, want, &catchUp, true) }
	tick := time.NewTicker(floorPoll)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%w (last check: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// etcdStops reads each host's etcd log for how long etcd itself took to
// stop after `since`: from "received signal; shutting down" to "closed etcd
// server", both etcd's own lines. A member stopped twice keeps the longer.
func etcdStops(sb *testhosts.Sandbox, since time.Time) map[string]float64 {
	out := map[string]float64{}
	for _, h := range sb.Hosts {
		f, err := os.Open(h.Path(testhosts.EtcdLog))
		if err != nil {
			continue
		}
		var signalled time.Time
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				TS  string `json:"ts"`
				Msg string `json:"msg"`
			}
			if !strings.Contains(sc.Text(), `"msg"`) || json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, line.TS)
			if err != nil || ts.Before(since) {
				continue
			}
			switch line.Msg {
			case "received signal; shutting down":
				signalled = ts
			case "closed etcd server":
				if !signalled.IsZero() {
					out[h.Name] = max(out[h.Name], secs(ts.Sub(signalled)))
					signalled = time.Time{}
				}
			}
		}
		_ = f.Close()
	}
	return out
}
