package resources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/providerdata"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/rollout"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

var (
	_ resource.ResourceWithModifyPlan  = (*clusterVersionResource)(nil)
	_ resource.ResourceWithImportState = (*clusterVersionResource)(nil)
	_ resource.ResourceWithConfigure   = (*clusterVersionResource)(nil)
)

// NewClusterVersionResource returns the etcd_cluster_version resource.
func NewClusterVersionResource() resource.Resource { return &clusterVersionResource{} }

type clusterVersionResource struct{ data *providerdata.Data }

func (r *clusterVersionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_version"
}

func (r *clusterVersionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configureData(req.ProviderData, &resp.Diagnostics)
}

// spec turns the model into the rollout engine's plain values, with defaults.
func (m *clusterVersionModel) spec(ctx context.Context) (rollout.Spec, diag.Diagnostics) {
	var diags diag.Diagnostics
	var s rollout.Spec
	target, err := etcdconf.ParseVersion(m.Version.ValueString())
	if err != nil {
		diags.AddAttributeError(path.Root("version"), "Invalid etcd version", err.Error())
		return s, diags
	}
	s.Target = target
	members, d := m.members(ctx)
	diags.Append(d...)
	for name, mm := range members {
		s.Members = append(s.Members, rollout.MemberSpec{
			Name: name, Host: mm.Host.ValueString(), SSHPort: int(mm.SSHPort.ValueInt64()), ClientURL: mm.ClientURL.ValueString(),
		})
	}
	sort.Slice(s.Members, func(i, j int) bool { return s.Members[i].Name < s.Members[j].Name })
	if b := m.Binary; b != nil {
		s.Binary = rollout.Binary{Path: b.Path.ValueString(), Source: b.Source.ValueString(), SHA256: b.SHA256.ValueString(), ReplacePackaged: b.ReplacePackaged.ValueBool()}
	}
	s.Service = rollout.Service{
		StartCommand: rollout.DefaultStartCommand, StopCommand: rollout.DefaultStopCommand,
		LogCommand: rollout.DefaultLogCommand,
	}
	if sv := m.Service; sv != nil {
		setString(&s.Service.StartCommand, sv.StartCommand)
		setString(&s.Service.StopCommand, sv.StopCommand)
		setString(&s.Service.ConfigFile, sv.ConfigFile)
		setString(&s.Service.LogCommand, sv.LogCommand)
	}
	s.SnapshotDir = rollout.DefaultSnapshotDir
	if m.Snapshot != nil {
		setString(&s.SnapshotDir, m.Snapshot.Directory)
		if c := m.Snapshot.CopyTo; c != nil {
			s.SnapshotCopy = &rollout.SnapshotCopy{Host: c.Host.ValueString(), SSHPort: int(c.SSHPort.ValueInt64()), Directory: c.Directory.ValueString()}
		}
	}
	s.Health = rollout.Health{Timeout: rollout.DefaultTimeout, StableFor: rollout.DefaultStableFor, MemberPause: rollout.DefaultMemberPause}
	if h := m.Health; h != nil {
		setDuration(&s.Health.Timeout, h.Timeout)
		setDuration(&s.Health.StableFor, h.StableFor)
		setDuration(&s.Health.MemberPause, h.MemberPause)
	}
	return s, diags
}

func (m *clusterVersionModel) members(ctx context.Context) (map[string]memberModel, diag.Diagnostics) {
	out := map[string]memberModel{}
	if m.Members.IsNull() || m.Members.IsUnknown() {
		return out, nil
	}
	diags := m.Members.ElementsAs(ctx, &out, false)
	return out, diags
}

// known reports whether everything the planner needs is known at plan time.
func (m *clusterVersionModel) known() bool {
	if m.Version.IsUnknown() || m.Members.IsUnknown() {
		return false
	}
	for _, v := range m.Members.Elements() {
		if v.IsUnknown() {
			return false
		}
		if obj, ok := v.(types.Object); ok {
			for _, a := range obj.Attributes() {
				if a.IsUnknown() {
					return false
				}
			}
		}
	}
	if b := m.Binary; b != nil && (b.Path.IsUnknown() || b.Source.IsUnknown() || b.SHA256.IsUnknown()) {
		return false
	}
	if sv := m.Service; sv != nil && sv.ConfigFile.IsUnknown() {
		return false
	}
	if sn := m.Snapshot; sn != nil && (sn.Directory.IsUnknown() ||
		sn.CopyTo != nil && (sn.CopyTo.Host.IsUnknown() || sn.CopyTo.Directory.IsUnknown() || sn.CopyTo.SSHPort.IsUnknown())) {
		return false
	}
	return true
}

func setString(dst *string, v types.String) {
	if !v.IsNull() && !v.IsUnknown() {
		*dst = v.ValueString()
	}
}

func setDuration(dst *time.Duration, v types.String) {
	if !v.IsNull() && !v.IsUnknown() {
		if d, err := time.ParseDuration(v.ValueString()); err == nil {
			*dst = d
		}
	}
}

// session holds the connections for one operation.
type session struct {
	cluster *etcdx.Client
	hosts   rollout.Hosts
}

func (r *clusterVersionResource) open(spec rollout.Spec) (*session, error) {
	if r.data == nil {
		return nil, errors.New("the provider is not configured")
	}
	endpoints := make([]string, 0, len(spec.Members))
	for _, m := range spec.Members {
		endpoints = append(endpoints, m.ClientURL)
	}
	cluster, err := r.data.EtcdClient(endpoints)
	if err != nil {
		return nil, err
	}
	s := &session{cluster: cluster}
	s.hosts = func(m rollout.MemberSpec) rollout.Host {
		pool, err := r.data.Pool()
		if err != nil {
			return failingHost{err: err}
		}
		return pool.Host(m.Host, m.SSHPort)
	}
	return s, nil
}

func (s *session) close() { _ = s.cluster.Close() }

// ModifyPlan runs the pre-flight checks and computes the rollout whenever
// the version changes, so that every refusal happens at plan time and the
// plan shows every step apply will take.
func (r *clusterVersionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		resp.Diagnostics.AddWarning("Destroying only forgets the cluster",
			"Destroying etcd_cluster_version removes it from Terraform state. The etcd cluster, its members and their versions are not touched.")
		return
	}
	var plan clusterVersionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *clusterVersionModel
	if !req.State.Raw.IsNull() {
		state = &clusterVersionModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.known() {
		plan.Rollout = types.ListUnknown(types.StringType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}

	// Same version as in state: nothing to roll out; computed values stay.
	if state != nil && state.Version.ValueString() == plan.Version.ValueString() {
		plan.ID = state.ID
		plan.ClusterVersion = state.ClusterVersion
		plan.MemberVersions = state.MemberVersions
		plan.Leader = state.Leader
		plan.Rollout = state.Rollout
		plan.LastSnapshot = state.LastSnapshot
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		if !plan.Members.Equal(state.Members) {
			r.checkMembership(ctx, &plan, &resp.Diagnostics)
		}
		return
	}

	spec, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	sess, err := r.open(spec)
	if err != nil {
		resp.Diagnostics.AddError("Cannot connect to the cluster", err.Error())
		return
	}
	defer sess.close()
	started := time.Now()
	obs, err := rollout.Observe(ctx, sess.cluster, sess.hosts, spec)
	switch {
	case state != nil && etcdx.IsOutage(err):
		// An outage: the plan still works, so the rest of the configuration
		// can be planned and applied; apply refuses.
		resp.Diagnostics.AddAttributeWarning(path.Root("members"), "etcd cluster unreachable",
			fmt.Sprintf("%v\n\netcd_cluster_version cannot be applied until the cluster answers; the rest of the configuration plans and applies as usual. Check that the members run and that their client_url values are reachable from the machine running Terraform, with the provider's tls, username and password settings.", err))
		planBlocked(ctx, &plan, state, []string{"preflight: blocked: no member answers; apply refuses until the cluster is back, then plan again"}, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	case err != nil:
		resp.Diagnostics.AddAttributeError(path.Root("members"), "etcd cluster unreachable",
			fmt.Sprintf("Planning the rollout needs the live cluster: %v\n\nCheck that the members' client_url values are reachable from the machine running Terraform and that the provider's tls, username and password settings match the cluster.", err))
		return
	}
	rp, probs := rollout.MakePlan(obs, spec)
	if len(probs) > 0 {
		addProblems(&resp.Diagnostics, probs, false)
		return
	}
	addProblems(&resp.Diagnostics, rp.Warnings, true)
	down := rollout.HealthProblems(obs)
	if rp.HasWork() || len(down) > 0 {
		switch holder, err := sess.cluster.CurrentLock(ctx); {
		case err != nil:
			resp.Diagnostics.AddAttributeError(path.Root("members"), "Cannot read the rollout lock", fmt.Sprintf("%v\n\nA rollout takes a lock in the cluster (%s) so that two pipelines never roll it at once; planning checks it. Fix the cause, then plan again.", err, etcdx.LockKey))
			return
		case holder != nil:
			resp.Diagnostics.AddAttributeWarning(path.Root("version"), "A rollout is in progress on this cluster", fmt.Sprintf("The rollout lock is held by %s. Apply refuses until it is released.%s", holder, lockHelp))
		}
	}
	if len(down) > 0 {
		planBlocked(ctx, &plan, state, rp.Steps, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	warnIfTimeoutShort(ctx, &plan, state == nil, len(rp.Pending()), spec.Health, &resp.Diagnostics)
	if b := rp.Blocked; b != nil {
		resp.Diagnostics.AddAttributeWarning(path.Root("binary"), b.Summary, b.Detail)
	}
	fields := map[string]any{"to": spec.Target.String(), "steps": len(rp.Steps), "pending": len(rp.Pending()), "duration": time.Since(started).String()}
	obs.AddTook(fields)
	tflog.Info(ctx, "planned rollout", fields)

	plan.ID = types.StringValue(obs.ClusterID)
	steps, d := types.ListValueFrom(ctx, types.StringType, rp.Steps)
	resp.Diagnostics.Append(d...)
	plan.Rollout = steps
	target := map[string]string{}
	for _, m := range rp.Members {
		target[m.Name] = spec.Target.String()
	}
	plan.MemberVersions, d = types.MapValueFrom(ctx, types.StringType, target)
	resp.Diagnostics.Append(d...)
	// Leadership moves during a rollout, and may move on its own at any time.
	plan.Leader = types.StringUnknown()
	if rp.HasWork() {
		plan.ClusterVersion = types.StringValue(spec.Target.ClusterVersion())
		plan.LastSnapshot = types.ObjectUnknown(lastSnapshotAttrTypes)
	} else {
		plan.ClusterVersion = types.StringUnknown()
		if state != nil {
			plan.LastSnapshot = state.LastSnapshot
		} else {
			plan.LastSnapshot = types.ObjectNull(lastSnapshotAttrTypes)
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkMembership compares changed members with the live cluster, so a
// members map that no longer describes it is refused at plan time.
func (r *clusterVersionResource) checkMembership(ctx context.Context, plan *clusterVersionModel, diags *diag.Diagnostics) {
	spec, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() || r.data == nil {
		return
	}
	sess, err := r.open(spec)
	if err != nil {
		diags.AddError("Cannot connect to the cluster", err.Error())
		return
	}
	defer sess.close()
	view, err := sess.cluster.Observe(ctx)
	if err != nil {
		diags.AddAttributeError(path.Root("members"), "etcd cluster unreachable", err.Error())
		return
	}
	addProblems(diags, rollout.CheckMembership(rollout.Observation{Members: view.Members}, spec), false)
}

// warnIfTimeoutShort warns when the operation's timeout is shorter than the
// worst case of this rollout plus one SSH retry budget: Terraform would then
// cancel the apply in the middle of a member (which the provider survives,
// but the rollout stops).
func warnIfTimeoutShort(ctx context.Context, plan *clusterVersionModel, create bool, pending int, h rollout.Health, diags *diag.Diagnostics) {
	if pending == 0 {
		return
	}
	var timeout time.Duration
	var d diag.Diagnostics
	op := "update"
	if create {
		op = "create"
		timeout, d = plan.Timeouts.Create(ctx, DefaultCreateTimeout)
	} else {
		timeout, d = plan.Timeouts.Update(ctx, DefaultUpdateTimeout)
	}
	if d.HasError() {
		return
	}
	worst := rollout.WorstCase(pending, h)
	if worst > timeout {
		diags.AddAttributeWarning(path.Root("timeouts"), "Timeout shorter than the worst case",
			fmt.Sprintf("The %s timeout is %s, but %d members with health.timeout %s can take up to %s when every gate uses its whole timeout. If the timeout ends mid-rollout the current member is put back and the rollout stops. Set timeouts = { %s = \"%s\" } or a shorter health.timeout.",
				op, timeout, pending, h.Timeout, worst.Round(time.Minute), op, (worst+5*time.Minute).Round(time.Minute)))
	}
}

// planBlocked fills a plan that apply will refuse (members or the whole
// cluster down): the configured version for every member, what cannot be
// known unknown, and the steps that say why.
func planBlocked(ctx context.Context, plan, state *clusterVersionModel, steps []string, diags *diag.Diagnostics) {
	members, d := plan.members(ctx)
	diags.Append(d...)
	target := map[string]string{}
	for name := range members {
		target[name] = plan.Version.ValueString()
	}
	plan.MemberVersions, d = types.MapValueFrom(ctx, types.StringType, target)
	diags.Append(d...)
	plan.Rollout, d = types.ListValueFrom(ctx, types.StringType, steps)
	diags.Append(d...)
	plan.Leader = types.StringUnknown()
	plan.ClusterVersion = types.StringUnknown()
	plan.ID = types.StringUnknown()
	plan.LastSnapshot = types.ObjectNull(lastSnapshotAttrTypes)
	if state != nil {
		plan.ID = state.ID
		plan.LastSnapshot = state.LastSnapshot
	}
}

// lockHelp says how to deal with a held lock.
var lockHelp = fmt.Sprintf("\n\nWait for that rollout to finish. If its holder is gone (the process was killed, the runner lost), the lock expires by itself within %s of its last renewal. To break it at once, only when you are sure no rollout runs: etcdctl del %s", etcdx.LockTTL, etcdx.LockKey)

// addProblems adds each problem as an error, or as a warning, on the
// attribute it names.
func addProblems(diags *diag.Diagnostics, probs []rollout.Problem, warn bool) {
	for _, p := range probs {
		at := path.Root(strings.Split(p.Attribute, ".")[0])
		for _, step := range strings.Split(p.Attribute, ".")[1:] {
			at = at.AtName(step)
		}
		if p.MapKey != "" {
			at = at.AtMapKey(p.MapKey)
		}
		if warn {
			diags.AddAttributeWarning(at, p.Summary, p.Detail)
		} else {
			diags.AddAttributeError(at, p.Summary, p.Detail)
		}
	}
}

func (r *clusterVersionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan clusterVersionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, DefaultCreateTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.apply(ctx, &plan, nil, &resp.State, &resp.Diagnostics)
}

func (r *clusterVersionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state clusterVersionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, DefaultUpdateTimeout)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.apply(ctx, &plan, &state, &resp.State, &resp.Diagnostics)
}

type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// apply carries out the planned rollout, or only records settings when the
// version did not change. On failure it records what really changed, so the
// next plan resumes from there.
func (r *clusterVersionResource) apply(ctx context.Context, plan, prior *clusterVersionModel, out stateSetter, diags *diag.Diagnostics) {
	if prior != nil && prior.Version.ValueString() == plan.Version.ValueString() {
		diags.Append(out.Set(ctx, plan)...)
		return
	}
	spec, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	ctx = tflog.SetField(ctx, "cluster", plan.ID.ValueString())
	sess, err := r.open(spec)
	if err != nil {
		diags.AddError("Cannot connect to the cluster", err.Error())
		return
	}
	defer sess.close()

	var planned []string
	diags.Append(plan.Rollout.ElementsAs(ctx, &planned, false)...)
	var mu sync.Mutex
	done := map[string]string{}
	var snap *rollout.SnapshotInfo
	exec := &rollout.Executor{
		Spec:    spec,
		Plan:    &rollout.Plan{Steps: planned},
		Cluster: sess.cluster,
		Hosts:   sess.hosts,
		Log:     func(msg string, fields map[string]any) { tflog.Info(ctx, msg, fields) },
		MemberDone: func(name, version string) {
			mu.Lock()
			done[name] = version
			mu.Unlock()
		},
		SnapshotSaved: func(s rollout.SnapshotInfo) { snap = &s },
	}
	lock, runErr := sess.cluster.AcquireLock(ctx, etcdx.ThisRunner(spec.Target.String(), time.Now()))
	if runErr == nil {
		tflog.Info(ctx, "rollout lock taken", map[string]any{"key": etcdx.LockKey})
		exec.Held = lock.Held
		runErr = exec.Run(ctx)
		releaseCtx, cancelRelease := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		if err := lock.Release(releaseCtx); err != nil {
			diags.AddWarning("Could not release the rollout lock",
				fmt.Sprintf("%v\n\nThe lock expires by itself within %s. If a later apply still finds it held, see the lock in the guide \"When a rollout stops\".", err, etcdx.LockTTL))
		}
		cancelRelease()
	} else {
		runErr = &rollout.StepError{Step: "lock", Err: runErr, Unchanged: true, Hint: strings.TrimSpace(lockHelp)}
	}

	result := *plan
	result.LastSnapshot = types.ObjectNull(lastSnapshotAttrTypes)
	if prior != nil {
		result.LastSnapshot = prior.LastSnapshot
	}
	if snap != nil {
		result.LastSnapshot = snapshotValue(*snap)
	}
	// Whatever happened, state tells the truth: a finished rollout's last
	// check saw the cluster as it is; after a failure, read it again.
	view, readErr := exec.Final, error(nil)
	if runErr != nil || view == nil {
		readCtx, cancelRead := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancelRead()
		view, readErr = sess.cluster.Observe(readCtx)
	}
	if runErr != nil {
		var se *rollout.StepError
		if errors.As(runErr, &se) && !se.Unchanged {
			se.Recovery = recoveryText(spec, snap)
		}
		diags.AddError(failureSummary(runErr), runErr.Error())
		if readErr != nil {
			diags.AddWarning("Could not read the cluster after the failure",
				fmt.Sprintf("%v\n\nState records the members that passed their gates; refresh once the cluster answers.", readErr))
			view = progressView(spec, prior, done)
		}
	} else if readErr != nil {
		diags.AddError("Rollout finished, but the cluster could not be read", readErr.Error())
		view = progressView(spec, prior, done)
	}
	diags.Append(setFromView(ctx, &result, view)...)
	diags.Append(out.Set(ctx, &result)...)
}

// progressView is the best knowledge of member versions when the cluster
// cannot be read: members that passed their gate run the target; the others
// run what state said before.
func progressView(spec rollout.Spec, prior *clusterVersionModel, done map[string]string) *etcdx.View {
	view := &etcdx.View{}
	before := map[string]string{}
	if prior != nil {
		for name, v := range prior.MemberVersions.Elements() {
			if s, ok := v.(types.String); ok {
				before[name] = s.ValueString()
			}
		}
	}
	for _, m := range spec.Members {
		v, ok := done[m.Name]
		if !ok {
			v = before[m.Name]
		}
		view.Members = append(view.Members, etcdx.Member{Name: m.Name, Version: v})
	}
	return view
}

func failureSummary(err error) string {
	if errors.As(err, new(*etcdx.LockedError)) {
		return "Another rollout is in progress on this cluster"
	}
	var se *rollout.StepError
	if errors.As(err, &se) && se.Member != "" {
		return fmt.Sprintf("Rollout stopped at member %s (%s)", se.Member, se.Step)
	}
	if errors.As(err, &se) {
		return fmt.Sprintf("Rollout stopped at %s", se.Step)
	}
	return "Rollout failed"
}

func recoveryText(spec rollout.Spec, snap *rollout.SnapshotInfo) string {
	var b strings.Builder
	b.WriteString("Recovery: each changed host keeps the binary its member was started from as <binary path>.<previous version> (a symlinked install keeps its previous version's directory), ")
	b.WriteString("an exact copy of each rewritten settings file as <file>.<previous version>, and a record of every step it took, with its undo, in ")
	b.WriteString(rollout.RecordPath(rollout.DefaultRecordDir, "<cluster id>", "<member>") + "; the next apply undoes an unfinished record before it changes that member again.")
	if snap != nil {
		fmt.Fprintf(&b, " The snapshot taken before the rollout is %s (sha256 %s, revision %d)", snap.Path, snap.SHA256, snap.Revision)
		if snap.Copy != "" {
			fmt.Fprintf(&b, ", with a verified copy at %s (snapshot.copy_to) should that file be gone", snap.Copy)
		}
		b.WriteString("; restore it with `etcdutl snapshot restore` only if the cluster has lost quorum.")
	}
	b.WriteString(" Fix the cause, then run terraform apply again: members already on the target are skipped.")
	return b.String()
}

func snapshotValue(s rollout.SnapshotInfo) types.Object {
	v, _ := types.ObjectValue(lastSnapshotAttrTypes, map[string]attr.Value{
		"path":       types.StringValue(s.Path),
		"sha256":     types.StringValue(s.SHA256),
		"size_bytes": types.Int64Value(s.SizeBytes),
		"revision":   types.Int64Value(s.Revision),
		"copy":       stringOrNull(s.Copy),
	})
	return v
}

// setFromView writes what the cluster really runs into m: id, leader,
// cluster version, member versions, and version (common or "mixed: …").
func setFromView(ctx context.Context, m *clusterVersionModel, view *etcdx.View) diag.Diagnostics {
	var diags diag.Diagnostics
	if view.ClusterID != 0 {
		m.ID = types.StringValue(view.ClusterIDHex())
	}
	m.ClusterVersion = stringOrNull(view.ClusterVersion)
	m.Leader = types.StringNull()
	if l, ok := view.Leader(); ok {
		m.Leader = types.StringValue(l.Name)
	}
	versions := map[string]string{}
	for _, mem := range view.Members {
		if mem.Name != "" {
			versions[mem.Name] = rollout.VersionOf(mem)
		}
	}
	mv, d := types.MapValueFrom(ctx, types.StringType, versions)
	diags.Append(d...)
	m.MemberVersions = mv
	m.Version = types.StringValue(commonVersion(view.Members))
	if enabled, target, _ := view.Downgrade(); enabled {
		v, err := etcdconf.ParseVersion(m.Version.ValueString())
		if t, terr := etcdconf.ParseVersion(target); err == nil && (terr != nil || !t.SameMinor(v)) {
			// Every member runs v, yet the cluster is held at the lower
			// version: a downgrade left half-done. Recorded as drift, so
			// that the next plan cancels it.
			m.Version = types.StringValue(fmt.Sprintf("%s, downgrade job to %s enabled", v, target))
			diags.AddWarning("A downgrade job is enabled", fmt.Sprintf("Every member runs %s, but etcd's downgrade job to %s is enabled, so the cluster version stays at %s. A downgrade was left half-done (or started by hand). Apply this resource to cancel it, or cancel it with `etcdctl downgrade cancel %s`.", v, target, rollout.OrUnknown(view.ClusterVersion), t.MinorVersion()))
		}
	}
	return diags
}

// commonVersion is the version all members run, or "mixed: s1=… s2=…".
func commonVersion(members []etcdx.Member) string {
	v := rollout.MixedVersions(members)
	if strings.Contains(v, "=") {
		return "mixed: " + v
	}
	return v
}

func (r *clusterVersionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state clusterVersionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	members, d := state.members(ctx)
	resp.Diagnostics.Append(d...)
	endpoints := make([]string, 0, len(members))
	for _, m := range members {
		endpoints = append(endpoints, m.ClientURL.ValueString())
	}
	sort.Strings(endpoints)
	client, err := r.data.EtcdClient(endpoints)
	if err != nil {
		resp.Diagnostics.AddError("Cannot build the etcd client", err.Error())
		return
	}
	defer func() { _ = client.Close() }()
	// During an incident the read still succeeds, so that every plan of the
	// root module keeps working: a member that does not answer is recorded
	// as unreachable, which the next plan shows as drift.
	// Never drop the resource from state because the cluster is away: that
	// would make the next apply adopt it as new.
	view, err := client.Observe(ctx)
	switch {
	case etcdx.IsOutage(err):
		resp.Diagnostics.AddWarning("etcd cluster unreachable",
			fmt.Sprintf("%v\n\nEvery member is recorded as unreachable in member_versions, so plans show an update (and plan -detailed-exitcode exits 2) until the cluster answers; etcd_cluster_version refuses to apply meanwhile. Check the members' services and client URLs, and the provider's tls and auth settings.", err))
		view = &etcdx.View{}
		for name, m := range members {
			view.Members = append(view.Members, etcdx.Member{Name: name, ClientURLs: []string{m.ClientURL.ValueString()}})
		}
	case err != nil:
		resp.Diagnostics.AddError("etcd cluster unreachable",
			fmt.Sprintf("Reading the cluster failed: %v\n\nState is kept as it was. Check the members' client URLs and the provider's tls and auth settings.", err))
		return
	default:
		for _, m := range view.Members {
			if !m.Reachable && m.Name != "" {
				resp.Diagnostics.AddAttributeWarning(path.Root("members").AtMapKey(m.Name), fmt.Sprintf("Member %s unreachable", m.Name),
					fmt.Sprintf("Member %s (%s) did not answer: %s. member_versions records it as %q, so plans show an update (and plan -detailed-exitcode exits 2) until it is back; etcd_cluster_version refuses to apply while it is down. Check its service and logs on the host (systemctl status etcd; journalctl -u etcd).", m.Name, strings.Join(m.ClientURLs, ", "), m.Problem, rollout.Unreachable))
			}
		}
		resp.Diagnostics.Append(reconcileMembers(ctx, &state, members, view)...)
	}
	resp.Diagnostics.Append(setFromView(ctx, &state, view)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// reconcileMembers makes state's members follow the live membership, so a
// member added or removed outside Terraform shows up in the plan. Known
// members keep their host and SSH port.
func reconcileMembers(ctx context.Context, state *clusterVersionModel, known map[string]memberModel, view *etcdx.View) diag.Diagnostics {
	out := map[string]memberModel{}
	for _, m := range view.Members {
		if m.Name == "" || len(m.ClientURLs) == 0 {
			continue
		}
		mm, ok := known[m.Name]
		if !ok {
			mm = memberModel{Host: types.StringValue(rollout.HostOfURL(m.ClientURLs[0])), SSHPort: types.Int64Null()}
		}
		if !ok || !rollout.ContainsURL(m.ClientURLs, mm.ClientURL.ValueString()) {
			mm.ClientURL = types.StringValue(m.ClientURLs[0])
		}
		out[m.Name] = mm
	}
	v, diags := types.MapValueFrom(ctx, types.ObjectType{AttrTypes: memberAttrTypes}, out)
	state.Members = v
	return diags
}

func (r *clusterVersionResource) Delete(ctx context.Context, _ resource.DeleteRequest, resp *resource.DeleteResponse) {
	tflog.Info(ctx, "forgetting etcd cluster; nothing on the hosts is changed")
	resp.Diagnostics.AddWarning("etcd cluster forgotten, not changed",
		"etcd_cluster_version was removed from state. The cluster keeps running as it is.")
}

// ImportState takes one or more client URLs, comma-separated; Read then
// discovers the members from the cluster.
func (r *clusterVersionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var urls []string
	for _, u := range strings.Split(req.ID, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if err := checkClientURL(u); err != nil {
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%v\n\nThe import ID is one or more client URLs, comma-separated, for example \"https://10.0.0.11:2379,https://10.0.0.12:2379\".", err))
			return
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		resp.Diagnostics.AddError("Invalid import ID", "The import ID is one or more client URLs, comma-separated, for example \"https://10.0.0.11:2379\".")
		return
	}
	if r.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The provider must be configured to import.")
		return
	}
	client, err := r.data.EtcdClient(urls)
	if err != nil {
		resp.Diagnostics.AddError("Cannot build the etcd client", err.Error())
		return
	}
	defer func() { _ = client.Close() }()
	view, err := client.Observe(ctx)
	if err != nil {
		resp.Diagnostics.AddError("etcd cluster unreachable", err.Error())
		return
	}
	m := clusterVersionModel{
		Timeouts:     nullTimeouts(),
		Rollout:      types.ListNull(types.StringType),
		LastSnapshot: types.ObjectNull(lastSnapshotAttrTypes),
	}
	resp.Diagnostics.Append(setFromView(ctx, &m, view)...)
	resp.Diagnostics.Append(reconcileMembers(ctx, &m, nil, view)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// failingHost stands in for a host when the SSH pool could not be built, so
// the error surfaces at the first step that needs SSH, naming it.
type failingHost struct{ err error }

func (f failingHost) Run(context.Context, string) (sshx.Result, error) { return sshx.Result{}, f.err }
func (f failingHost) Upload(context.Context, io.Reader, string, os.FileMode) error {
	return f.err
}

func nullTimeouts() timeouts.Value {
	return timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType})}
}
