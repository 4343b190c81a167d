#!/usr/bin/env bash
# A scheduled drift alarm for one environment. Run it from the environment's
# directory (for example examples/environments/production) with the same
# credentials as a normal plan. Exit codes:
#   0  the cluster matches the configuration and every check passes
#   1  the plan failed: a member unreachable, or a broken configuration
#   2  drift: a member runs another version (the plan shows which)
#   3  a check failed: a member unhealthy or on an unexpected version
# TF selects the CLI: TF=tofu for OpenTofu.
set -uo pipefail
tf="${TF:-terraform}"

"$tf" init -input=false -no-color >/dev/null || exit 1

"$tf" plan -detailed-exitcode -input=false -no-color -out=drift.tfplan
plan_rc=$?
if [ "$plan_rc" -eq 1 ]; then
  echo "ALARM: the plan failed; see the error above"
  exit 1
fi

# Failed check assertions are only warnings: they change neither the plan nor
# its exit code, so read them from the saved plan.
failed="$("$tf" show -json drift.tfplan | jq -r '.checks[]? | select(.status == "fail") | .instances[].problems[].message')"
if [ -n "$failed" ]; then
  printf 'ALARM: etcd checks failed:\n%s\n' "$failed"
  exit 3
fi

if [ "$plan_rc" -eq 2 ]; then
  echo "ALARM: drift; the plan above shows what differs"
  exit 2
fi
echo "OK: no drift"
