// Package functions holds the provider-defined functions (Terraform 1.8 and
// later, OpenTofu 1.7 and later). They expose the version rules of
// internal/etcdconf to module authors: the same checks, and the same
// messages, as the plan of etcd_cluster_version.
package functions

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// All returns the provider's functions, for provider.Functions.
func All() []func() function.Function {
	return []func() function.Function{NewVersionTransition, NewVersionPath}
}

// The parameters both functions take.
var (
	fromParameter = function.StringParameter{
		Name:                "from",
		Description:         `The version the cluster runs now, exactly "major.minor.patch", such as "3.5.21".`,
		MarkdownDescription: "The version the cluster runs now, exactly `major.minor.patch`, such as `\"3.5.21\"`.",
	}
	toParameter = function.StringParameter{
		Name:                "to",
		Description:         `The version to change to, exactly "major.minor.patch", such as "3.6.16".`,
		MarkdownDescription: "The version to change to, exactly `major.minor.patch`, such as `\"3.6.16\"`.",
	}
)

// versionArguments reads and parses the two arguments. A version that does
// not parse is an error of its argument (the first one, when both are
// wrong), with ParseVersion's message.
func versionArguments(ctx context.Context, req function.RunRequest) (from, to etcdconf.Version, funcErr *function.FuncError) {
	var args [2]string
	if funcErr = req.Arguments.Get(ctx, &args[0], &args[1]); funcErr != nil {
		return from, to, funcErr
	}
	var parsed [2]etcdconf.Version
	for i, s := range args {
		v, err := etcdconf.ParseVersion(s)
		if err != nil {
			return from, to, function.NewArgumentFuncError(int64(i), err.Error())
		}
		parsed[i] = v
	}
	return parsed[0], parsed[1], nil
}
