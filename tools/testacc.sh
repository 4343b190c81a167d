#!/usr/bin/env bash
# `make testacc`: every Go test with TF_ACC set, in two processes at once.
# Usage: tools/testacc.sh TERRAFORM TIMEOUT SHARD_A_REGEXP
#
# Acceptance tests spend most of their time waiting on etcd (gates, stable
# periods, restarts), and each sandbox takes a free block of loopback
# addresses under a lock (internal/testhosts/block.go), so two run side by
# side on a 2-core machine. Shard a runs the internal/resources tests that
# SHARD_A_REGEXP matches; shard b runs every package with those skipped.
# The console shows each test's result, its t.Log lines and, on failure,
# the failing tests' output; test-output.log has everything.
set -uo pipefail

tf="$1" timeout="$2" shard_a="$3"
cd "$(dirname "$0")/.."
export TF_ACC=1 TF_ACC_TERRAFORM_PATH="$tf"
filter() {
  grep --line-buffered -E '^(--- |PASS|FAIL|ok|panic|\s+--- )|^\s+[a-z_0-9]+_test\.go:[0-9]+: ' | grep --line-buffered -v ' testhosts: ' | sed -u "s/^/[$1] /"
}
start=$(date +%s)
# Each shard's own exit status, not its filter's.
( go test -count=1 -timeout "$timeout" -v -run "$shard_a" ./internal/resources/ 2>&1 | tee test-output-a.log | filter a; exit "${PIPESTATUS[0]}" ) &
a=$!
( go test -count=1 -p 1 -timeout "$timeout" -v -skip "$shard_a" ./... 2>&1 | tee test-output-b.log | filter b; exit "${PIPESTATUS[0]}" ) &
b=$!
wait "$a"; rc_a=$?
wait "$b"; rc_b=$?
cat test-output-a.log test-output-b.log >test-output.log
echo "== acceptance tests: shard a exit $rc_a, shard b exit $rc_b, $(( $(date +%s) - start )) s"
if [ "$rc_a" -ne 0 ] || [ "$rc_b" -ne 0 ]; then
  echo "== output of the failing tests (all of it: test-output.log)"
  grep -B80 -A2 -E '^\s*--- FAIL' test-output.log | grep -v '^        {' | head -400
  exit 1
fi
