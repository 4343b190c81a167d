package resources_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// killed right after etcd stops there, and comes back 3 s later. Steps are
// idempotent and retried, so the rollout completes.
func TestAccFault_sshDropsMidMember(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var dropped *testhosts.Host
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, etcdBinary(t, v35), snap)},
			{
				PreConfig: func() {
					events := watchEtcd(t, sb)
					go func() {
						for ev := range events {
							if ev.stopped {
								mu.Lock()
								dropped = ev.host
								mu.Unlock()
								_ = ev.host.StopSSHD()
								time.Sleep(3 * time.Second)
								_ = ev.host.StartSSHD()
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
					mu.Lock()
					defer mu.Unlock()
					if dropped == nil {
						return errors.New("the fault was never injected: no member stopped")
					}
					t.Logf("sshd of %s was killed while its etcd was stopped, and came back 3 s later", dropped.Name)
					return nil
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// The member never becomes healthy on the new version: it is frozen with
// SIGSTOP right after it starts. Its gate fails, it is put back on its old
// version, and the rollout stops before any other member.
// Before the apply, config management already put the target binary at
// binary.path on every host while the members still run the old one: the
// binary kept for the put-back is the one the member was started from
// (its /proc/<pid>/exe), not what binary.path held.
func TestAccFault_memberNeverHealthy(t *testing.T) {
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
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at member s\d \((gate|start)\).*` + words("was put back on its previous binary and config, restarted, and passed its health gate").String()[4:]),
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
					if err != nil || ver != v35 {
						t.Errorf("%s runs %q (%v) after being put back, want %s", frozen.Name, ver, err, v35)
					}
					if !sameContent(t, frozen.Path("/usr/local/bin/etcd"), etcdBinary(t, v35)) {
						t.Errorf("%s:/usr/local/bin/etcd is not the %s binary the member was started from", frozen.Name, v35)
					}
					for _, h := range sb.Hosts {
						if h != frozen && stops[h.Name] > 0 {
							t.Errorf("%s was stopped although the rollout failed before it", h.Name)
						}
					}
					if err := sb.WaitHealthy(context.Background()); err != nil {
						t.Errorf("cluster not healthy after the put back: %v", err)
					}
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
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	cfg := func(v, bin string) string {
		return strings.Replace(versionConfig(sb, v, bin, snap), `health = { stable_for = "1s" }`, `health = { timeout = "6s", stable_for = "1s" }`, 1)
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var mu sync.Mutex // guards what the injector records
	var changed, killed *testhosts.Host
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
							if !ev.stopped && changed == nil {
								mu.Lock()
								defer mu.Unlock()
								changed = ev.host
								// Kill the leader-to-be-last: a member the rollout has not reached.
								killed = sb.Host(leader)
								_ = killed.StopEtcd(context.Background())
								return
							}
						}
					}()
				},
				Config:      cfg(older, etcdBinary(t, older)),
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at member s\d \(gate\).*member\s+s\d\s+is\s+unhealthy.*` + words("it was left there").String()[4:]),
			},
			{
				PreConfig: func() {
					mu.Lock()
					defer mu.Unlock()
					if changed == nil || killed == nil {
						t.Fatal("the fault was never injected")
					}
					ver, err := changed.EtcdVersion(context.Background())
					if err != nil || ver != older {
						t.Errorf("%s runs %q (%v), want it left on %s", changed.Name, ver, err, older)
					}
					for _, h := range sb.Hosts {
						if h != killed && !h.EtcdRunning() {
							t.Errorf("%s is not running: the provider stopped it", h.Name)
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
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// Leadership moves on its own mid-rollout (etcdctl move-leader to a member
// not yet done): the order adapts, the new leader goes last, and no member is
// ever stopped while it leads.
func TestAccFault_leaderMovesMidRollout(t *testing.T) {
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
	moved := ""
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, etcdBinary(t, v35), snap)},
			{
				PreConfig: func() {
					watch = acctest.WatchLeaders(t, sb.ClientURLs())
					leader := acctest.Leader(t, sb.ClientURLs())
					events := watchEtcd(t, sb)
					go func() {
						for ev := range events {
							if ev.stopped {
								continue
							}
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
									return
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
					t.Logf("leadership moved to %s mid-rollout; stops seen per member: %v", moved, downs)
					return nil
				},
			},
		},
	})
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
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
			if livePID(h) != pids[h.Name] {
				t.Errorf("%s was restarted although the snapshot failed", h.Name)
			}
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
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at snapshot.*not a directory.*` + words("Nothing was changed by this step").String()[4:]),
			},
			{
				PreConfig:   untouched,
				Config:      cfg(full),
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at snapshot.*no space left on device.*` + words("Nothing was changed by this step").String()[4:]),
			},
			{
				PreConfig: func() {
					untouched()
					entries, _ := os.ReadDir(full)
					for _, e := range entries {
						t.Errorf("a failed snapshot left %s behind", e.Name())
					}
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
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at member s\d \((gate|start)\).*PUTTING\s+MEMBER\s+s\d\s+BACK\s+ALSO\s+FAILED.*` +
					`<binary\s+path>\.<previous\s+version>.*/var/lib/terraform-provider-etcd/.*` + regexp.QuoteMeta(snapDir) + `.*etcdutl\s+snapshot\s+restore`),
			},
		},
	})
	mu.Lock()
	defer mu.Unlock()
	if victim == nil {
		t.Fatal("the fault was never injected")
	}
	for _, h := range sb.Hosts {
		if h != victim && stopped[h.Name] > 0 {
			t.Errorf("%s was stopped although the rollout failed before it", h.Name)
		}
	}
	// Quorum held throughout: the writer kept getting acknowledgements.
	report := writer.Stop()
	t.Logf("client: %s", report)
	writer.Verify(t)
	if report.LongestGap > 5*time.Second {
		t.Errorf("writes stalled for %s: quorum was lost", report.LongestGap)
	}
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
