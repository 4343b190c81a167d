package rollout

import (
	"fmt"
	"strings"
)

// StepError is a rollout failure: which member, which step, what happened to
// the member afterwards, and what the operator should do next.
type StepError struct {
	Member string
	Step   string
	Err    error
	// Unchanged: nothing on any member was changed by this step.
	Unchanged bool
	// Restored: the member was put back on its previous version and passed
	// its gate there.
	Restored   bool
	RestoreErr error
	// LeftOnTarget: the member was left on the target, not put back. With
	// LeftBecause empty, it is healthy there but another member is not;
	// otherwise LeftBecause says why it could not be put back.
	LeftOnTarget bool
	LeftBecause  string
	Logs         string // last lines of service.log_command
	// Cancelled: the downgrade job was cancelled on the way back.
	Cancelled bool
	Hint      string
	// Recovery is filled by the caller with the kept files and snapshot.
	Recovery string
}

func (e *StepError) Unwrap() error { return e.Err }

func (e *StepError) Error() string {
	var b strings.Builder
	if e.Member != "" {
		fmt.Fprintf(&b, "member %s, step %s: %v", e.Member, e.Step, e.Err)
	} else {
		fmt.Fprintf(&b, "step %s: %v", e.Step, e.Err)
	}
	switch {
	case e.Unchanged:
		b.WriteString("\n\nNothing was changed by this step; the rollout stopped before touching any further member.")
	case e.LeftOnTarget && e.LeftBecause != "":
		fmt.Fprintf(&b, "\n\nMember %s was left on the target version, not put back: %s. It was started there but has not passed its health gate. The rollout stopped; no other member was stopped by the provider.", e.Member, e.LeftBecause)
	case e.LeftOnTarget:
		fmt.Fprintf(&b, "\n\nMember %s runs the target version and serves reads; it was left there. The rollout stopped because another member is unhealthy; no other member was stopped by the provider.", e.Member)
	case e.Restored:
		fmt.Fprintf(&b, "\n\nMember %s was put back on its previous binary and config, restarted, and passed its health gate. The members after it were not touched; the cluster is healthy with mixed versions.", e.Member)
	case e.RestoreErr != nil:
		fmt.Fprintf(&b, "\n\nPUTTING MEMBER %s BACK ALSO FAILED: %v\nThe member may be down. Quorum holds while every other member is healthy; restore this member by hand.", e.Member, e.RestoreErr)
	}
	if e.Cancelled {
		b.WriteString(" etcd's downgrade job was cancelled, so the cluster version returns to the higher minor once every member runs it.")
	}
	if e.Recovery != "" {
		b.WriteString("\n\n" + e.Recovery)
	}
	if e.Hint != "" {
		b.WriteString("\n\n" + e.Hint)
	}
	if e.Logs != "" {
		fmt.Fprintf(&b, "\n\nLast lines of the service log on %s:\n%s", e.Member, e.Logs)
	}
	return b.String()
}
