package resources_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// otherResource is a resource of the same root module that has nothing to
// do with etcd: it must plan and apply whatever state the cluster is in.
func otherResource(input string) string {
	return `
resource "terraform_data" "other" {
  input = "` + input + `"
}
`
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	flat := strings.Join(strings.Fields(out), " ")
	for _, w := range wants {
		if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
			t.Errorf("%s: no %q in:\n%s", what, w, lastLines(out, 60))
		}
	}
}

// During an incident Terraform keeps working: with a member down and no
// version change, refresh and plan succeed with a warning naming the
// member, the drift alarm fires (plan -detailed-exitcode exits 2), apply
// refuses for this resource while the rest of the root module applies, and
// once the member is back the plan is empty again. The same holds with
// every member down.
func TestAccClusterVersion_memberDown(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	w := newCLIWorkdir(t, sb)
	w.extra = otherResource("a")
	w.adopt(v35)
	ctx := context.Background()
	down := sb.Host("s3")
	if err := down.StopEtcd(ctx); err != nil {
		t.Fatal(err)
	}

	code, out := w.run("plan", "-detailed-exitcode")
	if code != 2 {
		t.Errorf("plan -detailed-exitcode with s3 down: exit %d, want 2 (changes)\n%s", code, out)
	}
	mustContain(t, "plan with s3 down", out,
		"Warning: Member s3 unreachable", `records it as "unreachable"`, "refuses to apply while it is down",
		`"s3" = "unreachable" -> "`+v35+`"`, `"mixed: s1=`+v35+` s2=`+v35+` s3=unreachable" -> "`+v35+`"`,
		"preflight: blocked: s3 not healthy; apply refuses until every member is healthy")

	// A version change during the incident plans too, and says apply refuses.
	w.write("3.5.16", etcdBinary(t, "3.5.16"))
	code, out = w.run("plan", "-detailed-exitcode")
	if code != 2 {
		t.Errorf("plan of a version change with s3 down: exit %d, want 2\n%s", code, out)
	}
	mustContain(t, "version change with s3 down", out, "preflight: blocked: s3 not healthy", `"s3" = "unreachable" -> "3.5.16"`)

	// Apply: this resource refuses; the other resource is applied.
	w.extra = otherResource("b")
	w.write(v35, etcdBinary(t, v35))
	code, out = w.run("apply", "-auto-approve")
	if code == 0 {
		t.Fatalf("apply with s3 down succeeded:\n%s", out)
	}
	mustContain(t, "apply with s3 down", out, "Rollout stopped at preflight", `Member "s3" is unreachable`, "terraform_data.other: Modifications complete")
	if _, show := w.run("state", "show", "terraform_data.other"); !strings.Contains(show, `"b"`) {
		t.Errorf("terraform_data.other was not applied:\n%s", show)
	}
	if holder := currentLock(t, sb); holder != nil {
		t.Errorf("the refused apply left the rollout lock held by %s", holder)
	}

	// Every member down: refresh and plan still work.
	for _, h := range sb.Hosts {
		if h != down {
			if err := h.StopEtcd(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out = w.run("plan", "-detailed-exitcode")
	if code != 2 {
		t.Errorf("plan with the whole cluster down: exit %d, want 2\n%s", code, out)
	}
	mustContain(t, "plan with the whole cluster down", out, "Warning: etcd cluster unreachable", "no member answers; apply refuses until the cluster is back")

	// Together: a Type=notify member is ready only once it has a quorum.
	startAll(t, sb)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sb.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	if code, out := w.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan once every member is back: exit %d, want 0 (no changes)\n%s", code, out)
	}
}

// Two rollouts never run on one cluster at once. A real apply takes the
// lock for its whole run, naming itself, and releases it; a second apply
// while the lock is held is refused with the holder named, and its plan
// says the lock is held; a lock whose holder is gone is broken with the
// documented step (etcdctl del), after which apply proceeds.
func TestAccClusterVersion_lock(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	w := newCLIWorkdir(t, sb)
	w.adopt(v35)

	// A real apply holds the lock while it runs.
	w.health = `health = { stable_for = "1s", member_pause = "3s" }`
	w.write(older, etcdBinary(t, older))
	cmd := w.command("apply", "-auto-approve")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen *etcdx.LockHolder
	for deadline := time.Now().Add(3 * time.Minute); seen == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seen = currentLock(t, sb)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	if seen == nil {
		t.Fatal("no lock was seen while the apply ran")
	}
	t.Logf("lock held during the apply: %s", seen)
	if !strings.Contains(seen.Who, "@") || seen.PID == 0 || seen.Target != older || seen.Since == "" {
		t.Errorf("the lock does not say who holds it, from where, since when: %+v", seen)
	}
	if h := currentLock(t, sb); h != nil {
		t.Errorf("the lock is still held after the apply: %s", h)
	}

	// Another pipeline holds the lock, then dies: its lease is still alive.
	cli := etcdClient(t, sb)
	lease, err := cli.Grant(context.Background(), 600)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := json.Marshal(etcdx.LockHolder{Who: "ci@runner-7", PID: 4242, Since: "2026-11-30T09:00:00Z", Target: v35, Run: "job 981"})
	if _, err := cli.Put(context.Background(), etcdx.LockKey, string(other), clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	w.health = ""
	w.write(v35, etcdBinary(t, v35))
	_, planOut := w.run("plan")
	mustContain(t, "plan while the lock is held", planOut, "Warning: A rollout is in progress on this cluster", "ci@runner-7 (pid 4242), since 2026-11-30T09:00:00Z, rolling out "+v35+", job job 981")
	code, applyOut := w.run("apply", "-auto-approve")
	if code == 0 {
		t.Fatalf("a second rollout was not refused:\n%s", applyOut)
	}
	mustContain(t, "apply while the lock is held", applyOut, "Another rollout is in progress on this cluster", "ci@runner-7 (pid 4242)", "etcdctl del "+etcdx.LockKey)
	for _, h := range sb.Hosts {
		if v, err := h.EtcdVersion(context.Background()); err != nil || v != older {
			t.Errorf("%s runs %q (%v) after the refused apply, want %s untouched", h.Name, v, err, older)
		}
	}

	// The documented step breaks it.
	etcdctl, err := testhosts.EtcdctlBinary(sb.EtcdVersion)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := execOutput(etcdctl, "--endpoints="+strings.Join(sb.ClientURLs(), ","), "del", etcdx.LockKey); err != nil || strings.TrimSpace(out) != "1" {
		t.Fatalf("etcdctl del: %v %q", err, out)
	}
	if code, out := w.run("apply", "-auto-approve"); code != 0 {
		t.Fatalf("apply after the lock was broken: exit %d\n%s", code, out)
	}
	for name, v := range w.stateMemberVersions() {
		if v != v35 {
			t.Errorf("%s on %s after the apply", name, v)
		}
	}
}

func etcdClient(t *testing.T, sb *testhosts.Sandbox) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: sb.ClientURLs(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// currentLock reads the rollout lock the way the provider does.
func currentLock(t *testing.T, sb *testhosts.Sandbox) *etcdx.LockHolder {
	t.Helper()
	c, err := etcdx.New(etcdx.Config{Endpoints: sb.ClientURLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	h, err := c.CurrentLock(context.Background())
	if err != nil {
		t.Fatalf("reading the lock: %v", err)
	}
	return h
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// A saved plan meets a cluster that moved on. A member restarted between
// plan -out and apply changes nothing the plan shows, so the saved plan
// applies. A member whose version changed by hand does: Terraform makes the
// plan again at apply time, sees it differ from the saved one, and stops
// with its own message before the provider's apply runs, so nothing on the
// cluster is touched. The protocol gives the provider no way to see the
// saved plan there, so docs/guides/when-a-rollout-stops.md quotes that
// message and says what it means; this test holds the guide to it.
func TestAccClusterVersion_savedPlan(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	w := newCLIWorkdir(t, sb)
	w.adopt(v35)
	ctx := context.Background()

	w.write(older, etcdBinary(t, older))
	if code, out := w.run("plan", "-out=restart.tfplan"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	restarted := sb.Host("s2")
	if err := restarted.StopEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := restarted.StartEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sb.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if code, out := w.run("apply", "restart.tfplan"); code != 0 {
		t.Fatalf("the saved plan did not apply after a member restart: exit %d\n%s", code, out)
	}

	w.write(v35, etcdBinary(t, v35))
	if code, out := w.run("plan", "-out=moved.tfplan"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	swapBinary(t, sb, sb.Host("s1"), v35) // someone upgraded s1 by hand
	code, out := w.run("apply", "moved.tfplan")
	if code == 0 {
		t.Fatalf("a saved plan applied to a cluster that changed:\n%s", out)
	}
	guide, err := os.ReadFile("../../docs/guides/when-a-rollout-stops.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"Provider produced inconsistent final plan", "produced an invalid new value for .rollout", "This is a bug in the provider"} {
		mustContain(t, "apply of the outdated saved plan", out, msg)
		mustContain(t, "the guide", string(guide), msg)
	}
	for _, h := range sb.Hosts[1:] {
		if v, err := h.EtcdVersion(ctx); err != nil || v != older {
			t.Errorf("%s runs %q (%v): the refused saved plan touched it", h.Name, v, err)
		}
	}
	if code, out := w.run("apply", "-auto-approve"); code != 0 {
		t.Fatalf("a fresh plan and apply: exit %d\n%s", code, out)
	}
}

// startAll starts every member at once, as after a whole-cluster outage.
func startAll(t *testing.T, sb *testhosts.Sandbox) {
	t.Helper()
	errs := make(chan error, len(sb.Hosts))
	for _, h := range sb.Hosts {
		go func(h *testhosts.Host) { errs <- h.StartEtcd(context.Background()) }(h)
	}
	for range sb.Hosts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
