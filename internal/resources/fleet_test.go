package resources_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
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

// contains says which of wants out lacks, comparing with runs of white
// space as one space (Terraform wraps its diagnostics).
func contains(what, out string, wants ...string) error {
	flat := strings.Join(strings.Fields(out), " ")
	var errs []error
	for _, w := range wants {
		if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
			errs = append(errs, fmt.Errorf("%s: no %q", what, w))
		}
	}
	if len(errs) > 0 {
		errs = append(errs, fmt.Errorf("in:\n%s", sshx.LastLines(out, 60)))
	}
	return errors.Join(errs...)
}

// During an incident Terraform keeps working: with a member down and no
// version change, refresh and plan succeed with a warning naming the
// member, the drift alarm fires (plan -detailed-exitcode exits 2), apply
// refuses for this resource while the rest of the root module applies, and
// once the member is back the plan is empty again. The same holds with
// every member down.
func TestAccClusterVersion_memberDown(t *testing.T) {
	o := faultOutcomes(t)
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
	o.assert("plan-exits-2", code == 2, "plan -detailed-exitcode with s3 down: exit %d, want 2 (changes)\n%s", code, out)
	o.check("plan-warns", contains("plan with s3 down", out,
		"Warning: Member s3 unreachable", `records it as "unreachable"`, "refuses to apply while it is down",
		`"s3" = "unreachable" -> "`+v35+`"`, `"mixed: s1=`+v35+` s2=`+v35+` s3=unreachable" -> "`+v35+`"`,
		"preflight: blocked: s3 not healthy; apply refuses until every member is healthy"))

	// A version change during the incident plans too, and says apply refuses.
	w.write("3.5.16", etcdBinary(t, "3.5.16"))
	code, out = w.run("plan", "-detailed-exitcode")
	o.assert("plan-exits-2", code == 2, "plan of a version change with s3 down: exit %d, want 2\n%s", code, out)
	o.check("plan-warns", contains("version change with s3 down", out, "preflight: blocked: s3 not healthy", `"s3" = "unreachable" -> "3.5.16"`))

	// Apply: this resource refuses; the other resource is applied.
	w.extra = otherResource("b")
	w.write(v35, etcdBinary(t, v35))
	code, out = w.run("apply", "-auto-approve")
	if !o.assert("apply-refuses", code != 0, "apply with s3 down succeeded:\n%s", out) {
		t.FailNow()
	}
	o.check("apply-refuses", contains("apply with s3 down", out, "Rollout stopped at preflight", `Member "s3" is unreachable`, "terraform_data.other: Modifications complete"))
	_, show := w.run("state", "show", "terraform_data.other")
	o.assert("apply-refuses", strings.Contains(show, `"b"`), "terraform_data.other was not applied:\n%s", show)
	holder := currentLock(t, sb)
	o.assert("lock-released", holder == nil, "the refused apply left the rollout lock held by %s", holder)

	// Every member down: refresh and plan still work.
	for _, h := range sb.Hosts {
		if h != down {
			if err := h.StopEtcd(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out = w.run("plan", "-detailed-exitcode")
	o.assert("plan-exits-2", code == 2, "plan with the whole cluster down: exit %d, want 2\n%s", code, out)
	o.check("plan-warns", contains("plan with the whole cluster down", out, "Warning: etcd cluster unreachable", "no member answers; apply refuses until the cluster is back"))

	// Together: a Type=notify member is ready only once it has a quorum.
	startAll(t, sb)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sb.WaitHealthy(wctx); err != nil {
		t.Fatal(err)
	}
	code, out = w.run("plan", "-detailed-exitcode")
	o.assert("plan-empty-after", code == 0, "plan once every member is back: exit %d, want 0 (no changes)\n%s", code, out)
}

// Two rollouts never run on one cluster at once. A real apply takes the
// lock for its whole run, naming itself, and releases it; a second apply
// while the lock is held is refused with the holder named, and its plan
// says the lock is held; a lock whose holder is gone is broken with the
// documented step (etcdctl del), after which apply proceeds.
func TestAccClusterVersion_lock(t *testing.T) {
	o := faultOutcomes(t)
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
	if !o.assert("apply-holds-lock", seen != nil, "no lock was seen while the apply ran") {
		t.FailNow()
	}
	t.Logf("lock held during the apply: %s", seen)
	o.assert("apply-holds-lock", strings.Contains(seen.Who, "@") && seen.PID != 0 && seen.Target == older && seen.Since != "",
		"the lock does not say who holds it, from where, since when: %+v", seen)
	after := currentLock(t, sb)
	o.assert("apply-holds-lock", after == nil, "the lock is still held after the apply: %s", after)

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
	o.check("plan-warns", contains("plan while the lock is held", planOut, "Warning: A rollout is in progress on this cluster", "ci@runner-7 (pid 4242), since 2026-11-30T09:00:00Z, rolling out "+v35+", job job 981"))
	pids := map[string]int{}
	for _, h := range sb.Hosts {
		pids[h.Name] = livePID(h)
	}
	code, applyOut := w.run("apply", "-auto-approve")
	if !o.assert("apply-refused", code != 0, "a second rollout was not refused:\n%s", applyOut) {
		t.FailNow()
	}
	o.check("apply-refused", contains("apply while the lock is held", applyOut, "Another rollout is in progress on this cluster", "ci@runner-7 (pid 4242)", "etcdctl del "+etcdx.LockKey))
	for _, h := range sb.Hosts {
		v, err := h.EtcdVersion(context.Background())
		o.assert("apply-refused", err == nil && v == older, "%s runs %q (%v) after the refused apply, want %s untouched", h.Name, v, err, older)
		pid := livePID(h)
		o.assert("apply-refused", pid == pids[h.Name], "%s was restarted (pid %d → %d) by the refused apply", h.Name, pids[h.Name], pid)
	}

	// The documented step breaks it.
	etcdctl, err := testhosts.EtcdctlBinary(sb.EtcdVersion)
	if err != nil {
		t.Fatal(err)
	}
	delOut, err := execOutput(etcdctl, "--endpoints="+strings.Join(sb.ClientURLs(), ","), "del", etcdx.LockKey)
	if !o.assert("del-breaks-lock", err == nil && strings.TrimSpace(delOut) == "1", "etcdctl del: %v %q", err, delOut) {
		t.FailNow()
	}
	code, out2 := w.run("apply", "-auto-approve")
	if !o.assert("del-breaks-lock", code == 0, "apply after the lock was broken: exit %d\n%s", code, out2) {
		t.FailNow()
	}
	for name, v := range w.stateMemberVersions() {
		o.assert("del-breaks-lock", v == v35, "%s on %s after the apply", name, v)
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
	o := faultOutcomes(t)
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
	code, out := w.run("apply", "restart.tfplan")
	if !o.assert("restart-keeps-plan", code == 0, "the saved plan did not apply after a member restart: exit %d\n%s", code, out) {
		t.FailNow()
	}

	w.write(v35, etcdBinary(t, v35))
	if code, out := w.run("plan", "-out=moved.tfplan"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	swapBinary(t, sb, sb.Host("s1"), v35) // someone upgraded s1 by hand
	pids := map[string]int{}
	for _, h := range sb.Hosts {
		pids[h.Name] = livePID(h)
	}
	code, out = w.run("apply", "moved.tfplan")
	if !o.assert("inconsistent-final-plan", code != 0, "a saved plan applied to a cluster that changed:\n%s", out) {
		t.FailNow()
	}
	guide, err := os.ReadFile("../../docs/guides/when-a-rollout-stops.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"Provider produced inconsistent final plan", "produced an invalid new value for .rollout", "This is a bug in the provider"} {
		o.check("inconsistent-final-plan", contains("apply of the outdated saved plan", out, msg))
		o.check("inconsistent-final-plan", contains("the guide", string(guide), msg))
	}
	for _, h := range sb.Hosts {
		want := older
		if h.Name == "s1" {
			want = v35
		}
		v, err := h.EtcdVersion(ctx)
		o.assert("no-member-touched", err == nil && v == want, "%s runs %q (%v), want %s: the refused saved plan touched it", h.Name, v, err, want)
		pid := livePID(h)
		o.assert("no-member-touched", pid == pids[h.Name], "%s was restarted (pid %d → %d) by the refused saved plan", h.Name, pids[h.Name], pid)
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
