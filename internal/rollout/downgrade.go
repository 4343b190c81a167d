package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
)

// DowngradeJob is what a rollout does with etcd's downgrade API (3.6 → 3.5,
// 3.7 → 3.6) before its first member stops.
type DowngradeJob int

const (
	// JobNone: the change does not touch the API.
	JobNone DowngradeJob = iota
	// JobEnable: validate and enable the downgrade, then wait until the
	// cluster and every member's storage report the target minor.
	JobEnable
	// JobResume: an earlier apply's downgrade is in effect; it is checked
	// again before each member stops.
	JobResume
	// JobCancel: a downgrade job is enabled while the target is the higher
	// minor (going back from a half-done downgrade): it is cancelled before
	// any member changes, or the cluster would stay on the lower version.
	JobCancel
)

// DowngradeState is the downgrade job as the members report it.
type DowngradeState struct {
	Known   bool   // some member runs 3.6 or later and reported it
	Enabled bool   // a job is enabled
	Target  string // its target version, "3.5.0"
}

// downgradeLeftBehind reports a job enabled towards another minor than
// target's: the rollout to target must cancel it.
func downgradeLeftBehind(obs Observation, target etcdconf.Version) bool {
	d := obs.Downgrade
	if !d.Enabled {
		return false
	}
	v, err := etcdconf.ParseVersion(d.Target)
	return err != nil || !v.SameMinor(target)
}

// usesAPI reports whether some pending member goes down a minor through
// etcd's downgrade API.
func usesAPI(plan *Plan, target etcdconf.Version) bool {
	for _, m := range plan.Pending() {
		if etcdconf.UsesDowngradeAPI(m.From, target) {
			return true
		}
	}
	return false
}

// planDowngrade decides the plan's DowngradeJob, or the problem that rules
// the rollout out.
func planDowngrade(obs Observation, spec Spec, plan *Plan) (DowngradeJob, []Problem) {
	target := spec.Target
	if !usesAPI(plan, target) {
		if downgradeLeftBehind(obs, target) {
			return JobCancel, nil
		}
		return JobNone, nil
	}
	onTarget := false
	for _, m := range obs.Members {
		if v, err := etcdconf.ParseVersion(m.Version); err == nil && v.SameMinor(target) {
			onTarget = true
		}
	}
	switch {
	case onTarget && obs.ClusterVersion == target.ClusterVersion():
		// Members already run the lower minor: the downgrade took effect
		// in an earlier apply.
		return JobResume, nil
	case obs.Downgrade.Enabled:
		return JobNone, []Problem{{Attribute: "version", Summary: "A downgrade is already in progress",
			Detail: fmt.Sprintf("etcd's downgrade job to %s is enabled, but no member runs %s yet, so it was not started by an apply of this resource (or that apply was killed). Find out who started it; cancel it with `etcdctl downgrade cancel %s` if nobody is downgrading, then plan again.", obs.Downgrade.Target, target.MinorVersion(), target.MinorVersion())}}
	case obs.DowngradeErr != "":
		return JobNone, []Problem{{Attribute: "version", Summary: "etcd refuses the downgrade",
			Detail: fmt.Sprintf("etcd's downgrade API refused `downgrade validate %s`: %s. The cluster version is %s; etcd downgrades one minor below it. Fix the cause, then plan again.", target.MinorVersion(), obs.DowngradeErr, OrUnknown(obs.ClusterVersion))}}
	}
	return JobEnable, nil
}

// OrUnknown is s, or "unknown" when etcd gave no answer (an empty string).
func OrUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// downgradeWarnings names the members that leave 3.7 from a release whose
// storage downgrade checks the log from the wrong point (etcd #22201,
// fixed in 3.7.2). etcd's upgrade guide allows it; the safer way is to move
// to the latest 3.7 patch release first.
func downgradeWarnings(plan *Plan, target etcdconf.Version) []Problem {
	var old []string
	for _, m := range plan.Pending() {
		if etcdconf.UsesDowngradeAPI(m.From, target) && m.From.Minor == 7 && m.From.Compare(etcdconf.FixedDowngradeFrom37) < 0 {
			old = append(old, m.Name+" ("+m.From.String()+")")
		}
	}
	if len(old) == 0 {
		return nil
	}
	return []Problem{{Attribute: "version", Summary: "Downgrade from an early 3.7 release",
		Detail: fmt.Sprintf("%s run a 3.7 release before %s, whose storage downgrade checks the write-ahead log from the wrong point (etcd issue #22201). The downgrade is allowed; changing version to the latest 3.7 patch release and applying that first is safer.", strings.Join(old, ", "), etcdconf.FixedDowngradeFrom37)}}
}

// downgradeStep is the plan's line for its DowngradeJob.
func downgradeStep(job DowngradeJob, obs Observation, spec Spec) string {
	t := spec.Target
	switch job {
	case JobEnable:
		return fmt.Sprintf("downgrade API: validate, then enable the downgrade to %s (etcdctl downgrade enable %s); wait until /version reports cluster version %s and every member storage version %s (within health.timeout %s); no member stops before that, and the job is cancelled if a member cannot be put on %s",
			t.MinorVersion(), t.MinorVersion(), t.ClusterVersion(), t.ClusterVersion(), spec.Health.Timeout, t)
	case JobResume:
		return fmt.Sprintf("downgrade API: the downgrade to %s took effect in an earlier apply (cluster version %s); checked again before each member stops",
			t.MinorVersion(), t.ClusterVersion())
	case JobCancel:
		return fmt.Sprintf("downgrade API: cancel the downgrade job to %s still enabled (etcdctl downgrade cancel) before any member changes, so that the cluster version can rise to %s again",
			obs.Downgrade.Target, t.ClusterVersion())
	}
	return ""
}

// inEffect checks that the lower binary can start: the cluster version is
// the target's, and every member that reports a storage version (3.6 and
// later) has migrated its data to it.
func inEffect(view *etcdx.View, target etcdconf.Version) error {
	want := target.ClusterVersion()
	if view.ClusterVersion != want {
		return fmt.Errorf("cluster version is %s, want %s", OrUnknown(view.ClusterVersion), want)
	}
	var behind []string
	for _, m := range view.Members {
		if m.StorageVersion != "" && m.StorageVersion != want {
			behind = append(behind, m.Name+"="+m.StorageVersion)
		}
	}
	if len(behind) > 0 {
		return fmt.Errorf("storage version not yet %s on %s", want, strings.Join(behind, " "))
	}
	return nil
}

// startDowngrade runs the plan's DowngradeJob, after the snapshot and
// before the first member stops.
func (e *Executor) startDowngrade(ctx context.Context, job DowngradeJob) error {
	t := e.Spec.Target
	switch job {
	case JobCancel:
		start := e.now()
		if err := e.Cluster.Downgrade(ctx, etcdx.DowngradeCancel, t.MinorVersion()); err != nil && !etcdx.IsNoDowngradeJob(err) {
			return &StepError{Step: "downgrade cancel", Err: err, Unchanged: true,
				Hint: "No member has changed. Cancel the job by hand (etcdctl downgrade cancel), then apply again."}
		}
		// Members start on the target only once the cluster version is
		// back where the members' own versions put it.
		err := e.waitFor(ctx, e.Spec.Health.Timeout, func() error {
			view, err := e.Cluster.Observe(ctx)
			if err != nil {
				return err
			}
			if want := lowestClusterVersion(view); view.ClusterVersion != want {
				return fmt.Errorf("cluster version is %s, want %s once the job is gone", OrUnknown(view.ClusterVersion), want)
			}
			return nil
		})
		if err != nil {
			return &StepError{Step: "downgrade cancel", Err: err, Unchanged: true,
				Hint: "The downgrade job was cancelled, but the leader has not raised the cluster version yet; it does so only when every member answers over the peer URLs. Check that all members are healthy, then apply again."}
		}
		e.log("downgrade job cancelled", map[string]any{"step": "downgrade cancel", "duration": e.now().Sub(start).String()})
		return nil
	case JobEnable:
		start := e.now()
		for _, a := range []etcdx.DowngradeAction{etcdx.DowngradeValidate, etcdx.DowngradeEnable} {
			if err := e.Cluster.Downgrade(ctx, a, t.MinorVersion()); err != nil {
				return &StepError{Step: "downgrade " + a.String(), Err: err, Unchanged: true,
					Hint: "No member has changed. Fix the cause, then apply again." + e.cancelHint(ctx, "enabling it failed")}
			}
		}
		e.log("downgrade enabled", map[string]any{"step": "downgrade enable", "to": t.MinorVersion()})
		if err := e.waitInEffect(ctx, "downgrade wait"); err != nil {
			var se *StepError
			if errors.As(err, &se) {
				se.Hint += e.cancelHint(ctx, "it did not take effect")
			}
			return err
		}
		e.log("downgrade in effect", map[string]any{"step": "downgrade wait", "cluster_version": t.ClusterVersion(), "duration": e.now().Sub(start).String()})
		return nil
	case JobResume:
		return e.waitInEffect(ctx, "downgrade check")
	}
	return nil
}

// waitInEffect waits, within health.timeout, until the downgrade is in
// effect (see inEffect).
func (e *Executor) waitInEffect(ctx context.Context, step string) error {
	err := e.waitFor(ctx, e.Spec.Health.Timeout, func() error {
		view, err := e.Cluster.Observe(ctx)
		if err != nil {
			return err
		}
		return inEffect(view, e.Spec.Target)
	})
	if err != nil {
		return &StepError{Step: step, Err: fmt.Errorf("the downgrade to %s is not in effect within health.timeout %s: %w", e.Spec.Target.MinorVersion(), e.Spec.Health.Timeout, err), Unchanged: true,
			Hint: fmt.Sprintf("etcd %s refuses to start on data of a higher version, so no member is stopped. The leader lowers the cluster version only when every member answers over the peer URLs; check that all members are healthy, then apply again.", e.Spec.Target)}
	}
	return nil
}

// cancelHint cancels the job after a failure before any member stopped and
// says how that went, for the error's hint.
func (e *Executor) cancelHint(ctx context.Context, why string) string {
	if err := e.cancelDowngrade(ctx, why); err != nil {
		return fmt.Sprintf(" Cancelling the downgrade job failed too (%v): cancel it by hand with `etcdctl downgrade cancel %s` before you plan again, or the plan refuses it as a downgrade already in progress.", err, e.Spec.Target.MinorVersion())
	}
	return " The downgrade job was cancelled."
}

// lowestClusterVersion is the cluster version etcd settles on without a
// downgrade job: the lowest minor any member runs.
func lowestClusterVersion(view *etcdx.View) string {
	var lowest etcdconf.Version
	for _, m := range view.Members {
		v, err := etcdconf.ParseVersion(m.Version)
		if err == nil && (lowest == (etcdconf.Version{}) || v.Compare(lowest) < 0) {
			lowest = v
		}
	}
	return lowest.ClusterVersion()
}

// cancelDowngrade ends the job on a failure, so the cluster version can
// rise again; on a detached context, since it runs while failing.
func (e *Executor) cancelDowngrade(ctx context.Context, why string) error {
	cctx, cancel := detached(ctx, time.Minute)
	defer cancel()
	err := e.Cluster.Downgrade(cctx, etcdx.DowngradeCancel, e.Spec.Target.MinorVersion())
	if etcdx.IsNoDowngradeJob(err) {
		err = nil
	}
	fields := map[string]any{"step": "downgrade cancel", "reason": why}
	if err != nil {
		fields["error"] = err.Error()
		e.log("cancelling the downgrade failed", fields)
		return err
	}
	e.log("downgrade cancelled", fields)
	return nil
}

// downgradeDone checks the end of a downgrade: no job enabled on any
// member. 3.6 and later report it in their status; a cluster all on 3.5
// only answers a cancel with "no inflight downgrade job". Once every member
// runs the target, the leader ends the job itself within its check
// interval (5 s); a cancel does the same at once.
func (e *Executor) downgradeDone(ctx context.Context, view *etcdx.View) error {
	if e.Spec.Target.Minor >= 6 {
		for _, m := range view.Members {
			if !m.DowngradeKnown {
				return fmt.Errorf("member %s does not report its downgrade state", m.Name)
			}
			if m.DowngradeEnabled {
				return fmt.Errorf("member %s still has the downgrade job to %s enabled", m.Name, m.DowngradeTarget)
			}
		}
		return nil
	}
	err := e.Cluster.Downgrade(ctx, etcdx.DowngradeCancel, e.Spec.Target.MinorVersion())
	switch {
	case etcdx.IsNoDowngradeJob(err):
		return nil
	case err != nil:
		return fmt.Errorf("asking whether the downgrade job ended: %w", err)
	}
	e.log("downgrade job ended by the provider: every member runs the target, and the leader would end it within its 5 s check", map[string]any{"step": "verify"})
	return errors.New("the downgrade job was still enabled")
}
