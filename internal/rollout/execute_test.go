package rollout

// Executor tests.
//
// The real executor is covered by the acceptance tests against real sshd and
// real etcd. The fakes used here (fakes_test.go) exist ONLY to force faults
// that cannot be produced for real deterministically: a gate that never
// passes, a put-back that fails too, a cancel while a member is stopped, a
// corrupted snapshot trailer, leadership moving on its own at a chosen
// moment, the cluster changing between plan and apply. Even so, every
// command the executor sends runs in a real shell on real files.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

func asStepError(t *testing.T, err error) *StepError {
	t.Helper()
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *StepError", err, err)
	}
	return se
}

// followersThenLeader is the order design.md prescribes: followers by name,
// the leader last.
func followersThenLeader(n, leader int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		if i != leader {
			out = append(out, memberName(i))
		}
	}
	return append(out, memberName(leader))
}

// TestRunHappyPath: (a) snapshot and staging before any stop, followers
// first by name, the leader last after MoveLeader to a member already on
// the target, never stopped while leading; files really moved.
func TestRunHappyPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		n, leader    int
		from, target string
		configOf     func(int) string
		// for minor changes: what each new config must and must not have
		has, hasNot []string
	}{
		{
			name: "downgrade 3.5.21 → 3.4.34, leader first by name", n: 3, leader: 1, from: "3.5.21", target: "3.4.34",
			configOf: func(i int) string {
				if i == 2 {
					return env35Tuned(i)
				}
				return env35(i)
			},
			has:    []string{"ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true"},
			hasNot: []string{"ETCD_SOCKET_REUSE_PORT", "ETCD_BACKEND_BBOLT_FREELIST_TYPE", "ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL", "ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES"},
		},
		{
			name: "patch 3.5.17 → 3.5.21, five members, leader in the middle", n: 5, leader: 3, from: "3.5.17", target: "3.5.21",
			configOf: env35,
		},
		{
			name: "upgrade 3.4.34 → 3.5.21 (rollback), one member with capnslog", n: 3, leader: 2, from: "3.4.34", target: "3.5.21",
			configOf: func(i int) string {
				if i == 3 {
					return env34Original(i)
				}
				return env34(i)
			},
			hasNot: []string{"ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE", "ETCD_LOGGER=capnslog", "ETCD_LOG_PACKAGE_LEVELS", "ETCD_DEBUG"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.n, tc.leader, tc.from, tc.target, tc.configOf)
			plan := r.plan()
			if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
			}
			r.checkNoViolations()
			want := followersThenLeader(tc.n, tc.leader)
			if got := r.stops(); !slices.Equal(got, want) {
				t.Errorf("members stopped in order %v, want %v\n%s", got, want, r.dumpEvents())
			}
			var wantDone []string
			for _, n := range want {
				wantDone = append(wantDone, n+"="+tc.target)
			}
			if got := r.doneList(); !slices.Equal(got, wantDone) {
				t.Errorf("MemberDone calls %v, want %v", got, wantDone)
			}

			// The leader moved away once, to a member already on target,
			// before its stop.
			leaderName := memberName(tc.leader)
			var moves []string
			for _, e := range r.events() {
				if strings.HasPrefix(e.what, "move-leader ") {
					moves = append(moves, e.what)
				}
			}
			if len(moves) != 1 || !strings.HasPrefix(moves[0], "move-leader "+leaderName+"→") || !strings.HasSuffix(moves[0], "("+tc.target+")") {
				t.Errorf("leadership moves %q, want one from %s to a member on %s", moves, leaderName, tc.target)
			}
			if mv, stop := r.firstEvent("cluster", "move-leader"), r.firstEvent(leaderName, fakeStop); mv < 0 || stop < mv {
				t.Errorf("leader %s stopped (event %d) before leadership moved (event %d)", leaderName, stop, mv)
			}

			// Snapshot from the leader and staging on every host (they
			// run at the same time), all before the first stop.
			firstStop := r.firstEvent("", fakeStop)
			snap := r.firstEvent("cluster", "snapshot from ")
			if snap < 0 || snap > firstStop || !strings.Contains(r.events()[snap].what, "(leader true)") {
				t.Errorf("snapshot event %d (%q) must come from the leader before the first stop (%d)", snap, r.events()[max(snap, 0)].what, firstStop)
			}
			staged := StagedPath(fakeBinary, r.spec.Target)
			for name := range r.hosts {
				up := r.firstEvent(name, "upload "+staged+" ")
				ver := -1 // the check after the upload
				for i, e := range r.events() {
					if e.host == name && strings.Contains(e.what, staged+" --version") {
						ver = i
					}
				}
				if up < 0 || ver < up || ver > firstStop {
					t.Errorf("%s: staging (upload %d, --version %d) must be verified after the upload and before the first stop (%d)", name, up, ver, firstStop)
				}
			}
			r.mu.Lock()
			info := r.snap
			r.mu.Unlock()
			if info == nil {
				t.Fatal("SnapshotSaved not called")
			}
			data, err := os.ReadFile(info.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(data, r.c.snapshot) || fmt.Sprintf("%x", sha256.Sum256(data)) != info.SHA256 || info.Revision != r.c.rev {
				t.Errorf("snapshot %+v does not hold the cluster's snapshot", info)
			}

			from := mustVersion(t, tc.from)
			minor := !from.SameMinor(r.spec.Target)
			for i := 1; i <= tc.n; i++ {
				name := memberName(i)
				if v, up := r.running(name); !up || v != tc.target {
					t.Errorf("%s: up %v on %s, want %s", name, up, v, tc.target)
				}
				if got := r.file(name, fakeBinary); got != fakeEtcdBinary(tc.target) {
					t.Errorf("%s: installed binary is %q", name, got)
				}
				if got := r.file(name, KeptBinaryPath(fakeBinary, from)); got != fakeEtcdBinary(tc.from) {
					t.Errorf("%s: kept binary is %q", name, got)
				}
				config := r.file(name, fakeConfig)
				if r.mode(name, fakeConfig) != 0o644 {
					t.Errorf("%s: config mode %v, want the original 0644", name, r.mode(name, fakeConfig))
				}
				backup := filepath.Join(r.hosts[name].dir, KeptConfigPath(fakeConfig, from))
				if !minor {
					if config != tc.configOf(i) {
						t.Errorf("%s: a patch change rewrote the config:\n%s", name, config)
					}
					if _, err := os.Stat(backup); err == nil {
						t.Errorf("%s: a patch change made a config backup", name)
					}
					continue
				}
				if got := r.file(name, KeptConfigPath(fakeConfig, from)); got != tc.configOf(i) {
					t.Errorf("%s: config backup differs from the original:\n%s", name, got)
				}
				// An exact copy, mode included.
				if m := r.mode(name, KeptConfigPath(fakeConfig, from)); m != 0o644 {
					t.Errorf("%s: config backup mode %v, want the original's 0644", name, m)
				}
				for _, s := range tc.has {
					if !strings.Contains(config, s) {
						t.Errorf("%s: new config lacks %s:\n%s", name, s, config)
					}
				}
				for _, s := range tc.hasNot {
					if strings.Contains(config, s) {
						t.Errorf("%s: new config still has %s:\n%s", name, s, config)
					}
				}
			}
			r.c.mu.Lock()
			cv := r.c.clusterVersion
			r.c.mu.Unlock()
			if cv != r.spec.Target.ClusterVersion() {
				t.Errorf("cluster version %s", cv)
			}

			// Running again finds nothing to do and touches nothing, not
			// even over SSH.
			before := len(r.events())
			again := r.plan()
			if len(again.Steps) != 1 || !strings.HasPrefix(again.Steps[0], "nothing to do") {
				t.Errorf("plan after the rollout: %q", again.Steps)
			}
			if err := r.executor(again.Steps).Run(context.Background()); err != nil {
				t.Errorf("second Run: %v", err)
			}
			if ev := r.events()[before:]; len(ev) != 0 {
				t.Errorf("second Run did something: %v", ev)
			}
		})
	}
}

// TestRunGateFailsPutsMemberBack: (b) a member that never passes its gate is
// put back on its previous binary and config and gated there; the members
// after it are not touched; the next apply resumes.
func TestRunGateFailsPutsMemberBack(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 3, "3.5.21", "3.4.34", env35)
	broken := true
	r.c.crashOn = func(name, version string) string {
		if broken && name == "s2" && version == "3.4.34" {
			return "panic: fake: s2 cannot start on 3.4.34"
		}
		return ""
	}
	plan := r.plan()
	err := r.executor(plan.Steps).Run(context.Background())
	if err == nil {
		t.Fatal("Run succeeded")
	}
	se := asStepError(t, err)
	if se.Member != "s2" || se.Step != "gate" || !se.Restored || se.RestoreErr != nil || se.Unchanged {
		t.Errorf("StepError{Member %q Step %q Restored %v RestoreErr %v Unchanged %v}, want s2, gate, restored", se.Member, se.Step, se.Restored, se.RestoreErr, se.Unchanged)
	}
	if !strings.Contains(se.Logs, "started: etcd Version: 3.4.34") {
		t.Errorf("Logs %q lack the service log", se.Logs)
	}
	msg := err.Error()
	for _, want := range []string{"member s2, step gate", "s2 does not answer", "put back on its previous binary and config", "Last lines of the service log on s2"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	r.checkNoViolations()
	if got := r.doneList(); !slices.Equal(got, []string{"s1=3.4.34"}) {
		t.Errorf("MemberDone %v, want only s1", got)
	}

	// The put-back restored the kept binary and the config backup, then
	// started the member, and it runs its old version with its old config.
	cmds := r.commands("s2")
	putBack := -1
	for i, c := range cmds {
		if strings.Contains(c, fakeStop+"\n} || true") {
			putBack = i
		}
	}
	if putBack < 0 {
		t.Fatalf("no put-back command on s2:\n%s", strings.Join(cmds, "\n"))
	}
	// The record's undos, in reverse: stop, config, binary, then what was
	// created beside them; the start comes after.
	if err := inOrder(cmds[putBack], fakeStop, "cp -a -- etc/etcd/etcd.env.3.5.21 etc/etcd/etcd.env.tmp", "mv -f -- etc/etcd/etcd.env.tmp etc/etcd/etcd.env",
		"cp -a -- usr/local/bin/etcd.3.5.21 usr/local/bin/etcd.tmp", "mv -f -- usr/local/bin/etcd.tmp usr/local/bin/etcd", "rm -f -- usr/local/bin/etcd.new"); err != nil {
		t.Errorf("put-back command: %v", err)
	}
	if putBack+1 >= len(cmds) || !strings.Contains(cmds[putBack+1], fakeStart) {
		t.Errorf("put-back did not start the member right after the undo")
	}
	if v, up := r.running("s2"); !up || v != "3.5.21" {
		t.Errorf("s2 up %v on %s, want up on 3.5.21", up, v)
	}
	if got := r.file("s2", fakeBinary); got != fakeEtcdBinary("3.5.21") {
		t.Errorf("s2 binary after put-back: %q", got)
	}
	if got := r.file("s2", fakeConfig); got != env35(2) {
		t.Errorf("s2 config after put-back:\n%s", got)
	}
	if m := r.mode("s2", fakeConfig); m != 0o644 {
		t.Errorf("s2 config mode after put-back %v, want 0644", m)
	}
	r.checkUntouched("s3", "3.5.21", env35(3))
	if v, _ := r.running("s1"); v != "3.4.34" {
		t.Errorf("s1 runs %s, want 3.4.34 (it passed its gate)", v)
	}

	// The next apply resumes: s1 is skipped, s2 and s3 change.
	broken = false
	before := len(r.events())
	plan = r.plan()
	if s, ok := stepWithPrefix(plan.Steps, "member s1"); !ok || s != "member s1: already on 3.4.34, skipped" {
		t.Errorf("resumed plan's s1 step %q", s)
	}
	if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
		t.Fatalf("resumed Run: %v\n%s", err, r.dumpEvents())
	}
	for _, e := range r.events()[before:] {
		if e.host == "s1" && !readOnly(e.what) {
			t.Errorf("resumed Run touched s1: %q", e.what)
		}
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if v, up := r.running(name); !up || v != "3.4.34" {
			t.Errorf("after resume %s up %v on %s", name, up, v)
		}
	}
	r.checkNoViolations()
}

// TestRunPutBackFails: (c) when the put-back fails too, the error says so
// plainly.
func TestRunPutBackFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		setup   func(r *rig)
		restore string // in RestoreErr
	}{
		{
			name: "the restore command fails",
			setup: func(r *rig) {
				r.c.crashOn = func(name, version string) string {
					if name == "s2" && version == "3.4.34" {
						return "panic: fake"
					}
					return ""
				}
				r.c.fault = func(host, cmd string) (sshx.Result, bool) {
					if host == "s2" && strings.Contains(cmd, fakeStop+"\n} || true") {
						return sshx.Result{ExitStatus: 1, Stderr: "Job for etcd.service failed because the control process exited with error code."}, true
					}
					return sshx.Result{}, false
				}
			},
			restore: "Job for etcd.service failed",
		},
		{
			name: "the member does not come back on its old version either",
			setup: func(r *rig) {
				r.c.crashOn = func(name, version string) string {
					if name == "s2" {
						return "panic: fake: disk failure"
					}
					return ""
				}
			},
			restore: "restarted on 3.5.21 but it did not pass its gate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 3, 1, "3.5.21", "3.4.34", env35)
			tc.setup(r)
			err := r.executor(r.plan().Steps).Run(context.Background())
			if err == nil {
				t.Fatal("Run succeeded")
			}
			se := asStepError(t, err)
			if se.Member != "s2" || se.Step != "gate" || se.Restored || se.RestoreErr == nil || !strings.Contains(se.RestoreErr.Error(), tc.restore) {
				t.Errorf("StepError{Member %q Step %q Restored %v RestoreErr %v}, want s2, gate, not restored, %q", se.Member, se.Step, se.Restored, se.RestoreErr, tc.restore)
			}
			if msg := err.Error(); !strings.Contains(msg, "PUTTING MEMBER s2 BACK ALSO FAILED") || !strings.Contains(msg, tc.restore) || strings.Contains(msg, "passed its health gate") {
				t.Errorf("error does not say plainly that the put-back failed:\n%s", msg)
			}
			r.checkUntouched("s1", "3.5.21", env35(1))
			r.checkNoViolations()
		})
	}
}

// TestRunCancelWhileStopped: (d) a cancel while a member is stopped still
// starts it again, and gates it, before Run returns.
func TestRunCancelWhileStopped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		afterCmd string // cancel right after this command on s2
		step     string
		restored bool
		s2       string // the version s2 runs at the end
	}{
		{"cancelled right after the stop", fakeStop, "install binary", true, "3.5.21"},
		{"cancelled right after the start, during the gate", fakeStart, "after gate", false, "3.4.34"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 3, 3, "3.5.21", "3.4.34", env35)
			planned := r.plan().Steps
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelledAt := -1
			r.c.afterRun = func(host, cmd string) {
				if host == "s2" && strings.Contains(cmd, tc.afterCmd) && !strings.Contains(cmd, "|| true") && cancelledAt < 0 {
					cancelledAt = r.c.record("cluster", "operator cancelled")
					cancel()
				}
			}
			err := r.executor(planned).Run(ctx)
			if cancelledAt < 0 {
				t.Fatalf("never cancelled; Run: %v", err)
			}
			if err == nil {
				t.Fatal("Run returned nil after a cancel")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
			se := asStepError(t, err)
			if se.Member != "s2" || se.Step != tc.step || se.Restored != tc.restored {
				t.Errorf("StepError{Member %q Step %q Restored %v RestoreErr %v}, want s2, %s, restored %v", se.Member, se.Step, se.Restored, se.RestoreErr, tc.step, tc.restored)
			}
			// Started after the cancel (or, for a cancel after the start,
			// the start stood), and up when Run returned.
			started := false
			for _, e := range r.events()[cancelledAt:] {
				if e.host == "s2" && strings.Contains(e.what, fakeStart) {
					started = true
				}
			}
			if tc.afterCmd == fakeStop && !started {
				t.Errorf("s2 was not started after the cancel:\n%s", r.dumpEvents())
			}
			if v, up := r.running("s2"); !up || v != tc.s2 {
				t.Errorf("s2 up %v on %s when Run returned, want up on %s", up, v, tc.s2)
			}
			wantDone := []string{"s1=3.4.34"}
			if tc.s2 == "3.4.34" {
				wantDone = append(wantDone, "s2=3.4.34")
			}
			if got := r.doneList(); !slices.Equal(got, wantDone) {
				t.Errorf("MemberDone %v, want %v", got, wantDone)
			}
			r.checkUntouched("s3", "3.5.21", env35(3))
			r.checkNoViolations()
		})
	}
}

// TestRunCorruptSnapshot: (e) a snapshot whose trailer does not match stops
// the apply before any member is stopped or any binary staged.
func TestRunCorruptSnapshot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"a flipped byte in the database", func(b []byte) []byte { b[100] ^= 0xff; return b }},
		{"a flipped byte in the trailer", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-512] }},
		{"no trailer", func(b []byte) []byte { return b[:len(b)-32] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 3, 2, "3.5.21", "3.4.34", env35)
			planned := r.plan().Steps
			r.c.snapshot = tc.corrupt(r.c.snapshot)
			err := r.executor(planned).Run(context.Background())
			if err == nil {
				t.Fatal("Run succeeded with a corrupt snapshot")
			}
			se := asStepError(t, err)
			if se.Step != "snapshot" || !se.Unchanged || se.Member != "" {
				t.Errorf("StepError{Member %q Step %q Unchanged %v}, want snapshot, unchanged", se.Member, se.Step, se.Unchanged)
			}
			if !strings.Contains(err.Error(), "sha256") {
				t.Errorf("error does not name the sha256 check: %v", err)
			}
			for name := range r.hosts {
				r.checkUntouched(name, "3.5.21", env35(memberIndex(name)))
				// Staging runs beside the snapshot and only adds the staged
				// file; nothing that changes the member may run.
				for _, c := range r.commands(name) {
					if !readOnly(c) && !strings.HasPrefix(c, "upload ") && !strings.HasPrefix(c, "sha256sum -- ") {
						t.Errorf("%s ran %q after a failed snapshot", name, c)
					}
				}
			}
			entries, _ := os.ReadDir(r.spec.SnapshotDir)
			for _, e := range entries {
				t.Errorf("left in the snapshot directory: %s", e.Name())
			}
		})
	}
}

func memberIndex(name string) int {
	var i int
	_, _ = fmt.Sscanf(name, "s%d", &i)
	return i
}

// TestRunLeaderMovesOnItsOwn: (f) leadership moves during the rollout; the
// order adapts, the leader of the moment goes last and is never stopped
// while leading.
func TestRunLeaderMovesOnItsOwn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		n, leader int
		moves     map[string]string // after this member's start, leadership goes to
		order     []string
		movedFrom string // the one MoveLeader the executor must make
	}{
		{"3 members: s3 leads at plan time, s2 after s1", 3, 3, map[string]string{"s1": "s2"}, []string{"s1", "s3", "s2"}, "s2"},
		{"5 members: leadership moves twice", 5, 5, map[string]string{"s1": "s3", "s2": "s4"}, []string{"s1", "s2", "s3", "s5", "s4"}, "s4"},
		{"leadership moves to a member already on target", 3, 3, map[string]string{"s1": "s1"}, []string{"s1", "s2", "s3"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.n, tc.leader, "3.5.21", "3.4.34", env35)
			planned := r.plan().Steps
			r.c.afterRun = func(host, cmd string) {
				if to, ok := tc.moves[host]; ok && isStart(cmd) {
					r.c.setLeader(to)
				}
			}
			if err := r.executor(planned).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
			}
			r.checkNoViolations()
			if got := r.stops(); !slices.Equal(got, tc.order) {
				t.Errorf("stop order %v, want %v\n%s", got, tc.order, r.dumpEvents())
			}
			var moves []string
			for _, e := range r.events() {
				if strings.HasPrefix(e.what, "move-leader ") {
					moves = append(moves, e.what)
				}
			}
			switch {
			case tc.movedFrom == "" && len(moves) != 0:
				t.Errorf("leadership moved needlessly: %q", moves)
			case tc.movedFrom != "" && (len(moves) != 1 || !strings.HasPrefix(moves[0], "move-leader "+tc.movedFrom+"→") || !strings.HasSuffix(moves[0], "(3.4.34)")):
				t.Errorf("leadership moves %q, want one from %s to a member on 3.4.34", moves, tc.movedFrom)
			}
		})
	}
}

// TestRunRefusesChangedCluster: (g) when a fresh observation gives other
// steps than the plan showed, apply refuses and changes nothing; a leader
// change alone is not such a change.
func TestRunRefusesChangedCluster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(r *rig)
		want   string
	}{
		{"a config file changed on a host", func(r *rig) {
			writeFile(r.t, filepath.Join(r.hosts["s2"].dir, fakeConfig), env35Tuned(2), 0o644)
		}, "changed since the plan"},
		{"a member changed version behind our back", func(r *rig) {
			writeFile(r.t, filepath.Join(r.hosts["s3"].dir, fakeBinary), fakeEtcdBinary("3.5.17"), 0o755)
			for _, c := range []string{fakeStop, fakeStart} {
				if _, err := r.hosts["s3"].Run(context.Background(), c); err != nil {
					r.t.Fatal(err)
				}
			}
		}, "changed since the plan"},
		{"a member went down", func(r *rig) {
			r.c.crashOn = func(name, _ string) string {
				if name == "s3" {
					return "fake: out of disk"
				}
				return ""
			}
			for _, c := range []string{fakeStop, fakeStart} {
				if _, err := r.hosts["s3"].Run(context.Background(), c); err != nil {
					r.t.Fatal(err)
				}
			}
		}, `Member "s3" is unreachable`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 3, 1, "3.5.21", "3.4.34", env35)
			planned := r.plan().Steps
			tc.change(r)
			before := len(r.events())
			err := r.executor(planned).Run(context.Background())
			if err == nil {
				t.Fatal("Run accepted a changed cluster")
			}
			se := asStepError(t, err)
			if se.Step != "preflight" || !se.Unchanged || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("StepError{Step %q Unchanged %v}, want preflight, unchanged, %q: %v", se.Step, se.Unchanged, tc.want, err)
			}
			if tc.want == "changed since the plan" && !strings.Contains(se.Hint, "terraform plan") {
				t.Errorf("Hint %q does not say to plan again", se.Hint)
			}
			for _, e := range r.events()[before:] {
				if !readOnly(e.what) {
					t.Errorf("%s: %q run after a refused preflight", e.host, e.what)
				}
			}
		})
	}

	t.Run("only the leader changed", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, 3, 1, "3.5.21", "3.4.34", env35)
		planned := r.plan().Steps
		r.c.setLeader("s3")
		if err := r.executor(planned).Run(context.Background()); err != nil {
			t.Fatalf("Run refused after a leader change: %v", err)
		}
		if got, want := r.stops(), []string{"s1", "s2", "s3"}; !slices.Equal(got, want) {
			t.Errorf("stop order %v, want %v", got, want)
		}
		r.checkNoViolations()
	})
}

// TestRunStageFailure: a staged binary that is not the target version stops
// the apply before any member stops.
func TestRunStageFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.5.21", "3.4.34", env35)
	// The file at binary.source is a 3.4.33 build, and binary.sha256 was
	// taken from it, so only `etcd --version` on the host can tell.
	writeFile(t, r.spec.Binary.Source, fakeEtcdBinary("3.4.33"), 0o755)
	r.spec.Binary.SHA256 = fmt.Sprintf("%x", sha256.Sum256([]byte(fakeEtcdBinary("3.4.33"))))
	err := r.executor(r.plan().Steps).Run(context.Background())
	if err == nil {
		t.Fatal("Run succeeded with the wrong binary")
	}
	se := asStepError(t, err)
	if se.Step != "stage" || !se.Unchanged || !strings.Contains(err.Error(), `reports version "3.4.33", want 3.4.34`) {
		t.Errorf("StepError{Step %q Unchanged %v}: %v", se.Step, se.Unchanged, err)
	}
	if stops := r.stops(); len(stops) != 0 {
		t.Errorf("members stopped after a failed stage: %v", stops)
	}
	for name := range r.hosts {
		if v, up := r.running(name); !up || v != "3.5.21" {
			t.Errorf("%s up %v on %s", name, up, v)
		}
	}
}

// TestRunOtherMemberFailsDuringGate: when another member fails while the
// changed one is gated, the changed member is healthy on the target and is
// left there: stopping it again to put it back would leave one member of
// three, and quorum would be lost.
func TestRunOtherMemberFailsDuringGate(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 2, "3.5.21", "3.4.34", env35)
	planned := r.plan().Steps
	startedAt := -1
	r.c.afterRun = func(host, cmd string) {
		if host == "s1" && isStart(cmd) && startedAt < 0 {
			startedAt = len(r.events())
			r.c.kill("s3", "fake: kernel panic")
		}
	}
	err := r.executor(planned).Run(context.Background())
	if err == nil {
		t.Fatal("Run succeeded with s3 down")
	}
	se := asStepError(t, err)
	if se.Member != "s1" || se.Step != "gate" || !se.LeftOnTarget || se.Restored || se.RestoreErr != nil || !strings.Contains(se.Hint, "s3") {
		t.Errorf("StepError{Member %q Step %q LeftOnTarget %v Restored %v RestoreErr %v Hint %q}, want s1, gate, left on target, hint naming s3",
			se.Member, se.Step, se.LeftOnTarget, se.Restored, se.RestoreErr, se.Hint)
	}
	for _, e := range r.events()[startedAt:] {
		if e.host == "s1" && strings.Contains(e.what, fakeStop) {
			t.Errorf("s1 stopped again while s3 was down: %q", e.what)
		}
	}
	if v, up := r.running("s1"); !up || v != "3.4.34" {
		t.Errorf("s1 up %v on %s, want left up on 3.4.34", up, v)
	}
	if got := r.doneList(); !slices.Equal(got, []string{"s1=3.4.34"}) {
		t.Errorf("MemberDone %v, want s1 recorded as on target", got)
	}
	r.checkUntouched("s2", "3.5.21", env35(2))
	r.checkNoViolations()
}

// TestRunRetriesLostConnection: a connection lost after a remote step ran
// is retried, and running the step again keeps the true old binary and the
// true config backup.
func TestRunRetriesLostConnection(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 3, "3.5.21", "3.4.34", env35)
	planned := r.plan().Steps
	dropped := map[string]bool{}
	r.c.dropAfter = func(host, cmd string) bool {
		if host != "s2" {
			return false
		}
		for _, step := range []string{"mv -f -- usr/local/bin/etcd.new", "etc/etcd/etcd.env.3.5.21.tmp", fakeStart, fakeStop} {
			if strings.Contains(cmd, step) && !dropped[step] {
				dropped[step] = true
				return true
			}
		}
		return false
	}
	if err := r.executor(planned).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
	}
	if len(dropped) != 4 {
		t.Errorf("connections dropped after %v only", slices.Sorted(maps.Keys(dropped)))
	}
	if got := r.file("s2", KeptBinaryPath(fakeBinary, mustVersion(t, "3.5.21"))); got != fakeEtcdBinary("3.5.21") {
		t.Errorf("kept binary after a retried install: %q", got)
	}
	if got := r.file("s2", KeptConfigPath(fakeConfig, mustVersion(t, "3.5.21"))); got != env35(2) {
		t.Errorf("config backup after a retried step:\n%s", got)
	}
	if v, up := r.running("s2"); !up || v != "3.4.34" {
		t.Errorf("s2 up %v on %s", up, v)
	}
	r.checkNoViolations()
}

// TestRunLeadershipReturnsBeforeStop: leadership lands on the member about
// to be stopped after it was checked (here: while its config was read).
// The member must not be stopped while leading, and the executor should
// move leadership away again rather than give up.
func TestRunLeadershipReturnsBeforeStop(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 3, "3.5.21", "3.4.34", env35)
	planned := r.plan().Steps
	moved := false
	r.c.afterRun = func(host, cmd string) {
		if host == "s2" && strings.Contains(cmd, "etc/etcd/etcd.env.3.5.21.tmp") && !moved {
			moved = true
			r.c.setLeader("s2")
		}
	}
	if err := r.executor(planned).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.checkNoViolations()
	if got, want := r.stops(), []string{"s1", "s2", "s3"}; !slices.Equal(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
}

// catchUpGate runs the gate of member s2 of a healthy 3.5.21 cluster with
// health.timeout timeout, while s2's applied index is what applied says:
// it gets the gate's catch-up target (the leader's committed index at the
// gate's first look) and the time since the gate first asked s2.
func catchUpGate(t *testing.T, timeout time.Duration, applied func(target uint64, since time.Duration) uint64) (r *rig, target uint64, took time.Duration, err error) {
	return catchUpGateCtx(t, context.Background(), timeout, applied)
}

func catchUpGateCtx(t *testing.T, ctx context.Context, timeout time.Duration, applied func(target uint64, since time.Duration) uint64) (r *rig, target uint64, took time.Duration, err error) {
	t.Helper()
	r = newRig(t, 3, 1, "3.5.21", "3.5.21", env35)
	r.spec.Health.Timeout = timeout
	var first time.Time
	var mu sync.Mutex
	r.c.appliedOf = func(name string, committed uint64) (uint64, bool) {
		if name != "s2" {
			return 0, false
		}
		mu.Lock()
		defer mu.Unlock()
		if first.IsZero() {
			first, target = time.Now(), committed
		}
		return applied(target, time.Since(first)), true
	}
	ms, _ := r.spec.Member("s2")
	start := time.Now()
	_, err = r.executor(nil).gate(ctx, ms, "3.5.21", true)
	took = time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	return r, target, took, err
}

func catchUpLogs(r *rig) []string {
	var out []string
	for _, l := range r.logLines() {
		if strings.HasPrefix(l, "member catching up") {
			out = append(out, l)
		}
	}
	return out
}

// TestGateExtendsWhileCatchingUp: a member whose applied index keeps rising
// towards the leader's passes its gate after health.timeout, and the gate
// logs its progress.
//
// It uses the fake cluster because the fault cannot be made for real
// reliably in CI: how fast a restarted etcd member replays its log depends
// on the machine, so a real one cannot be held just behind for a set time.
func TestGateExtendsWhileCatchingUp(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	// 70 entries behind, one more applied every 10ms: caught up at 3.5 × timeout.
	r, _, took, err := catchUpGate(t, timeout, func(target uint64, since time.Duration) uint64 {
		return target - 70 + uint64(since/(10*time.Millisecond))
	})
	if err != nil {
		t.Fatalf("gate failed although s2 kept catching up: %v", err)
	}
	if took < 2*timeout {
		t.Errorf("gate passed after %s, before s2 could have caught up", took)
	}
	logs := catchUpLogs(r)
	// At most one line per 5s; the whole gate took less.
	if len(logs) != 1 {
		t.Fatalf("catch-up progress logged %d times, want once: %q", len(logs), r.logLines())
	}
	for _, want := range []string{"member:s2", "applied:", "target:", "elapsed:"} {
		if !strings.Contains(logs[0], want) {
			t.Errorf("catch-up log %q lacks %q", logs[0], want)
		}
	}
}

// TestGateFailsWhenCatchUpStops: a member whose applied index does not rise
// fails its gate at health.timeout, as before, with the catch-up error.
//
// It uses the fake cluster because the fault cannot be made for real
// reliably in CI: a real member that answers but never applies needs a
// stalled disk or a wedged apply loop, which no test can order.
func TestGateFailsWhenCatchUpStops(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	r, target, _, err := catchUpGate(t, timeout, func(target uint64, since time.Duration) uint64 { return target - 60 })
	if err == nil {
		t.Fatal("gate passed although s2 never caught up")
	}
	var cu *catchUpError
	if !errors.As(err, &cu) || cu.Applied != target-60 || cu.Target != target {
		t.Fatalf("error %v is not a catch-up error at applied %d, target %d", err, target-60, target)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "not reached within 200ms: ") || !strings.Contains(msg, fmt.Sprintf("s2 has applied index %d, leader s1 had committed %d", target-60, target)) {
		t.Errorf("error %q, want the usual timeout with the catch-up message", msg)
	}
	if logs := catchUpLogs(r); len(logs) != 0 {
		t.Errorf("a member that does not catch up was logged as catching up: %q", logs)
	}
}

// TestGateCatchUpBound: a member still catching up at CatchUpBoundFactor ×
// health.timeout fails there, and the error names the bound.
//
// It uses the fake cluster because the fault cannot be made for real
// reliably in CI: a member that applies steadily yet never reaches the
// leader needs a write load faster than its disk, sized to the machine.
func TestGateCatchUpBound(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	r, _, took, err := catchUpGate(t, timeout, func(target uint64, since time.Duration) uint64 {
		// 900 entries behind, one more every 10ms: 9s to catch up.
		return target - 900 + uint64(since/(10*time.Millisecond))
	})
	if err == nil {
		t.Fatal("gate passed although s2 never caught up")
	}
	if !errors.As(err, new(*catchUpError)) {
		t.Errorf("error %v is not a catch-up error", err)
	}
	if want := fmt.Sprintf("the catch-up bound of 2s (%d × health.timeout 200ms)", CatchUpBoundFactor); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the bound %q", err, want)
	}
	if took < CatchUpBoundFactor*timeout {
		t.Errorf("gate gave up after %s, before the bound %s", took, CatchUpBoundFactor*timeout)
	}
	if logs := catchUpLogs(r); len(logs) != 1 {
		t.Errorf("catch-up progress logged %d times in %s, want once: %q", len(logs), took, logs)
	}
}

// TestGateNoExtensionOnceCancelled: after the operator cancelled (or the
// apply's timeout ended), the gate, which runs detached so that it can
// still decide the member's fate, grants no catch-up extension. Fake
// cluster, as for the other catch-up tests.
func TestGateNoExtensionOnceCancelled(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	op, cancel := context.WithCancel(context.Background())
	cancel()
	gctx, stop := detached(op, time.Minute)
	defer stop()
	_, _, took, err := catchUpGateCtx(t, gctx, timeout, func(target uint64, since time.Duration) uint64 {
		return target - 70 + uint64(since/(10*time.Millisecond))
	})
	if err == nil || !strings.HasPrefix(err.Error(), "not reached within 200ms: ") {
		t.Fatalf("gate after cancel: %v, want the plain timeout", err)
	}
	if took > 4*timeout {
		t.Errorf("gate took %s after the operation was cancelled", took)
	}
}
