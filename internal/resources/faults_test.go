package resources_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// Every fault here is made for real: sshd killed, etcd processes stopped or
// frozen with signals, leadership moved with etcdctl, a real full disk, a real
// SIGINT to the terraform CLI, a real new host key.

type etcdEvent struct {
	host    *testhosts.Host
	stopped bool // false: started with a new pid
	pid     int
}

// watchEtcd reports every stop and every start of an etcd process on the
// sandbox's hosts, by polling the stand-in's pid files every 10ms.
func watchEtcd(t *testing.T, sb *testhosts.Sandbox) <-chan etcdEvent {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan etcdEvent, 64)
	go func() {
		last := map[string]int{}
		for _, h := range sb.Hosts {
			last[h.Name] = livePID(h)
		}
		for ctx.Err() == nil {
			for _, h := range sb.Hosts {
				pid := livePID(h)
				if pid == last[h.Name] {
					continue
				}
				ev := etcdEvent{host: h, stopped: pid == 0, pid: pid}
				last[h.Name] = pid
				select {
				case out <- ev:
				default:
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return out
}

func livePID(h *testhosts.Host) int {
	b, err := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	// The stand-in writes the pid from a shell that then execs etcd; until
	// it has, the process is not etcd yet.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "etcd" {
		return 0
	}
	return pid
}

// The SSH connection to the host being replaced drops mid-step: its sshd is
// killed right after etcd stops there, and comes back 3 s later. Meanwhile
// the test itself holds the port and resets every connection, noting when
// each came: each is a step of the provider trying again. Steps are
// idempotent and retried with backoff, so the rollout completes.
func TestAccFault_sshDropsMidMember(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var dropped *testhosts.Host
	var attempts []time.Time // connections to its port while its sshd was down
	var dropErr error
	injected := make(chan struct{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, etcdBinary(t, v35), snap)},
			{
				PreConfig: func() {
					events := watchEtcd(t, sb)
					go func() {
						defer close(injected)
						for ev := range events {
							if ev.stopped {
								got, err := dropSSH(ev.host, 3*time.Second)
								mu.Lock()
								dropped, attempts, dropErr = ev.host, got, err
								mu.Unlock()
								return
							}
						}
					}()
				},
				Config: versionConfig(sb, older, etcdBinary(t, older), snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				},
				Check: func(*terraform.State) error {
					select {
					case <-injected:
					case <-time.After(time.Minute):
						return errors.New("the fault was never injected: no member stopped")
					}
					mu.Lock()
					defer mu.Unlock()
					if dropErr != nil {
						return fmt.Errorf("dropping SSH to %s: %w", dropped.Name, dropErr)
					}
					var gaps []time.Duration
					for i := 1; i < len(attempts); i++ {
						gaps = append(gaps, attempts[i].Sub(attempts[i-1]).Round(time.Millisecond))
					}
					t.Logf("sshd of %s was killed while its etcd was stopped, and came back 3 s later; meanwhile %d connections came, %v apart", dropped.Name, len(attempts), gaps)
					// Tried again at least twice, each time after a longer
					// wait: retry's 250ms, 500ms, 1s… fit three tries in 3 s.
					o.assert("retried", len(gaps) >= 2 && gaps[len(gaps)-1] > gaps[0],
						"%d connections to %s:22 while its sshd was down, %v apart: want at least three, with a growing wait", len(attempts), dropped.Addr, gaps)
					var wrong []string
					for _, h := range sb.Hosts {
						if v, err := h.EtcdVersion(context.Background()); err != nil || v != older {
							wrong = append(wrong, fmt.Sprintf("%s runs %q (%v)", h.Name, v, err))
						}
					}
					o.assert("completes", len(wrong) == 0, "want every member on %s: %s", older, strings.Join(wrong, "; "))
					return nil
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	o.subtest("no-write-lost", t, writer.Verify)
}

// dropSSH kills h's sshd and every connection it serves, then, for d,
// listens on its port itself and resets each connection at once, as a host
// without sshd would refuse it, noting when each came; then it starts sshd
// again. It returns those times.
func dropSSH(h *testhosts.Host, d time.Duration) ([]time.Time, error) {
	if err := h.StopSSHD(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(h.Addr, "22"))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("listening on %s:22 while sshd is down: %w", h.Addr, err), h.StartSSHD())
	}
	var attempts []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			attempts = append(attempts, time.Now())
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with a reset
			}
			_ = c.Close()
		}
	}()
	time.Sleep(d)
	_ = ln.Close()
	<-done
	return attempts, h.StartSSHD()
}

// The member never becomes healthy on the new version: it is frozen with
// SIGSTOP right after it starts. Its gate fails, it is put back on its old
// version, and the rollout stops before any other member.
// Before the apply, config management already put the target binary at
// binary.path on every host while the members still run the old one: the
// binary kept for the put-back is the one the member was started from
// (its /proc/<pid>/exe), not what binary.path held.
func TestAccFault_memberNeverHealthy(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	health := `health = { timeout = "20s", stable_for = "1s" }`
	cfg := func(v, bin string) string {
		return strings.Replace(versionConfig(sb, v, bin, snap), `health = { stable_for = "1s" }`, health, 1)
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var frozen *testhosts.Host
	stops := map[string]int{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: cfg(v35, etcdBinary(t, v35))},
			{
				PreConfig: func() {
					for _, h := range sb.Hosts {
						replaceFile(t, h.Path("/usr/local/bin/etcd"), etcdBinary(t, older))
					}
					events := watchEtcd(t, sb)
					go func() {
						for ev := range events {
							mu.Lock()
							if ev.stopped {
								stops[ev.host.Name]++
							} else if frozen == nil {
								frozen = ev.host
								_ = syscall.Kill(ev.pid, syscall.SIGSTOP)
							}
							mu.Unlock()
						}
					}()
				},
				Config: cfg(older, etcdBinary(t, older)),
				// Frozen, it never tells systemd it is ready: the Type=notify
				// start fails on the unit's start timeout, or the gate first.
				// The same error says it was put back and passed its gate.
				ExpectError: o.expectError("start-or-gate-fails", regexp.MustCompile(`(?s)Rollout stopped at member s\d \((gate|start)\).*`+
					phrase("was put back on its previous binary and config, restarted, and passed its health gate"))),
			},
			{
				Config:             cfg(older, etcdBinary(t, older)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				Check:              nil,
				PreConfig: func() {
					mu.Lock()
					defer mu.Unlock()
					if frozen == nil {
						t.Fatal("the fault was never injected")
					}
					ver, err := frozen.EtcdVersion(context.Background())
					o.assert("put-back", err == nil && ver == v35, "%s runs %q (%v) after being put back, want %s", frozen.Name, ver, err, v35)
					o.assert("put-back", sameContent(t, frozen.Path("/usr/local/bin/etcd"), etcdBinary(t, v35)),
						"%s:/usr/local/bin/etcd is not the %s binary the member was started from", frozen.Name, v35)
					o.check("put-back", sb.WaitHealthy(context.Background()))
					var stopped []string
					for _, h := range sb.Hosts {
						if h != frozen && stops[h.Name] > 0 {
							stopped = append(stopped, h.Name)
						}
					}
					o.assert("others-untouched", len(stopped) == 0, "%v stopped although the rollout failed at %s, before them", stopped, frozen.Name)
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// A different member dies while the changed one is being gated. The gate
// notices; the changed member, healthy on the target, is left there, and no
// other member is stopped. Once the dead member is back, apply finishes.
func TestAccFault_otherMemberDies(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	cfg := func(v, bin string) string {
		return strings.Replace(versionConfig(sb, v, bin, snap), `health = { stable_for = "1s" }`, `health = { timeout = "6s", stable_for = "1s" }`, 1)
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var changed, killed *testhosts.Host
	stopsAfter := map[string]int{} // stops of each member once the changed one started on the target
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: cfg(v35, etcdBinary(t, v35))},
			{
				PreConfig: func() {
					leader := acctest.Leader(t, sb.ClientURLs())
					events := watchEtcd(t, sb)
					go func() {
						for ev := range events {
							mu.Lock()
							switch {
							case changed != nil && ev.stopped:
								stopsAfter[ev.host.Name]++
							case changed == nil && !ev.stopped:
								changed = ev.host
								// Kill the leader-to-be-last: a member the rollout has not reached.
								killed = sb.Host(leader)
								_ = killed.StopEtcd(context.Background())
							}
							mu.Unlock()
						}
					}()
				},
				Config:      cfg(older, etcdBinary(t, older)),
				ExpectError: o.expectError("left-on-target", regexp.MustCompile(`(?s)Rollout stopped at member s\d \(gate\).*member\s+s\d\s+is\s+unhealthy.*`+phrase("it was left there"))),
			},
			{
				PreConfig: func() {
					mu.Lock()
					defer mu.Unlock()
					if changed == nil || killed == nil {
						t.Fatal("the fault was never injected")
					}
					ver, err := changed.EtcdVersion(context.Background())
					o.assert("left-on-target", err == nil && ver == older, "%s runs %q (%v), want it left on %s", changed.Name, ver, err, older)
					o.assert("left-on-target", stopsAfter[changed.Name] == 0, "%s was stopped again after it started on %s", changed.Name, older)
					for _, h := range sb.Hosts {
						if h == killed {
							continue
						}
						o.assert("no-other-stopped", h.EtcdRunning(), "%s is not running: the provider stopped it", h.Name)
						if h != changed {
							o.assert("no-other-stopped", stopsAfter[h.Name] == 0, "%s was stopped %d times", h.Name, stopsAfter[h.Name])
						}
					}
					if err := killed.StartEtcd(context.Background()); err != nil {
						t.Fatal(err)
					}
					if err := sb.WaitHealthy(context.Background()); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg(older, etcdBinary(t, older)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				},
				Check: func(*terraform.State) error {
					for _, h := range sb.Hosts {
						v, err := h.EtcdVersion(context.Background())
						o.assert("apply-finishes", err == nil && v == older, "%s runs %q (%v) after the apply, want %s", h.Name, v, err, older)
					}
					return nil
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// Leadership moves on its own mid-rollout (etcdctl move-leader to a member
// not yet done): the order adapts, the new leader goes last, and no member is
// ever stopped while it leads. The order is the order in which the members'
// etcd processes stopped; whether a member led when it was stopped is what
// etcd itself logs as it shuts down.
func TestAccFault_leaderMovesMidRollout(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	etcdctl, err := testhosts.EtcdctlBinary(v35)
	if err != nil {
		t.Fatal(err)
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var watch *acctest.LeaderWatch
	var mu sync.Mutex // guards what the injector records
	leader, moved := "", ""
	var order []string // members in the order their etcd stopped
	logFrom := map[string]int64{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, etcdBinary(t, v35), snap)},
			{
				PreConfig: func() {
					for _, h := range sb.Hosts {
						logFrom[h.Name] = fileSize(h.Path(testhosts.EtcdLog))
					}
					watch = acctest.WatchLeaders(t, sb.ClientURLs())
					leader = acctest.Leader(t, sb.ClientURLs())
					events := watchEtcd(t, sb)
					go func() {
						tried := false
						for ev := range events {
							if ev.stopped {
								mu.Lock()
								order = append(order, ev.host.Name)
								mu.Unlock()
								continue
							}
							if tried {
								continue
							}
							tried = true
							// The first member is back: move leadership to a
							// member that is neither it nor the old leader.
							time.Sleep(500 * time.Millisecond)
							for _, h := range sb.Hosts {
								if h != ev.host && h.Name != leader {
									out, err := exec.Command(etcdctl, "--endpoints="+strings.Join(sb.ClientURLs(), ","), "move-leader", memberID(t, etcdctl, sb, h.Name)).CombinedOutput()
									if err == nil {
										mu.Lock()
										moved = h.Name
										mu.Unlock()
									} else {
										t.Logf("move-leader: %v %s", err, out)
									}
									break
								}
							}
						}
					}()
				},
				Config: versionConfig(sb, older, etcdBinary(t, older), snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				},
				Check: func(*terraform.State) error {
					mu.Lock()
					defer mu.Unlock()
					if moved == "" {
						return errors.New("leadership was never moved by the test")
					}
					downs := watch.Check(t)
					names := map[string]string{} // member id → name
					for _, h := range sb.Hosts {
						names[strings.TrimLeft(memberID(t, etcdctl, sb, h.Name), "0")] = h.Name
					}
					shutdowns := map[string][]etcdShutdown{}
					for _, h := range sb.Hosts {
						s := etcdShutdowns(t, h, logFrom[h.Name])
						for i := range s {
							if name, ok := names[s[i].leader]; ok {
								s[i].leader = name
							}
						}
						shutdowns[h.Name] = s
					}
					t.Logf("leadership moved from %s to %s mid-rollout; members stopped in the order %v; their etcd said at shutdown %v; downs seen by the leader watch: %v",
						leader, moved, order, shutdowns, downs)

					// The old leader, kept for last at first, goes as soon as it
					// no longer leads; the member that leads then goes last.
					ok := o.assert("leader-last", len(order) == 3 && order[1] == leader && order[2] == moved,
						"members stopped in the order %v; leadership moved from %s to %s, so want %s then %s last", order, leader, moved, leader, moved)
					if ok {
						s := shutdowns[leader]
						o.assert("leader-last", len(s) == 1 && s[0].leader == moved,
							"when %s, the old leader, was stopped, etcd said the leader was %v, want %s", leader, s, moved)
					}
					for _, h := range sb.Hosts {
						stopped := 0
						for _, name := range order {
							if name == h.Name {
								stopped++
							}
						}
						s := shutdowns[h.Name]
						o.assert("not-while-leading", len(s) == stopped, "%s was stopped %d times but its etcd logged %d shutdowns %v: cannot tell whether it led", h.Name, stopped, len(s), s)
						for _, sd := range s {
							o.assert("not-while-leading", sd.said && !sd.leading, "%s was stopped, and its etcd said at shutdown %v", h.Name, sd)
						}
					}
					return nil
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// etcdShutdown is what an etcd process logs when it is asked to stop:
// "closing etcd server", then, from its graceful stop, either that it is
// not the leader (naming the one that is) or the start of the leadership
// transfer a leader makes before it stops.
type etcdShutdown struct {
	said    bool   // etcd said whether it led; false: it stopped without saying
	leading bool   // it was the leader when asked to stop
	leader  string // the leader as a follower saw it: member id, hex (or its name)
}

func (s etcdShutdown) String() string {
	switch {
	case !s.said:
		return "{did not say whether it led}"
	case s.leading:
		return "{leader: handed leadership over as it stopped}"
	}
	return "{follower of " + s.leader + "}"
}

// etcdShutdowns reads, from offset on, the shutdowns h's etcd logged.
func etcdShutdowns(t *testing.T, h *testhosts.Host, offset int64) []etcdShutdown {
	t.Helper()
	f, err := os.Open(h.Path(testhosts.EtcdLog))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	out, err := parseEtcdShutdowns(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// parseEtcdShutdowns reads etcd's JSON log lines (and skips the others)
// for its shutdowns: each begins with "closing etcd server", and the first
// word of the graceful stop on leadership says whether it led.
func parseEtcdShutdowns(r io.Reader) ([]etcdShutdown, error) {
	var out []etcdShutdown
	pending := false // a shutdown began and has not said yet whether it led
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg    string `json:"msg"`
			Leader string `json:"current-leader-member-id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue // systemd's lines, between etcd's
		}
		switch {
		case line.Msg == "closing etcd server":
			out = append(out, etcdShutdown{})
			pending = true
		case pending && line.Msg == "skipped leadership transfer; local server is not leader":
			out[len(out)-1] = etcdShutdown{said: true, leader: strings.TrimLeft(line.Leader, "0")}
			pending = false
		case pending && line.Msg == "leadership transfer starting":
			out[len(out)-1] = etcdShutdown{said: true, leading: true}
			pending = false
		}
	}
	return out, sc.Err()
}

// TestParseEtcdShutdowns reads shutdowns from log lines as etcd 3.5 writes
// them: a follower's, a leader's, one after a leadership move by API (which
// logs the same start of a transfer, but before the shutdown), and a stop
// that said nothing (killed).
func TestParseEtcdShutdowns(t *testing.T) {
	log := `{"level":"info","msg":"leadership transfer starting","local-member-id":"a1","current-leader-member-id":"a1","transferee-member-id":"b2"}
{"level":"info","msg":"leadership transfer finished","local-member-id":"a1","old-leader-member-id":"a1","new-leader-member-id":"b2"}
Dec 01 00:00:01 s1 systemd[1]: Stopping etcd.service...
{"level":"info","msg":"received signal; shutting down","signal":"terminated"}
{"level":"info","msg":"closing etcd server","name":"s1"}
{"level":"info","msg":"skipped leadership transfer; local server is not leader","local-member-id":"a1","current-leader-member-id":"0b2"}
{"level":"info","msg":"closed etcd server","name":"s1"}
{"level":"info","msg":"closing etcd server","name":"s1"}
{"level":"info","msg":"leadership transfer starting","local-member-id":"a1","current-leader-member-id":"a1","transferee-member-id":"b2"}
{"level":"info","msg":"closing etcd server","name":"s1"}
{"level":"info","msg":"closed etcd server","name":"s1"}
`
	got, err := parseEtcdShutdowns(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []etcdShutdown{{said: true, leader: "b2"}, {said: true, leading: true}, {}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func memberID(t *testing.T, etcdctl string, sb *testhosts.Sandbox, name string) string {
	out, err := exec.Command(etcdctl, "--endpoints="+strings.Join(sb.ClientURLs(), ","), "member", "list").Output()
	if err != nil {
		t.Errorf("member list: %v", err)
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ", ")
		if len(f) > 2 && f[2] == name {
			return f[0]
		}
	}
	return ""
}

// The snapshot cannot be written: the directory is under a regular file, or
// on a real full filesystem (a 64 KiB tmpfs). The apply stops before any
// member is touched.
func TestAccFault_snapshotUnwritable(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	blocker := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", full).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", full).Run() })
	// Enough data that the snapshot is larger than the tmpfs.
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	time.Sleep(2 * time.Second)
	pids := map[string]int{}
	for _, h := range sb.Hosts {
		pids[h.Name] = livePID(h)
	}
	untouched := func() {
		for _, h := range sb.Hosts {
			pid := livePID(h)
			o.assert("stops-at-snapshot", pid == pids[h.Name], "%s was restarted (pid %d → %d) although the snapshot failed", h.Name, pids[h.Name], pid)
		}
	}
	cfg := func(dir string) string {
		return versionConfig(sb, older, etcdBinary(t, older), fmt.Sprintf(`snapshot = { directory = %q }`, dir))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, etcdBinary(t, v35))},
			{
				Config:      cfg(filepath.Join(blocker, "snapshots")),
				ExpectError: o.expectError("stops-at-snapshot", regexp.MustCompile(`(?s)Rollout stopped at snapshot.*not a directory.*`+phrase("Nothing was changed by this step"))),
			},
			{
				PreConfig:   untouched,
				Config:      cfg(full),
				ExpectError: o.expectError("stops-at-snapshot", regexp.MustCompile(`(?s)Rollout stopped at snapshot.*no space left on device.*`+phrase("Nothing was changed by this step"))),
			},
			{
				PreConfig: func() {
					untouched()
					entries, err := os.ReadDir(full)
					var left []string
					for _, e := range entries {
						left = append(left, e.Name())
					}
					o.assert("no-partial-file", err == nil && len(left) == 0, "a failed snapshot left %v behind in %s (%v)", left, full, err)
				},
				Config:   cfg(full),
				PlanOnly: true, ExpectNonEmptyPlan: true,
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// Putting the member back also fails: every etcd process that starts on the
// member is frozen with SIGSTOP, the new version and then the old one. The
// error says so plainly and gives the recovery path; the other members keep
// quorum and were never stopped.
func TestAccFault_putBackFails(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snapDir := t.TempDir()
	snap := `snapshot = { directory = "` + snapDir + `" }`
	cfg := func(v, bin string) string {
		return strings.Replace(versionConfig(sb, v, bin, snap), `health = { stable_for = "1s" }`, `health = { timeout = "5s", stable_for = "1s" }`, 1)
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var victim *testhosts.Host
	stopped := map[string]int{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: cfg(v35, etcdBinary(t, v35))},
			{
				PreConfig: func() {
					events := watchEtcd(t, sb)
					go func() {
						for ev := range events {
							mu.Lock()
							switch {
							case ev.stopped:
								stopped[ev.host.Name]++
							case victim == nil || ev.host == victim:
								victim = ev.host
								_ = syscall.Kill(ev.pid, syscall.SIGSTOP)
							}
							mu.Unlock()
						}
					}()
				},
				Config: cfg(older, etcdBinary(t, older)),
				// A frozen member never tells systemd it is ready: its
				// Type=notify start fails on the unit's start timeout, or the
				// gate fails first.
				ExpectError: o.expectError("says-put-back-failed", regexp.MustCompile(`(?s)Rollout stopped at member s\d \((gate|start)\).*PUTTING\s+MEMBER\s+s\d\s+BACK\s+ALSO\s+FAILED.*`+
					`<binary\s+path>\.<previous\s+version>.*/var/lib/terraform-provider-etcd/.*`+regexp.QuoteMeta(snapDir)+`.*etcdutl\s+snapshot\s+restore`)),
			},
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if victim == nil {
		t.Fatal("the fault was never injected")
	}
	for _, h := range sb.Hosts {
		if h != victim {
			o.assert("others-never-stopped", stopped[h.Name] == 0, "%s was stopped although the rollout failed before it", h.Name)
		}
	}
	// Quorum held throughout: the writer kept getting acknowledgements.
	report := writer.Stop()
	t.Logf("client: %s", report)
	o.assert("quorum-kept", report.Acked > 0 && report.LongestGap <= 5*time.Second,
		"writes stalled for %s (%d acknowledged): quorum was lost", report.LongestGap, report.Acked)
	writer.Verify(t)
}

// replaceFile puts src's content at dst by a rename, as config management
// does: a running binary cannot be written in place.
func replaceFile(t *testing.T, dst, src string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".cm-tmp", data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".cm-tmp", dst); err != nil {
		t.Fatal(err)
	}
}

func sameContent(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Error(err)
		return false
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}
