#!/usr/bin/env bash
# Installs everything the tests, `make demo` and `make bench` need on a fresh
# Debian 12 machine, as root, and caches every build by version so a second run
# builds nothing:
#   Debian packages → Terraform 1.5.7 and 1.8.5 → etcd 3.5.x/3.6.x/3.7.x (Go module proxy) → etcd 3.4.23 (Debian)
# It prints nothing but progress; binaries land under $ETCD_TF_CACHE.
set -euo pipefail

CACHE="${ETCD_TF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-etcd}"
# Terraform 1.5.7 is the oldest release we support; 1.8.5 is the newest that
# `go install` builds (from 1.9 on, Terraform's go.mod has local-path replace
# directives), and the first with provider-defined functions.
TERRAFORM_VERSIONS="${TERRAFORM_VERSIONS:-1.5.7 1.8.5}"
# etcd versions built from the Go module proxy. The first is the sandbox's
# default; the second is an older patch release for patch-change tests; the
# rest serve the 3.5 ⇄ 3.6 ⇄ 3.7 tests: the latest patch of each minor
# (3.5.35, 3.6.16, 3.7.3), an older one of 3.6 and 3.7 for patch changes, and
# 3.5.21 doubles as a release too old for the upgrade to 3.6.
ETCD_VERSIONS="${ETCD_VERSIONS:-3.5.21 3.5.16 3.5.35 3.6.5 3.6.16 3.7.1 3.7.3}"
DEBIAN_ETCD_VERSION=3.4.23
here="$(cd "$(dirname "$0")" && pwd)"

log() { printf '==> %s\n' "$*"; }
# The first line of `etcd --version`, read without a pipe: with pipefail, a
# `| head` that exits early could kill etcd with SIGPIPE and end the script.
version_of() { local out; out="$("$1" --version)"; printf '%s\n' "${out%%$'\n'*}"; }

# sudo: every test host has a sudo user (testhosts.SudoUser), and its sudo is
# the machine's setuid binary seen through the host's overlays.
need_pkgs=()
for p in openssh-server openssh-client iproute2 util-linux passwd sudo ca-certificates curl; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if ((${#need_pkgs[@]})); then
  log "apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian's package may start a system sshd on port 22 of every address; the
# test hosts need port 22 on their own loopback addresses, so it must not run.
if pgrep -x sshd >/dev/null 2>&1 && [ -z "${KEEP_SYSTEM_SSHD:-}" ]; then
  if [ -S /run/systemd/private ]; then systemctl disable --now ssh >/dev/null 2>&1 || true; fi
fi
mkdir -p /run/sshd

mkdir -p "$CACHE"
export GOFLAGS=-mod=mod

for v in $TERRAFORM_VERSIONS; do
  tf="$CACHE/terraform/$v/terraform"
  [ -x "$tf" ] && continue
  log "building terraform $v (go install)"
  # version.dev=no drops the "-dev" suffix from 1.6 on, as release builds do;
  # older releases have no such variable and the linker ignores the flag.
  GOBIN="$CACHE/terraform/$v" CGO_ENABLED=0 go install -trimpath -ldflags "-X github.com/hashicorp/terraform/version.dev=no" \
    "github.com/hashicorp/terraform@v$v" 2>&1 | grep -v '^go: downloading' || true
  out="$(TF_CLI_CONFIG_FILE=/dev/null "$tf" version)"
  [ "${out%%$'\n'*}" = "Terraform v$v" ] || { rm -f "$tf"; echo "terraform $v reports ${out%%$'\n'*}" >&2; exit 1; }
  log "${out%%$'\n'*}"
done

for v in $ETCD_VERSIONS; do
  dir="$CACHE/etcd/$v"
  # PREREQS_NO_ETCDUTL=1 (make bench, whose hosts do without it) builds
  # etcd and etcdctl only; a later run without it adds etcdutl.
  if [ -x "$dir/etcd" ] && [ -x "$dir/etcdctl" ] && { [ -x "$dir/etcdutl" ] || [ -n "${PREREQS_NO_ETCDUTL:-}" ]; }; then continue; fi
  log "building etcd $v (go build in a pinned tools module)"
  mod="$CACHE/build/etcd-$v"
  rm -rf "$mod"; mkdir -p "$mod" "$dir"
  # `go install pkg@version` refuses etcd's main packages because their go.mod
  # files carry replace directives; a tools module that requires them works.
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package etcdtools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
GO
  (
    cd "$mod"
    go mod init etcdtools >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$v" "go.etcd.io/etcd/etcdctl/v3@v$v" "go.etcd.io/etcd/etcdutl/v3@v$v" >/dev/null 2>&1
    go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -o "$dir/etcd" go.etcd.io/etcd/server/v3
    CGO_ENABLED=0 go build -trimpath -o "$dir/etcdctl" go.etcd.io/etcd/etcdctl/v3
    if [ -z "${PREREQS_NO_ETCDUTL:-}" ]; then CGO_ENABLED=0 go build -trimpath -o "$dir/etcdutl" go.etcd.io/etcd/etcdutl/v3; fi
  )
  log "$(version_of "$dir/etcd")"
done

dir="$CACHE/etcd/$DEBIAN_ETCD_VERSION"
if [ ! -x "$dir/etcd" ]; then
  log "unpacking etcd $DEBIAN_ETCD_VERSION from Debian's etcd-server and etcd-client (no service is started)"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download etcd-server etcd-client >/dev/null 2>&1 || { apt-get update -qq && apt-get download etcd-server etcd-client; })
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root"; done
  mkdir -p "$dir"
  install -m 0755 "$tmp/root/usr/bin/etcd" "$dir/etcd"
  install -m 0755 "$tmp/root/usr/bin/etcdctl" "$dir/etcdctl"
  rm -rf "$tmp"
  log "$(version_of "$dir/etcd")"
fi

if [ -n "${ETCD_BINARY_3_4:-}" ]; then
  log "ETCD_BINARY_3_4=$ETCD_BINARY_3_4: $(version_of "$ETCD_BINARY_3_4")"
fi
# OpenTofu, for `make examples-validate`, `make test-modules` and `make testacc`. Its version is
# pinned by tools/opentofu/go.mod, a tools module that repeats OpenTofu's
# replace directive (`go install pkg@version` refuses modules that have one).
TOFU_VERSION=1.12.6
tofu="$CACHE/tofu/$TOFU_VERSION/tofu"
# PREREQS_NO_TOFU=1 skips it for targets that do not use it (make bench).
if [ ! -x "$tofu" ] && [ -z "${PREREQS_NO_TOFU:-}" ]; then
  log "building OpenTofu $TOFU_VERSION (go build in tools/opentofu)"
  mkdir -p "$(dirname "$tofu")"
  # version.dev=no drops the "-dev" suffix, as OpenTofu's release builds do.
  (cd "$here/../tools/opentofu" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-X github.com/opentofu/opentofu/version.dev=no" \
    -o "$tofu" github.com/opentofu/opentofu/cmd/tofu)
  out="$(TF_CLI_CONFIG_FILE=/dev/null "$tofu" version)"
  [ "${out%%$'\n'*}" = "OpenTofu v$TOFU_VERSION" ] || { rm -f "$tofu"; echo "tools/opentofu/go.mod does not pin OpenTofu $TOFU_VERSION: ${out%%$'\n'*}" >&2; exit 1; }
  log "${out%%$'\n'*}"
fi

log "prerequisites ready in $CACHE"
