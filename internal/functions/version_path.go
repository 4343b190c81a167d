package functions

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

var _ function.Function = versionPath{}

// NewVersionPath returns the version_path function.
func NewVersionPath() function.Function { return versionPath{} }

type versionPath struct{}

func (versionPath) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "version_path"
}

func (versionPath) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The versions to set, one apply each, to take a cluster from one etcd version to another",
		Description: "Returns the versions to set as etcd_cluster_version's version, in order, one apply each, to go from → to under the rules the plan checks: " +
			"one minor series at a time, upgrades and downgrades alike. Each version before the last is the oldest release of its series that the next step allows; " +
			"any later patch release of that series works as well. Before leaving its series, from is first raised to the patch release the upgrade needs " +
			"(3.5.26 before 3.6, 3.6.11 before 3.7); a downgrade passes through 3.6.11 and 3.5.26. The last version is to; " +
			"a change the plan allows in one apply gives [to], and from == to gives []. " +
			"When no path exists (to is older than the oldest release a downgrade to its series allows, or a series is not supported), " +
			"the function fails with the message the plan gives for from → to; a version that is not exactly major.minor.patch fails with the plan's message for it.",
		MarkdownDescription: "Returns the versions to set as `etcd_cluster_version`'s `version`, in order, one apply each, to go from `from` to `to` under the rules the plan checks: " +
			"one minor series at a time, upgrades and downgrades alike.\n\n" +
			"Each version before the last is the oldest release of its series that the next step allows; any later patch release of that series works as well. " +
			"Before leaving its series, `from` is first raised to the patch release the upgrade needs (3.5.26 before 3.6, 3.6.11 before 3.7); " +
			"a downgrade passes through 3.6.11 and 3.5.26. The last version is `to`. A change the plan allows in one apply gives `[to]`, and the same version gives `[]`. " +
			"For example `provider::etcd::version_path(\"3.5.21\", \"3.7.3\")` is `[\"3.5.26\", \"3.6.11\", \"3.7.3\"]`, and `provider::etcd::version_path(\"3.7.3\", \"3.5.26\")` is `[\"3.6.11\", \"3.5.26\"]`.\n\n" +
			"When no path exists — `to` is older than the oldest release a downgrade to its series allows (3.4.32, 3.5.26, 3.6.11), or a series is not supported — " +
			"the function fails with the message the plan gives for `from` → `to`. A version that is not exactly `major.minor.patch` fails with the plan's message for it.\n\n" +
			"Only the versions are considered: each apply's plan still checks the cluster itself.",
		Parameters: []function.Parameter{fromParameter, toParameter},
		Return:     function.ListReturn{ElementType: types.StringType},
	}
}

func (versionPath) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	from, to, funcErr := versionArguments(ctx, req)
	if funcErr != nil {
		resp.Error = funcErr
		return
	}
	steps, err := etcdconf.UpgradePath(from, to)
	if err != nil {
		resp.Error = function.NewFuncError(err.Error())
		return
	}
	elems := make([]attr.Value, len(steps))
	for i, s := range steps {
		elems[i] = types.StringValue(s.String())
	}
	list, diags := types.ListValue(types.StringType, elems)
	if funcErr := function.FuncErrorFromDiags(ctx, diags); funcErr != nil {
		resp.Error = funcErr
		return
	}
	resp.Error = resp.Result.Set(ctx, list)
}
