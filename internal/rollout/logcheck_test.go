package rollout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// dataDirFrom lays a member's files from internal/etcdx/testdata/snap/<name>
// (real files of etcd 3.5.35 → 3.6.16 clusters; see the README there) out as
// <data-dir>/member/{snap,wal} in a temporary directory, the WAL segment
// padded back to its real 64 MB of preallocated zeros.
func dataDirFrom(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "etcdx", "testdata", "snap", name)
	data := t.TempDir()
	for _, d := range []string{"member/snap", "member/wal"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dir := "member/snap"
		if strings.HasSuffix(e.Name(), ".wal") {
			dir = "member/wal"
			b = append(b, make([]byte, 64_000_000-len(b))...)
		}
		if err := os.WriteFile(filepath.Join(data, dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

// TestCheckLog37 runs the remote commands in a real shell on real member
// files and checks the verdict against what etcd 3.7.3 did on them.
func TestCheckLog37(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
		why  string
	}{
		{"upgraded-nosnap", false, "written by etcd 3.5"},
		{"upgraded-snap35", true, "are in the 3.6 format"},
		{"remedied", true, "are in the 3.6 format"},
		{"created36", true, "are in the 3.6 format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := dataDirFrom(t, tc.name)
			rt := Runtime{Env: map[string]string{"ETCD_DATA_DIR": data}}
			got := checkLog(context.Background(), shellHost(t.TempDir()), rt, etcdx.Safe37)
			if got.OK != tc.ok || !strings.Contains(got.Why, tc.why) {
				t.Errorf("checkLog37 = %+v, want ok %v and %q", got, tc.ok, tc.why)
			}
		})
	}
}

// TestCheckLogV2 is the 3.5 → 3.6 rule on real files: v2 API data in the
// snapshot and the log refuses; etcd's own membership entries pass.
func TestCheckLogV2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
		why  string
	}{
		{"v2data", false, "the newest snapshot (index 12) holds /1/app/config"},
		{"upgraded-nosnap", true, "no v2 data"},
	} {
		rt := Runtime{Env: map[string]string{"ETCD_DATA_DIR": dataDirFrom(t, tc.name)}}
		got := checkLog(context.Background(), shellHost(t.TempDir()), rt, etcdx.SafeV2For36)
		if got.OK != tc.ok || !strings.Contains(got.Why, tc.why) {
			t.Errorf("%s: checkLog = %+v, want ok %v and %q", tc.name, got, tc.ok, tc.why)
		}
	}
	probs := logProblems(Observation{Logs: map[string]LogCheck{"s1": {Why: "the v2 store holds data"}}}, etcdconf.Version{Major: 3, Minor: 6, Patch: 16})
	if len(probs) != 1 || probs[0].Summary != "The v2 store holds data etcd 3.6 cannot start on" {
		t.Errorf("logProblems for 3.6 = %+v", probs)
	}
}

func TestCheckLog37Unreadable(t *testing.T) {
	t.Parallel()
	rt := Runtime{Env: map[string]string{"ETCD_DATA_DIR": filepath.Join(t.TempDir(), "missing")}}
	got := checkLog(context.Background(), shellHost(t.TempDir()), rt, etcdx.Safe37)
	if got.OK || !strings.Contains(got.Why, "could not be read") {
		t.Errorf("checkLog37 on a missing data dir = %+v, want a failure that says so", got)
	}
}

func TestMemberDirs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rt         Runtime
		snap, wals string
	}{
		{Runtime{Env: map[string]string{"ETCD_DATA_DIR": "/var/lib/etcd"}}, "/var/lib/etcd/member/snap", "/var/lib/etcd/member/wal"},
		{Runtime{Env: map[string]string{"ETCD_DATA_DIR": "/var/lib/etcd", "ETCD_WAL_DIR": "/ssd/wal"}}, "/var/lib/etcd/member/snap", "/ssd/wal"},
		{Runtime{PID: 42, Args: []string{"--name", "s1"}, Env: map[string]string{}}, "/proc/42/cwd/s1.etcd/member/snap", "/proc/42/cwd/s1.etcd/member/wal"},
		{Runtime{PID: 42, Args: []string{"--data-dir=data"}, Env: map[string]string{}}, "/proc/42/cwd/data/member/snap", "/proc/42/cwd/data/member/wal"},
	} {
		snap, wals := memberDirs(tc.rt)
		if snap != tc.snap || wals != tc.wals {
			t.Errorf("memberDirs(%+v) = %s, %s; want %s, %s", tc.rt, snap, wals, tc.snap, tc.wals)
		}
	}
}

func TestLogProblems(t *testing.T) {
	t.Parallel()
	obs := Observation{Logs: map[string]LogCheck{"s1": {OK: true}, "s2": {Why: "the WAL holds 3 entries"}}}
	probs := logProblems(obs, etcdconf.Version{Major: 3, Minor: 7, Patch: 3})
	if len(probs) != 1 || !strings.Contains(probs[0].Detail, `Member "s2": the WAL holds 3 entries`) || !strings.Contains(probs[0].Detail, "etcdctl downgrade enable 3.5") {
		t.Errorf("logProblems = %+v", probs)
	}
	if needsLogCheck(Observation{Members: []etcdx.Member{{Version: "3.6.16"}}}, etcdconf.Version{Major: 3, Minor: 6, Patch: 5}) {
		t.Error("a patch change within 3.6 needs no log check")
	}
	if !needsLogCheck(Observation{Members: []etcdx.Member{{Version: "3.6.16"}}}, etcdconf.Version{Major: 3, Minor: 7, Patch: 3}) {
		t.Error("3.6 → 3.7 needs the log check")
	}
	if !needsLogCheck(Observation{Members: []etcdx.Member{{Version: "3.5.35"}}}, etcdconf.Version{Major: 3, Minor: 6, Patch: 16}) {
		t.Error("3.5 → 3.6 needs the v2 check")
	}
	if needsLogCheck(Observation{Members: []etcdx.Member{{Version: "3.6.16"}}}, etcdconf.Version{Major: 3, Minor: 5, Patch: 35}) {
		t.Error("a downgrade needs no log check")
	}
}

// TestCheckLogsEveryMember reads five members' real files at once: each
// gets its own verdict, a member whose host was not inspected is unread,
// a member already on the target minor is not read, and no more than
// logCheckParallel members are read at a time.
func TestCheckLogsEveryMember(t *testing.T) {
	t.Parallel()
	dirs := map[string]string{
		"m1": dataDirFrom(t, "v2data"),
		"m2": dataDirFrom(t, "upgraded-nosnap"),
		"m3": dataDirFrom(t, "upgraded-nosnap"),
		"m4": dataDirFrom(t, "v2data"),
	}
	spec := Spec{Target: mustVersion(t, "3.6.16")}
	obs := Observation{Runtimes: map[string]Runtime{}}
	for _, name := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		spec.Members = append(spec.Members, MemberSpec{Name: name, Host: name})
		version := "3.5.35"
		if name == "m6" {
			version = "3.6.16"
		}
		obs.Members = append(obs.Members, etcdx.Member{Name: name, Version: version})
		if d, ok := dirs[name]; ok {
			obs.Runtimes[name] = Runtime{Env: map[string]string{"ETCD_DATA_DIR": d}}
		}
	}
	obs.Runtimes["m5"] = Runtime{HostErr: "SSH to m5: connection refused"}
	var running, most atomic.Int32
	hosts := func(m MemberSpec) Host {
		return countingHost{Host: shellHost(t.TempDir()), running: &running, most: &most}
	}
	got := checkLogs(context.Background(), hosts, spec, obs)
	want := map[string]bool{"m1": false, "m2": true, "m3": true, "m4": false, "m5": false}
	if len(got) != len(want) {
		t.Fatalf("checkLogs checked %d members, want %d: %+v", len(got), len(want), got)
	}
	for name, ok := range want {
		c, found := got[name]
		if !found || c.OK != ok {
			t.Errorf("%s: %+v, want OK %v", name, c, ok)
		}
	}
	if !got["m5"].Unread || got["m1"].Unread {
		t.Errorf("m5 (host not inspected) must be unread and m1 read: m5 %+v, m1 %+v", got["m5"], got["m1"])
	}
	if n := most.Load(); n < 2 || n > logCheckParallel {
		t.Errorf("at most %d members read at once, want 2..%d", n, logCheckParallel)
	}
}

// countingHost counts the commands running at once on all its copies.
type countingHost struct {
	Host
	running, most *atomic.Int32
}

func (h countingHost) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return h.Host.Run(ctx, cmd)
}
