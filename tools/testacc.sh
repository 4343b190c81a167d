#!/usr/bin/env bash
# `make testacc`: every Go test with TF_ACC set, on three CLIs at once.
# Usage: tools/testacc.sh TIMEOUT
# Environment (GNUmakefile sets each):
#   TF157 TF185 TOFU   the CLIs: Terraform 1.5.7, Terraform 1.8.5, OpenTofu 1.12.6
#   ACC_EVERY_CLI      tests that run on all three CLIs (plan output, exit codes, import, bad input)
#   ACC_NEEDS_18       tests that need Terraform 1.8+ / OpenTofu 1.7+ (provider functions): 1.8.5 and OpenTofu
#   ACC_ON_TF185       tests that run on Terraform 1.8.5 only
#   ACC_ON_TOFU        tests that run on OpenTofu 1.12.6 only
# Everything else (every other test of every package, unit and acceptance)
# runs on Terraform 1.5.7. README.md's "Run the tests" has the table.
#
# The whole suite on each of three CLIs would take about three hours on a
# 2-core machine; a rollout's behaviour is the provider's, not the CLI's, so
# each rollout test runs once, on one CLI, and the tests of what a CLI does
# with the provider (plans, exit codes, import, errors) run on every CLI.
#
# TF_ACC_TERRAFORM_PATH=/path/to/terraform (or tofu) runs every test on that
# one CLI instead, in the same three processes: for a newer CLI on PATH.
#
# The three processes run side by side: each sandbox takes a free block of
# loopback addresses under a lock (internal/testhosts/block.go), and much of
# an acceptance test is spent waiting on etcd. The console shows each test's
# result, its t.Log lines and, on failure, the failing tests' output; at the
# end, every skipped test with its reason. test-output.log has everything.
set -uo pipefail

timeout="$1"
cd "$(dirname "$0")/.."
export TF_ACC=1
# A CLI config file that does not exist makes OpenTofu print a warning
# before its version, which terraform-plugin-testing cannot parse.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  echo "== TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE does not exist; running without it"
  unset TF_CLI_CONFIG_FILE
fi
one_cli="${TF_ACC_TERRAFORM_PATH:-}"
unset TF_ACC_TERRAFORM_PATH

# cli_env CLI VERSION: the environment terraform-plugin-testing needs to drive CLI.
# It serves the provider in-process and hands the CLI its address through
# TF_REATTACH_PROVIDERS, as TF_ACC_PROVIDER_HOST/TF_ACC_PROVIDER_NAMESPACE/etcd,
# by default under Terraform's registry host with the namespaces "-" and
# "hashicorp". OpenTofu rejects the "-" namespace on any host but its own and
# resolves an unqualified `provider "etcd"` under its own default host. So for
# OpenTofu: namespace hashicorp, and the host that binary reports for an
# unqualified provider.
cli_env() {
  local cli="$1" version="$2" probe host
  echo "TF_ACC_TERRAFORM_PATH=$cli"
  case "$version" in
  OpenTofu*)
    probe="$(mktemp -d)"
    echo 'provider "probe" {}' >"$probe/main.tf"
    host="$(cd "$probe" && TF_CLI_CONFIG_FILE=/dev/null "$cli" providers -no-color | sed -n 's|.*provider\[\([^/]*\)/hashicorp/probe\].*|\1|p')"
    rm -rf "$probe"
    [ -n "$host" ] || { echo "cannot tell the default provider host of $cli" >&2; return 1; }
    echo "TF_ACC_PROVIDER_HOST=$host"
    echo "TF_ACC_PROVIDER_NAMESPACE=hashicorp"
    ;;
  esac
}

filter() {
  grep --line-buffered -E '^(--- |PASS|FAIL|ok|panic|\s+--- )|^\s+[a-z_0-9]+_test\.go:[0-9]+: ' | grep --line-buffered -v ' testhosts: ' | sed -u "s/^/[$1] /"
}

# shard NAME CLI GO-TEST-ARGS...: one go test process, in the background.
pids=() names=()
shard() {
  local name="$1" cli="${one_cli:-$2}" version env
  shift 2
  test -x "$cli" || { echo "$cli: not found; run make prereqs" >&2; exit 1; }
  version="$(TF_CLI_CONFIG_FILE=/dev/null "$cli" version)"
  env="$(cli_env "$cli" "$version")" || exit 1
  echo "== [$name] ${version%%$'\n'*}: go test $*"
  # Each shard's own exit status, not its filter's.
  (
    began=$(date +%s)
    env $env go test -count=1 -timeout "$timeout" -v "$@" 2>&1 | tee "test-output-$name.log" | filter "$name"
    rc="${PIPESTATUS[0]}"
    echo "== [$name] exit $rc after $(( $(date +%s) - began )) s"
    exit "$rc"
  ) &
  pids+=($!) names+=("$name")
}

start=$(date +%s)
rm -f test-output-*.log
# -p 1: go test streams -v output only when it runs one package at a time.
resources="-p 1 ./internal/functions/ ./internal/resources/"
shard tf1.5.7 "$TF157" -p 1 -skip "$ACC_ON_TF185|$ACC_ON_TOFU|$ACC_NEEDS_18" ./...
shard tf1.8.5 "$TF185" -run "$ACC_ON_TF185|$ACC_EVERY_CLI|$ACC_NEEDS_18" $resources
shard tofu1.12.6 "$TOFU" -run "$ACC_ON_TOFU|$ACC_EVERY_CLI|$ACC_NEEDS_18" $resources

failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
cat $(printf 'test-output-%s.log ' "${names[@]}") >test-output.log

# Every skipped test, with the reason it logged (the line before its SKIP).
skips="$(awk '
  /^[[:space:]]+[A-Za-z0-9_.]+\.go:[0-9]+: / { reason = $0; sub(/^[[:space:]]+/, "", reason); next }
  /^[[:space:]]*--- SKIP: / { print "  " $3 ": " reason; reason = ""; next }
  /^=== RUN/ { reason = "" }
' test-output.log | sort -u)"
echo "== skipped: $(printf '%s' "$skips" | grep -c .) tests"
[ -z "$skips" ] || printf '%s\n' "$skips"

echo "== acceptance tests: $(( $(date +%s) - start )) s; $(grep -c -E '^--- PASS' test-output.log) top-level tests passed"
if ((${#failed[@]})); then
  echo "== failed: ${failed[*]}; output of the failing tests (all of it: test-output.log)"
  grep -B80 -A2 -E '^\s*--- FAIL' test-output.log | grep -v '^        {' | head -400
  exit 1
fi
