package rollout

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
)

// Observation is what the cluster and its hosts look like, gathered at plan
// time and again at apply time. The planner reads nothing else.
type Observation struct {
	ClusterID      string
	ClusterVersion string
	Members        []etcdx.Member // the live membership, by name
	Alarms         []string
	AlarmErr       string // why the alarms could not be listed
	AdminErr       error  // from Cluster.CheckAdmin: nil when the user may roll out
	AuthEnabled    bool
	// Runtimes holds how each configured member runs on its host, learned
	// over SSH. Only gathered when a member must change.
	Runtimes map[string]Runtime
	// Gateway tells, per member, whether its HTTP/JSON gateway answered.
	Gateway map[string]bool
	// Source describes a local binary.source; zero for a URL.
	Source LocalSource
	// Downgrade is the downgrade job the members report (3.6 and later).
	Downgrade DowngradeState
	// DowngradeErr is etcd's answer to `downgrade validate` when the
	// change goes through the downgrade API and it refused; "" otherwise.
	DowngradeErr string
	// Logs says, per member on the previous minor, whether the target can
	// start on its snapshot and write-ahead log; gathered for 3.5 → 3.6
	// (no v2 data) and 3.6 → 3.7 (no 3.5-era entries).
	Logs map[string]LogCheck
	// Took is how long Observe's parts took ("etcd", "checks",
	// "discovery", "logs", "gateway", "source"), for the log.
	Took map[string]time.Duration
}

// AddTook adds how long Observe's parts took to log fields, as took_<part>.
func (o Observation) AddTook(fields map[string]any) {
	for part, d := range o.Took {
		fields["took_"+part] = d.Round(time.Millisecond).String()
	}
}

// LocalSource is what the machine running Terraform has at binary.source.
type LocalSource struct {
	Checked bool
	SHA256  string
	Size    int64
	Err     string
}

// Problem is one reason to refuse, tied to the attribute to fix.
type Problem struct {
	Attribute string // dotted attribute path: "version", "members", "binary.source"
	MapKey    string // member name, when Attribute is "members"
	Summary   string
	Detail    string
}

func (p Problem) Error() string { return p.Summary + ": " + p.Detail }

// MemberPlan is what happens to one member.
type MemberPlan struct {
	Name    string
	From    etcdconf.Version
	Path    etcdconf.Path
	Changes []etcdconf.Change // every settings change, over all files

	// From discovery on the member's host; set for pending members.
	Runtime Runtime
	Binary  BinaryPlan
	Configs []ConfigEdit
}

// Done reports whether the member already runs the target.
func (m MemberPlan) Done() bool { return m.Path == etcdconf.PathNone }

// Plan is a rollout: per-member plans and the steps shown to the operator.
type Plan struct {
	Members []MemberPlan // name order
	Steps   []string
	// Blocked is set when the plan can be shown but not applied: members
	// must change and no binary is configured.
	Blocked *Problem
	// Warnings are safe but worth knowing: shown with the plan.
	Warnings []Problem
	// Downgrade is what the rollout does with etcd's downgrade API.
	Downgrade DowngradeJob
}

// HasWork reports whether applying the plan changes anything: a member,
// or a downgrade job left enabled.
func (p *Plan) HasWork() bool {
	return len(p.Pending()) > 0 || p.Downgrade == JobCancel
}

// Pending lists the members that still need a change.
func (p *Plan) Pending() []MemberPlan {
	var out []MemberPlan
	for _, m := range p.Members {
		if !m.Done() {
			out = append(out, m)
		}
	}
	return out
}

// Member finds a member's plan.
func (p *Plan) Member(name string) (MemberPlan, bool) {
	for _, m := range p.Members {
		if m.Name == name {
			return m, true
		}
	}
	return MemberPlan{}, false
}

// NeedsChange reports whether any live member runs something other than the
// target, or a downgrade job towards another minor is still enabled.
// Unparseable versions count as a change so that the planner reports them.
func NeedsChange(obs Observation, target etcdconf.Version) bool {
	if downgradeLeftBehind(obs, target) {
		return true
	}
	for _, m := range obs.Members {
		if m.Version != target.String() {
			return true
		}
	}
	return false
}

// Check returns every reason the rollout from obs to spec must not start.
// The checks only use obs, so apply can run them again on a fresh
// observation and refuse when the cluster changed since the plan.
func Check(obs Observation, spec Spec) []Problem {
	return append(checkRules(obs, spec), HealthProblems(obs)...)
}

// checkRules is Check without the members' health: what the configuration
// and the cluster rule out whatever the moment.
func checkRules(obs Observation, spec Spec) []Problem {
	probs := CheckMembership(obs, spec)
	// One member at a time can only be stopped without an outage when the
	// rest still form a quorum: 3 voting members or more.
	if voters := len(obs.Members); NeedsChange(obs, spec.Target) && voters < 3 {
		probs = append(probs, Problem{Attribute: "members", Summary: "Cluster too small for a rolling change",
			Detail: fmt.Sprintf("The cluster has %d member(s). Stopping any member of a 1- or 2-member cluster loses quorum, so a zero-downtime rolling change is impossible. Add members first (3 or more), or change the version by hand during a maintenance window.", voters)})
	}
	var perr *etcdx.PermissionError
	switch {
	case errors.As(obs.AdminErr, &perr):
		probs = append(probs, Problem{Attribute: "members", Summary: "Missing permission",
			Detail: fmt.Sprintf("Auth is enabled and %s. A rollout needs the root role for the snapshot before the first member stops, for the alarm list, and from etcd 3.6 on also for member status, move-leader and the downgrade API. Grant it (etcdctl user grant-role %s root) or set username and password to a user that has it, then plan again.", perr, userOr(perr.User))})
	case obs.AdminErr != nil:
		probs = append(probs, Problem{Attribute: "members", Summary: "Cannot check permissions",
			Detail: fmt.Sprintf("Whether the provider's user may take a snapshot and move leadership could not be checked: %v. A rollout does not start on a check it cannot answer; fix the cause, then plan again.", obs.AdminErr)})
	}
	if obs.AlarmErr != "" {
		probs = append(probs, Problem{Attribute: "members", Summary: "Cannot check alarms",
			Detail: fmt.Sprintf("Listing the cluster's alarms failed: %s. A rollout must not start on a cluster with an alarm it cannot see (a NOSPACE or CORRUPT alarm makes members refuse writes or data). Fix the cause (with auth enabled, the provider's username needs the root role), then plan again.", obs.AlarmErr)})
	}
	if len(obs.Alarms) > 0 {
		probs = append(probs, Problem{Attribute: "members", Summary: "Active alarms",
			Detail: fmt.Sprintf("The cluster has active alarms: %s. Resolve the cause (for NOSPACE: compact, defragment, then `etcdctl alarm disarm`), then plan again.", strings.Join(obs.Alarms, "; "))})
	}

	// Versions: every member's own step must be an allowed transition.
	downgrade34 := false
	for _, m := range obs.Members {
		if m.Version == "" {
			continue // unhealthy, reported above
		}
		from, err := etcdconf.ParseVersion(m.Version)
		if err != nil {
			probs = append(probs, Problem{Attribute: "version", Summary: "Unrecognised member version",
				Detail: fmt.Sprintf("Member %q reports version %q: %v", m.Name, m.Version, err)})
			continue
		}
		path, err := etcdconf.CheckTransition(from, spec.Target)
		if err != nil {
			probs = append(probs, Problem{Attribute: "version", Summary: "Version change not allowed",
				Detail: fmt.Sprintf("Member %q runs %s: %v", m.Name, from, err)})
			continue
		}
		if path == etcdconf.PathDowngrade && !etcdconf.UsesDowngradeAPI(from, spec.Target) {
			downgrade34 = true
		}
	}
	if downgrade34 && obs.AuthEnabled {
		probs = append(probs, Problem{Attribute: "version", Summary: "Auth is enabled",
			Detail: "etcd cannot be downgraded from 3.5 to 3.4 while auth is enabled: 3.5 changed the format of the WAL entries for auth. Disable auth (etcdctl auth disable) and delete all users and roles first, as etcd's downgrade guide says, then plan again."})
	}
	return probs
}

func userOr(u string) string {
	if u == "" {
		return "<user>"
	}
	return u
}

// HealthProblems names every member that is not healthy. A rollout takes
// one member away at a time, which only keeps quorum when every other member
// is healthy, so apply refuses while any is not; plan still shows the
// rollout, with these as warnings, so that the rest of a configuration can
// be planned and applied during an incident.
func HealthProblems(obs Observation) []Problem {
	var probs []Problem
	for _, m := range obs.Members {
		if m.Name != "" && !m.Healthy {
			what := "is not healthy"
			if !m.Reachable {
				what = "is unreachable"
			}
			probs = append(probs, Problem{Attribute: "members", MapKey: m.Name, Summary: fmt.Sprintf("Member %s %s", m.Name, strings.TrimPrefix(what, "is ")),
				Detail: fmt.Sprintf("Member %q %s: %s. A rollout stops one member at a time and needs every other one healthy to keep quorum, so apply refuses until it is back. Check its service and logs on the host (systemctl status etcd; journalctl -u etcd), bring it back, then plan again.", m.Name, what, m.Problem)})
		}
	}
	return probs
}

// CheckMembership returns the differences between the configured members
// and the real membership: the configuration must describe the cluster
// exactly, or a rollout would skip members or act on the wrong hosts.
func CheckMembership(obs Observation, spec Spec) []Problem {
	var probs []Problem
	live := map[string]etcdx.Member{}
	for _, m := range obs.Members {
		live[m.Name] = m
	}

	for _, m := range obs.Members {
		switch {
		case m.Name == "":
			probs = append(probs, Problem{Attribute: "members", Summary: "Unstarted member in the cluster",
				Detail: fmt.Sprintf("Member %s has been added to the cluster but never started, so it has no name. Start it or remove it (etcdctl member remove %s) before a rollout.", m.IDHex(), m.IDHex())})
		case m.IsLearner:
			probs = append(probs, Problem{Attribute: "members", MapKey: m.Name, Summary: "Learner member",
				Detail: fmt.Sprintf("Member %q is a learner. Promote it (etcdctl member promote %s) or remove it before a rollout: a learner cannot vote, and etcd refuses to move leadership to it.", m.Name, m.IDHex())})
		default:
			if _, ok := spec.Member(m.Name); !ok {
				probs = append(probs, Problem{Attribute: "members", Summary: "Member missing from configuration",
					Detail: fmt.Sprintf("The cluster has a member %q (client URLs %s) that is not in members. Add it, for example %s = { host = %q, client_url = %q }, so the rollout covers every member.", m.Name, strings.Join(m.ClientURLs, ", "), m.Name, HostOfURL(first(m.ClientURLs)), first(m.ClientURLs))})
			}
		}
	}
	for _, want := range spec.Members {
		m, ok := live[want.Name]
		if !ok {
			probs = append(probs, Problem{Attribute: "members", MapKey: want.Name, Summary: "Member not in the cluster",
				Detail: fmt.Sprintf("members has %q, but the cluster has no member of that name (it has: %s). Use the names that `etcdctl member list` shows.", want.Name, strings.Join(liveNames(obs), ", "))})
			continue
		}
		if len(m.ClientURLs) > 0 && !ContainsURL(m.ClientURLs, want.ClientURL) {
			probs = append(probs, Problem{Attribute: "members", MapKey: want.Name, Summary: "Wrong client URL",
				Detail: fmt.Sprintf("members[%q].client_url is %q, but the member advertises %s. Use one of those, so that health gates talk to the member being changed.", want.Name, want.ClientURL, strings.Join(m.ClientURLs, ", "))})
		}
	}

	return probs
}

// CheckInputs returns the problems with the binary the local machine
// provides for the members that must change. What each host provides is
// checked by planHost, from discovery.
func CheckInputs(obs Observation, spec Spec, plan *Plan) []Problem {
	var probs []Problem
	pending := plan.Pending()
	if len(pending) == 0 {
		return nil
	}
	if spec.Binary.Source == "" {
		// Reported through Plan.Blocked instead: a configuration that only
		// watches for drift has no binary, and its plan must still show the
		// drift rather than fail.
		return nil
	}
	if src := obs.Source; src.Checked {
		switch {
		case src.Err != "":
			probs = append(probs, Problem{Attribute: "binary.source", Summary: "Binary source not readable",
				Detail: fmt.Sprintf("%s. binary.source must be the etcd %s binary on the machine running Terraform, or an http(s) URL the hosts can download.", src.Err, spec.Target)})
		case spec.Binary.SHA256 != "" && !strings.EqualFold(src.SHA256, spec.Binary.SHA256):
			probs = append(probs, Problem{Attribute: "binary.sha256", Summary: "Binary checksum mismatch",
				Detail: fmt.Sprintf("%s has sha256 %s, but binary.sha256 is %s. Check that the file is the etcd %s release you meant, then correct one or the other.", spec.Binary.Source, src.SHA256, spec.Binary.SHA256, spec.Target)})
		}
	}
	return probs
}

// MakePlan computes the rollout. It returns problems instead of a plan when
// the configuration or the cluster rules it out.
func MakePlan(obs Observation, spec Spec) (*Plan, []Problem) {
	if probs := checkRules(obs, spec); len(probs) > 0 {
		return nil, probs
	}
	if down := HealthProblems(obs); len(down) > 0 {
		return incidentPlan(obs, spec, down), nil
	}
	plan := &Plan{}
	var hostProbs []Problem
	for _, m := range obs.Members {
		from, _ := etcdconf.ParseVersion(m.Version) // checked above
		path, _ := etcdconf.CheckTransition(from, spec.Target)
		mp := MemberPlan{Name: m.Name, From: from, Path: path}
		if rt, ok := obs.Runtimes[m.Name]; ok && path != etcdconf.PathNone {
			mp.Runtime = rt
			p, w := planHost(&mp, rt, spec)
			hostProbs = append(hostProbs, p...)
			plan.Warnings = append(plan.Warnings, w...)
		}
		plan.Members = append(plan.Members, mp)
	}
	sort.Slice(plan.Members, func(i, j int) bool { return plan.Members[i].Name < plan.Members[j].Name })
	hostProbs = append(hostProbs, logProblems(obs, spec.Target)...)
	if probs := append(CheckInputs(obs, spec, plan), hostProbs...); len(probs) > 0 {
		return nil, probs
	}
	job, probs := planDowngrade(obs, spec, plan)
	if len(probs) > 0 {
		return nil, probs
	}
	plan.Downgrade = job
	plan.Warnings = append(plan.Warnings, downgradeWarnings(plan, spec.Target)...)
	if pending := plan.Pending(); len(pending) > 0 && spec.Binary.Source == "" {
		plan.Blocked = &Problem{Attribute: "binary", Summary: "No binary to install",
			Detail: fmt.Sprintf("%s must change to %s, which needs binary = { path = \"/usr/local/bin/etcd\", source = \"<the %s etcd binary: a local file or an http(s) URL>\" }. Apply refuses until it is set.", memberList(pending), spec.Target, spec.Target)}
	}
	plan.Steps = describe(obs, spec, plan)
	return plan, nil
}

// incidentPlan is the plan while members are down: Blocked says apply
// refuses, Warnings name each member and what to check. The steps name the
// members but not their errors, so the plan Terraform makes again at apply
// time matches this one while the same members are down, and apply ends in
// the refusal rather than in a plan mismatch.
func incidentPlan(obs Observation, spec Spec, down []Problem) *Plan {
	plan := &Plan{Warnings: down}
	var names, details []string
	for _, p := range down {
		names = append(names, p.MapKey)
		details = append(details, p.Detail)
	}
	for _, m := range obs.Members {
		mp := MemberPlan{Name: m.Name}
		if from, err := etcdconf.ParseVersion(m.Version); err == nil {
			mp.From = from
			mp.Path, _ = etcdconf.CheckTransition(from, spec.Target)
		}
		plan.Members = append(plan.Members, mp)
	}
	sort.Slice(plan.Members, func(i, j int) bool { return plan.Members[i].Name < plan.Members[j].Name })
	what := "Member " + names[0] + " is down"
	if len(names) > 1 {
		what = "Members " + strings.Join(names, ", ") + " are down"
	}
	plan.Blocked = &Problem{Attribute: "members", Summary: what, Detail: strings.Join(details, "\n\n")}
	plan.Steps = []string{
		fmt.Sprintf("preflight: blocked: %s not healthy; apply refuses until every member is healthy, then plan again", strings.Join(names, ", ")),
		fmt.Sprintf("members now: %s; target %s", MixedVersions(obs.Members), spec.Target),
	}
	return plan
}

// describe writes the steps as the plan shows them. Nothing here depends on
// which member leads at plan time, so the text stays true at apply time.
func describe(obs Observation, spec Spec, plan *Plan) []string {
	pending := plan.Pending()
	if !plan.HasWork() {
		return []string{fmt.Sprintf("nothing to do: all %d members run %s", len(plan.Members), spec.Target)}
	}
	var steps []string
	steps = append(steps, "preflight: "+preflightSummary(obs, spec, plan))
	steps = append(steps, snapshotStep(spec))
	if len(pending) == 0 {
		// Every member runs the target; only the job is left.
		return append(steps, downgradeStep(plan.Downgrade, obs, spec), verifyStep(plan, spec))
	}

	if plan.Blocked != nil {
		steps = append(steps, "stage: blocked: no binary configured; set binary = { path, source } to apply")
	}
	staged := stagedPaths(plan, spec)
	source := "upload " + spec.Binary.Source
	if isURL(spec.Binary.Source) {
		source = "download " + spec.Binary.Source
		if strings.HasSuffix(spec.Binary.Source, ".tar.gz") || strings.HasSuffix(spec.Binary.Source, ".tgz") {
			source += " (unpack its etcd)"
		}
	}
	check := "verify `etcd --version` = " + spec.Target.String()
	if spec.Binary.SHA256 != "" {
		check = "verify sha256 " + short(spec.Binary.SHA256) + " and `etcd --version` = " + spec.Target.String()
	}
	if plan.Blocked == nil {
		steps = append(steps, fmt.Sprintf("stage: %s to %s on %s; %s; before any member stops", source, staged, memberNames(pending), check))
	}
	if plan.Downgrade != JobNone {
		steps = append(steps, downgradeStep(plan.Downgrade, obs, spec))
	}
	steps = append(steps, fmt.Sprintf("order: followers first, by name; the member leading at that moment goes last, after leadership moves to a healthy member already on %s", spec.Target))

	gate := fmt.Sprintf("gate: linearizable read, version %s, applied index caught up with the leader, all members healthy, stable %s (within %s)",
		spec.Target, spec.Health.StableFor, spec.Health.Timeout)
	for _, m := range plan.Members {
		if m.Done() {
			steps = append(steps, fmt.Sprintf("member %s: already on %s, skipped", m.Name, spec.Target))
			continue
		}
		ms, _ := spec.Member(m.Name)
		parts := []string{
			fmt.Sprintf("member %s (%s): %s %s → %s", m.Name, ms.Host, m.Path, m.From, spec.Target),
		}
		if etcdconf.UsesDowngradeAPI(m.From, spec.Target) {
			parts = append(parts, fmt.Sprintf("check the downgrade is in effect (cluster and storage version %s)", spec.Target.ClusterVersion()))
		}
		parts = append(parts, "stop")
		if b := m.Binary; b.Symlink {
			parts = append(parts, fmt.Sprintf("point the link %s at %s (was %s; the link is pointed back on put-back)", b.Path, b.NewTarget, b.OldTarget))
		} else {
			parts = append(parts, fmt.Sprintf("keep %s binary as %s", m.From, keptBinaryName(b.Path, m.From)), fmt.Sprintf("install %s", spec.Target))
		}
		for _, c := range m.Configs {
			parts = append(parts, c.describe())
		}
		if len(m.Configs) == 0 {
			parts = append(parts, "settings unchanged"+settingsPlaces(m.Runtime, spec))
		}
		g := gate
		if obs.Gateway[m.Name] {
			g += ", HTTP/JSON gateway answers as before"
		}
		parts = append(parts, "start", g)
		if spec.Health.MemberPause > 0 {
			parts = append(parts, "pause "+spec.Health.MemberPause.String())
		}
		steps = append(steps, strings.Join(parts, "; "))
	}
	return append(steps, verifyStep(plan, spec))
}

func verifyStep(plan *Plan, spec Spec) string {
	s := fmt.Sprintf("verify: all members on %s, cluster version %s", spec.Target, spec.Target.ClusterVersion())
	if plan.Downgrade != JobNone {
		s += ", no downgrade job enabled on any member"
	}
	return s
}

func preflightSummary(obs Observation, spec Spec, plan *Plan) string {
	healthy := 0
	for _, m := range obs.Members {
		if m.Healthy {
			healthy++
		}
	}
	parts := []string{fmt.Sprintf("%d/%d members healthy on %s", healthy, len(obs.Members), versionsSummary(obs))}
	parts = append(parts, "no alarms")
	paths := map[etcdconf.Path]bool{}
	for _, m := range plan.Pending() {
		paths[m.Path] = true
	}
	switch {
	case plan.Downgrade == JobEnable:
		parts = append(parts, fmt.Sprintf("downgrade to %s validated by etcd", spec.Target.MinorVersion()))
	case plan.Downgrade == JobResume:
		parts = append(parts, fmt.Sprintf("downgrade to %s in effect", spec.Target.MinorVersion()))
	case paths[etcdconf.PathDowngrade]:
		parts = append(parts, "auth disabled", fmt.Sprintf("target %s >= %s", spec.Target, etcdconf.MinDowngradeTarget))
	case paths[etcdconf.PathUpgrade] && len(obs.Logs) > 0 && spec.Target.Minor == 7:
		parts = append(parts, fmt.Sprintf("upgrade to %s", spec.Target), fmt.Sprintf("write-ahead logs of %s hold no 3.5-era entries (etcd 3.7 cannot replay them)", strings.Join(slices.Sorted(maps.Keys(obs.Logs)), ", ")))
	case paths[etcdconf.PathUpgrade] && len(obs.Logs) > 0:
		parts = append(parts, fmt.Sprintf("upgrade to %s", spec.Target), fmt.Sprintf("snapshots and write-ahead logs of %s hold no v2 API data (etcd 3.6 cannot start on it)", strings.Join(slices.Sorted(maps.Keys(obs.Logs)), ", ")))
	case paths[etcdconf.PathUpgrade]:
		parts = append(parts, fmt.Sprintf("upgrade to %s", spec.Target))
	case len(paths) == 0:
		parts = append(parts, fmt.Sprintf("all members on %s", spec.Target))
	default:
		parts = append(parts, fmt.Sprintf("patch change to %s", spec.Target))
	}
	return strings.Join(parts, ", ")
}

// versionsSummary is "3.5.21" when all members agree, else "s1=3.4.34 s2=3.5.21".
func versionsSummary(obs Observation) string {
	return MixedVersions(obs.Members)
}

// MixedVersions renders member versions: the common version when all
// members agree, otherwise name=version pairs in name order.
func MixedVersions(members []etcdx.Member) string {
	seen := map[string]bool{}
	for _, m := range members {
		seen[m.Version] = true
	}
	if len(seen) == 1 {
		for v := range seen {
			if v != "" {
				return v
			}
		}
	}
	sorted := append([]etcdx.Member(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var parts []string
	for _, m := range sorted {
		parts = append(parts, m.Name+"="+VersionOf(m))
	}
	return strings.Join(parts, " ")
}

// Unreachable is the version recorded for a member that did not answer.
const Unreachable = "unreachable"

// VersionOf is the member's version, or Unreachable.
func VersionOf(m etcdx.Member) string {
	if m.Version == "" {
		return Unreachable
	}
	return m.Version
}

// StagedPath is where the target binary waits on each host before install.
// It doubles as the kept copy of that version, so a later change back to it
// finds the binary in place.
func StagedPath(binaryPath string, v etcdconf.Version) string {
	return KeptBinaryPath(binaryPath, v)
}

// KeptBinaryPath is where a member's previous binary is kept.
func KeptBinaryPath(binaryPath string, v etcdconf.Version) string {
	return binaryPath + "." + v.String()
}

// stagedPaths names where the target binary is staged: one path when every
// pending member's binary lives at the same path.
func stagedPaths(plan *Plan, spec Spec) string {
	var paths []string
	for _, m := range plan.Pending() {
		p := StagedPath(m.Binary.Path, spec.Target)
		if m.Binary.Path == "" {
			p = keptBinaryName(spec.Binary.Path, spec.Target)
		}
		if !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	return strings.Join(paths, ", ")
}

// settingsPlaces says where a member's settings live, for "unchanged".
func settingsPlaces(rt Runtime, spec Spec) string {
	var places []string
	if cf := rt.ConfigFileArg(); cf != "" {
		places = append(places, cf)
	} else {
		for _, f := range rt.EnvFiles {
			if fm := rt.Files[f]; !fm.Missing && fm.Content != nil {
				places = append(places, f)
			}
		}
		if len(rt.InlineFlags()) > 0 && rt.UnitFile != "" {
			places = append(places, "ExecStart of "+rt.UnitFile)
		}
	}
	if len(places) == 0 && spec.Service.ConfigFile != "" {
		places = append(places, spec.Service.ConfigFile)
	}
	if len(places) == 0 {
		return ""
	}
	return " (" + strings.Join(places, ", ") + ")"
}

// keptBinaryName is KeptBinaryPath for the plan text; a blocked plan has no
// binary.path yet.
func keptBinaryName(binaryPath string, v etcdconf.Version) string {
	if binaryPath == "" {
		return "<binary.path>." + v.String()
	}
	return KeptBinaryPath(binaryPath, v)
}

// KeptConfigPath is where a member's previous config file is kept.
func KeptConfigPath(configFile string, v etcdconf.Version) string {
	return configFile + "." + v.String()
}

// memberList is "Member s2" or "Members s1, s2", for sentences.
func memberList(ms []MemberPlan) string {
	if len(ms) == 1 {
		return "Member " + ms[0].Name
	}
	return "Members " + memberNames(ms)
}

func memberNames(ms []MemberPlan) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func liveNames(obs Observation) []string {
	var names []string
	for _, m := range obs.Members {
		if m.Name != "" {
			names = append(names, m.Name)
		}
	}
	return names
}

// ContainsURL reports whether list holds s, ignoring a trailing slash, as
// etcd compares advertised URLs.
func ContainsURL(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimRight(x, "/") == strings.TrimRight(s, "/") {
			return true
		}
	}
	return false
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// HostOfURL is the host of a client URL, the SSH address to suggest for a
// member that is only known from the cluster.
func HostOfURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Hostname()
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}
