package rollout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Executor carries out a Plan.
type Executor struct {
	Spec    Spec
	Plan    *Plan // the plan the operator saw
	Cluster Cluster
	Hosts   Hosts

	// Log receives progress: a message and structured fields (member, step,
	// from, to, duration). Never secrets.
	Log func(msg string, fields map[string]any)
	// MemberDone is called after each member passed its gate, so the caller
	// can record true progress even if a later member fails.
	MemberDone func(name, version string)
	// SnapshotSaved is called once the snapshot is safely on disk.
	SnapshotSaved func(SnapshotInfo)
	// Held, when set, tells whether this rollout still holds the cluster's
	// rollout lock; checked before the snapshot and before each member.
	Held func(context.Context) error

	// Final is the cluster as verify last saw it, once the rollout
	// finished: the caller records it instead of observing once more.
	Final *etcdx.View

	// clusterID names the records on the hosts; set by preflight.
	clusterID string
	// gateway holds, per member, whether its HTTP/JSON gateway answered
	// before the rollout; set by preflight.
	gateway map[string]bool
	// downgrade is the plan's DowngradeJob; set by Run.
	downgrade DowngradeJob

	// PollInterval is how often gates look at the cluster; default 100ms.
	PollInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (e *Executor) log(msg string, fields map[string]any) {
	if e.Log != nil {
		e.Log(msg, fields)
	}
}

func (e *Executor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Executor) poll() time.Duration {
	if e.PollInterval > 0 {
		return e.PollInterval
	}
	return 100 * time.Millisecond
}

// Run performs the rollout:
// pre-flight → snapshot → stage → per member: move leader, stop, install, config, start, gate → verify.
// It stops at the first failure, after putting the failed member back.
func (e *Executor) Run(ctx context.Context) error {
	start := e.now()
	plan, err := e.preflight(ctx)
	if err != nil {
		return err
	}
	pending := plan.Pending()
	if !plan.HasWork() {
		return nil
	}
	e.downgrade = plan.Downgrade

	if err := e.checkLock(ctx); err != nil {
		return err
	}
	// The snapshot and the staging run at the same time; both must finish
	// before any member stops.
	var snapErr, stageErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		stageStart := e.now()
		if stageErr = e.stageAll(ctx, pending); stageErr == nil {
			e.log("binary staged on every host", map[string]any{"step": "stage", "to": e.Spec.Target.String(), "duration": e.now().Sub(stageStart).String()})
		}
	}()
	snapErr = e.snapshot(ctx)
	wg.Wait()
	if snapErr != nil {
		return snapErr
	}
	if stageErr != nil {
		return stageErr
	}
	// Before the first member stops: the lower binary only starts once
	// the downgrade is in effect; a job left enabled is cancelled first.
	if err := e.startDowngrade(ctx, plan.Downgrade); err != nil {
		return err
	}

	remaining := slices.Clone(pending)
	for len(remaining) > 0 {
		if err := e.checkLock(ctx); err != nil {
			return err
		}
		next, err := e.nextMember(ctx, remaining)
		if err != nil {
			return &StepError{Step: "choose next member", Err: err}
		}
		if err := e.replaceMember(ctx, next); err != nil {
			return err
		}
		remaining = slices.DeleteFunc(remaining, func(m MemberPlan) bool { return m.Name == next.Name })
		if len(remaining) > 0 && e.Spec.Health.MemberPause > 0 {
			e.log("pausing between members", map[string]any{"step": "pause", "duration": e.Spec.Health.MemberPause.String()})
			if err := sleep(ctx, e.Spec.Health.MemberPause); err != nil {
				return &StepError{Step: "pause", Err: err}
			}
		}
	}

	if err := e.verify(ctx); err != nil {
		return err
	}
	e.log("rollout finished", map[string]any{"step": "done", "to": e.Spec.Target.String(), "duration": e.now().Sub(start).String()})
	return nil
}

// snapshot saves a snapshot from the leader into snapshot.directory and,
// with snapshot.copy_to, puts a verified copy on that host. A failed copy
// stops the rollout like a failed snapshot: no member has changed yet.
func (e *Executor) snapshot(ctx context.Context) error {
	start := e.now()
	view, err := e.Cluster.Observe(ctx)
	if err != nil {
		return &StepError{Step: "snapshot", Err: err, Unchanged: true}
	}
	leader, ok := view.Leader()
	if !ok {
		return &StepError{Step: "snapshot", Err: errors.New("no member reports a leader"), Unchanged: true}
	}
	snap, err := SaveSnapshot(ctx, e.Cluster, leader.ClientURLs[0], e.Spec.SnapshotDir, view.ClusterIDHex(), e.now())
	if err != nil {
		return &StepError{Step: "snapshot", Err: err, Unchanged: true,
			Hint: fmt.Sprintf("Check that snapshot.directory (%s) is writable and has room for the database (about %s), then apply again.", e.Spec.SnapshotDir, humanBytes(leader.DBSize))}
	}
	e.log("snapshot saved", map[string]any{"step": "snapshot", "path": snap.Path, "revision": snap.Revision, "size_bytes": snap.SizeBytes, "duration": e.now().Sub(start).String()})
	var copyErr error
	if c := e.Spec.SnapshotCopy; c != nil {
		copyStart := e.now()
		remote, err := copySnapshot(ctx, e.Hosts(MemberSpec{Host: c.Host, SSHPort: c.SSHPort}), snap, c.Directory)
		if err != nil {
			copyErr = &StepError{Step: "snapshot copy", Err: fmt.Errorf("copying the snapshot to %s: %w", c.Host, err), Unchanged: true,
				Hint: fmt.Sprintf("Check snapshot.copy_to: that host %s answers over SSH%s with the provider's ssh settings (user, key, known_hosts, bastion), that directory %s can be created and written there by the SSH user (or by root with ssh.sudo), and that it has room for the snapshot (%s); then apply again. The local snapshot is %s.",
					c.Host, portText(c.SSHPort), c.Directory, humanBytes(snap.SizeBytes), snap.Path)}
		} else {
			snap.Copy = c.Host + ":" + remote
			e.log("snapshot copied", map[string]any{"step": "snapshot copy", "copy": snap.Copy, "size_bytes": snap.SizeBytes, "duration": e.now().Sub(copyStart).String()})
		}
	}
	// The local file is safe either way; Copy is set only for a verified copy.
	if e.SnapshotSaved != nil {
		e.SnapshotSaved(snap)
	}
	return copyErr
}

// checkLock stops the rollout, between members, once its lock is lost:
// another pipeline may be about to take a member away.
func (e *Executor) checkLock(ctx context.Context) error {
	if e.Held == nil {
		return nil
	}
	if err := e.Held(ctx); err != nil {
		return &StepError{Step: "lock", Err: fmt.Errorf("this rollout no longer holds the cluster's rollout lock: %w", err), Unchanged: true,
			Hint: "Members that passed their gate stay on the target. Check who holds the lock now (etcdctl get " + etcdx.LockKey + "), then apply again once no other rollout runs."}
	}
	return nil
}

// preflight observes again and refuses if the plan no longer holds.
func (e *Executor) preflight(ctx context.Context) (*Plan, error) {
	obs, err := Observe(ctx, e.Cluster, e.Hosts, e.Spec)
	if err != nil {
		return nil, &StepError{Step: "preflight", Err: err, Unchanged: true}
	}
	plan, probs := MakePlan(obs, e.Spec)
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.Error()
		}
		return nil, &StepError{Step: "preflight", Err: errors.New(strings.Join(msgs, "\n")), Unchanged: true}
	}
	if plan.Blocked != nil {
		return nil, &StepError{Step: "preflight", Err: plan.Blocked, Unchanged: true}
	}
	if e.Plan != nil && !slices.Equal(plan.Steps, e.Plan.Steps) {
		return nil, &StepError{Step: "preflight", Unchanged: true,
			Err:  fmt.Errorf("the cluster changed since the plan was made.\nPlanned:\n  %s\nNow:\n  %s", strings.Join(e.Plan.Steps, "\n  "), strings.Join(plan.Steps, "\n  ")),
			Hint: "Run terraform plan again and review the new rollout."}
	}
	e.clusterID = obs.ClusterID
	e.gateway = obs.Gateway
	fields := map[string]any{"step": "preflight", "members": len(plan.Members), "pending": len(plan.Pending())}
	obs.AddTook(fields)
	e.log("preflight passed", fields)
	return plan, nil
}

// nextMember picks a pending follower, by name; the leader only when it is
// the last one left. It asks the cluster each time, because leadership can
// move on its own during a rollout.
func (e *Executor) nextMember(ctx context.Context, remaining []MemberPlan) (MemberPlan, error) {
	view, err := e.Cluster.Observe(ctx)
	if err != nil {
		return MemberPlan{}, err
	}
	leader, _ := view.Leader()
	for _, m := range remaining {
		if m.Name != leader.Name {
			return m, nil
		}
	}
	return remaining[0], nil
}

func (e *Executor) host(name string) (MemberSpec, Host) {
	ms, _ := e.Spec.Member(name)
	return ms, e.Hosts(ms)
}

// run runs a command and turns a non-zero exit into an error with stderr.
// A broken SSH connection is retried within SSHRetryBudget; a command that
// ran and failed is not.
func run(ctx context.Context, h Host, cmd string) (string, error) {
	var res sshx.Result
	err := retry(ctx, SSHRetryBudget, func() (err error) {
		res, err = h.Run(ctx, cmd)
		return err
	})
	if err != nil {
		return "", err
	}
	if res.ExitStatus != 0 {
		msg := strings.TrimSpace(res.Stderr)
		if msg == "" {
			msg = strings.TrimSpace(res.Stdout)
		}
		return res.Stdout, fmt.Errorf("`%s` exited with status %d: %s", cmd, res.ExitStatus, sshx.LastLines(msg, 10))
	}
	return res.Stdout, nil
}

// memberSteps is a member's change as named host steps, in order. The
// steps before "stop" run while the member still serves; after the stop
// only renames and the start remain.
func (e *Executor) memberSteps(mp MemberPlan) (prepare []hostStep, swap []hostStep) {
	b, target := mp.Binary, e.Spec.Target
	staged := StagedPath(b.Path, target)
	if b.Symlink {
		prepare = append(prepare, prepareLinkTargetStep(mp.Runtime.Files[b.Path].Resolved, b.NewTarget, staged, b.NewTargetExisted, b.NewDirExisted))
		swap = append(swap, repointLinkStep(b.Path, b.OldTarget, b.NewTarget, b.Before.Stat()))
	} else {
		prepare = append(prepare, keepBinaryStep(b.Path, b.Kept, mp.Runtime.PID, b.KeptExisted), prepareBinaryStep(b.Path, staged))
		swap = append(swap, installBinaryStep(b.Path, staged, b.Kept, b.Before.Stat()))
	}
	for _, c := range mp.Configs {
		sum := sha256.Sum256(c.New)
		uploaded := c.Real + ".etcd-rollout.new"
		prepare = append(prepare, backupConfigStep(c.Real, c.Backup, c.BackupExisted, hex.EncodeToString(sum[:])), stageConfigStep(uploaded, c.New))
		swap = append(swap, writeConfigStep(c.Path, c.Real, c.Backup, uploaded, c.Before.Stat(), c.Unit))
	}
	swap = append(swap, startStep(mp.Runtime.Unit, e.Spec.Service.StartCommand, e.Spec.Service.StopCommand))
	return prepare, swap
}

// doSteps runs steps on h in order, each followed by its record line: an
// upload goes first, then the steps up to the next upload run as one batch
// (one SSH round trip). It stops at the first failure and names that step,
// and logs how long each step took on the host.
func (e *Executor) doSteps(ctx context.Context, h Host, member, record string, steps ...hostStep) (failed string, err error) {
	for len(steps) > 0 {
		if st := steps[0]; st.Upload != nil {
			err := retry(ctx, SSHRetryBudget, func() error {
				return h.Upload(ctx, bytes.NewReader(st.Upload), st.UploadPath, 0o600)
			})
			if err != nil {
				return st.Name, err
			}
		}
		n := 1
		for n < len(steps) && steps[n].Upload == nil {
			n++
		}
		if name, err := e.runBatch(ctx, h, member, record, steps[:n]); err != nil {
			return name, err
		}
		steps = steps[n:]
	}
	return "", nil
}

// runBatch runs steps as one batchScript; on failure it names the step that
// failed (the first when the output does not say) and quotes that step's
// command, not the whole batch.
func (e *Executor) runBatch(ctx context.Context, h Host, member, record string, steps []hostStep) (string, error) {
	var res sshx.Result
	err := retry(ctx, SSHRetryBudget, func() (err error) {
		res, err = h.Run(ctx, batchScript(record, steps))
		return err
	})
	if err != nil {
		return steps[0].Name, err
	}
	failed, stderr, took := batchResult(res.Stdout, res.Stderr)
	if res.ExitStatus != 0 {
		st := steps[0]
		for _, s := range steps {
			if s.Name == failed {
				st = s
			}
		}
		msg := strings.TrimSpace(stderr)
		if msg == "" {
			msg = strings.TrimSpace(res.Stdout)
		}
		return st.Name, fmt.Errorf("`%s` exited with status %d: %s", st.Do, res.ExitStatus, sshx.LastLines(msg, 10))
	}
	if len(took) > 0 {
		e.log("host steps done", map[string]any{"member": member, "step": "host steps", "steps": stepTimes(took)})
	}
	return "", nil
}

// replaceMember moves one member to the target:
// move leader away → undo an interrupted earlier change → prepare (keep binary, copy new binary, back up and stage config) →
// move leader away again → stop → install binary, write config → start → gate.
// Every host step is recorded on the host; on any failure after the stop it
// puts the member back by undoing the record, and gates it there.
func (e *Executor) replaceMember(ctx context.Context, mp MemberPlan) error {
	ms, h := e.host(mp.Name)
	target := e.Spec.Target
	fields := func(step string, extra ...any) map[string]any {
		f := map[string]any{"member": mp.Name, "step": step, "from": mp.From.String(), "to": target.String()}
		for i := 0; i+1 < len(extra); i += 2 {
			f[extra[i].(string)] = extra[i+1]
		}
		return f
	}
	memberStart := e.now()
	e.log("replacing member", fields("begin"))

	if err := e.moveLeaderAway(ctx, mp.Name); err != nil {
		return &StepError{Member: mp.Name, Step: "move leader", Err: err, Unchanged: true}
	}

	record := RecordPath(e.Spec.recordDir(), e.clusterID, mp.Name)
	if err := e.undoInterrupted(ctx, h, mp, record); err != nil {
		return err
	}
	prepare, swap := e.memberSteps(mp)
	header := recordLine(recordHeader{Member: mp.Name, Cluster: e.clusterID, From: mp.From.String(), To: target.String(), PID: mp.Runtime.PID, Started: e.now().UTC().Format(time.RFC3339)})
	e.log("preparing the swap", fields("prepare", "record", record))
	if _, err := run(ctx, h, appendRecord(record, header)); err != nil {
		return &StepError{Member: mp.Name, Step: "prepare", Err: err, Unchanged: true}
	}
	if step, err := e.doSteps(ctx, h, mp.Name, record, prepare...); err != nil {
		// The member still runs its old version; only files beside its
		// own were created, and the record's undo removes them.
		return e.putBack(ctx, mp, ms, h, record, false, &StepError{Member: mp.Name, Step: step, Err: err})
	}

	// From the stop on, the member must be running again before we return,
	// whatever happens to ctx: the operator's cancel must not leave it down.
	if err := e.moveLeaderAway(ctx, mp.Name); err != nil {
		return e.putBack(ctx, mp, ms, h, record, false, &StepError{Member: mp.Name, Step: "move leader", Err: err})
	}
	if etcdconf.UsesDowngradeAPI(mp.From, target) {
		if err := e.waitInEffect(ctx, "downgrade check"); err != nil {
			var se *StepError
			errors.As(err, &se)
			se.Member = mp.Name
			return e.putBack(ctx, mp, ms, h, record, false, se)
		}
	}
	stopStart := e.now()
	e.log("stopping member", fields("stop"))
	if _, err := e.doSteps(ctx, h, mp.Name, record, stopStep(e.Spec.Service.StopCommand)); err != nil {
		return e.putBack(ctx, mp, ms, h, record, true, &StepError{Member: mp.Name, Step: "stop", Err: err})
	}
	e.log("installing binary", fields("install", "binary", mp.Binary.Path))
	for _, c := range mp.Configs {
		e.log("rewriting config", fields("config", "file", c.Path, "changes", etcdconf.Summarize(c.Changes), "backup", c.Backup))
	}
	if step, err := e.doSteps(ctx, h, mp.Name, record, swap...); err != nil {
		return e.putBack(ctx, mp, ms, h, record, true, &StepError{Member: mp.Name, Step: step, Err: err})
	}
	// The gate runs even if the operator cancelled: the member is started on
	// the new version and we must know it is healthy, or put it back.
	// Longer than the gate's own bound (health.timeout, extended up to
	// CatchUpBoundFactor times while the member catches up), so the gate
	// always ends on its own timer, with its own message.
	gateCtx, cancel := detached(ctx, CatchUpBoundFactor*e.Spec.Health.Timeout+time.Minute)
	defer cancel()
	gateStart := e.now()
	healthyAt, err := e.gate(gateCtx, ms, target.String(), true)
	if err == nil {
		err = e.checkGateway(gateCtx, ms)
	}
	if err != nil {
		var other *OtherMemberError
		if errors.As(err, &other) || e.othersDown(gateCtx, ms, target.String(), &other) {
			// The changed member runs the target; stopping it again to put
			// it back could cost quorum while another member is down.
			e.finishRecord(gateCtx, h, record, "left on target")
			if e.MemberDone != nil {
				e.MemberDone(mp.Name, target.String())
			}
			if !errors.As(err, new(*OtherMemberError)) {
				err = fmt.Errorf("%w; %w", err, other)
			}
			return &StepError{Member: mp.Name, Step: "gate", Err: err, LeftOnTarget: true,
				Hint: fmt.Sprintf("Bring member %s back, then run terraform apply again to continue.", other.Member)}
		}
		return e.putBack(ctx, mp, ms, h, record, true, &StepError{Member: mp.Name, Step: "gate", Err: err})
	}
	e.finishRecord(gateCtx, h, record, "done")
	// stop_to_healthy ends at the first passing check; stop_to_stable adds
	// health.stable_for.
	e.log("member healthy on target", fields("gate", "gate_duration", e.now().Sub(gateStart).String(),
		"stop_to_healthy", healthyAt.Sub(stopStart).String(), "stop_to_stable", e.now().Sub(stopStart).String(),
		"duration", e.now().Sub(memberStart).String()))
	if e.MemberDone != nil {
		e.MemberDone(mp.Name, target.String())
	}
	if err := ctx.Err(); err != nil {
		return &StepError{Member: mp.Name, Step: "after gate", Err: fmt.Errorf("cancelled after %s reached %s and passed its gate: %w", mp.Name, target, err)}
	}
	return nil
}

// finishRecord closes a member's record; a failure only loses history, so
// it is logged, not returned.
func (e *Executor) finishRecord(ctx context.Context, h Host, record, end string) {
	if _, err := run(ctx, h, closeRecord(record, end, e.now())); err != nil {
		e.log("could not close the record of the change on the host", map[string]any{"step": "record", "path": record, "error": err.Error()})
	}
}

// undoInterrupted finds a record an earlier apply left unfinished (it was
// killed mid-member, with no chance to put the member back) and undoes its
// steps, so this change starts from the files the member runs with. The
// member passed preflight, so it runs.
func (e *Executor) undoInterrupted(ctx context.Context, h Host, mp MemberPlan, record string) error {
	hdr, steps, err := readRecord(ctx, h, record)
	if err != nil {
		return &StepError{Member: mp.Name, Step: "read record", Err: err, Unchanged: true,
			Hint: fmt.Sprintf("The record %s on the host could not be read; check it, move it away once the member's files are as they should be, then apply again.", record)}
	}
	if len(steps) == 0 {
		return nil
	}
	e.log("undoing an interrupted change recorded on the host", map[string]any{"member": mp.Name, "step": "resume", "record": record, "from": hdr.From, "to": hdr.To, "steps": len(steps)})
	// A recorded start means the member may run the changed files; only
	// the files are undone here, the running member is left alone.
	var files []hostStep
	for _, st := range steps {
		if st.Name != "start" && st.Name != "stop" {
			files = append(files, st)
		}
	}
	if _, err := run(ctx, h, undoScript(files)); err != nil {
		return &StepError{Member: mp.Name, Step: "resume", Err: fmt.Errorf("undoing the interrupted change in %s: %w", record, err), Unchanged: true}
	}
	if _, err := run(ctx, h, closeRecord(record, "undone by a later apply", e.now())); err != nil {
		return &StepError{Member: mp.Name, Step: "resume", Err: err, Unchanged: true}
	}
	return nil
}

// putBack undoes the member's recorded steps in reverse (stop, restore the
// binary and config, remove what was created), starts it and gates it on its
// previous version. It runs on a context detached from the caller's, so a
// cancelled apply still leaves the member running. stopped says whether the
// member may be down; before the stop only files are undone.
func (e *Executor) putBack(ctx context.Context, mp MemberPlan, ms MemberSpec, h Host, record string, stopped bool, cause *StepError) error {
	// A notify unit's start may block for its whole start timeout; the gate
	// may wait up to CatchUpBoundFactor × health.timeout for a member that
	// catches up; putBackExtra covers the rest.
	rctx, cancel := detached(ctx, CatchUpBoundFactor*e.Spec.Health.Timeout+mp.Runtime.TimeoutStart+putBackExtra)
	defer cancel()
	if stopped {
		cause.Logs = e.serviceLogs(rctx, h)
	}
	fields := map[string]any{"member": mp.Name, "step": "put back", "failed_step": cause.Step, "to": mp.From.String()}
	if stopped && mp.Path == etcdconf.PathUpgrade {
		// Once every member reported the target minor, the leader raises
		// the cluster version, and the previous minor's binary refuses to
		// start on that data: going back cannot work.
		cv, err := e.observedClusterVersion(rctx)
		if err != nil {
			fields["cluster_version"] = "unknown"
			cause.Err = fmt.Errorf("%w (the cluster version could not be checked before putting the member back: %w)", cause.Err, err)
		} else {
			fields["cluster_version"] = cv
			if cv == e.Spec.Target.ClusterVersion() {
				return e.leaveOnTarget(rctx, mp, h, record, cv, cause)
			}
		}
	}
	if etcdconf.UsesDowngradeAPI(mp.From, e.Spec.Target) {
		// While the job is enabled the cluster stays on the lower version
		// even with every member back on the higher one: cancel it first.
		if err := e.cancelDowngrade(rctx, "member "+mp.Name+" is put back on "+mp.From.String()); err != nil {
			cause.Err = fmt.Errorf("%w (cancelling the downgrade job failed: %w; cancel it by hand with etcdctl downgrade cancel %s)", cause.Err, err, e.Spec.Target.MinorVersion())
		} else {
			cause.Cancelled = true
		}
	}
	e.log("putting member back on its previous version", fields)

	_, steps, err := readRecord(rctx, h, record)
	if err != nil {
		cause.RestoreErr = fmt.Errorf("reading the record %s: %w", record, err)
		return cause
	}
	if _, err := run(rctx, h, undoScript(steps)); err != nil {
		cause.RestoreErr = fmt.Errorf("undoing the recorded steps (%s): %w", record, err)
		return cause
	}
	if !stopped {
		e.finishRecord(rctx, h, record, "undone before the stop")
		cause.Unchanged = true
		return cause
	}
	if _, err := run(rctx, h, startStep(mp.Runtime.Unit, e.Spec.Service.StartCommand, e.Spec.Service.StopCommand).Do); err != nil {
		cause.RestoreErr = err
		return cause
	}
	// Only the member itself is gated here: if another member is down, this
	// one running again is what keeps quorum.
	if _, err := e.gate(rctx, ms, mp.From.String(), false); err != nil {
		cause.RestoreErr = fmt.Errorf("restarted on %s but it did not pass its gate: %w", mp.From, err)
		return cause
	}
	e.finishRecord(rctx, h, record, "put back")
	cause.Restored = true
	return cause
}

// observedClusterVersion is the cluster version the cluster reports now.
func (e *Executor) observedClusterVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	view, err := e.Cluster.Observe(ctx)
	if err != nil {
		return "", err
	}
	if view.ClusterVersion == "" {
		return "", errors.New("no member reported the cluster version")
	}
	return view.ClusterVersion, nil
}

// leaveOnTarget ends a failed upgrade of mp that cannot be put back: the
// cluster version already reached the target's (cv), so the previous
// minor's binary would refuse to start. The member stays on the target's
// binary and config; it is started there and its record is closed, so a
// later apply does not undo it either.
func (e *Executor) leaveOnTarget(ctx context.Context, mp MemberPlan, h Host, record, cv string, cause *StepError) error {
	target := e.Spec.Target
	cause.Hint = fmt.Sprintf("Putting member %[1]s back on %[2]s is impossible because the cluster version was already raised to %[3]s, and etcd %[2]s does not start on it. "+
		"Member %[1]s was left on %[4]s. Fix the cause of the failure above, check the member's logs (service.log_command), "+
		"then run terraform apply again to finish the rollout. Going back to %[2]s now needs a restore from the snapshot.",
		mp.Name, mp.From, cv, target)
	fields := map[string]any{"member": mp.Name, "step": "put back", "failed_step": cause.Step, "from": mp.From.String(), "to": target.String(), "cluster_version": cv}
	if _, err := run(ctx, h, startStep(mp.Runtime.Unit, e.Spec.Service.StartCommand, e.Spec.Service.StopCommand).Do); err != nil {
		e.finishRecord(ctx, h, record, "left on target: cluster version already "+cv+"; the start failed")
		cause.RestoreErr = fmt.Errorf("it cannot go back to %s because the cluster version was already raised to %s, so it was left on %s, but starting it there failed: %w", mp.From, cv, target, err)
		e.log("member left on target, but it did not start: the cluster version was already raised", fields)
		return cause
	}
	e.finishRecord(ctx, h, record, "left on target: cluster version already "+cv)
	if e.MemberDone != nil {
		e.MemberDone(mp.Name, target.String())
	}
	e.log("member left on target: the cluster version was already raised", fields)
	cause.LeftOnTarget = true
	cause.LeftBecause = fmt.Sprintf("the cluster version was already raised to %s, and etcd %s refuses to start on it", cv, mp.From)
	return cause
}

func (e *Executor) serviceLogs(ctx context.Context, h Host) string {
	if e.Spec.Service.LogCommand == "" {
		return ""
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	res, err := h.Run(lctx, e.Spec.Service.LogCommand)
	if err != nil {
		return fmt.Sprintf("(could not run %s: %v)", e.Spec.Service.LogCommand, err)
	}
	return sshx.LastLines(strings.TrimRight(res.Stdout+res.Stderr, "\n"), 40)
}

// moveLeaderAway makes sure name does not lead: while it does, hand
// leadership to another healthy member, preferably one already on the
// target so the new leader need not move again. Leadership can come back on
// its own (an election right after a transfer), so it checks until name
// reports another leader, moving again when needed, within moveLeaderWait.
func (e *Executor) moveLeaderAway(ctx context.Context, name string) error {
	ms, _ := e.Spec.Member(name)
	return e.waitFor(ctx, moveLeaderWait, func() error {
		st, err := e.Cluster.Status(ctx, ms.ClientURL)
		if err != nil {
			return err
		}
		if st.Leader == 0 {
			return errors.New("no leader elected yet")
		}
		if st.Leader != st.Header.GetMemberId() {
			return nil
		}
		view, err := e.Cluster.Observe(ctx)
		if err != nil {
			return err
		}
		var to *etcdx.Member
		for i := range view.Members {
			m := &view.Members[i]
			if m.Name == name || !m.Healthy || m.IsLearner {
				continue
			}
			if to == nil || (m.Version == e.Spec.Target.String() && to.Version != e.Spec.Target.String()) {
				to = m
			}
		}
		if to == nil {
			return fmt.Errorf("member %s leads and no other member is healthy to take over", name)
		}
		e.log("moving leadership", map[string]any{"member": name, "step": "move leader", "to_member": to.Name})
		if err := e.Cluster.MoveLeader(ctx, ms.ClientURL, to.ID); err != nil {
			return fmt.Errorf("moving leadership from %s to %s: %w", name, to.Name, err)
		}
		return fmt.Errorf("%s still leads right after the transfer to %s", name, to.Name)
	})
}

// gate waits until member ms is healthy on version want and stays so for
// health.stable_for: it serves a linearizable read, reports the version
// without errors, its applied index reached the leader's committed index,
// and, with others set, every other member is healthy too.
// It returns when the member first passed, for timing.
//
// A member still catching up gets more time: when health.timeout passes,
// its applied index rose during that window, and the last check failed only
// on catch-up (or it caught up and now waits out health.stable_for), the
// gate waits another health.timeout, up to CatchUpBoundFactor ×
// health.timeout in all. A member whose applied index stops rising fails at
// the end of its window, as without catch-up. Once the apply was cancelled
// or ran out of time, no further window is granted. Progress is logged at
// most every catchUpLogEvery.
func (e *Executor) gate(ctx context.Context, ms MemberSpec, want string, others bool) (time.Time, error) {
	var okSince, firstOK time.Time
	var catchUp uint64
	timeout := e.Spec.Health.Timeout
	start := e.now()
	var (
		highest  uint64 // the highest applied index a catch-up failure showed
		seen     bool   // a catch-up failure was seen
		rose     bool   // the applied index rose in the current window
		windows  = 1    // windows of health.timeout granted
		lastLog  time.Time
		progress = func(cu *catchUpError) {
			if now := e.now(); lastLog.IsZero() || now.Sub(lastLog) >= catchUpLogEvery {
				lastLog = now
				e.log("member catching up", map[string]any{"member": ms.Name, "step": "gate", "applied": cu.Applied, "target": cu.Target,
					"elapsed": now.Sub(start).Round(time.Millisecond).String(), "bound": (CatchUpBoundFactor * timeout).String()})
			}
		}
	)
	check := func() error {
		err := MemberReady(ctx, e.Cluster, ms, want, &catchUp, others)
		if err != nil {
			okSince = time.Time{}
			var cu *catchUpError
			if errors.As(err, &cu) {
				if seen && cu.Applied > highest {
					rose = true
				}
				if !seen || cu.Applied > highest {
					highest, seen = cu.Applied, true
				}
				if windows > 1 {
					progress(cu)
				}
			}
			return err
		}
		if okSince.IsZero() {
			okSince = e.now()
		}
		if firstOK.IsZero() {
			firstOK = okSince
		}
		if held := e.now().Sub(okSince); held < e.Spec.Health.StableFor {
			return fmt.Errorf("healthy for %s of %s", held.Round(time.Millisecond), e.Spec.Health.StableFor)
		}
		return nil
	}

	// At each deadline: a member that caught up in this window and now
	// waits out health.stable_for counts as catching up too.
	extend := func(err error) (bool, error) {
		var cu *catchUpError
		catchingUp := rose && (errors.As(err, &cu) || !okSince.IsZero())
		switch {
		case catchingUp && operationEnded(ctx):
			return false, nil
		case catchingUp && windows < CatchUpBoundFactor:
			windows++
			rose = false
			if cu != nil {
				progress(cu)
			}
			return true, nil
		case catchingUp:
			return false, fmt.Errorf("not reached within the catch-up bound of %s (%d × health.timeout %s): %s was still catching up: %w",
				CatchUpBoundFactor*timeout, CatchUpBoundFactor, timeout, ms.Name, err)
		case windows > 1:
			return false, fmt.Errorf("not reached within %s (health.timeout %s, extended %d times while %s was catching up): %w",
				time.Duration(windows)*timeout, timeout, windows-1, ms.Name, err)
		}
		return false, nil
	}
	return firstOK, e.waitForExtending(ctx, timeout, check, extend)
}

// CatchUpBoundFactor bounds a gate that waits for a member catching up:
// it gives up CatchUpBoundFactor × health.timeout after it began, even if
// the member's applied index still rises.
const CatchUpBoundFactor = 10

// catchUpLogEvery is how often, at most, a gate logs a member's catch-up.
const catchUpLogEvery = 5 * time.Second

// catchUpError is a gate check that failed only because the member has not
// yet applied everything the leader had committed when the gate began: it
// answers, on the right version, without errors, and sees a leader.
type catchUpError struct {
	Member, Leader  string
	Applied, Target uint64
}

func (e *catchUpError) Error() string {
	return fmt.Sprintf("%s has applied index %d, leader %s had committed %d", e.Member, e.Applied, e.Leader, e.Target)
}

// othersDown tells, after a failed gate, whether the failure is another
// member's: ms itself answers on version want, and some other member does
// not. It sets *other to that member. It looks for othersDownCheck at most.
func (e *Executor) othersDown(ctx context.Context, ms MemberSpec, want string, other **OtherMemberError) bool {
	ctx, cancel := detached(ctx, othersDownCheck)
	defer cancel()
	st, err := e.Cluster.Status(ctx, ms.ClientURL)
	if err != nil || st.Version != want {
		return false
	}
	view, err := e.Cluster.Observe(ctx)
	if err != nil {
		return false
	}
	for _, m := range view.Members {
		if m.Name != ms.Name && !m.Healthy {
			*other = &OtherMemberError{Member: m.Name, Problem: m.Problem}
			return true
		}
	}
	return false
}

// checkGateway is the gate's last check: a member whose HTTP/JSON gateway
// answered before the change must answer after it, or the clients that
// use it (Patroni, curl-based tooling) lose their store.
func (e *Executor) checkGateway(ctx context.Context, ms MemberSpec) error {
	if !e.gateway[ms.Name] {
		return nil
	}
	return e.waitFor(ctx, e.Spec.Health.Timeout, func() error {
		ok, err := e.Cluster.GatewayAnswers(ctx, ms.ClientURL)
		if err != nil {
			return fmt.Errorf("%s: HTTP/JSON gateway: %w", ms.Name, err)
		}
		if !ok {
			return fmt.Errorf("%s: the HTTP/JSON gateway (POST %s/v3/kv/range) answered before the change and now answers 404 Not Found", ms.Name, strings.TrimRight(ms.ClientURL, "/"))
		}
		return nil
	})
}

// OtherMemberError is a gate failure caused by a member other than the one
// being changed: that member itself is fine on its new version.
type OtherMemberError struct {
	Member, Problem string
}

func (e *OtherMemberError) Error() string {
	return fmt.Sprintf("member %s is unhealthy: %s", e.Member, e.Problem)
}

// MemberReady is one check of the gate after a member's start: the member
// answers on version want without errors and sees a leader, has applied
// everything the leader had committed when the gate began (*catchUp, set
// from the leader on the first check), serves a linearizable read and, with
// others, every other member is healthy. make bench's floor method gates
// with it too, so both measure the same gate.
func MemberReady(ctx context.Context, cluster Cluster, ms MemberSpec, want string, catchUp *uint64, others bool) error {
	// The leader's index is read before the member's status, so a member
	// that has caught up passes on the first check even while writes flow.
	view, err := cluster.Observe(ctx)
	if err != nil {
		return err
	}
	leader, ok := view.Leader()
	if !ok {
		return errors.New("no leader")
	}
	if *catchUp == 0 {
		*catchUp = leader.RaftIndex
	}
	st, err := cluster.Status(ctx, ms.ClientURL)
	if err != nil {
		return fmt.Errorf("%s does not answer: %w", ms.Name, err)
	}
	if st.Version != want {
		return fmt.Errorf("%s reports version %s, want %s", ms.Name, st.Version, want)
	}
	if len(st.Errors) > 0 {
		return fmt.Errorf("%s reports errors: %s", ms.Name, strings.Join(st.Errors, "; "))
	}
	if st.Leader == 0 {
		return fmt.Errorf("%s sees no leader", ms.Name)
	}
	// Catch-up is measured against a leader index seen before, so the
	// member must have applied everything committed up to that moment.
	if st.RaftAppliedIndex < *catchUp {
		return &catchUpError{Member: ms.Name, Leader: leader.Name, Applied: st.RaftAppliedIndex, Target: *catchUp}
	}
	if err := cluster.LinearizableRead(ctx, ms.ClientURL); err != nil {
		return fmt.Errorf("%s cannot serve a linearizable read: %w", ms.Name, err)
	}
	if !others {
		return nil
	}
	for _, m := range view.Members {
		if !m.Healthy && m.Name != ms.Name {
			return &OtherMemberError{Member: m.Name, Problem: m.Problem}
		}
	}
	return nil
}

// verify waits until every member runs the target and the cluster version
// reached the target minor; the leader recomputes it every few seconds.
func (e *Executor) verify(ctx context.Context) error {
	want := e.Spec.Target.ClusterVersion()
	err := e.waitFor(ctx, e.Spec.Health.Timeout, func() error {
		view, err := e.Cluster.Observe(ctx)
		if err != nil {
			return err
		}
		e.Final = view
		for _, m := range view.Members {
			if m.Version != e.Spec.Target.String() {
				return fmt.Errorf("member %s runs %s", m.Name, m.Version)
			}
		}
		if view.ClusterVersion != want {
			return fmt.Errorf("cluster version is %s, want %s", view.ClusterVersion, want)
		}
		if e.downgrade != JobNone {
			return e.downgradeDone(ctx, view)
		}
		return nil
	})
	if err != nil {
		return &StepError{Step: "verify", Err: err, Hint: "Every member passed its gate; the cluster version may still be settling. Run terraform plan to see the current state."}
	}
	e.log("verified", map[string]any{"step": "verify", "to": e.Spec.Target.String(), "cluster_version": want})
	return nil
}

// waitFor polls check until it returns nil, ctx ends or timeout passes; it
// returns the last check error on timeout.
func (e *Executor) waitFor(ctx context.Context, timeout time.Duration, check func() error) error {
	return e.waitForExtending(ctx, timeout, check, nil)
}

// waitForExtending is waitFor whose deadline may move: when timeout passes,
// extend (if set) is given the last check error and either grants another
// timeout, or returns the error to end with (nil: the usual one).
func (e *Executor) waitForExtending(ctx context.Context, timeout time.Duration, check func() error, extend func(last error) (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(e.poll())
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %w)", ctx.Err(), err)
		case <-deadline.C:
			if extend != nil {
				more, end := extend(err)
				if more {
					deadline.Reset(timeout)
					continue
				}
				if end != nil {
					return end
				}
			}
			return fmt.Errorf("not reached within %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// userCommand groups a configured shell command so that joining it with &&
// or || applies to the whole of it, even when it holds ; or a newline.
func userCommand(cmd string) string {
	return "{ " + cmd + "\n}"
}

// detached returns a context that survives the parent's cancellation but is
// bounded by timeout: cleanup must finish even when the operator cancels.
func detached(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithValue(context.WithoutCancel(parent), operationKey{}, parent), timeout)
}

type operationKey struct{}

// operationEnded tells, inside detached cleanup, whether the operation it
// was detached from has ended (cancelled, or out of time): cleanup then
// finishes what it must, and takes no extra time.
func operationEnded(ctx context.Context) bool {
	op, _ := ctx.Value(operationKey{}).(context.Context)
	return op != nil && op.Err() != nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", n/1024)
	}
}
