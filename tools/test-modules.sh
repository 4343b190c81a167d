#!/usr/bin/env bash
# `make test-modules`: `terraform test` / `tofu test` of every module under
# examples/modules that has tests (a tests/ directory of .tftest.hcl files),
# with each CLI given, against the provider built from this checkout.
# Usage: tools/test-modules.sh CLI [CLI...]   (Terraform 1.7+ / OpenTofu 1.8+: mock providers)
#
# The tests use a mock provider, which still takes its schema from the real
# provider: it comes in through dev_overrides, so nothing is installed from a
# registry. Modules are tested in a copy, so no .terraform directory lands in
# the checkout.
set -euo pipefail

(($#)) || { echo "usage: $0 CLI [CLI...]" >&2; exit 2; }
# shellcheck source=tools/dev-overrides.sh
source "$(dirname "$0")/dev-overrides.sh"
build_provider

mapfile -t modules < <(cd "$root/examples/modules" && find . -path '*/tests/*.tftest.hcl' -printf '%h\n' | sed 's|^\./||; s|/tests$||' | sort -u)
((${#modules[@]})) || { echo "no module tests found under examples/modules" >&2; exit 1; }

failed=0
for cli in "$@"; do
  test -x "$cli" || { echo "$cli: not found; run make prereqs" >&2; exit 1; }
  version="$(TF_CLI_CONFIG_FILE=/dev/null "$cli" version)"
  for m in "${modules[@]}"; do
    rm -rf "$work/module"
    cp -r "$root/examples/modules/$m" "$work/module"
    printf '==> %s test, examples/modules/%s\n' "${version%%$'\n'*}" "$m"
    if ! (cd "$work/module" && "$cli" test -no-color); then
      failed=1
    fi
  done
done
exit "$failed"
