package acctest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
)

// MixOptions shape a ClientMix. A zero field takes its default; a negative
// one means none.
type MixOptions struct {
	// StreamsPerMember is how many gRPC watch streams are opened against
	// each member (default 100).
	StreamsPerMember int
	// FullStreamsPerMember is how many of those watch the writer's whole
	// prefix and are checked for missed events (default 2); the rest watch
	// quiet prefixes of their own, as most Kubernetes watches see few
	// events.
	FullStreamsPerMember int
	// ProgressNotifyEvery: every Nth stream of a member asks for progress
	// notify (default 4).
	ProgressNotifyEvery int
	// Leases is how many leases are granted, each with a key attached, and
	// kept alive with KeepAlive (default 20).
	Leases int
	// LeaseTTL is the leases' TTL in seconds (default 10).
	LeaseTTL int64
}

func (o MixOptions) withDefaults() MixOptions {
	def := func(v, d int) int {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 0
		}
		return v
	}
	o.StreamsPerMember = def(o.StreamsPerMember, 100)
	o.FullStreamsPerMember = min(def(o.FullStreamsPerMember, 2), o.StreamsPerMember)
	o.ProgressNotifyEvery = def(o.ProgressNotifyEvery, 4)
	o.Leases = def(o.Leases, 20)
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10
	}
	return o
}

// MixReport is what a ClientMix's clients experienced.
type MixReport struct {
	Streams, ProgressNotifyStreams int
	// FullStreams watch the writer's prefix; Checked is how many
	// acknowledged writes each of them had to deliver: every acknowledged
	// write with a revision after the mix started and up to the revision
	// current at Stop, whenever it was sent (a watch from revision r must
	// deliver every later change, so no time window applies).
	FullStreams, Checked int
	// Events is the number of events delivered over every stream.
	Events int
	// Missed is how many of the Checked writes some full stream never
	// delivered, whatever the reason: a dropped event, a compaction that
	// canceled the watch, a stream still behind at Stop.
	Missed int
	// LongestGap is the longest any full stream went without an event
	// within [from, to] (the window's edges count as events).
	LongestGap time.Duration
	// StreamErrors counts watches that ended before Stop (canceled by the
	// server: compaction, no leader, ...; or their channel closed) and
	// events that arrived out of revision order. A watch that ended was
	// opened again, as a Kubernetes watch cache would (a full stream from
	// the revision after the last it delivered, or from the compaction),
	// so the events lost in between count in Missed.
	StreamErrors int
	// Leases is how many were kept alive; a lease is lost if its keep-alive
	// channel closed before Stop, or the TTL check at Stop found it expired.
	Leases, LeasesLost int
	// LongestKeepAliveGap is the longest time any lease went without a
	// keep-alive response within [from, to] (edges count). With nothing
	// wrong it is about a third of LeaseTTL, the client's keep-alive period.
	LongestKeepAliveGap time.Duration
	// Errors holds the first few problems: stream errors, leases lost, and
	// Stop's own (the current revision unreadable, a TTL check that failed,
	// a stream still behind).
	Errors []string
}

func (r MixReport) String() string {
	return fmt.Sprintf("watch streams %d (%d full, %d with progress notify), events %d, acknowledged writes checked %d, missed %d, "+
		"longest gap on a full stream %s, stream errors %d; leases %d, lost %d, longest keep-alive gap %s",
		r.Streams, r.FullStreams, r.ProgressNotifyStreams, r.Events, r.Checked, r.Missed,
		r.LongestGap.Round(time.Millisecond), r.StreamErrors, r.Leases, r.LeasesLost, r.LongestKeepAliveGap.Round(time.Millisecond))
}

// ClientMix is the rest of a Kubernetes-like client load beside a
// LoadWriter: watch streams on every member and leases kept alive.
//
// A member being stopped with SIGTERM waits for its open gRPC streams, up
// to its request timeout, before it stops; watchers therefore change how
// long a rolling version change takes, and the mix measures what its
// clients experienced meanwhile: events missed, the longest time without
// one, leases lost.
//
// Start it with StartClientMix, Stop it, take its Report, Close it.
type ClientMix struct {
	id       string
	opts     MixOptions
	began    time.Time
	startRev int64 // full streams watch from startRev+1

	watchClients []*clientv3.Client // one per member, with just that member as endpoint
	leaseClients []*clientv3.Client // one per member, each with every endpoint
	streams      []*mixStream
	leases       []*mixLease

	ctx      context.Context // ends every watch and keep-alive
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopping atomic.Bool // Stop has begun ending streams: their ends are not errors

	readyLeft atomic.Int64
	ready     chan struct{} // closed when every stream has been created once

	closeWatch, closeLease sync.Once
	watchCloseErr          error
	leaseCloseErr          error

	mu           sync.Mutex
	stopped      bool
	stoppedAt    time.Time
	stopRev      int64
	streamErrors int
	errs         []string
}

// maxMixErrors bounds MixReport.Errors.
const maxMixErrors = 20

// maxStreamLog bounds a full stream's event log: at 2-4 bytes an event,
// millions of events. Past it, later events are not checked, and that is
// reported.
const maxStreamLog = 8 << 20

// mixStream is one watch, on one gRPC stream of its own.
type mixStream struct {
	member, index  int // index is the stream's number within the mix
	full, progress bool
	key            string
	client         *clientv3.Client
	events         atomic.Int64 // delivered over this stream
	created        bool         // by runStream only

	mu   sync.Mutex
	wctx context.Context // the open watch's context (its metadata names the gRPC stream), or nil
	// Full streams only: per event, uvarint revision delta and uvarint
	// arrival delta (µs), from startRev and the mix's start.
	log       []byte
	lastRev   int64
	lastAt    uint64
	confirmed int64 // every event up to it was delivered (last event, or a progress notify)
	compacted int64 // the watch was canceled by a compaction at this revision
	logFullAt int64 // > 0: the log filled up after this revision; later ones are not checked
}

// mixLease is one lease kept alive.
type mixLease struct {
	id     clientv3.LeaseID
	client *clientv3.Client

	mu   sync.Mutex
	acks []uint64 // keep-alive responses, µs since the mix's start
	lost bool
}

// StartClientMix opens opts.StreamsPerMember watch streams against each of
// endpoints, the full ones on writerPrefix (a LoadWriter's Prefix), and
// grants and keeps alive opts.Leases leases. It returns once every stream
// has been created on its member, or an error when that did not happen
// within 30 s or a lease could not be set up.
func StartClientMix(endpoints []string, writerPrefix string, opts MixOptions) (*ClientMix, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("client mix: no endpoints")
	}
	opts = opts.withDefaults()
	if writerPrefix == "" && opts.FullStreamsPerMember > 0 {
		return nil, errors.New("client mix: full streams need the writer's prefix")
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	ctx, cancel := context.WithCancel(context.Background())
	m := &ClientMix{id: hex.EncodeToString(id), opts: opts, began: time.Now(), ctx: ctx, cancel: cancel, ready: make(chan struct{})}
	fail := func(err error) (*ClientMix, error) {
		m.Stop()
		_ = m.Close()
		return nil, fmt.Errorf("client mix: %w", err)
	}

	// Lease clients know every member and fail over between them; each
	// has one keep-alive stream, and the round-robin balancer puts those on
	// different members.
	for i := range endpoints {
		eps := append(append([]string(nil), endpoints[i:]...), endpoints[:i]...)
		cl, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return fail(err)
		}
		m.leaseClients = append(m.leaseClients, cl)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	resp, err := m.leaseClients[0].Get(rctx, m.prefix(), clientv3.WithCountOnly())
	rcancel()
	if err != nil {
		return fail(fmt.Errorf("reading the current revision: %w", err))
	}
	m.startRev = resp.Header.Revision

	for i := range opts.Leases {
		if err := m.startLease(i); err != nil {
			return fail(err)
		}
	}

	// Watch clients have one member each, so each member really holds its
	// streams (and a stream waits for its member to come back).
	for _, ep := range endpoints {
		cl, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return fail(err)
		}
		m.watchClients = append(m.watchClients, cl)
	}
	for member, cl := range m.watchClients {
		for i := range opts.StreamsPerMember {
			s := &mixStream{member: member, index: len(m.streams), client: cl, lastRev: m.startRev, confirmed: m.startRev}
			s.full = i < opts.FullStreamsPerMember
			s.progress = opts.ProgressNotifyEvery > 0 && i%opts.ProgressNotifyEvery == 0
			s.key = writerPrefix
			if !s.full {
				s.key = fmt.Sprintf("%squiet/%d/", m.prefix(), s.index)
			}
			m.streams = append(m.streams, s)
		}
	}
	m.readyLeft.Store(int64(len(m.streams)))
	if len(m.streams) == 0 {
		close(m.ready)
	}
	for _, s := range m.streams {
		m.wg.Go(func() { m.runStream(s) })
	}
	select {
	case <-m.ready:
	case <-time.After(30 * time.Second):
		return fail(fmt.Errorf("%d of %d watch streams were not created within 30s", m.readyLeft.Load(), len(m.streams)))
	}
	return m, nil
}

// prefix is where the mix's own keys and quiet watches live.
func (m *ClientMix) prefix() string { return "/client-mix/" + m.id + "/" }

// since is now, in µs since the mix started (monotonic).
func (m *ClientMix) since() uint64 { return uint64(time.Since(m.began) / time.Microsecond) }

func (m *ClientMix) at(us uint64) time.Time { return m.began.Add(time.Duration(us) * time.Microsecond) }

// problem records one problem; stream says whether it counts as a stream
// error.
func (m *ClientMix) problem(stream bool, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if stream {
		m.streamErrors++
	}
	if len(m.errs) < maxMixErrors {
		m.errs = append(m.errs, fmt.Sprintf("+%s: ", time.Since(m.began).Round(time.Millisecond))+fmt.Sprintf(format, args...))
	}
}

// startLease grants lease i, attaches a key to it and keeps it alive.
func (m *ClientMix) startLease(i int) error {
	l := &mixLease{client: m.leaseClients[i%len(m.leaseClients)]}
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	g, err := l.client.Grant(ctx, m.opts.LeaseTTL)
	if err != nil {
		return fmt.Errorf("granting lease %d: %w", i, err)
	}
	l.id = g.ID
	m.leases = append(m.leases, l) // from here on Stop revokes it
	if _, err := l.client.Put(ctx, m.prefix()+"lease/"+strconv.Itoa(i), "held", clientv3.WithLease(l.id)); err != nil {
		return fmt.Errorf("attaching a key to lease %d: %w", i, err)
	}
	ch, err := l.client.KeepAlive(m.ctx, l.id)
	if err != nil {
		return fmt.Errorf("keeping lease %d alive: %w", i, err)
	}
	m.wg.Go(func() {
		for range ch {
			at := m.since()
			l.mu.Lock()
			l.acks = append(l.acks, at)
			l.mu.Unlock()
		}
		if !m.stopping.Load() {
			l.mu.Lock()
			l.lost = true
			l.mu.Unlock()
			m.problem(false, "lease %x: its keep-alive channel closed (no response within its TTL, or it expired)", int64(l.id))
		}
	})
	return nil
}

// watchRetry bounds the pause before a watch that ended is opened again.
const (
	watchRetryMin = 500 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

// runStream keeps stream s's watch open until Stop.
func (m *ClientMix) runStream(s *mixStream) {
	pause := watchRetryMin
	for attempt := 0; ; attempt++ {
		// clientv3 multiplexes every Watch whose context has the same
		// outgoing metadata onto one gRPC stream (watcher.streams is keyed
		// by streamKeyFromCtx, the printed metadata); a value of our own
		// per stream gives each watch its own gRPC stream, as separate
		// Kubernetes watches would be. A new value per attempt keeps a
		// new watch off a gRPC stream that is still closing.
		ctx := metadata.AppendToOutgoingContext(m.ctx, "watch-stream", strconv.Itoa(s.index)+"."+strconv.Itoa(attempt))
		// Kubernetes' apiserver watches with WithRequireLeader (etcd3
		// watcher, createWatchChan), so a member that lost its leader
		// cancels them rather than leaving them silent; these do the same,
		// full and quiet alike.
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCreatedNotify()}
		if s.progress {
			opts = append(opts, clientv3.WithProgressNotify())
		}
		if s.full {
			// WithPrevKV stays off: only revisions are checked.
			opts = append(opts, clientv3.WithRev(s.resumeRev()))
		}
		s.mu.Lock()
		s.wctx = ctx
		s.mu.Unlock()
		why := m.consume(s, s.client.Watch(ctx, s.key, opts...))
		s.mu.Lock()
		s.wctx = nil
		s.mu.Unlock()
		cancel()
		if m.stopping.Load() || m.ctx.Err() != nil {
			return
		}
		m.problem(true, "stream %d on member %d: %s; opening it again", s.index, s.member, why)
		if why.created {
			pause = watchRetryMin
		}
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, watchRetryMax)
	}
}

// streamEnd is why a watch ended, and whether it had been created.
type streamEnd struct {
	reason  string
	created bool
}

func (e streamEnd) String() string { return e.reason }

// consume reads a watch until it ends.
func (m *ClientMix) consume(s *mixStream, ch clientv3.WatchChan) streamEnd {
	var end streamEnd
	for resp := range ch {
		if err := resp.Err(); err != nil || resp.Canceled {
			if resp.CompactRevision != 0 {
				s.mu.Lock()
				s.compacted = resp.CompactRevision
				s.mu.Unlock()
			}
			end.reason = fmt.Sprintf("watch canceled: %v", err)
			return end
		}
		if resp.Created {
			end.created = true
			if !s.created {
				s.created = true
				if m.readyLeft.Add(-1) == 0 {
					close(m.ready)
				}
			}
			continue
		}
		if len(resp.Events) == 0 {
			if resp.IsProgressNotify() {
				s.mu.Lock()
				s.confirmed = max(s.confirmed, resp.Header.Revision)
				s.mu.Unlock()
			}
			continue
		}
		s.events.Add(int64(len(resp.Events)))
		if s.full {
			back, rev, filled := s.record(resp.Events, m.since())
			if back > 0 {
				m.problem(true, "stream %d on member %d: %d events older than revision %d, which it had delivered", s.index, s.member, back, rev)
			}
			if filled {
				m.problem(false, "stream %d on member %d: its event log is full (%d bytes); events after revision %d are not checked", s.index, s.member, maxStreamLog, rev)
			}
		}
	}
	end.reason = "watch channel closed"
	return end
}

// record logs the events' revisions, which arrived at time at; it returns
// how many went back before a revision already delivered, the last
// revision, and whether the log just filled up.
func (s *mixStream) record(evs []*clientv3.Event, at uint64) (backwards int, last int64, filled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		rev := ev.Kv.ModRevision
		if rev < s.lastRev {
			backwards++
			continue
		}
		if s.logFullAt == 0 {
			if len(s.log) < maxStreamLog {
				s.log = binary.AppendUvarint(s.log, uint64(rev-s.lastRev))
				s.log = binary.AppendUvarint(s.log, at-s.lastAt)
				s.lastAt = at
			} else {
				s.logFullAt, filled = s.lastRev, true
			}
		}
		s.lastRev = rev
	}
	s.confirmed = max(s.confirmed, s.lastRev)
	return backwards, s.lastRev, filled
}

// resumeRev is where a full stream's next watch starts: after everything
// it delivered, or at the compaction that canceled it.
func (s *mixStream) resumeRev() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.confirmed+1, s.lastRev+1, s.compacted)
}

// Stop ends every stream and keep-alive. It first reads the current
// revision and gives the full streams up to 5 s to deliver everything up
// to it (asking lagging ones for a progress notification), so a write
// acknowledged before Stop that a stream never delivered counts as
// missed; then it checks each lease's TTL and revokes it. Every step has a
// timeout: with every member up Stop takes well under a second, and with
// members down it still returns, in under 30 s.
func (m *ClientMix) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.mu.Unlock()

	var stopRev int64
	if len(m.leaseClients) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		resp, err := m.leaseClients[0].Get(ctx, m.prefix(), clientv3.WithCountOnly())
		cancel()
		if err != nil {
			m.problem(false, "stop: reading the current revision: %v (each full stream is checked up to what it delivered)", err)
		} else {
			stopRev = resp.Header.Revision
			m.catchUp(stopRev, 5*time.Second)
		}
	}

	m.stopping.Store(true)
	stoppedAt := time.Now()
	m.cancel()
	m.checkLeases()
	// A stream whose member is down waits inside clientv3 for it to come
	// back, whatever its context; closing the watch clients ends it.
	m.closeWatchClients()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		m.problem(false, "stop: streams or keep-alives still running 5s after their clients closed")
	}
	m.mu.Lock()
	m.stopRev, m.stoppedAt = stopRev, stoppedAt
	m.mu.Unlock()
}

// catchUp waits, up to limit, until every full stream has delivered
// everything up to rev.
func (m *ClientMix) catchUp(rev int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		var behind []*mixStream
		for _, s := range m.streams {
			if !s.full {
				continue
			}
			s.mu.Lock()
			if s.confirmed < rev {
				behind = append(behind, s)
			}
			s.mu.Unlock()
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range behind {
				s.mu.Lock()
				c := s.confirmed
				s.mu.Unlock()
				m.problem(false, "stop: stream %d on member %d had delivered up to revision %d of %d after %s", s.index, s.member, c, rev, limit)
			}
			return
		}
		// A quiet writer sends no events: ask for a progress notification,
		// which the server sends once the watch has delivered everything
		// up to the revision it names. Only on an open watch: for a
		// context naming no gRPC stream, RequestProgress opens one.
		var wg sync.WaitGroup
		for _, s := range behind {
			s.mu.Lock()
			wctx := s.wctx
			s.mu.Unlock()
			if wctx == nil {
				continue
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(wctx, 500*time.Millisecond)
				_ = s.client.RequestProgress(ctx)
				cancel()
			})
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
	}
}

// checkLeases asks each lease's remaining TTL, marks expired ones lost,
// and revokes them all (which deletes their keys).
func (m *ClientMix) checkLeases() {
	var wg sync.WaitGroup
	for _, l := range m.leases {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			resp, err := l.client.TimeToLive(ctx, l.id)
			switch {
			case errors.Is(err, rpctypes.ErrLeaseNotFound) || (err == nil && resp.TTL <= 0):
				l.mu.Lock()
				wasLost := l.lost
				l.lost = true
				l.mu.Unlock()
				if !wasLost {
					m.problem(false, "lease %x: expired at Stop", int64(l.id))
				}
				return
			case err != nil:
				m.problem(false, "stop: lease %x: checking its TTL: %v", int64(l.id), err)
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, _ = l.client.Revoke(rctx, l.id)
			rcancel()
		})
	}
	wg.Wait()
}

// closeClients closes cls concurrently, waiting 5 s at most, ignoring the
// error of a client already closed.
func closeClients(cls []*clientv3.Client) error {
	errc := make(chan error, len(cls))
	for _, cl := range cls {
		go func() { errc <- cl.Close() }()
	}
	var errs []error
	timeout := time.After(5 * time.Second)
	for range cls {
		select {
		case err := <-errc:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		case <-timeout:
			return errors.Join(append(errs, errors.New("closing etcd clients took over 5s"))...)
		}
	}
	return errors.Join(errs...)
}

func (m *ClientMix) closeWatchClients() {
	m.closeWatch.Do(func() { m.watchCloseErr = closeClients(m.watchClients) })
}

// Close stops the mix if Stop was not called, and releases its clients.
func (m *ClientMix) Close() error {
	m.Stop()
	m.closeWatchClients()
	m.closeLease.Do(func() { m.leaseCloseErr = closeClients(m.leaseClients) })
	return errors.Join(m.watchCloseErr, m.leaseCloseErr)
}

// Report sums up what the mix's clients experienced; call it after Stop.
// acked are the LoadWriter's samples (failed ones are ignored): each full
// stream must have delivered every acknowledged write whose revision is
// after the mix started and at most the revision current at Stop, so
// Missed does not depend on [from, to]; the gaps are measured within
// [from, to].
func (m *ClientMix) Report(acked []WriteSample, from, to time.Time) MixReport {
	m.mu.Lock()
	stopRev, end := m.stopRev, m.stoppedAt
	r := MixReport{StreamErrors: m.streamErrors, Errors: append([]string(nil), m.errs...), Leases: len(m.leases)}
	m.mu.Unlock()
	if end.IsZero() {
		end = time.Now()
	}
	lo, hi := from, to
	if lo.Before(m.began) {
		lo = m.began
	}
	if hi.After(end) {
		hi = end
	}

	var want []int64
	for _, s := range acked {
		if s.OK && s.Rev > m.startRev && (stopRev == 0 || s.Rev <= stopRev) {
			want = append(want, s.Rev)
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	r.Checked = len(want)
	missed := make([]bool, len(want))
	for _, s := range m.streams {
		r.Streams++
		if s.progress {
			r.ProgressNotifyStreams++
		}
		r.Events += int(s.events.Load())
		if s.full {
			r.FullStreams++
			r.LongestGap = max(r.LongestGap, m.checkStream(s, want, missed, stopRev, lo, hi))
		}
	}
	for _, x := range missed {
		if x {
			r.Missed++
		}
	}

	for _, l := range m.leases {
		l.mu.Lock()
		if l.lost {
			r.LeasesLost++
		}
		prev, gap := lo, time.Duration(0)
		for _, us := range l.acks {
			t := m.at(us)
			if t.After(lo) && !t.After(hi) {
				gap = max(gap, t.Sub(prev))
				prev = t
			}
		}
		l.mu.Unlock()
		if hi.After(prev) {
			gap = max(gap, hi.Sub(prev))
		}
		r.LongestKeepAliveGap = max(r.LongestKeepAliveGap, gap)
	}
	return r
}

// checkStream marks in missed the revisions of want, up to the stream's
// limit, that full stream s did not deliver, and returns its longest time
// without an event within [lo, hi].
func (m *ClientMix) checkStream(s *mixStream, want []int64, missed []bool, stopRev int64, lo, hi time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := stopRev
	if limit == 0 {
		// Stop could not read the revision (or has not run): check what
		// the stream says it delivered.
		limit = s.confirmed
	}
	if s.logFullAt > 0 {
		limit = min(limit, s.logFullAt)
	}
	rev, at, i := m.startRev, uint64(0), 0
	prev, gap := lo, time.Duration(0)
	for p := 0; p < len(s.log); {
		d, n := binary.Uvarint(s.log[p:])
		dt, n2 := binary.Uvarint(s.log[p+n:])
		p += n + n2
		rev += int64(d)
		at += dt
		for ; i < len(want) && want[i] < rev; i++ {
			if want[i] <= limit {
				missed[i] = true
			}
		}
		if i < len(want) && want[i] == rev {
			i++
		}
		if t := m.at(at); t.After(lo) && !t.After(hi) {
			gap = max(gap, t.Sub(prev))
			prev = t
		}
	}
	for ; i < len(want); i++ {
		if want[i] <= limit {
			missed[i] = true
		}
	}
	if hi.After(prev) {
		gap = max(gap, hi.Sub(prev))
	}
	return gap
}
