package rollout

// The gate's catch-up check compares the changed member's APPLIED index
// (StatusResponse.RaftAppliedIndex) with the leader's COMMITTED index
// (StatusResponse.RaftIndex) as the gate first saw it. These tests run the
// gate against a fake cluster whose members keep the two apart, so a gate
// that compared other fields would fail them.
//
// They use the fake cluster because the fault cannot be made for real
// reliably in CI: a real member that has received and committed the log
// but not applied it needs a slow or wedged apply loop, which no test can
// order.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
)

// firstLook is the fake cluster, remembering the leader of the first View
// it returned: the gate takes its catch-up target from that look.
type firstLook struct {
	*fakeCluster
	mu     sync.Mutex
	leader *etcdx.Member
}

func (f *firstLook) Observe(ctx context.Context) (*etcdx.View, error) {
	view, err := f.fakeCluster.Observe(ctx)
	if err == nil {
		f.mu.Lock()
		if l, ok := view.Leader(); ok && f.leader == nil {
			f.leader = &l
		}
		f.mu.Unlock()
	}
	return view, err
}

func (f *firstLook) first(t *testing.T) etcdx.Member {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leader == nil {
		t.Fatal("the gate never saw a leader")
	}
	return *f.leader
}

// statusSeen is one Status answer of the gated member.
type statusSeen struct {
	at                 time.Time
	committed, applied uint64
}

// appliedGate runs the gate of member s2 of a healthy 3.5.21 cluster led by
// s1, after prepare set up the fake; it returns the leader the gate first
// saw, s2's Status answers in order, when s2 first passed, and the gate's
// error.
func appliedGate(t *testing.T, timeout time.Duration, prepare func(r *rig)) (r *rig, leader etcdx.Member, seen []statusSeen, healthyAt time.Time, err error) {
	t.Helper()
	r = newRig(t, 3, 1, "3.5.21", "3.5.21", env35)
	r.spec.Health.Timeout = timeout
	var mu sync.Mutex
	r.c.onStatus = func(name string, st *clientv3.StatusResponse) {
		if name == "s2" {
			mu.Lock()
			seen = append(seen, statusSeen{at: time.Now(), committed: st.RaftIndex, applied: st.RaftAppliedIndex})
			mu.Unlock()
		}
	}
	if prepare != nil {
		prepare(r)
	}
	fl := &firstLook{fakeCluster: r.c}
	e := r.executor(nil)
	e.Cluster = fl
	ms, _ := r.spec.Member("s2")
	healthyAt, err = e.gate(context.Background(), ms, "3.5.21", true)
	mu.Lock()
	defer mu.Unlock()
	return r, fl.first(t), append([]statusSeen(nil), seen...), healthyAt, err
}

// TestFakeTellsCommittedFromApplied: the fake reports a member's committed
// and applied index apart, for the leader in the View as for a follower in
// its Status, and never an applied index above the committed one.
func TestFakeTellsCommittedFromApplied(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.5.21", "3.5.21", env35)
	r.c.setApply("s1", 25, false)
	r.c.setApply("s2", 15, false)
	ctx := context.Background()
	for range 20 {
		if _, err := r.c.Status(ctx, memberURL(2)); err != nil {
			t.Fatal(err)
		}
	}
	view, err := r.c.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader, _ := view.Leader()
	if leader.Name != "s1" || leader.AppliedIndex+25 != leader.RaftIndex {
		t.Errorf("leader %s: committed %d, applied %d; want applied 25 behind", leader.Name, leader.RaftIndex, leader.AppliedIndex)
	}
	st, err := r.c.Status(ctx, memberURL(2))
	if err != nil {
		t.Fatal(err)
	}
	if st.RaftIndex != leader.RaftIndex || st.RaftAppliedIndex+15 != st.RaftIndex {
		t.Errorf("s2: committed %d (leader %d), applied %d; want committed caught up, applied 15 behind", st.RaftIndex, leader.RaftIndex, st.RaftAppliedIndex)
	}
	for _, m := range view.Members {
		if m.AppliedIndex > m.RaftIndex {
			t.Errorf("%s applied %d, above its committed %d", m.Name, m.AppliedIndex, m.RaftIndex)
		}
	}
}

// TestGateWaitsForAppliedIndex: a member whose applied index trails its
// committed index passes its gate only once its applied index reached the
// leader's committed index of the gate's first look; its committed index
// got there first.
func TestGateWaitsForAppliedIndex(t *testing.T) {
	t.Parallel()
	_, leader, seen, healthyAt, err := appliedGate(t, 2*time.Second, func(r *rig) { r.c.setApply("s2", 30, false) })
	if err != nil {
		t.Fatalf("gate failed although s2 kept applying: %v", err)
	}
	target := leader.RaftIndex
	var committedAt, appliedAt time.Time
	for _, s := range seen {
		if committedAt.IsZero() && s.committed >= target {
			committedAt = s.at
		}
		if appliedAt.IsZero() && s.applied >= target {
			appliedAt = s.at
		}
	}
	if appliedAt.IsZero() {
		t.Fatalf("gate passed, but s2 never reported applied index %d or more: %+v", target, seen)
	}
	if healthyAt.Before(appliedAt) {
		t.Errorf("s2 passed at %s, before its applied index reached %d at %s", healthyAt.Format(time.StampMicro), target, appliedAt.Format(time.StampMicro))
	}
	if committedAt.IsZero() || !committedAt.Before(appliedAt) {
		t.Errorf("s2's committed index did not reach %d before its applied one: the test shows nothing", target)
	}
}

// TestGateFailsWhenOnlyCommittedCaughtUp: a member whose committed index
// (RaftIndex) equals the leader's while its applied index (RaftAppliedIndex)
// stays behind must not pass its gate: it fails at health.timeout with the
// catch-up error. The leader's own applied index is kept below the member's,
// so neither a gate that compared the member's committed index, nor one
// that aimed at the leader's applied index, would fail here: this test
// catches both mistakes.
func TestGateFailsWhenOnlyCommittedCaughtUp(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	r, leader, seen, _, err := appliedGate(t, timeout, func(r *rig) {
		r.c.setApply("s1", 500, false)
		r.c.setApply("s2", 0, true)
	})
	if err == nil {
		t.Fatal("gate passed although s2 applied nothing")
	}
	var cu *catchUpError
	if !errors.As(err, &cu) {
		t.Fatalf("error %v is not a catch-up error", err)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("not reached within %s: ", timeout)) {
		t.Errorf("error %q, want the plain timeout: the applied index never rose", err)
	}
	last := seen[len(seen)-1]
	if cu.Target != leader.RaftIndex || cu.Applied != last.applied {
		t.Errorf("catch-up error at applied %d, target %d; want s2's applied %d and the leader's committed %d", cu.Applied, cu.Target, last.applied, leader.RaftIndex)
	}

	// What the gate saw: s2's committed index caught up with the leader's,
	// its applied index did not, and it is above the leader's applied one.
	ctx := context.Background()
	view, err := r.c.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := view.Leader()
	st, err := r.c.Status(ctx, memberURL(2))
	if err != nil {
		t.Fatal(err)
	}
	if st.RaftIndex != now.RaftIndex {
		t.Errorf("s2 committed %d, the leader %d: want the committed indexes equal", st.RaftIndex, now.RaftIndex)
	}
	right := func(l etcdx.Member, st *clientv3.StatusResponse, target uint64) bool {
		return st.RaftAppliedIndex >= target
	}
	wrong := map[string]func(l etcdx.Member, st *clientv3.StatusResponse, target uint64) bool{
		"the member's committed index against the leader's committed index": func(l etcdx.Member, st *clientv3.StatusResponse, target uint64) bool {
			return st.RaftIndex >= target
		},
		"the member's applied index against the leader's applied index": func(l etcdx.Member, st *clientv3.StatusResponse, _ uint64) bool {
			return st.RaftAppliedIndex >= l.AppliedIndex
		},
		"the member's committed index against the leader's applied index": func(l etcdx.Member, st *clientv3.StatusResponse, _ uint64) bool {
			return st.RaftIndex >= l.AppliedIndex
		},
	}
	for _, l := range []etcdx.Member{leader, now} {
		if right(l, st, l.RaftIndex) {
			t.Errorf("s2 applied %d, leader committed %d: the fake lets s2 catch up", st.RaftAppliedIndex, l.RaftIndex)
		}
		for name, caughtUp := range wrong {
			if !caughtUp(l, st, l.RaftIndex) {
				t.Errorf("a gate comparing %s would fail here too (s2 committed %d, applied %d; leader committed %d, applied %d): the test cannot tell it from the right one",
					name, st.RaftIndex, st.RaftAppliedIndex, l.RaftIndex, l.AppliedIndex)
			}
		}
	}
}

// TestGatePassesOnceStuckApplyResumes: a member whose apply is stuck does
// not pass while stuck, although its committed index is the leader's; once
// it applies again it catches up and passes.
func TestGatePassesOnceStuckApplyResumes(t *testing.T) {
	t.Parallel()
	const stuckFor = 150 * time.Millisecond
	var resumed time.Time
	var mu sync.Mutex
	_, leader, seen, healthyAt, err := appliedGate(t, 2*time.Second, func(r *rig) {
		r.c.setApply("s2", 0, true)
		time.AfterFunc(stuckFor, func() {
			mu.Lock()
			resumed = time.Now()
			mu.Unlock()
			r.c.setApply("s2", 0, false)
		})
	})
	if err != nil {
		t.Fatalf("gate failed although s2 applied again: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if resumed.IsZero() || healthyAt.Before(resumed) {
		t.Fatalf("s2 passed at %s, before its apply resumed at %s", healthyAt.Format(time.StampMicro), resumed.Format(time.StampMicro))
	}
	caughtUpWhileStuck := false
	for _, s := range seen {
		if s.at.Before(resumed) && s.committed >= leader.RaftIndex {
			caughtUpWhileStuck = true
			if s.applied >= leader.RaftIndex {
				t.Errorf("s2 reported applied %d while stuck, at or above the target %d", s.applied, leader.RaftIndex)
			}
		}
	}
	if !caughtUpWhileStuck {
		t.Error("s2's committed index never reached the leader's while its apply was stuck: the test shows nothing")
	}
}
