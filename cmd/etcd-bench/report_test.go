package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
)

const benchPath = "3.5.21→3.5.16"

// resultsWithFailedRun: two provider runs on the judged path, the second
// failed after losing one acknowledged write, and a manual run.
func resultsWithFailedRun() *Results {
	res := &Results{
		Settings: Settings{Runs: 2, StableFor: "0s", ManualPoll: "100ms", Writers: 4},
		Rollouts: []Rollout{
			{Method: "provider", Path: benchPath, Members: 3, Run: 1, WallS: 10, OverheadS: 4,
				StopToHealthyS: map[string]float64{"s1": 1, "s2": 1, "s3": 1},
				Writes:         WriteStats{Acked: 900, LongestGapMs: 200}},
			{Method: "provider", Path: benchPath, Members: 3, Run: 2, WallS: 4.5,
				Writes: WriteStats{Acked: 300, Failed: 7, Lost: 1, RevisionBackwards: 2},
				Error:  "terraform apply in /tmp/x: exit status 1\nError: member s2 failed its gate"},
			{Method: "manual", Path: benchPath, Members: 3, Run: 1, WallS: 14, OverheadS: 6,
				StopToHealthyS: map[string]float64{"s1": 2, "s2": 2, "s3": 2},
				Writes:         WriteStats{Acked: 1300, LongestGapMs: 400}},
		},
	}
	res.Summary = summarize(res.Rollouts)
	res.Targets = targets(res, benchPath)
	return res
}

func findTarget(t *testing.T, res *Results, prefix string) Target {
	t.Helper()
	for _, tg := range res.Targets {
		if strings.HasPrefix(tg.Name, prefix) {
			return tg
		}
	}
	t.Fatalf("no target %q in %+v", prefix, res.Targets)
	return Target{}
}

// TestReportCountsLostWritesOfFailedRuns: a failed run's lost write counts
// in the summary and misses the lost-writes target, while its timings and
// failed writes stay out of the medians and the failed-writes target.
func TestReportCountsLostWritesOfFailedRuns(t *testing.T) {
	res := resultsWithFailedRun()

	var prov *RolloutSummary
	for i := range res.Summary {
		if res.Summary[i].Method == "provider" {
			prov = &res.Summary[i]
		}
	}
	if prov == nil {
		t.Fatalf("no provider summary: %+v", res.Summary)
	}
	if prov.Runs != 1 || prov.FailedRuns != 1 {
		t.Errorf("provider summary: %d runs ok, %d failed; want 1 and 1", prov.Runs, prov.FailedRuns)
	}
	if prov.Lost != 1 || prov.RevisionBackwards != 2 {
		t.Errorf("provider summary: %d lost, revision backwards %d; want the failed run's 1 and 2", prov.Lost, prov.RevisionBackwards)
	}
	if prov.WallS != 10 || prov.WallMinS != 10 || prov.Failed != 0 {
		t.Errorf("provider summary: wall %.2f (min %.2f), %d failed writes; want the completed run's only", prov.WallS, prov.WallMinS, prov.Failed)
	}

	lost := findTarget(t, res, "acknowledged writes lost")
	if !lost.Measured || lost.Met || lost.Value != 1 {
		t.Errorf("lost-writes target %+v: want measured, 1 lost, missed", lost)
	}
	if !strings.Contains(lost.Note, "over 2 provider rollouts, failed ones included: 1 writes lost") {
		t.Errorf("lost-writes note %q does not count the failed run", lost.Note)
	}
	if fw := findTarget(t, res, "failed writes"); fw.Value != 0 || !fw.Met {
		t.Errorf("failed-writes target %+v: the failed run's failed writes counted", fw)
	}
	if w := findTarget(t, res, "provider ÷ scripted guide, 3 members, writers, notify"); !w.Measured || w.Value != round3(10.0/14) {
		t.Errorf("wall time target %+v: want 10 ÷ 14, the failed run left out", w)
	}
}

// TestReportShowsFailedRun: the per-run table marks the failed run failed,
// with the first line of its error, and shows its lost write; the summary
// row counts it among the failed runs.
func TestReportShowsFailedRun(t *testing.T) {
	res := resultsWithFailedRun()
	var out bytes.Buffer
	printTablesTo(&out, res)
	text := out.String()

	var failed, ok []string
	inRuns := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "Rollout runs") {
			inRuns = true
			continue
		}
		if inRuns && strings.TrimSpace(line) == "" {
			break
		}
		if inRuns && strings.HasPrefix(line, benchPath) {
			f := strings.Fields(line)
			if strings.Contains(line, "failed:") {
				failed = f
			} else {
				ok = append(ok, line)
			}
		}
	}
	if failed == nil {
		t.Fatalf("no failed run in the per-run table:\n%s", text)
	}
	line := strings.Join(failed, " ")
	for _, want := range []string{"writers notify 0 provider 2 failed: terraform apply in /tmp/x: exit status 1 4.50 300 7 1 2"} {
		if !strings.Contains(line, want) {
			t.Errorf("failed run's row %q lacks %q", line, want)
		}
	}
	if strings.Contains(text, "member s2 failed its gate") {
		t.Errorf("the table shows more than the error's first line:\n%s", text)
	}
	if len(ok) != 2 {
		t.Errorf("%d completed runs in the per-run table, want 2:\n%s", len(ok), text)
	}
	for _, l := range ok {
		if !strings.Contains(l, " ok ") {
			t.Errorf("completed run's row %q is not marked ok", l)
		}
	}
	// Summary row: path, members, clients, unit, data, method, runs ok,
	// failed runs, …, lost.
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) > 16 && f[0] == benchPath && f[5] == "provider" {
			if f[6] != "1" || f[7] != "1" || f[16] != "1" {
				t.Errorf("provider summary row %q: want 1 run ok, 1 failed, 1 lost", l)
			}
			return
		}
	}
	t.Errorf("no provider summary row:\n%s", text)
}

// TestReportUnverifiedRunMissesTarget: a run whose writes could not be
// read back leaves the lost-writes target missed, not met with 0, and the
// per-run table shows its lost writes as unknown.
func TestReportUnverifiedRunMissesTarget(t *testing.T) {
	res := &Results{Rollouts: []Rollout{
		{Method: "provider", Path: benchPath, Members: 3, Run: 1, WallS: 9, Writes: WriteStats{Acked: 500},
			Error: "reading back the writes: context deadline exceeded", VerifyError: "context deadline exceeded"},
	}}
	res.Summary = summarize(res.Rollouts)
	res.Targets = targets(res, benchPath)
	lost := findTarget(t, res, "acknowledged writes lost")
	if lost.Met || !strings.Contains(lost.Note, "could not be read back") {
		t.Errorf("lost-writes target %+v: want missed, saying the writes could not be read back", lost)
	}
	if s := res.Summary[0]; s.Runs != 0 || s.FailedRuns != 1 || s.Unverified != 1 {
		t.Errorf("summary %+v: want 0 runs ok, 1 failed, 1 unverified", s)
	}
	var out bytes.Buffer
	printTablesTo(&out, res)
	if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), "failed: reading back the writes: context deadline exceeded 9.00 500 0 ? ?") {
		t.Errorf("per-run table does not show the unread writes as unknown:\n%s", out.String())
	}
}

func TestRolloutResult(t *testing.T) {
	if got := (Rollout{}).Result(); got != "ok" {
		t.Errorf("completed run: %q", got)
	}
	long := strings.Repeat("x", 100) + "\nsecond line"
	got := Rollout{Error: long}.Result()
	if !strings.HasPrefix(got, "failed: xxx") || strings.Contains(got, "second") || len([]rune(got)) > len("failed: ")+60 {
		t.Errorf("long error: %q", got)
	}
}

// fakeWriter is the run's writer, for finishWrites.
type fakeWriter struct {
	samples     []acctest.WriteSample
	lost, back  int
	err         error
	stopped     bool
	verifiedCtx error // ctx.Err() when Verify ran
}

func (w *fakeWriter) Stop() []acctest.WriteSample { w.stopped = true; return w.samples }

func (w *fakeWriter) Verify(ctx context.Context) (int, int, error) {
	w.verifiedCtx = ctx.Err()
	return w.lost, w.back, w.err
}

// TestFinishWritesOfFailedRun: a run whose command failed, or that the
// bench cancelled, still has its writes stopped, summed and read back, and
// the lost one counted; the run's error stays the command's.
func TestFinishWritesOfFailedRun(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	samples := []acctest.WriteSample{
		{Start: start.Add(time.Second), Latency: 3 * time.Millisecond, OK: true},
		{Start: start.Add(2 * time.Second), Latency: 2 * time.Second, Err: "context deadline exceeded"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cmdErr := errors.New("terraform apply: exit status 1")
	w := &fakeWriter{samples: samples, lost: 1, back: 1}
	m := measured{start: start, end: start.Add(5 * time.Second)}
	err := m.finishWrites(ctx, w, cmdErr)
	if !errors.Is(err, cmdErr) {
		t.Errorf("run error %v, want the command's", err)
	}
	if !w.stopped || w.verifiedCtx != nil {
		t.Errorf("writer stopped %v, read back with ctx error %v: want stopped, and read back although the bench was cancelled", w.stopped, w.verifiedCtx)
	}
	if m.Writes.Lost != 1 || m.Writes.RevisionBackwards != 1 || m.Writes.Acked != 1 || m.Writes.Failed != 1 || m.VerifyError != "" {
		t.Errorf("writes %+v, verify error %q: want 1 ok, 1 failed, 1 lost, 1 backwards", m.Writes, m.VerifyError)
	}

	// A read-back that fails is recorded, and named with the command's error.
	w = &fakeWriter{samples: samples, err: errors.New("etcdserver: request timed out")}
	m = measured{start: start, end: start.Add(5 * time.Second)}
	err = m.finishWrites(context.Background(), w, cmdErr)
	if !errors.Is(err, cmdErr) || !strings.Contains(err.Error(), "could not be read back: etcdserver: request timed out") {
		t.Errorf("run error %v, want the command's and the read-back's", err)
	}
	if m.VerifyError != "etcdserver: request timed out" {
		t.Errorf("verify error %q", m.VerifyError)
	}
	// Without a command error, a failed read-back fails the run.
	m = measured{start: start, end: start.Add(5 * time.Second)}
	if err := m.finishWrites(context.Background(), w, nil); err == nil || m.VerifyError == "" {
		t.Errorf("read-back failure after a completed command: error %v, verify error %q", err, m.VerifyError)
	}
}
