package rollout

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// The downgrade API runs against the fake cluster, which follows etcd's
// rules (fakes_test.go: Downgrade, computeClusterVersion, crashReason): a
// binary below the cluster version exits at once, enable lowers the cluster
// version, the leader ends the job when every member runs the target. The
// same paths run against real etcd 3.5/3.6/3.7 in internal/resources.

// downgradeEvents are the cluster's downgrade calls and the members'
// stops, in order.
func (r *rig) downgradeEvents() []string {
	var out []string
	for _, e := range r.events() {
		switch {
		case strings.HasPrefix(e.what, "downgrade "):
			out = append(out, e.what)
		case strings.Contains(e.what, fakeStop+"\n") && !strings.Contains(e.what, "|| true"):
			out = append(out, "stop "+e.host)
		}
	}
	return out
}

func TestRunDowngradeAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ from, target, minor string }{
		{"3.6.16", "3.5.35", "3.5"},
		{"3.7.3", "3.6.16", "3.6"},
	} {
		t.Run(tc.from+"→"+tc.target, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, 3, 1, tc.from, tc.target, env35)
			plan := r.plan()
			if plan.Downgrade != JobEnable {
				t.Fatalf("plan.Downgrade = %v, want JobEnable", plan.Downgrade)
			}
			for _, want := range []string{"downgrade API: validate, then enable the downgrade to " + tc.minor, "check the downgrade is in effect", "no downgrade job enabled on any member"} {
				if !slices.ContainsFunc(plan.Steps, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("plan lacks %q:\n%s", want, strings.Join(plan.Steps, "\n"))
				}
			}
			if got := r.c.downgradeCalls; !slices.Equal(got, []string{"validate " + tc.minor}) {
				t.Errorf("plan made downgrade calls %v, want only a validate", got)
			}
			if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
				t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
			}
			r.checkNoViolations()
			ev := r.downgradeEvents()
			enable := slices.Index(ev, "downgrade enable "+tc.minor)
			if enable < 0 || enable > slices.IndexFunc(ev, func(s string) bool { return strings.HasPrefix(s, "stop ") }) {
				t.Errorf("enable must come before the first stop: %v", ev)
			}
			if got := r.stops(); !slices.Equal(got, []string{"s2", "s3", "s1"}) {
				t.Errorf("stops %v, want followers, then the leader s1", got)
			}
			for _, name := range []string{"s1", "s2", "s3"} {
				if v, up := r.running(name); !up || v != tc.target {
					t.Errorf("%s up %v on %s", name, up, v)
				}
			}
			if r.c.job != 0 || r.c.clusterVersion != tc.minor+".0" {
				t.Errorf("after the rollout: job %d, cluster version %s", r.c.job, r.c.clusterVersion)
			}
		})
	}
}

// TestRunDowngradeAPIPutBack: a member that cannot start on the lower
// version is put back, the job is cancelled before its binary is restored,
// the cluster returns to the higher version, and the next apply resumes.
func TestRunDowngradeAPIPutBack(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.6.16", "3.5.35", env35)
	broken := true
	r.c.crashOn = func(name, version string) string {
		if broken && name == "s2" && version == "3.5.35" {
			return "panic: fake: s2 cannot start on 3.5.35"
		}
		return ""
	}
	plan := r.plan()
	err := r.executor(plan.Steps).Run(context.Background())
	se := asStepError(t, err)
	if se.Member != "s2" || !se.Restored || !se.Cancelled {
		t.Fatalf("StepError{Member %q Restored %v Cancelled %v}: %v", se.Member, se.Restored, se.Cancelled, err)
	}
	if !strings.Contains(err.Error(), "downgrade job was cancelled") {
		t.Errorf("error does not say the job was cancelled:\n%v", err)
	}
	ev := r.downgradeEvents()
	cancel := slices.Index(ev, "downgrade cancel 3.5")
	if cancel < 0 || !slices.Equal(ev[:cancel], []string{"downgrade validate 3.5", "downgrade validate 3.5", "downgrade validate 3.5", "downgrade enable 3.5", "stop s2"}) {
		t.Errorf("downgrade calls and stops %v: want validate (plan, preflight, before enable), enable, stop s2, cancel", ev)
	}
	// The cancel came before the put-back's start of the 3.6 binary.
	if c, s := r.firstEvent("cluster", "downgrade cancel"), r.lastStart("s2"); c < 0 || s < c {
		t.Errorf("put-back started s2 (event %d) before the cancel (event %d)\n%s", s, c, r.dumpEvents())
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if v, up := r.running(name); !up || v != "3.6.16" {
			t.Errorf("%s up %v on %s, want 3.6.16", name, up, v)
		}
	}
	if view, _ := r.c.Observe(context.Background()); view.ClusterVersion != "3.6.0" || r.c.job != 0 {
		t.Errorf("cluster version %s, job %d: want 3.6.0 and no job", view.ClusterVersion, r.c.job)
	}

	broken = false
	plan = r.plan()
	if plan.Downgrade != JobEnable {
		t.Fatalf("resumed plan.Downgrade = %v, want JobEnable", plan.Downgrade)
	}
	if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
		t.Fatalf("resumed Run: %v\n%s", err, r.dumpEvents())
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if v, up := r.running(name); !up || v != "3.5.35" {
			t.Errorf("after resume %s up %v on %s", name, up, v)
		}
	}
	r.checkNoViolations()
}

// TestRunResumesDowngradeInEffect: an apply that stopped after its first
// member resumes without a second enable.
func TestRunResumesDowngradeInEffect(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.6.16", "3.5.35", env35)
	r.c.crashOn = func(name, version string) string {
		if name == "s3" && version == "3.5.35" {
			return "panic: fake: s3 cannot start on 3.5.35"
		}
		return ""
	}
	plan := r.plan()
	if err := r.executor(plan.Steps).Run(context.Background()); err == nil {
		t.Fatal("Run succeeded")
	}
	// s2 runs 3.5.35, so the cluster stays on 3.5 although the job was
	// cancelled with s3's put-back.
	if v, _ := r.running("s2"); v != "3.5.35" {
		t.Fatalf("s2 runs %s", v)
	}
	r.c.crashOn = nil
	r.c.downgradeCalls = nil
	plan = r.plan()
	if plan.Downgrade != JobResume {
		t.Fatalf("plan.Downgrade = %v, want JobResume:\n%s", plan.Downgrade, strings.Join(plan.Steps, "\n"))
	}
	if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
		t.Fatalf("resumed Run: %v\n%s", err, r.dumpEvents())
	}
	if slices.Contains(r.c.downgradeCalls, "enable 3.5") {
		t.Errorf("resume enabled the downgrade again: %v", r.c.downgradeCalls)
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		if v, up := r.running(name); !up || v != "3.5.35" {
			t.Errorf("after resume %s up %v on %s", name, up, v)
		}
	}
}

// TestRunCancelsJobLeftEnabled: going back up while a downgrade job is
// still enabled cancels it before any member changes; with every member
// already on the target, the cancel is the whole rollout.
func TestRunCancelsJobLeftEnabled(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.6.16", "3.6.16", env35)
	r.c.job = 5
	plan := r.plan()
	if plan.Downgrade != JobCancel || !plan.HasWork() {
		t.Fatalf("plan.Downgrade = %v, HasWork %v; want JobCancel", plan.Downgrade, plan.HasWork())
	}
	if !slices.ContainsFunc(plan.Steps, func(s string) bool { return strings.HasPrefix(s, "downgrade API: cancel the downgrade job to 3.5.0") }) {
		t.Errorf("plan lacks the cancel:\n%s", strings.Join(plan.Steps, "\n"))
	}
	if err := r.executor(plan.Steps).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
	}
	if r.c.job != 0 || r.c.clusterVersion != "3.6.0" {
		t.Errorf("job %d, cluster version %s; want none and 3.6.0", r.c.job, r.c.clusterVersion)
	}
	if got := r.stops(); len(got) != 0 {
		t.Errorf("members stopped: %v", got)
	}
	if plan := r.plan(); plan.HasWork() {
		t.Errorf("plan after the cancel still has work:\n%s", strings.Join(plan.Steps, "\n"))
	}
}

// TestPlanRefusesForeignDowngradeJob: a job nobody of ours started.
func TestPlanRefusesForeignDowngradeJob(t *testing.T) {
	t.Parallel()
	r := newRig(t, 3, 1, "3.6.16", "3.5.35", env35)
	r.c.job = 5
	obs, err := Observe(context.Background(), r.c, r.hostsFunc(), r.spec)
	if err != nil {
		t.Fatal(err)
	}
	_, probs := MakePlan(obs, r.spec)
	if len(probs) != 1 || probs[0].Summary != "A downgrade is already in progress" || !strings.Contains(probs[0].Detail, "etcdctl downgrade cancel 3.5") {
		t.Errorf("problems %v, want one naming the job in progress", probs)
	}
}

// lastStart is the index of the last event that started host's service.
func (r *rig) lastStart(host string) int {
	last := -1
	for i, e := range r.events() {
		if e.host == host && isStart(e.what) {
			last = i
		}
	}
	return last
}

func TestDowngradeWarningsBelow372(t *testing.T) {
	t.Parallel()
	target := mustVersion(t, "3.6.16")
	plan := &Plan{Members: []MemberPlan{
		{Name: "s1", From: mustVersion(t, "3.7.1"), Path: etcdconf.PathDowngrade},
		{Name: "s2", From: mustVersion(t, "3.7.3"), Path: etcdconf.PathDowngrade},
	}}
	w := downgradeWarnings(plan, target)
	if len(w) != 1 || !strings.Contains(w[0].Detail, "s1 (3.7.1) run a 3.7 release before 3.7.2") || strings.Contains(w[0].Detail, "s2") {
		t.Errorf("warnings %+v, want one naming s1 only", w)
	}
	plan.Members[0].From = mustVersion(t, "3.7.2")
	if w := downgradeWarnings(plan, target); len(w) != 0 {
		t.Errorf("warnings from 3.7.2 and later: %+v", w)
	}
}
