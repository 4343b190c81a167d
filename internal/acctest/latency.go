package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// WriteSample is one write of a LoadWriter: when it was sent, how long it
// took, and whether it was acknowledged.
type WriteSample struct {
	Start   time.Time
	Latency time.Duration
	OK      bool
	Err     string // why a failed write failed
	Key     string // the key written
	Rev     int64  // the acknowledgement's header revision; 0 for a failed write
}

// Ack is when the write was acknowledged (or failed).
func (s WriteSample) Ack() time.Time { return s.Start.Add(s.Latency) }

// LoadWriter is Writer for programs that are not tests, such as
// cmd/etcd-bench: the same client behaviour (concurrent sequential puts, a
// 2 s deadline each, 10 ms apart), and it also keeps every write's start,
// latency and outcome, so a report can cover any time window and latency
// can be drawn over time.
type LoadWriter struct {
	client *clientv3.Client
	prefix string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	samples []WriteSample
	acked   map[string]string
	revBack int
}

// StartLoadWriter starts `clients` concurrent writers against endpoints.
// Failures are recorded, not fatal. Stop it, then Close it.
func StartLoadWriter(endpoints []string, clients int) (*LoadWriter, error) {
	if clients < 1 {
		clients = 1
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	ctx, cancel := context.WithCancel(context.Background())
	w := &LoadWriter{client: cl, prefix: "/load-writer/" + hex.EncodeToString(id) + "/", cancel: cancel, acked: map[string]string{}}
	for c := range clients {
		w.wg.Go(func() {
			var lastRev int64
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("%s%d/%06d", w.prefix, c, i)
				val := fmt.Sprintf("v-%d-%d-%d", c, i, time.Now().UnixNano())
				wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
				start := time.Now()
				resp, err := cl.Put(wctx, key, val)
				lat := time.Since(start)
				wcancel()
				w.mu.Lock()
				switch {
				case err == nil:
					w.acked[key] = val
					rev := resp.Header.GetRevision()
					w.samples = append(w.samples, WriteSample{Start: start, Latency: lat, OK: true, Key: key, Rev: rev})
					if rev <= lastRev {
						w.revBack++
					} else {
						lastRev = rev
					}
				case ctx.Err() == nil:
					w.samples = append(w.samples, WriteSample{Start: start, Latency: lat, Err: err.Error(), Key: key})
				}
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
	return w, nil
}

// Prefix is the key prefix every write of w goes under, for a watch on
// all of them.
func (w *LoadWriter) Prefix() string { return w.prefix }

// Stop ends the writes and returns every sample, in start order.
func (w *LoadWriter) Stop() []WriteSample {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := append([]WriteSample(nil), w.samples...)
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Verify reads every acknowledged key back, linearizably, and returns how
// many are missing or changed, and how often a client's revision went
// backwards. Call it after Stop.
func (w *LoadWriter) Verify(ctx context.Context) (lost, revisionBackwards int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	resp, err := w.client.Get(ctx, w.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, 0, fmt.Errorf("reading back the writer's keys: %w", err)
	}
	got := make(map[string]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	for k, v := range w.acked {
		if got[k] != v {
			lost++
		}
	}
	return lost, w.revBack, nil
}

// Close releases the client.
func (w *LoadWriter) Close() error { return w.client.Close() }

// SummarizeWrites reports on the writes sent in [from, to]: acknowledged
// and failed counts, latency percentiles of the acknowledged ones, and the
// longest time between two consecutive acknowledgements.
func SummarizeWrites(samples []WriteSample, from, to time.Time) WriterReport {
	var r WriterReport
	var lat []time.Duration
	var acks []time.Time
	for _, s := range samples {
		if s.Start.Before(from) || s.Start.After(to) {
			continue
		}
		if !s.OK {
			r.Failed++
			continue
		}
		r.Acked++
		lat = append(lat, s.Latency)
		acks = append(acks, s.Ack())
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if n := len(lat); n > 0 {
		r.P50, r.P99, r.Max = lat[n/2], lat[n*99/100], lat[n-1]
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i].Before(acks[j]) })
	for i := 1; i < len(acks); i++ {
		if g := acks[i].Sub(acks[i-1]); g > r.LongestGap {
			r.LongestGap = g
		}
	}
	return r
}
