package rollout

// health.stable_for is the last part of a member's gate: the member must
// pass every check without a break for that long. These tests run the gate
// against the fake cluster, whose Status answers they can spoil one by one;
// a real member cannot be made to report errors on a chosen answer.

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// stableGate runs the gate of member s2 of a healthy 3.5.21 cluster with
// health.stable_for = stable, spoiling s2's Status answers for which bad
// returns true (it gets the answer's number, from 1). It returns the gate's
// when it returned, when s2 last gave a spoiled answer, and its error.
func stableGate(t *testing.T, stable, timeout time.Duration, bad func(n int) bool) (done, lastBad time.Time, err error) {
	t.Helper()
	r := newRig(t, 3, 1, "3.5.21", "3.5.21", env35)
	r.spec.Health.Timeout = timeout
	r.spec.Health.StableFor = stable
	var mu sync.Mutex
	n := 0
	r.c.onStatus = func(name string, st *clientv3.StatusResponse) {
		if name != "s2" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if bad(n) {
			st.Errors = []string{"etcdserver: injected for the test"}
			lastBad = time.Now()
		}
	}
	ms, _ := r.spec.Member("s2")
	_, err = r.executor(nil).gate(context.Background(), ms, "3.5.21", true)
	done = time.Now()
	mu.Lock()
	defer mu.Unlock()
	return done, lastBad, err
}

// TestGateHoldsForStableFor: a member that reports errors for a while
// passes only once it has been healthy for the whole of stable_for since
// its last bad answer.
func TestGateHoldsForStableFor(t *testing.T) {
	t.Parallel()
	const stable = 400 * time.Millisecond
	done, lastBad, err := stableGate(t, stable, 5*time.Second, func(n int) bool { return n <= 3 })
	if err != nil {
		t.Fatalf("gate failed although s2 was healthy after its third answer: %v", err)
	}
	if lastBad.IsZero() {
		t.Fatal("s2 never gave a spoiled answer: the test shows nothing")
	}
	if held := done.Sub(lastBad); held < stable {
		t.Errorf("gate passed %s after s2's last bad answer, before stable_for %s", held, stable)
	}
}

// TestGateFailsWhenHealthFlaps: a member whose every other answer reports
// errors is never healthy for stable_for in a row, so its gate fails at
// health.timeout, however many of its answers were good.
func TestGateFailsWhenHealthFlaps(t *testing.T) {
	t.Parallel()
	_, lastBad, err := stableGate(t, 200*time.Millisecond, time.Second, func(n int) bool { return n%2 == 0 })
	if err == nil {
		t.Fatal("gate passed although s2 reported errors on every other answer")
	}
	if lastBad.IsZero() {
		t.Fatal("s2 never gave a spoiled answer: the test shows nothing")
	}
	// On a busy machine the fake's applied index may still be rising in
	// the first window, which earns one more: "not reached within 2s
	// (health.timeout 1s, extended 1 times …)". The last check either
	// caught a bad answer or a good one that had not yet held for 200ms.
	if !regexp.MustCompile(`^not reached within .*: (healthy for \S+ of 200ms|s2 reports errors: etcdserver: injected for the test)$`).MatchString(err.Error()) {
		t.Errorf("error %q, want the gate's timeout, ending on a bad answer or on stable_for 200ms", err)
	}
}

// TestGateWantsTheTargetVersion: a member that answers every check but
// reports another version than the target never passes its gate.
func TestGateWantsTheTargetVersion(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.5.21", "3.5.21", env35)
	r.spec.Health.Timeout = 500 * time.Millisecond
	r.c.onStatus = func(name string, st *clientv3.StatusResponse) {
		if name == "s2" {
			st.Version = "3.5.16"
		}
	}
	ms, _ := r.spec.Member("s2")
	_, err := r.executor(nil).gate(context.Background(), ms, "3.5.21", true)
	if err == nil || !strings.Contains(err.Error(), "s2 reports version 3.5.16, want 3.5.21") {
		t.Fatalf("gate error %v, want s2's version named", err)
	}
}
