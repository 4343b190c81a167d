package acctest

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// TestClientMixRollingRestart runs a LoadWriter and a ClientMix against a
// 3-member cluster of etcd child processes and restarts one member with
// SIGTERM, as a rolling version change does: no full stream may miss an
// acknowledged write, no lease may be lost, and the member, holding its
// watch streams, takes longer to stop than it did without them.
func TestClientMixRollingRestart(t *testing.T) {
	bin, err := testhosts.EtcdBinary(testhosts.DefaultEtcdVersion)
	if err != nil {
		testhosts.SkipOrFail(t, "client mix: %v", err)
	}
	c := testhosts.StartLocalCluster(t, bin, "127.0.3.1", "127.0.3.2", "127.0.3.3")
	eps := c.Endpoints()

	w, err := StartLoadWriter(eps, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	writerStopped := false
	defer func() {
		if !writerStopped {
			w.Stop()
		}
	}()

	// The member with no stream on it: only the writer's unary calls.
	const victim = 1
	bare := c.Stop(t, victim)
	time.Sleep(500 * time.Millisecond)
	c.Start(t, victim)

	opts := MixOptions{StreamsPerMember: 100}
	mix, err := StartClientMix(eps, w.Prefix(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mix.Close() }()
	for i := range c.Members {
		if n := c.WatchStreams(t, i); n != opts.StreamsPerMember {
			t.Fatalf("member %s holds %d watch streams, want %d (one gRPC stream per watch)", c.Members[i].Name, n, opts.StreamsPerMember)
		}
	}

	from := time.Now()
	time.Sleep(time.Second)
	withStreams := c.Stop(t, victim)
	time.Sleep(2 * time.Second)
	c.Start(t, victim)
	back := time.Now()
	for c.WatchStreams(t, victim) < opts.StreamsPerMember {
		if time.Since(back) > 20*time.Second {
			t.Fatalf("member %s holds %d watch streams 20s after it restarted, want %d", c.Members[victim].Name, c.WatchStreams(t, victim), opts.StreamsPerMember)
		}
		time.Sleep(200 * time.Millisecond)
	}
	reopened := time.Since(back)
	time.Sleep(time.Second)
	samples := w.Stop()
	writerStopped = true

	// A write outside the writer's prefix, after the mix started: no full
	// stream delivers it. Reported as if the writer had acknowledged it,
	// it stands for a write the streams lost, a fault a healthy cluster
	// cannot be made to produce. It also leaves the full streams, whose
	// last event is older, to be brought up to the revision by progress
	// notifications in Stop.
	cl, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	other, err := cl.Put(ctx, "/client-mix-test/not-watched", "x")
	if err != nil {
		t.Fatal(err)
	}
	to := time.Now()

	stopBegan := time.Now()
	mix.Stop()
	stopTook := time.Since(stopBegan)
	lost, _, err := w.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := mix.Report(samples, from, to)
	t.Logf("member %s stopped in %s without streams, %s with %d; its streams were back %s after it restarted; Stop took %s",
		c.Members[victim].Name, bare.Round(time.Millisecond), withStreams.Round(time.Millisecond), opts.StreamsPerMember,
		reopened.Round(time.Millisecond), stopTook.Round(time.Millisecond))
	t.Logf("writes: %s", SummarizeWrites(samples, from, to))
	t.Logf("mix: %s", r)
	for _, e := range r.Errors {
		t.Logf("mix problem: %s", e)
	}

	if lost != 0 {
		t.Errorf("the writer lost %d acknowledged writes", lost)
	}
	if want := len(c.Members) * opts.StreamsPerMember; r.Streams != want {
		t.Errorf("Streams = %d, want %d", r.Streams, want)
	}
	if want := len(c.Members) * 2; r.FullStreams != want {
		t.Errorf("FullStreams = %d, want %d (the default 2 a member)", r.FullStreams, want)
	}
	if want := len(c.Members) * 25; r.ProgressNotifyStreams != want {
		t.Errorf("ProgressNotifyStreams = %d, want %d (every 4th)", r.ProgressNotifyStreams, want)
	}
	if r.Checked == 0 || r.Events < r.Checked*r.FullStreams {
		t.Errorf("Checked = %d, Events = %d: want writes checked and each delivered to all %d full streams", r.Checked, r.Events, r.FullStreams)
	}
	if r.Missed != 0 {
		t.Errorf("Missed = %d, want 0", r.Missed)
	}
	if stopTook > 3*time.Second {
		t.Errorf("Stop took %s with every member up: the full streams did not catch up promptly", stopTook)
	}
	if r.Leases != 20 || r.LeasesLost != 0 {
		t.Errorf("Leases = %d, LeasesLost = %d; want 20 and 0", r.Leases, r.LeasesLost)
	}
	if r.LongestKeepAliveGap <= 0 || r.LongestKeepAliveGap >= 10*time.Second {
		t.Errorf("LongestKeepAliveGap = %s, want within the 10s TTL", r.LongestKeepAliveGap)
	}
	// The streams on the victim went without events from its hard stop
	// until they were back on the restarted member.
	if r.LongestGap < 2*time.Second {
		t.Errorf("LongestGap = %s, want at least the 2s the member was down", r.LongestGap)
	}
	// On SIGTERM etcd stops its gRPC server gracefully, waiting for open
	// streams up to its request timeout (5s + 2 election timeouts).
	if withStreams < bare+2*time.Second {
		t.Errorf("member stopped in %s with streams, %s without: want the streams to hold it up", withStreams, bare)
	}

	faulty := mix.Report(append(samples, WriteSample{Start: to, OK: true, Key: w.Prefix() + "lost", Rev: other.Header.Revision}), from, to)
	if faulty.Missed != r.Missed+1 || faulty.Checked != r.Checked+1 {
		t.Errorf("with a write no stream delivered: Missed %d, Checked %d; want %d and %d", faulty.Missed, faulty.Checked, r.Missed+1, r.Checked+1)
	}

	// Stop must not hang with a member down: a small mix, then a member
	// killed; the full streams on it cannot catch up, and Stop says so.
	small, err := StartClientMix(eps, w.Prefix(), MixOptions{StreamsPerMember: 4, Leases: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(t, 2)
	stopBegan = time.Now()
	small.Stop()
	stopTook = time.Since(stopBegan)
	if err := small.Close(); err != nil {
		t.Errorf("Close with a member down: %v", err)
	}
	rs := small.Report(nil, from, time.Now())
	t.Logf("with %s killed Stop took %s: %v", c.Members[2].Name, stopTook.Round(time.Millisecond), rs.Errors)
	if stopTook > 15*time.Second {
		t.Errorf("Stop took %s with a member down", stopTook)
	}
	if !strings.Contains(strings.Join(rs.Errors, "\n"), "had delivered up to revision") {
		t.Errorf("Stop with a member down did not report its full streams behind: %q", rs.Errors)
	}
}

// TestClientMixReportCountsMissedWrite checks Report's arithmetic on a
// mix built by hand, whose full streams "received" chosen revisions: a
// write a stream never delivered is missed (a fault a real cluster cannot
// be made to produce), writes outside (start, stop] are not checked,
// failed writes are ignored, and gaps are measured within [from, to].
func TestClientMixReportCountsMissedWrite(t *testing.T) {
	began := time.Now().Add(-time.Minute)
	m := &ClientMix{began: began, startRev: 100, stopRev: 120, stoppedAt: began.Add(30 * time.Second), stopped: true}
	full := func(revs ...int64) *mixStream {
		s := &mixStream{full: true, lastRev: m.startRev}
		for i, rev := range revs {
			s.record([]*clientv3.Event{{Kv: &mvccpb.KeyValue{ModRevision: rev}}}, uint64((time.Duration(i+1) * time.Second).Microseconds()))
			s.events.Add(1)
		}
		return s
	}
	all := []int64{101, 102, 103, 104, 105}
	m.streams = []*mixStream{full(all...), full(101, 102, 104, 105), {progress: true}}

	at := began.Add
	samples := []WriteSample{
		{Start: at(0), OK: true, Rev: 99},                 // before the mix started
		{Start: at(0), OK: true, Rev: 101},                // delivered by both
		{Start: at(0), OK: true, Rev: 103},                // the second stream never delivered it
		{Start: at(0), OK: true, Rev: 105},                // delivered by both
		{Start: at(0), Err: "timeout"},                    // failed
		{Start: at(0), OK: true, Rev: 110},                // within (start, stop]: neither delivered it
		{Start: at(40 * time.Second), OK: true, Rev: 121}, // after Stop's revision
	}
	r := m.Report(samples, at(0), at(20*time.Second))
	if r.Checked != 4 || r.Missed != 2 {
		t.Errorf("Checked %d, Missed %d; want 4 and 2 (103 and 110)", r.Checked, r.Missed)
	}
	if r.Streams != 3 || r.FullStreams != 2 || r.ProgressNotifyStreams != 1 || r.Events != 9 {
		t.Errorf("Streams %d, FullStreams %d, ProgressNotifyStreams %d, Events %d; want 3, 2, 1, 9", r.Streams, r.FullStreams, r.ProgressNotifyStreams, r.Events)
	}
	// The last event arrived at +5s (+4s on the second stream), the
	// window ends at +20s.
	if r.LongestGap != 16*time.Second {
		t.Errorf("LongestGap = %s, want 16s", r.LongestGap)
	}
	if r = m.Report(samples[:4], at(0), at(20*time.Second)); r.Missed != 1 {
		t.Errorf("without the write at 110: Missed %d, want 1", r.Missed)
	}
}
