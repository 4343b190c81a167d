package acctest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Writer keeps putting keys through a rollout, as a real client would, and
// records every acknowledged write so the test can check none was lost.
type Writer struct {
	client *clientv3.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	acked     map[string]string
	failed    int
	latencies []time.Duration
	ackTimes  []time.Time
	revBack   int // a client's acknowledged revisions that did not increase
	maxRev    int64

	// A watch opened before the first write must see every acknowledged
	// write exactly once, in revision order.
	watchMu   sync.Mutex
	events    []watchEvent
	watchErr  error
	watchDone chan struct{}
}

type watchEvent struct {
	key, value string
	rev        int64
}

// WriterReport summarises a writer's run.
type WriterReport struct {
	Acked, Failed     int
	P50, P99, Max     time.Duration
	LongestGap        time.Duration
	RevisionBackwards int
}

func (r WriterReport) String() string {
	return fmt.Sprintf("writes acknowledged %d, failed %d, latency p50 %s p99 %s max %s, longest gap between acknowledged writes %s",
		r.Acked, r.Failed, r.P50, r.P99, r.Max, r.LongestGap)
}

// writePause is each writer client's pause between writes: with four
// clients about 100 writes a second, a steady load that still leaves the
// 2-core test machine room for the clusters of the other shard.
const writePause = 30 * time.Millisecond

// StartWriter starts `clients` concurrent writers against endpoints; each
// write has a 2 s deadline and failures are counted, not fatal.
func StartWriter(t *testing.T, endpoints []string, clients int) *Writer {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{client: cl, cancel: cancel, acked: map[string]string{}, watchDone: make(chan struct{})}
	start, err := cl.Get(ctx, "/writer/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	// No WithRequireLeader: the watch must ride out elections and member
	// restarts, as a real client's would.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	wch := cl.Watch(watchCtx, "/writer/", clientv3.WithPrefix(), clientv3.WithRev(start.Header.GetRevision()+1))
	go w.collect(wch)
	t.Cleanup(stopWatch)
	for c := 0; c < clients; c++ {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			// Each client's own writes are sequential, so their revisions
			// must strictly increase; across clients, acks may reorder.
			var lastRev int64
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("/writer/%d/%06d", c, i)
				val := fmt.Sprintf("v-%d-%d-%d", c, i, time.Now().UnixNano())
				wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
				start := time.Now()
				resp, err := cl.Put(wctx, key, val)
				lat := time.Since(start)
				wcancel()
				w.mu.Lock()
				if err == nil {
					w.acked[key] = val
					w.latencies = append(w.latencies, lat)
					w.ackTimes = append(w.ackTimes, time.Now())
					rev := resp.Header.GetRevision()
					if rev <= lastRev {
						w.revBack++
					} else {
						lastRev = rev
					}
					w.maxRev = max(w.maxRev, rev)
				} else if ctx.Err() == nil {
					w.failed++
				}
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(writePause):
				}
			}
		}()
	}
	t.Cleanup(func() { w.Stop(); _ = cl.Close() })
	return w
}

func (w *Writer) collect(wch clientv3.WatchChan) {
	defer close(w.watchDone)
	for resp := range wch {
		w.watchMu.Lock()
		if err := resp.Err(); err != nil && !resp.Canceled {
			w.watchErr = err
		}
		for _, ev := range resp.Events {
			w.events = append(w.events, watchEvent{key: string(ev.Kv.Key), value: string(ev.Kv.Value), rev: ev.Kv.ModRevision})
		}
		w.watchMu.Unlock()
		if resp.Canceled {
			w.watchMu.Lock()
			w.watchErr = fmt.Errorf("watch cancelled: %w", resp.Err())
			w.watchMu.Unlock()
			return
		}
	}
}

// Stop ends the writes and reports.
func (w *Writer) Stop() WriterReport {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	r := WriterReport{Acked: len(w.acked), Failed: w.failed, RevisionBackwards: w.revBack}
	lat := append([]time.Duration(nil), w.latencies...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[n*99/100], lat[n-1]
	}
	times := append([]time.Time(nil), w.ackTimes...)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := 1; i < len(times); i++ {
		if g := times[i].Sub(times[i-1]); g > r.LongestGap {
			r.LongestGap = g
		}
	}
	return r
}

// Verify reads every acknowledged key back, linearizably, and fails the test
// for any that is missing or has another value.
func (w *Writer) Verify(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp, err := w.client.Get(ctx, "/writer/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("reading back the writer's keys: %v", err)
	}
	got := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	lost := 0
	for k, v := range w.acked {
		if got[k] != v {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged write %s=%s is %q after the rollout", k, v, got[k])
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(w.acked))
	}
	if len(w.acked) == 0 {
		t.Fatal("the writer got no write acknowledged at all")
	}
	if w.revBack > 0 {
		t.Fatalf("the revision went backwards %d times", w.revBack)
	}
	w.verifyWatch(t)
}

// verifyWatch waits until the watch has caught up with the last
// acknowledged revision, then checks that it saw each acknowledged write
// exactly once, with its value, in strictly increasing revision order.
func (w *Writer) verifyWatch(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		w.watchMu.Lock()
		caughtUp := len(w.events) > 0 && w.events[len(w.events)-1].rev >= w.maxRev
		err := w.watchErr
		w.watchMu.Unlock()
		if caughtUp || err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.watchMu.Lock()
	defer w.watchMu.Unlock()
	if w.watchErr != nil {
		t.Fatalf("the watch opened before the rollout failed: %v", w.watchErr)
	}
	seen := make(map[string]int, len(w.events))
	var last int64
	for _, ev := range w.events {
		if ev.rev <= last {
			t.Fatalf("watch event for %s at revision %d after revision %d: out of order", ev.key, ev.rev, last)
		}
		last = ev.rev
		seen[ev.key]++
		if want, ok := w.acked[ev.key]; ok && want != ev.value {
			t.Errorf("watch saw %s=%s, the acknowledged value was %s", ev.key, ev.value, want)
		}
	}
	missing := 0
	for k := range w.acked {
		switch n := seen[k]; {
		case n == 0:
			missing++
			if missing <= 5 {
				t.Errorf("the watch never saw acknowledged write %s", k)
			}
		case n > 1:
			t.Errorf("the watch saw %s %d times", k, n)
		}
	}
	if missing > 0 {
		t.Fatalf("the watch missed %d of %d acknowledged writes", missing, len(w.acked))
	}
}

// Acked is the number of writes acknowledged so far.
func (w *Writer) Acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// WaitAcked waits until n more writes than now are acknowledged, or fails
// the test after timeout.
func (w *Writer) WaitAcked(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	want := w.Acked() + n
	deadline := time.Now().Add(timeout)
	for w.Acked() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the writer got %d of %d more writes acknowledged within %s", w.Acked()-want+n, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
