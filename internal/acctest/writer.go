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

// StartWriter starts `clients` concurrent writers against endpoints; each
// write has a 2 s deadline and failures are counted, not fatal.
func StartWriter(t *testing.T, endpoints []string, clients int) *Writer {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{client: cl, cancel: cancel, acked: map[string]string{}}
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
					if rev := resp.Header.GetRevision(); rev <= lastRev {
						w.revBack++
					} else {
						lastRev = rev
					}
				} else if ctx.Err() == nil {
					w.failed++
				}
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}
	t.Cleanup(func() { w.Stop(); _ = cl.Close() })
	return w
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
}
