package rollout

import (
	"context"
	"fmt"
	"time"
)

// The SSH retry policy, defined here only: retry and WorstCase both use it.
const (
	// SSHRetryBudget bounds how long a remote step keeps retrying after its
	// SSH connection failed, e.g. while a host's sshd restarts. Every remote
	// step is idempotent, so running it again is safe.
	SSHRetryBudget = 2 * time.Minute
	// retryFirstWait is the wait after the first failed attempt; each
	// further wait doubles, up to retryMaxWait.
	retryFirstWait = 250 * time.Millisecond
	retryMaxWait   = 4 * time.Second
)

// nextRetryWait is the wait after one of wait: twice as long, at most
// retryMaxWait.
func nextRetryWait(wait time.Duration) time.Duration {
	return min(2*wait, retryMaxWait)
}

// retryBackoff is the longest retry can sleep between attempts within
// budget: its waits, in order, while they still end within budget, which
// is what it sleeps when every attempt fails at once (attempts that take
// time leave less of the budget for waits).
func retryBackoff(budget time.Duration) time.Duration {
	var slept time.Duration
	for wait := retryFirstWait; slept+wait <= budget; wait = nextRetryWait(wait) {
		slept += wait
	}
	return slept
}

// retry runs f until it returns nil, ctx ends, or budget has passed,
// waiting retryFirstWait, then twice as long each time up to retryMaxWait,
// between attempts. It returns f's last error.
func retry(ctx context.Context, budget time.Duration, f func() error) error {
	return retryWith(ctx, budget, time.Now, sleep, f)
}

// retryWith is retry on the clock now and sleep, so that tests can run the
// policy's schedule without waiting it out.
func retryWith(ctx context.Context, budget time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error, f func() error) error {
	deadline := now().Add(budget)
	wait := retryFirstWait
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if now().Add(wait).After(deadline) {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, budget)
		}
		if serr := sleep(ctx, wait); serr != nil {
			return err
		}
		wait = nextRetryWait(wait)
	}
}
