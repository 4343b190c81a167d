package etcdx

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// TestLockHoldsNoStream takes the lock on a real one-member etcd and checks
// that its renewals keep the lease alive, that it holds no gRPC stream open
// (a member stopped with SIGTERM waits for open streams up to its request
// timeout, 7 s here, so the provider's own lock used to make one member's
// stop that much longer), and that a lease revoked by someone else is seen
// as a lost lock.
func TestLockHoldsNoStream(t *testing.T) {
	bin, err := testhosts.EtcdBinary(testhosts.DefaultEtcdVersion)
	if err != nil {
		testhosts.SkipOrFail(t, "lock: %v", err)
	}
	defer func(p time.Duration) { lockRenewPeriod = p }(lockRenewPeriod)
	lockRenewPeriod = 200 * time.Millisecond

	etcd, url := startOneEtcd(t, bin)
	c, err := New(Config{Endpoints: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	lock, err := c.AcquireLock(ctx, ThisRunner("3.5.21", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for the TTL to fall by 2 s without renewals.
	time.Sleep(2500 * time.Millisecond)
	ttl, err := cl.TimeToLive(ctx, lock.lease)
	if err != nil {
		t.Fatal(err)
	}
	if ttl.TTL < int64(LockTTL/time.Second)-1 {
		t.Errorf("lease TTL %ds after 2.5s of renewals every %s, want about %s", ttl.TTL, lockRenewPeriod, LockTTL)
	}
	if err := lock.Held(ctx); err != nil {
		t.Errorf("Held: %v", err)
	}

	// Revoked by someone else: the next renewal finds it gone.
	if _, err := cl.Revoke(ctx, lock.lease); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		lock.mu.Lock()
		lost := lock.lost
		lock.mu.Unlock()
		if lost != nil {
			if !strings.Contains(lost.Error(), "expired") {
				t.Errorf("lost lock says %q, want it to say the lease expired", lost)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a revoked lease was not noticed within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A lock held again, then the member stopped: etcd's own stop, from
	// its log, must not wait on a stream of ours.
	if _, err := c.AcquireLock(ctx, ThisRunner("3.5.21", time.Now())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if took := etcd.Stop(t, 0); took > 4*time.Second {
		t.Errorf("etcd took %s to stop with the lock held, want well under its 7s request timeout: a stream of ours held it\n%s", took, testhosts.TailFile(etcd.Members[0].LogPath, 10))
	}
}

// startOneEtcd runs a one-member etcd on 127.0.3.20 as a child process
// and waits until it serves a linearizable read through this package.
func startOneEtcd(t *testing.T, bin string) (*testhosts.LocalCluster, string) {
	t.Helper()
	c := testhosts.StartLocalCluster(t, bin, "127.0.3.20")
	url := c.Members[0].ClientURL
	cl, err := New(Config{Endpoints: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.LinearizableRead(ctx, url); err != nil {
		t.Fatalf("etcd at %s: %v", url, err)
	}
	return c, url
}

// TestReconnectsPromptly stops a real etcd long enough for gRPC's default
// reconnect backoff to grow past 2 s, starts it again, and checks that a
// client that was connected answers within a second of etcd serving: the
// gate after each member's restart waits on exactly this, and each second
// here is a second of every member's stop-to-healthy.
func TestReconnectsPromptly(t *testing.T) {
	bin, err := testhosts.EtcdBinary(testhosts.DefaultEtcdVersion)
	if err != nil {
		testhosts.SkipOrFail(t, "reconnect: %v", err)
	}
	etcd, url := startOneEtcd(t, bin)
	c, err := New(Config{Endpoints: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return c.LinearizableRead(ctx, url)
	}
	if err := read(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	etcd.Stop(t, 0)
	// Ask while it is down, so that the client's connection goes through
	// its failed dials and backoff; by 12 s gRPC's defaults (1 s, ×1.6)
	// wait about 6 s between dials (measured: 3.8 s from serving to the
	// first answer with them, after 20 s down).
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); {
		if read(200*time.Millisecond) == nil {
			t.Fatal("a read succeeded with etcd stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	etcd.Launch(t, 0)
	probe := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	var serving time.Time
	for deadline := time.Now().Add(20 * time.Second); ; {
		if r, err := probe.Get(url + "/health"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				serving = time.Now()
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not serve within 20s of its restart\n%s", testhosts.TailFile(etcd.Members[0].LogPath, 15))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for read(200*time.Millisecond) != nil {
		if time.Since(serving) > 5*time.Second {
			t.Fatal("the client did not reconnect within 5s of etcd serving")
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(serving)
	t.Logf("the client answered %s after etcd served again", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the client answered %s after etcd served, want within 1s (reconnect backoff capped at 250ms)", took.Round(time.Millisecond))
	}
}
