package rollout

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRunStopsWhenTheLockIsLost: the rollout checks its lock before the
// snapshot and before each member; once it is lost (the lease could not be
// renewed, or a person broke it) no further member is stopped. The lock's
// loss is forced through Executor.Held: a fake, because a lease that stops
// renewing at an exact moment cannot be made on a real cluster.
func TestRunStopsWhenTheLockIsLost(t *testing.T) {
	r := newRig(t, 3, 1, "3.5.21", "3.5.16", env35)
	planned := r.plan().Steps
	e := r.executor(planned)
	var checks atomic.Int32
	e.Held = func(context.Context) error {
		// Held for the snapshot and the first member, lost before the second.
		if checks.Add(1) > 2 {
			return errors.New("the lock was broken by someone else")
		}
		return nil
	}
	err := e.Run(context.Background())
	se := asStepError(t, err)
	if se.Step != "lock" || !se.Unchanged || !strings.Contains(err.Error(), "no longer holds the cluster's rollout lock: the lock was broken by someone else") {
		t.Fatalf("Run = %v", err)
	}
	if got := r.stops(); len(got) != 1 {
		t.Errorf("members stopped: %v, want exactly the one before the lock was lost", got)
	}
	if done := r.doneList(); len(done) != 1 {
		t.Errorf("members done: %v", done)
	}
	r.checkNoViolations()
}
