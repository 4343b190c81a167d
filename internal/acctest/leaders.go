package acctest

import (
	"context"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// LeaderWatch samples every member's own Status through a rollout, to check
// afterwards that no member was stopped while it was the leader.
type LeaderWatch struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples map[string][]leaderSample // by endpoint
}

type leaderSample struct {
	up, leading bool
	// slow: the status call ran out of time rather than failing: under
	// load a serving member can be late, while a stopped one refuses.
	slow bool
}

// WatchLeaders starts sampling each endpoint every 20ms.
func WatchLeaders(t *testing.T, endpoints []string) *LeaderWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &LeaderWatch{cancel: cancel, samples: map[string][]leaderSample{}}
	for _, ep := range endpoints {
		cl, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer cl.Close()
			for ctx.Err() == nil {
				sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
				st, err := cl.Status(sctx, ep)
				scancel()
				s := leaderSample{up: err == nil, slow: err != nil && sctx.Err() != nil && ctx.Err() == nil}
				if err == nil {
					s.leading = st.Leader != 0 && st.Leader == st.Header.GetMemberId()
				}
				if ctx.Err() != nil {
					return
				}
				w.mu.Lock()
				w.samples[ep] = append(w.samples[ep], s)
				w.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}
	t.Cleanup(w.Stop)
	return w
}

// Stop ends sampling.
func (w *LeaderWatch) Stop() {
	w.cancel()
	w.wg.Wait()
}

// Check fails the test if a member went down right after a sample where it
// led, and returns how many times each endpoint went down. Down is a run
// of failed samples of which at least one failed at once (refused): a run
// of late answers only is a member slow under load, not a stopped one.
func (w *LeaderWatch) Check(t *testing.T) map[string]int {
	t.Helper()
	w.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	downs := map[string]int{}
	for ep, samples := range w.samples {
		for i := 1; i < len(samples); i++ {
			if !samples[i-1].up || samples[i].up {
				continue
			}
			j, refused := i, false
			for ; j < len(samples) && !samples[j].up; j++ {
				refused = refused || !samples[j].slow
			}
			if !refused {
				continue
			}
			downs[ep]++
			if samples[i-1].leading {
				t.Errorf("%s went down while it was the leader (samples %d-%d of %d)", ep, i, j-1, len(samples))
			}
		}
	}
	return downs
}

// Leader returns the name of the current leader.
func Leader(t *testing.T, endpoints []string) string {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Members {
		st, err := cl.Status(ctx, m.ClientURLs[0])
		if err == nil && st.Leader == m.ID {
			return m.Name
		}
	}
	t.Fatal("no member leads")
	return ""
}
