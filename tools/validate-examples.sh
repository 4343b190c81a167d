#!/usr/bin/env bash
# `make examples-validate`: checks every example under examples/ with real
# CLIs and the provider built from this checkout, without any network:
#   fmt -check → bash -n the scripts → build the provider → per root module, per CLI: get modules, validate
# Usage: tools/validate-examples.sh CLI [CLI...]   (terraform and/or tofu binaries)
#
# The provider comes in through dev_overrides, so nothing is installed from a
# registry. `init` is not used: with dev_overrides it still asks the registry
# for the overridden provider and fails offline. `get` installs the local
# modules the environments call, and `validate` needs nothing else.
# Examples are validated in a copy, so no .terraform directory or lock file
# lands in the checkout.
set -euo pipefail

(($#)) || { echo "usage: $0 CLI [CLI...]" >&2; exit 2; }
# shellcheck source=tools/dev-overrides.sh
source "$(dirname "$0")/dev-overrides.sh"

log() { printf '==> %s\n' "$*"; }

# functions_ok CLI: whether CLI knows provider-defined functions (Terraform
# 1.8+, OpenTofu 1.7+); examples/functions is validated only with those.
functions_ok() {
  local v
  v="$(TF_CLI_CONFIG_FILE=/dev/null "$1" version)"
  v="${v%%$'\n'*}"
  case "$v" in
  Terraform\ v1.[0-7].*) return 1 ;;
  OpenTofu\ v1.[0-6].*) return 1 ;;
  esac
}

# fmt -check with the CLIs that parse every example (provider functions
# are new syntax to older ones).
for cli in "$@"; do
  test -x "$cli" || { echo "$cli: not found; run make prereqs" >&2; exit 1; }
  functions_ok "$cli" || continue
  log "$cli fmt -check -recursive examples/"
  (cd "$root" && "$cli" fmt -check -recursive -diff examples/)
done

log "bash -n examples/**/*.sh"
while IFS= read -r script; do
  bash -n "$script" || exit 1
done < <(find "$root/examples" -name '*.sh')

log "building the provider from this checkout"
build_provider

# Root modules: every directory with .tf files, except reusable modules,
# which are validated through the environments that call them. A resource
# or data source example is a fragment; it is validated together with the
# provider example, as the docs present them.
mapfile -t dirs < <(cd "$root/examples" && find . -name '*.tf' -not -path './modules/*' -printf '%h\n' | sed 's|^\./||' | sort -u)
((${#dirs[@]})) || { echo "no examples found" >&2; exit 1; }

failed=0
for cli in "$@"; do
  name="$(basename "$cli")-$(basename "$(dirname "$cli")")"
  rm -rf "$work/examples"
  cp -r "$root/examples" "$work/examples"
  for d in "${dirs[@]}"; do
    dir="$work/examples/$d"
    if [[ "$d" == functions/* ]] && ! functions_ok "$cli"; then
      printf '  %-16s skip  examples/%s (provider functions need Terraform 1.8+ / OpenTofu 1.7+)\n' "$name" "$d"
      continue
    fi
    case "$d" in
      resources/* | data-sources/*) cp "$work/examples/provider/provider.tf" "$dir/zz-provider.tf" ;;
    esac
    if out="$(cd "$dir" && "$cli" get -no-color 2>&1 && "$cli" validate -no-color 2>&1)"; then
      printf '  %-16s ok    examples/%s\n' "$name" "$d"
    else
      printf '  %-16s FAIL  examples/%s\n%s\n' "$name" "$d" "$out"
      failed=1
    fi
  done
done
exit "$failed"
