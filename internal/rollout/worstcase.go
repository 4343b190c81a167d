package rollout

import "time"

// Bounds the executor sets itself. They are defined here only: the
// executor waits on them and WorstCase adds them up.
const (
	// moveLeaderWait bounds moveLeaderAway: how long it keeps moving
	// leadership away from a member until that member reports another leader.
	moveLeaderWait = 30 * time.Second
	// othersDownCheck bounds othersDown, the look at the other members
	// after a failed gate.
	othersDownCheck = 30 * time.Second
	// putBackExtra is what putBack's context allows beyond the put-back
	// gate's bound and the unit's start timeout: reading the record, the
	// undo, the start command and closing the record.
	putBackExtra = time.Minute
)

// WorstCase is the longest an apply of n members can wait on its own bounds
// with health h: n-1 members each pass their gate at the last moment, the
// last one fails its gate and is put back (a failed gate stops the rollout),
// and verify waits its full timeout as well, which no single run can do
// together with a failed gate, so this is an upper bound. Every member pays
// the leadership wait (moveLeaderWait) twice: moveLeaderAway runs before
// the config is read and again right before the stop. The failed member
// adds the look at the others (othersDownCheck) and its put-back: a gate on
// its previous version plus putBackExtra.
//
// It also holds one SSH outage, a host whose sshd restarts once during the
// apply: the remote step that meets it retries for up to SSHRetryBudget and
// sleeps, between its attempts, at most every wait of the retry policy that
// fits in that budget (retryBackoff(SSHRetryBudget)); the steps after it
// connect at once. Every remote step is retried so (run, uploads), a member
// goes through a dozen of them, and each could in theory wait that long:
// more than one outage per apply is not counted.
//
// Not counted: a gate extended while a member catches up (up to
// CatchUpBoundFactor × health.timeout), the HTTP/JSON gateway check, the
// downgrade API's waits and a unit's start timeout during a put-back; nor
// snapshot, staging and the SSH commands themselves, which the executor
// does not bound: they get what is left.
func WorstCase(n int, h Health) time.Duration {
	if n <= 0 {
		return 0
	}
	passing := 2*moveLeaderWait + h.Timeout
	failing := 2*moveLeaderWait + h.Timeout + othersDownCheck + h.Timeout + putBackExtra
	pauses := time.Duration(n-1) * h.MemberPause
	verify := h.Timeout
	sshRetries := retryBackoff(SSHRetryBudget)
	return time.Duration(n-1)*passing + failing + pauses + verify + sshRetries
}
