# Sourced by tools/validate-examples.sh and tools/test-modules.sh: a scratch
# directory ($work, removed on exit) and a CLI config that takes the
# provider from $work/bin through dev_overrides, so nothing is installed
# from a registry. "etcd-rollout/etcd" resolves against each CLI's default
# registry host, so one override serves terraform and tofu alike.
# build_provider puts the provider built from this checkout there.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

cat >"$work/cli.tfrc" <<RC
provider_installation {
  dev_overrides {
    "etcd-rollout/etcd" = "$work/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"

build_provider() {
  (cd "$root" && go build -o "$work/bin/terraform-provider-etcd" .)
}
