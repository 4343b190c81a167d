package rollout

import "time"

// Bounds the executor sets itself, in execute.go.
const (
	moveLeaderWait  = 30 * time.Second // moveLeaderAway's waitFor
	othersDownCheck = 30 * time.Second // othersDown, after a failed gate
	putBackExtra    = time.Minute      // putBack's context: Timeout + 1m
)

// WorstCase is the longest an apply of n members can wait on its own bounds
// with health h: n-1 members each pass their gate at the last moment, the
// last one fails its gate and is put back (a failed gate stops the rollout),
// and verify waits its full timeout as well, which no single run can do
// together with a failed gate, so this is an upper bound. Every member pays
// the leadership wait twice: moveLeaderAway runs before the config is read
// and again right before the stop. Snapshot, staging and the SSH commands
// themselves are not bounded by the executor; they get what is left.
func WorstCase(n int, h Health) time.Duration {
	if n <= 0 {
		return 0
	}
	passing := 2*moveLeaderWait + h.Timeout
	failing := 2*moveLeaderWait + h.Timeout + othersDownCheck + h.Timeout + putBackExtra
	pauses := time.Duration(n-1) * h.MemberPause
	verify := h.Timeout
	return time.Duration(n-1)*passing + failing + pauses + verify
}
