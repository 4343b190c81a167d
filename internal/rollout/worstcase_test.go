package rollout

import (
	"testing"
	"time"
)

// resourceDefaultUpdateTimeout is resources.DefaultUpdateTimeout (and
// DefaultCreateTimeout), the default of the resource's timeouts block. It is
// written out because internal/resources imports this package, so this
// package's tests cannot import it. Keep the two equal.
const resourceDefaultUpdateTimeout = 60 * time.Minute

// TestWorstCaseFitsDefaultTimeout: with the default health settings a
// 7-member rollout that uses every gate timeout still ends, with the failed
// member put back, inside the resource's default 60m, with room left for
// one full SSH retry budget (a host whose sshd restarts) besides snapshot
// and staging. Otherwise Terraform would cancel the apply in the middle of
// a member, on the defaults.
func TestWorstCaseFitsDefaultTimeout(t *testing.T) {
	h := Health{Timeout: DefaultTimeout, StableFor: DefaultStableFor, MemberPause: DefaultMemberPause}
	const members = 7
	worst := WorstCase(members, h)
	left := resourceDefaultUpdateTimeout - worst - SSHRetryBudget
	t.Logf("worst case for %d members: %s; with one SSH retry budget (%s): %s; left for snapshot and staging: %s",
		members, worst, SSHRetryBudget, worst+SSHRetryBudget, left)
	if left <= 0 {
		t.Errorf("a %d-member rollout can take %s plus %s of SSH retries, beyond the default timeout of %s",
			members, worst, SSHRetryBudget, resourceDefaultUpdateTimeout)
	}
	// StableFor lies inside the gate's Timeout, so it must not change the bound.
	if WorstCase(members, Health{Timeout: DefaultTimeout, StableFor: time.Minute}) != WorstCase(members, Health{Timeout: DefaultTimeout}) {
		t.Error("stable_for counted outside the gate timeout")
	}
	// The largest health.timeout that still fits, for the docs.
	largest := time.Duration(0)
	for to := time.Minute; to <= 30*time.Minute; to += 30 * time.Second {
		if WorstCase(members, Health{Timeout: to})+SSHRetryBudget < resourceDefaultUpdateTimeout {
			largest = to
		}
	}
	t.Logf("largest health.timeout that fits %d members in %s: %s", members, resourceDefaultUpdateTimeout, largest)
	if largest < DefaultTimeout {
		t.Errorf("the default health.timeout %s is above the largest that fits, %s", DefaultTimeout, largest)
	}
}
