package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
)

// Results is bench/results.json.
type Results struct {
	Generated string    `json:"generated"`
	Machine   Machine   `json:"machine"`
	Settings  Settings  `json:"settings"`
	Rollouts  []Rollout `json:"rollouts,omitempty"`
	// Summary holds the medians per method, path and member count.
	Summary  []RolloutSummary    `json:"rollout_summary,omitempty"`
	Timeline map[string][]Bucket `json:"write_latency_timeline,omitempty"` // by method, one 3-member run
	// TimelineStops says when each member was stopped in those runs.
	TimelineStops map[string][]StopEvent `json:"timeline_member_stops,omitempty"`
	Plans         []PlanRun              `json:"plans,omitempty"`
	Snapshot      *SnapshotResult        `json:"snapshot,omitempty"`
	Targets       []Target               `json:"targets"`
	Errors        []string               `json:"errors,omitempty"`
}

// Machine says where the numbers come from.
type Machine struct {
	CPUs      int     `json:"cpus"`
	Load1     float64 `json:"load1_at_start"`
	GoVersion string  `json:"go_version"`
	Terraform string  `json:"terraform"`
}

// Settings are the knobs the run used.
type Settings struct {
	Runs            int      `json:"runs"`
	Members         []int    `json:"members"`
	Paths           []string `json:"paths"`
	StableFor       string   `json:"stable_for"`
	ManualPoll      string   `json:"manual_poll"`
	Writers         int      `json:"writer_clients"`
	PlanClusters    int      `json:"plan_clusters"`
	SnapshotMiB     int      `json:"snapshot_fill_mib"`
	SnapshotMembers int      `json:"snapshot_members"`
}

// Rollout is one measured rollout, by either method.
type Rollout struct {
	Method  string `json:"method"` // provider | manual | floor
	Path    string `json:"path"`   // e.g. 3.5.21→3.5.16
	Members int    `json:"members"`
	Run     int    `json:"run"`
	// Unit is when the hosts' `systemctl start etcd` returns: "notify"
	// (once etcd serves clients) or "simple" (at once). "" in results
	// written before it was measured: notify.
	Unit string `json:"unit,omitempty"`
	// Clients is the client mix during the rollout: "writers" (the
	// writers only) or "kubernetes" (the writers, watch streams on every
	// member, leases kept alive). "" in older results: writers.
	Clients string `json:"clients,omitempty"`
	// DataMiB is about how much the cluster held before the rollout; 0 for
	// a fresh cluster.
	DataMiB int `json:"data_mib,omitempty"`

	WallS          float64            `json:"wall_s"`
	StopToHealthyS map[string]float64 `json:"stop_to_healthy_s"` // stop → first passing health check
	StopToStableS  map[string]float64 `json:"stop_to_stable_s"`  // the same, plus the stability wait
	RestartS       float64            `json:"restart_s"`         // sum of stop_to_stable
	OverheadS      float64            `json:"overhead_s"`        // wall - restart
	SSHConnections int                `json:"ssh_connections"`
	// EtcdStopS is each member's own stop, from its etcd log: the signal
	// received until etcd closed its server.
	EtcdStopS map[string]float64 `json:"etcd_stop_s,omitempty"`
	// SnapshotS is the method's snapshot step (the provider's "snapshot"
	// step, the script's snapshot_s); 0 for the floor, which takes none.
	SnapshotS float64 `json:"snapshot_s,omitempty"`
	// Provider only: durations from its INFO log (seconds).
	Steps map[string]float64 `json:"provider_steps_s,omitempty"`
	// Downgrade is set on a path through etcd's downgrade API.
	Downgrade *DowngradeTiming `json:"downgrade_api,omitempty"`
	Writes    WriteStats       `json:"writes"`
	// Watch and Leases are the "kubernetes" client mix's experience.
	Watch  *WatchStats `json:"watch,omitempty"`
	Leases *LeaseStats `json:"leases,omitempty"`
	// FailedWrites says when (from the command's start) and why writes
	// failed, next to when each member was stopped.
	FailedWrites []FailedWrite `json:"failed_writes,omitempty"`
	MemberStops  []StopEvent   `json:"member_stops,omitempty"`
	// Error says why the run failed. A failed run's writes are still read
	// back (Writes.Lost, Writes.RevisionBackwards); its timings are left
	// out of the medians.
	Error string `json:"error,omitempty"`
	// VerifyError says why the run's acknowledged writes could not be read
	// back: its Writes.Lost is then unknown, not 0.
	VerifyError string `json:"verify_error,omitempty"`
}

// Failed tells a run that did not complete.
func (r Rollout) Failed() bool { return r.Error != "" }

// Result is "ok", or "failed: " and the first line of the error, cut short.
func (r Rollout) Result() string {
	if !r.Failed() {
		return "ok"
	}
	reason, _, _ := strings.Cut(strings.TrimSpace(r.Error), "\n")
	const most = 60
	if rs := []rune(reason); len(rs) > most {
		reason = string(rs[:most-1]) + "…"
	}
	return "failed: " + reason
}

// DowngradeTiming is where a downgrade through etcd's downgrade API waits,
// apart from the member restarts (seconds).
type DowngradeTiming struct {
	// WaitS: validate and enable, until /version reports the target's
	// cluster version and every member's storage version (the provider's
	// "downgrade in effect" duration; the script's downgrade_api_wait).
	WaitS float64 `json:"wait_s"`
	// EndWaitS: the last member healthy on the target, until the end is
	// confirmed: the provider's verify (every member on the target, the
	// cluster version, no downgrade job left), the script's wait for every
	// member's /version to report the target and its cluster version.
	EndWaitS float64 `json:"end_wait_s"`
	// JobEndedByCancel: the provider's verify found the job still enabled
	// and ended it with a cancel (on a 3.5 target it cannot read the job).
	JobEndedByCancel bool `json:"job_ended_by_cancel,omitempty"`
}

// WatchStats is what the watch streams saw of one rollout.
type WatchStats struct {
	Streams        int `json:"streams"`
	ProgressNotify int `json:"progress_notify_streams"` // of Streams
	// Events is the events delivered over every stream; Missed counts the
	// acknowledged writes a stream never delivered (must be 0).
	Events int `json:"events"`
	Missed int `json:"missed"`
	// LongestGapMs is the longest any stream went without an event while
	// the writers ran.
	LongestGapMs float64 `json:"longest_gap_ms"`
	// StreamErrors counts watches the server ended before the run did
	// (compaction, no leader); each was opened again, and what it lost
	// counts in Missed. Errors holds the first few.
	StreamErrors int      `json:"stream_errors"`
	Errors       []string `json:"errors,omitempty"`
}

// LeaseStats is what the leases kept alive saw of one rollout.
type LeaseStats struct {
	Leases int `json:"leases"`
	// Lost counts leases that expired or whose keep-alive ended (must be 0).
	Lost int `json:"lost"`
	// LongestGapMs is the longest a lease went without a keep-alive answer.
	LongestGapMs float64 `json:"longest_keepalive_gap_ms"`
}

// UnitOr and ClientsOr read a run's unit behaviour and client mix, with
// older results' defaults.
func (r Rollout) UnitOr() string {
	if r.Unit == "" {
		return "notify"
	}
	return r.Unit
}

func (r Rollout) ClientsOr() string {
	if r.Clients == "" {
		return "writers"
	}
	return r.Clients
}

// FailedWrite is one write that was not acknowledged.
type FailedWrite struct {
	T         float64 `json:"t_s"`
	LatencyMs float64 `json:"latency_ms"`
	Err       string  `json:"error"`
}

// WriteStats is the client's view of one rollout.
type WriteStats struct {
	Acked             int     `json:"acked"`
	Failed            int     `json:"failed"`
	Lost              int     `json:"lost"`
	RevisionBackwards int     `json:"revision_backwards"`
	P50Ms             float64 `json:"p50_ms"`
	P99Ms             float64 `json:"p99_ms"`
	MaxMs             float64 `json:"max_ms"`
	LongestGapMs      float64 `json:"longest_gap_ms"`
}

func writeStats(r acctest.WriterReport) WriteStats {
	return WriteStats{Acked: r.Acked, Failed: r.Failed, P50Ms: ms(r.P50), P99Ms: ms(r.P99), MaxMs: ms(r.Max), LongestGapMs: ms(r.LongestGap)}
}

// RolloutSummary is the median of a method's runs for one path and size.
type RolloutSummary struct {
	Method  string `json:"method"`
	Path    string `json:"path"`
	Members int    `json:"members"`
	Unit    string `json:"unit"`
	Clients string `json:"clients"`
	DataMiB int    `json:"data_mib,omitempty"`
	Runs    int    `json:"runs"` // completed runs: the medians are theirs
	// FailedRuns did not complete; their writes still count in Lost.
	FailedRuns int `json:"failed_runs"`
	// Unverified runs' writes could not be read back: Lost misses theirs.
	Unverified int `json:"unverified_runs,omitempty"`

	WallS           float64 `json:"wall_s"`
	WallMinS        float64 `json:"wall_min_s"`
	WallMaxS        float64 `json:"wall_max_s"`
	StopToHealthyS  float64 `json:"stop_to_healthy_median_s"`
	StopToHealthyMx float64 `json:"stop_to_healthy_max_s"`
	EtcdStopS       float64 `json:"etcd_stop_median_s"` // SIGTERM to closed, from etcd's logs
	SnapshotS       float64 `json:"snapshot_s,omitempty"`
	OverheadS       float64 `json:"overhead_s"`
	SSHConnections  float64 `json:"ssh_connections"`
	Failed          int     `json:"failed_writes_total"` // over the completed runs
	Lost            int     `json:"lost_writes_total"`   // over every run, failed or not
	// RevisionBackwards: how often a client's revision went backwards,
	// over every run.
	RevisionBackwards int     `json:"revision_backwards_total"`
	P50Ms             float64 `json:"p50_ms"`
	P99Ms             float64 `json:"p99_ms"`
	MaxMs             float64 `json:"max_ms"`
	LongestGapMs      float64 `json:"longest_gap_ms"`
	// The kubernetes client mix, over every run: watch events missed and
	// leases lost (both must be 0); medians of the longest gaps.
	WatchStreams      int     `json:"watch_streams,omitempty"`
	WatchMissed       int     `json:"watch_events_missed_total"`
	WatchLongestGapMs float64 `json:"watch_longest_gap_ms,omitempty"`
	LeasesLost        int     `json:"leases_lost_total"`
	LeaseLongestGapMs float64 `json:"lease_longest_keepalive_gap_ms,omitempty"`
}

// has tells whether r is one of the runs s summarizes.
func (s RolloutSummary) has(r Rollout) bool {
	return r.Method == s.Method && r.Path == s.Path && r.Members == s.Members && r.UnitOr() == s.Unit && r.ClientsOr() == s.Clients && r.DataMiB == s.DataMiB
}

// Bucket is the writes of one time slice of a rollout.
type Bucket struct {
	T      float64 `json:"t_s"` // start of the slice, from the command's start
	MaxMs  float64 `json:"max_ms"`
	Acked  int     `json:"acked"`
	Failed int     `json:"failed"`
}

// StopEvent is a member's stop, in seconds from the command's start.
type StopEvent struct {
	T      float64 `json:"t_s"`
	Member string  `json:"member"`
}

// PlanRun is one timed `terraform plan`.
type PlanRun struct {
	Clusters       int     `json:"clusters"`
	Change         bool    `json:"version_change"`
	Run            int     `json:"run"`
	WallS          float64 `json:"wall_s"`
	SSHConnections int     `json:"ssh_connections"`
	// With a change: the provider's ModifyPlan durations, longest and summed
	// over the resources (they run in parallel).
	ModifyPlanMaxS float64 `json:"modify_plan_max_s,omitempty"`
	ModifyPlanSumS float64 `json:"modify_plan_sum_s,omitempty"`
}

// SnapshotResult compares the provider's snapshot step with etcdctl.
type SnapshotResult struct {
	DBBytes int64         `json:"db_bytes"`
	FillS   float64       `json:"fill_s"`
	Runs    []SnapshotRun `json:"runs"`
}

// SnapshotRun is one snapshot.
type SnapshotRun struct {
	Method  string  `json:"method"` // provider | etcdctl
	Run     int     `json:"run"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
}

// Target is one of the goals and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Goal     string  `json:"goal"`
	Met      bool    `json:"met"`
	Measured bool    `json:"measured"`
	Note     string  `json:"note,omitempty"`
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
func secs(d time.Duration) float64 {
	return round3(d.Seconds())
}
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// median, maxOf and minOf return 0 for no values: JSON has no NaN.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

func minOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Min(xs)
}

// summarize groups the rollouts by method, path and size: the medians and
// the failed writes are the completed runs', the lost writes and revisions
// gone backwards every run's.
func summarize(rs []Rollout) []RolloutSummary {
	type key struct {
		method, path, unit, clients string
		members, data               int
	}
	groups := map[key][]Rollout{}
	var order []key
	for _, r := range rs {
		k := key{r.Method, r.Path, r.UnitOr(), r.ClientsOr(), r.Members, r.DataMiB}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []RolloutSummary
	for _, k := range order {
		g := groups[k]
		var wall, sth, stop, snap, over, sshc, p50, p99, mx, gap, wgap, lgap []float64
		s := RolloutSummary{Method: k.method, Path: k.path, Members: k.members, Unit: k.unit, Clients: k.clients, DataMiB: k.data}
		for _, r := range g {
			s.Lost += r.Writes.Lost
			s.RevisionBackwards += r.Writes.RevisionBackwards
			if r.Watch != nil {
				s.WatchMissed += r.Watch.Missed
				s.WatchStreams = max(s.WatchStreams, r.Watch.Streams)
			}
			if r.Leases != nil {
				s.LeasesLost += r.Leases.Lost
			}
			if r.VerifyError != "" {
				s.Unverified++
			}
			if r.Failed() {
				s.FailedRuns++
				continue
			}
			s.Runs++
			wall = append(wall, r.WallS)
			over = append(over, r.OverheadS)
			sshc = append(sshc, float64(r.SSHConnections))
			sth = append(sth, values(r.StopToHealthyS)...)
			stop = append(stop, values(r.EtcdStopS)...)
			if r.SnapshotS > 0 {
				snap = append(snap, r.SnapshotS)
			}
			if r.Watch != nil {
				wgap = append(wgap, r.Watch.LongestGapMs)
			}
			if r.Leases != nil {
				lgap = append(lgap, r.Leases.LongestGapMs)
			}
			p50 = append(p50, r.Writes.P50Ms)
			p99 = append(p99, r.Writes.P99Ms)
			mx = append(mx, r.Writes.MaxMs)
			gap = append(gap, r.Writes.LongestGapMs)
			s.Failed += r.Writes.Failed
		}
		s.WallS, s.WallMinS, s.WallMaxS = round3(median(wall)), minOf(wall), maxOf(wall)
		s.StopToHealthyS, s.StopToHealthyMx = round3(median(sth)), maxOf(sth)
		s.EtcdStopS, s.SnapshotS = round3(median(stop)), round3(median(snap))
		s.WatchLongestGapMs, s.LeaseLongestGapMs = round3(median(wgap)), round3(median(lgap))
		s.OverheadS = round3(median(over))
		s.SSHConnections = median(sshc)
		s.P50Ms, s.P99Ms, s.MaxMs, s.LongestGapMs = round3(median(p50)), round3(median(p99)), round3(median(mx)), round3(median(gap))
		out = append(out, s)
	}
	return out
}

// bucketize slices the writes of [from, to] into steps of width.
func bucketize(samples []acctest.WriteSample, from, to time.Time, width time.Duration) []Bucket {
	n := int(to.Sub(from)/width) + 1
	if n <= 0 {
		return nil
	}
	out := make([]Bucket, n)
	for i := range out {
		out[i].T = round3((time.Duration(i) * width).Seconds())
	}
	for _, s := range samples {
		i := int(s.Start.Sub(from) / width)
		if s.Start.Before(from) || i >= n {
			continue
		}
		if s.OK {
			out[i].Acked++
			out[i].MaxMs = max(out[i].MaxMs, ms(s.Latency))
		} else {
			out[i].Failed++
		}
	}
	return out
}

func (r *Results) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644)
}

func fmtS(f float64) string { return fmt.Sprintf("%.2f", f) }
