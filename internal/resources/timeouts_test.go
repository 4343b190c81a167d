package resources

import (
	"testing"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/rollout"
)

// The default create and update timeouts must cover the worst case of a
// 7-member rollout with default gates (every gate using its whole timeout,
// the last member failing and being put back, one SSH outage retried for
// its whole budget), or Terraform would cancel an apply mid-member on the
// defaults.
func TestDefaultTimeoutsCoverSevenMembers(t *testing.T) {
	h := rollout.Health{Timeout: rollout.DefaultTimeout, StableFor: rollout.DefaultStableFor, MemberPause: rollout.DefaultMemberPause}
	worst := rollout.WorstCase(7, h)
	for name, d := range map[string]interface{ Minutes() float64 }{"create": DefaultCreateTimeout, "update": DefaultUpdateTimeout} {
		if d.Minutes() < worst.Minutes() {
			t.Errorf("default %s timeout %.0fm is below the 7-member worst case %s", name, d.Minutes(), worst)
		}
	}
	t.Logf("7-member worst case, SSH retries included: %s; defaults: create %s, update %s", worst, DefaultCreateTimeout, DefaultUpdateTimeout)
}
