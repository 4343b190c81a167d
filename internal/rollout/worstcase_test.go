package rollout

import (
	"context"
	"errors"
	"testing"
	"time"
)

// resourceDefaultUpdateTimeout is resources.DefaultUpdateTimeout (and
// DefaultCreateTimeout), the default of the resource's timeouts block. It is
// written out because internal/resources imports this package, so this
// package's tests cannot import it. Keep the two equal.
const resourceDefaultUpdateTimeout = 60 * time.Minute

// TestWorstCaseFitsDefaultTimeout: with the default health settings a
// 7-member rollout that uses every gate timeout and one SSH outage still
// ends, with the failed member put back, inside the resource's default 60m,
// with room left for snapshot and staging. Otherwise Terraform would cancel
// the apply in the middle of a member, on the defaults.
//
// internal/resources (warnIfTimeoutShort and its test) adds one more
// SSHRetryBudget to WorstCase, so that sum must fit as well, or the plan
// would warn on the defaults.
func TestWorstCaseFitsDefaultTimeout(t *testing.T) {
	h := Health{Timeout: DefaultTimeout, StableFor: DefaultStableFor, MemberPause: DefaultMemberPause}
	const members = 7
	worst := WorstCase(members, h)
	left := resourceDefaultUpdateTimeout - worst
	t.Logf("worst case for %d members, one SSH outage (%s of retry backoff) included: %s; left for snapshot and staging: %s",
		members, retryBackoff(SSHRetryBudget), worst, left)
	if left <= 0 {
		t.Errorf("a %d-member rollout can take %s, beyond the default timeout of %s", members, worst, resourceDefaultUpdateTimeout)
	}
	// StableFor lies inside the gate's Timeout, so it must not change the bound.
	if WorstCase(members, Health{Timeout: DefaultTimeout, StableFor: time.Minute}) != WorstCase(members, Health{Timeout: DefaultTimeout}) {
		t.Error("stable_for counted outside the gate timeout")
	}
	// The largest health.timeout that still fits, for the docs.
	largest := time.Duration(0)
	for to := time.Minute; to <= 30*time.Minute; to += 30 * time.Second {
		if WorstCase(members, Health{Timeout: to}) < resourceDefaultUpdateTimeout {
			largest = to
		}
	}
	t.Logf("largest health.timeout that fits %d members in %s: %s", members, resourceDefaultUpdateTimeout, largest)
	if largest < DefaultTimeout {
		t.Errorf("the default health.timeout %s is above the largest that fits, %s", DefaultTimeout, largest)
	}
}

// TestWorstCaseTerms: WorstCase adds up the bounds the executor waits on,
// the same constants it uses (moveLeaderWait in moveLeaderAway,
// othersDownCheck in othersDown, putBackExtra in putBack), plus the retry
// policy's backoff for one SSH outage.
func TestWorstCaseTerms(t *testing.T) {
	h := Health{Timeout: 3 * time.Minute, StableFor: 10 * time.Second, MemberPause: 45 * time.Second}
	for _, n := range []int{0, -1} {
		if got := WorstCase(n, h); got != 0 {
			t.Errorf("WorstCase(%d) = %s, want 0", n, got)
		}
	}
	sshRetries := retryBackoff(SSHRetryBudget)
	if sshRetries <= 0 || sshRetries > SSHRetryBudget {
		t.Fatalf("retry backoff %s, want within (0, %s]", sshRetries, SSHRetryBudget)
	}
	// One member: it fails its gate (two leadership waits, the gate, the
	// look at the others), is put back (a gate on its previous version and
	// putBackExtra), verify waits its timeout, and one SSH outage.
	one := 2*moveLeaderWait + h.Timeout + othersDownCheck + h.Timeout + putBackExtra + h.Timeout + sshRetries
	if got := WorstCase(1, h); got != one {
		t.Errorf("WorstCase(1) = %s, want %s", got, one)
	}
	// Each further member passes at the end of its gate, after two
	// leadership waits, and is followed by a pause.
	each := 2*moveLeaderWait + h.Timeout + h.MemberPause
	for n := 1; n < 9; n++ {
		if got := WorstCase(n+1, h) - WorstCase(n, h); got != each {
			t.Errorf("WorstCase(%d) - WorstCase(%d) = %s, want %s", n+1, n, got, each)
		}
	}
}

// retrySchedule runs the real retry loop (retryWith) on a fake clock with
// an attempt that always fails after attempt, and returns the waits it
// slept and how many attempts it made.
func retrySchedule(t *testing.T, budget, attempt time.Duration) (waits []time.Duration, attempts int) {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sleep := func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		now = now.Add(d)
		return nil
	}
	lost := errors.New("ssh: connection lost")
	err := retryWith(context.Background(), budget, clock, sleep, func() error {
		attempts++
		now = now.Add(attempt)
		return lost
	})
	if !errors.Is(err, lost) {
		t.Fatalf("retry returned %v, want the attempt's error", err)
	}
	return waits, attempts
}

// TestWorstCaseCountsRetrySchedule: the SSH retry term of WorstCase is what
// the retry loop really sleeps, run on a fake clock through its whole
// budget with attempts that fail at once. If the retry policy changes (its
// waits, their growth, its cap or how it checks the budget) without
// retryBackoff following, this fails.
func TestWorstCaseCountsRetrySchedule(t *testing.T) {
	waits, attempts := retrySchedule(t, SSHRetryBudget, 0)
	var slept time.Duration
	for _, w := range waits {
		slept += w
	}
	t.Logf("one SSH outage: %d attempts, %d waits, %s of backoff within %s", attempts, len(waits), slept, SSHRetryBudget)
	if attempts != len(waits)+1 {
		t.Errorf("%d attempts for %d waits", attempts, len(waits))
	}
	if got := retryBackoff(SSHRetryBudget); got != slept {
		t.Errorf("retryBackoff(%s) = %s, but retry slept %s", SSHRetryBudget, got, slept)
	}
	// WorstCase's only term that is not a health setting or a bound of the
	// executor's own is that backoff.
	fixed := 2*moveLeaderWait + othersDownCheck + putBackExtra
	if got := WorstCase(1, Health{}) - fixed; got != slept {
		t.Errorf("WorstCase counts %s of SSH retries, retry sleeps %s", got, slept)
	}
	// Attempts that take time (a dial that times out) leave less of the
	// budget for waits: failing at once is the worst case.
	for _, attempt := range []time.Duration{time.Millisecond, time.Second, 15 * time.Second} {
		waits, _ := retrySchedule(t, SSHRetryBudget, attempt)
		var d time.Duration
		for _, w := range waits {
			d += w
		}
		if d > slept {
			t.Errorf("with attempts of %s retry slept %s, more than the %s WorstCase counts", attempt, d, slept)
		}
	}
}
