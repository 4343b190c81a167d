package rollout

import (
	"context"
	"fmt"
	"time"
)

// SSHRetryBudget bounds how long a remote step keeps retrying after its SSH
// connection failed, e.g. while a host's sshd restarts. Every remote step is
// idempotent, so running it again is safe.
const SSHRetryBudget = 2 * time.Minute

// retry runs f until it returns nil, ctx ends, or budget has passed, waiting
// 250ms, 500ms, … up to 4s between attempts. It returns f's last error.
func retry(ctx context.Context, budget time.Duration, f func() error) error {
	deadline := time.Now().Add(budget)
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, budget)
		}
		if serr := sleep(ctx, wait); serr != nil {
			return err
		}
		wait = min(2*wait, 4*time.Second)
	}
}
