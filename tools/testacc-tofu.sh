#!/usr/bin/env bash
# `make testacc-tofu`: acceptance tests against OpenTofu instead of Terraform.
# Usage: tools/testacc-tofu.sh TOFU GO_TEST_RUN_REGEXP
#
# terraform-plugin-testing serves the provider in-process and hands the CLI
# its address through TF_REATTACH_PROVIDERS: TF_ACC_PROVIDER_HOST/
# TF_ACC_PROVIDER_NAMESPACE/etcd, by default under Terraform's registry host
# with the namespaces "-" and "hashicorp". OpenTofu rejects the "-" namespace
# on any host but its own, and resolves a configuration's unqualified
# `provider "etcd"` (import steps use the test's configuration as written)
# under its own default host. So: namespace hashicorp, and the host that this
# OpenTofu binary itself reports for an unqualified provider.
set -euo pipefail

tofu="$1" run="$2"
test -x "$tofu" || { echo "$tofu: not found; run make prereqs" >&2; exit 1; }

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'provider "probe" {}' >"$probe/main.tf"
host="$(cd "$probe" && TF_CLI_CONFIG_FILE=/dev/null "$tofu" providers -no-color | sed -n 's|.*provider\[\([^/]*\)/hashicorp/probe\].*|\1|p')"
[ -n "$host" ] || { echo "cannot tell the default provider host of $tofu" >&2; exit 1; }

export TF_ACC=1 TF_ACC_TERRAFORM_PATH="$tofu" TF_ACC_PROVIDER_HOST="$host" TF_ACC_PROVIDER_NAMESPACE=hashicorp
version="$(TF_CLI_CONFIG_FILE=/dev/null "$tofu" version)"
log="${TMPDIR:-/tmp}/test-output-tofu.log"
echo "==> ${version%%$'\n'*}, provider served as $host/hashicorp/etcd; full output in $log"
cd "$(dirname "$0")/.."
set +e # report go test's status, not grep's
go test -count=1 -p 1 -timeout 30m -v -run "$run" ./internal/resources/ 2>&1 | tee "$log" |
  grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+--- |.*SKIP)'
rc="${PIPESTATUS[0]}"
exit "$rc"
