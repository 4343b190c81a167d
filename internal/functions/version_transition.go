package functions

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

var _ function.Function = versionTransition{}

// NewVersionTransition returns the version_transition function.
func NewVersionTransition() function.Function { return versionTransition{} }

type versionTransition struct{}

// The methods version_transition reports.
const (
	MethodNone         = "none"
	MethodRolling      = "rolling"
	MethodDowngradeAPI = "downgrade-api"
)

type transitionResult struct {
	Allowed        bool   `tfsdk:"allowed"`
	Kind           string `tfsdk:"kind"`
	Method         string `tfsdk:"method"`
	Message        string `tfsdk:"message"`
	AllowedTargets string `tfsdk:"allowed_targets"`
}

var transitionAttributeTypes = map[string]attr.Type{
	"allowed":         types.BoolType,
	"kind":            types.StringType,
	"method":          types.StringType,
	"message":         types.StringType,
	"allowed_targets": types.StringType,
}

func (versionTransition) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "version_transition"
}

func (versionTransition) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Whether etcd_cluster_version allows a version change, with the plan's message",
		Description: "Checks the change of etcd version from → to against the rules etcd_cluster_version plans with, " +
			"without contacting a cluster, and returns an object: allowed (bool: whether the plan accepts the change in one apply); " +
			"kind (\"none\" for the same version, \"patch\" within a minor series, \"upgrade\" or \"downgrade\" to another series, also for a refused change); " +
			"method (\"rolling\": members are replaced one at a time; \"downgrade-api\": a downgrade from 3.6 or later, which goes through etcd's downgrade API before the first member stops; " +
			"\"none\": the same version, or a refused change); message (the plan's message when the change is refused, \"\" when it is allowed); " +
			"allowed_targets (the versions a member on from may change to, in words). " +
			"A refused change is not an error, so the result can be used in precondition and validation conditions; a version that is not exactly major.minor.patch is. " +
			"Only the versions are checked: the plan also checks the cluster (health, alarms, every member's own version, auth before a 3.5 → 3.4 downgrade), so an allowed change can still be refused there. " +
			"provider::etcd::version_path gives the applies that reach a version this refuses.",
		MarkdownDescription: "Checks the change of etcd version `from` → `to` against the rules `etcd_cluster_version` plans with, " +
			"without contacting a cluster, and returns an object:\n\n" +
			"- `allowed` (Bool) — whether the plan accepts the change in one apply.\n" +
			"- `kind` (String) — `none` (the same version), `patch` (within a minor series), `upgrade` or `downgrade` (to another series; given for a refused change too).\n" +
			"- `method` (String) — how apply makes the change: `rolling` (members are replaced one at a time), " +
			"`downgrade-api` (a downgrade from 3.6 or later: etcd's downgrade API is enabled and in effect before the first member stops, then members are replaced one at a time), " +
			"or `none` (the same version, or a refused change).\n" +
			"- `message` (String) — the message the plan gives when the change is refused (why, and the allowed targets from `from`); `\"\"` when it is allowed.\n" +
			"- `allowed_targets` (String) — the versions a member on `from` may change to, in words.\n\n" +
			"A refused change is not an error, so the result can be used in `precondition` and `validation` conditions; " +
			"a version that is not exactly `major.minor.patch` is an error, with the message the plan gives for it.\n\n" +
			"Only the versions are checked: the plan also checks the cluster (health, alarms, the version each member runs, auth before a 3.5 → 3.4 downgrade), " +
			"so an allowed change can still be refused there. `provider::etcd::version_path` gives the applies that reach a version this refuses.",
		Parameters: []function.Parameter{fromParameter, toParameter},
		Return:     function.ObjectReturn{AttributeTypes: transitionAttributeTypes},
	}
}

func (versionTransition) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	from, to, funcErr := versionArguments(ctx, req)
	if funcErr != nil {
		resp.Error = funcErr
		return
	}
	resp.Error = resp.Result.Set(ctx, transition(from, to))
}

// transition is version_transition's result for from → to.
func transition(from, to etcdconf.Version) transitionResult {
	r := transitionResult{Method: MethodNone, AllowedTargets: etcdconf.AllowedTargets(from)}
	path, err := etcdconf.CheckTransition(from, to)
	if err != nil {
		r.Message = err.Error()
		r.Kind = direction(from, to)
		return r
	}
	r.Allowed = true
	r.Kind = path.String()
	switch {
	case path == etcdconf.PathNone:
	case etcdconf.UsesDowngradeAPI(from, to):
		r.Method = MethodDowngradeAPI
	default:
		r.Method = MethodRolling
	}
	return r
}

// direction is the kind of a change whatever the rules say of it: for an
// allowed change it is what CheckTransition's Path says.
func direction(from, to etcdconf.Version) string {
	switch c := to.Compare(from); {
	case c == 0:
		return etcdconf.PathNone.String()
	case from.SameMinor(to):
		return etcdconf.PathPatch.String()
	case c > 0:
		return etcdconf.PathUpgrade.String()
	}
	return etcdconf.PathDowngrade.String()
}
