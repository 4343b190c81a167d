package etcdx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// LockKey is where a rollout's lock lives, in the cluster's own keyspace:
// every pipeline that can change the cluster can also see it, whatever
// state file or machine it runs from.
const LockKey = "/terraform-provider-etcd/rollout-lock"

// LockTTL is how long a lock outlives a holder that stopped renewing it
// (a killed process, a lost runner).
const LockTTL = 60 * time.Second

// LockHolder says who holds the lock, for a person to read.
type LockHolder struct {
	Who    string `json:"who"`           // user@host of the machine running Terraform
	PID    int    `json:"pid"`           // the provider's process
	Since  string `json:"since"`         // RFC 3339, UTC
	Target string `json:"target"`        // the version being rolled out
	Run    string `json:"run,omitempty"` // the CI job, when one is known
	Lease  string `json:"lease"`         // the lease that keeps the lock, hex
}

func (h LockHolder) String() string {
	s := fmt.Sprintf("%s (pid %d), since %s, rolling out %s", h.Who, h.PID, h.Since, h.Target)
	if h.Run != "" {
		s += ", job " + h.Run
	}
	return s
}

// ThisRunner describes the process taking a lock: user@host and, on the
// common CI systems, the job's address.
func ThisRunner(target string, now time.Time) LockHolder {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	h := LockHolder{Who: who + "@" + host, PID: os.Getpid(), Since: now.UTC().Format(time.RFC3339), Target: target}
	switch {
	case os.Getenv("CI_JOB_URL") != "":
		h.Run = os.Getenv("CI_JOB_URL")
	case os.Getenv("GITHUB_RUN_ID") != "":
		h.Run = os.Getenv("GITHUB_SERVER_URL") + "/" + os.Getenv("GITHUB_REPOSITORY") + "/actions/runs/" + os.Getenv("GITHUB_RUN_ID")
	case os.Getenv("BUILD_URL") != "":
		h.Run = os.Getenv("BUILD_URL")
	}
	return h
}

// LockedError is a lock held by someone else.
type LockedError struct{ Holder LockHolder }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another rollout holds the lock on this cluster: %s", e.Holder)
}

// Lock is a held rollout lock: a key bound to a lease that this process
// keeps alive until Release.
type Lock struct {
	c      *Client
	value  string
	lease  clientv3.LeaseID
	cancel context.CancelFunc
	mu     sync.Mutex
	lost   error
}

// AcquireLock takes the rollout lock for holder, or returns a *LockedError
// naming whoever has it.
func (c *Client) AcquireLock(ctx context.Context, holder LockHolder) (*Lock, error) {
	cl, err := c.Cluster()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	grant, err := cl.Grant(cctx, int64(LockTTL/time.Second))
	if err != nil {
		return nil, explainPermission(err, "granting the lock's lease")
	}
	holder.Lease = strconv.FormatInt(int64(grant.ID), 16)
	value, _ := json.Marshal(holder)
	resp, err := cl.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(LockKey), "=", 0)).
		Then(clientv3.OpPut(LockKey, string(value), clientv3.WithLease(grant.ID))).
		Else(clientv3.OpGet(LockKey)).
		Commit()
	if err != nil {
		_, _ = cl.Revoke(context.WithoutCancel(cctx), grant.ID)
		return nil, explainPermission(err, "writing the lock "+LockKey)
	}
	if !resp.Succeeded {
		_, _ = cl.Revoke(context.WithoutCancel(cctx), grant.ID)
		return nil, &LockedError{Holder: parseHolder(resp.Responses[0].GetResponseRange().GetKvs())}
	}
	kctx, kcancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Lock{c: c, value: string(value), lease: grant.ID, cancel: kcancel}
	go l.renew(kctx, cl, time.Now())
	return l, nil
}

// LockRenewEvery is how often the lock's lease is renewed: a third of its
// TTL, as etcd's own client does, so two renewals may fail before it
// lapses.
const LockRenewEvery = LockTTL / 3

// lockRetryEvery is how soon a failed renewal is tried again.
const lockRetryEvery = time.Second

// lockRenewPeriod is LockRenewEvery, shortened by tests.
var lockRenewPeriod = LockRenewEvery

// renew keeps the lease alive with one short keep-alive at a time, not
// clientv3's KeepAlive: that holds a gRPC stream open on one member for the
// whole rollout, and a member stopped with SIGTERM waits for its open
// streams up to its request timeout (7 s with etcd's defaults) before it
// stops, so the provider's own stream made the stop of whichever member
// held it about 7 s longer (measured by make bench). A renewal that fails
// is retried every lockRetryEvery; the lock is lost once the lease has
// gone unrenewed for its TTL, or etcd says it is gone.
func (l *Lock) renew(ctx context.Context, cl *clientv3.Client, renewed time.Time) {
	wait := lockRenewPeriod
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		cctx, cancel := context.WithTimeout(ctx, l.c.cfg.CallTimeout)
		resp, err := cl.KeepAliveOnce(cctx, l.lease)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && resp.TTL > 0:
			renewed, wait = time.Now(), lockRenewPeriod
		case errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && resp.TTL <= 0):
			l.setLost(errors.New("the lock's lease expired: it could not be renewed in time"))
			return
		case time.Since(renewed) >= LockTTL:
			l.setLost(fmt.Errorf("the lock's lease could not be renewed for %s: %w", LockTTL, err))
			return
		default:
			wait = lockRetryEvery
		}
	}
}

func (l *Lock) setLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		l.lost = err
	}
}

// Held returns nil while this process still holds the lock: its lease is
// renewed and the key still holds this holder (a person may have broken
// it). A rollout checks it before each member.
func (l *Lock) Held(ctx context.Context) error {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost != nil {
		return lost
	}
	cl, err := l.c.Cluster()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, l.c.cfg.CallTimeout)
	defer cancel()
	resp, err := cl.Get(cctx, LockKey)
	if err != nil {
		return fmt.Errorf("reading the lock: %w", err)
	}
	if len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != l.value {
		err := errors.New("the lock was broken by someone else (" + LockKey + " no longer holds this rollout)")
		l.setLost(err)
		return err
	}
	return nil
}

// Release gives the lock up: the key is deleted if it is still this
// holder's, and the lease revoked.
func (l *Lock) Release(ctx context.Context) error {
	l.cancel()
	cl, err := l.c.Cluster()
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, l.c.cfg.CallTimeout)
	defer cancel()
	_, err = cl.Txn(cctx).
		If(clientv3.Compare(clientv3.Value(LockKey), "=", l.value)).
		Then(clientv3.OpDelete(LockKey)).
		Commit()
	_, rerr := cl.Revoke(cctx, l.lease)
	return errors.Join(err, rerr)
}

// CurrentLock returns who holds the rollout lock, or nil when no one does.
func (c *Client) CurrentLock(ctx context.Context) (*LockHolder, error) {
	cl, err := c.Cluster()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	resp, err := cl.Get(cctx, LockKey)
	if err != nil {
		return nil, explainPermission(err, "reading the lock "+LockKey)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	h := parseHolder(resp.Kvs)
	return &h, nil
}

func parseHolder(kvs []*mvccpb.KeyValue) LockHolder {
	var h LockHolder
	if len(kvs) == 0 {
		return h
	}
	if err := json.Unmarshal(kvs[0].Value, &h); err != nil || h.Who == "" {
		h = LockHolder{Who: "unknown (the lock's value is not a holder: " + strconv.Quote(string(kvs[0].Value)) + ")"}
	}
	return h
}
