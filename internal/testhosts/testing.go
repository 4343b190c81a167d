package testhosts

import (
	"context"
	"os"
	"testing"
	"time"
)

// ForTest starts a sandbox for t and closes it when t ends. When this
// machine cannot run one (not root, no sshd or sudo, no cached etcd binary)
// it skips t with the reason and the fix, or with TF_ACC set fails it: an
// acceptance run must not pass by skipping. It fails t when starting fails.
// When t has failed, the end of every member's etcd log is logged before
// closing.
func ForTest(t testing.TB, opts Options) *Sandbox {
	t.Helper()
	if err := Prerequisites(opts); err != nil {
		SkipOrFail(t, "testhosts: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("testhosts: %v", err)
	}
	what := "hosts only"
	if s.EtcdVersion != "" {
		what = "etcd " + s.EtcdVersion + ", " + s.ConfigFormat + " config"
	}
	t.Logf("testhosts: %d hosts on 127.0.%d.0/24 (%s) in %s, ready in %v", len(s.Hosts), s.Block, what, s.Dir, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() && s.EtcdVersion != "" {
			for _, h := range s.Hosts {
				t.Logf("testhosts: %s: last lines of %s:\n%s", h.Name, EtcdLog, h.LogTail(15))
			}
		}
		if err := s.Close(); err != nil {
			t.Errorf("testhosts: close: %v", err)
		}
	})
	return s
}

// SkipOrFail skips t, or fails it when TF_ACC is set, for a missing
// prerequisite: acceptance runs (make testacc, CI) set TF_ACC, and there a
// skipped test would hide that nothing was tested.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("TF_ACC") != "" {
		t.Fatalf(format+" (TF_ACC is set, so a missing prerequisite fails the test)", args...)
	}
	t.Skipf(format, args...)
}
