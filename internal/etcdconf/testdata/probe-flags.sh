#!/usr/bin/env bash
# Regenerates a flags-<version>.txt list: which candidate flag names an etcd
# binary registers. Usage: probe-flags.sh /path/to/etcd < candidates > flags-X.txt
# Candidates used for the committed lists: every fs.*Var name and the ignored
# list in etcdmain/config.go of 3.5.21, the --help flags of 3.5.21 and 3.4.23,
# and 3.4 names from its changelog (log-output, ca-file, peer-ca-file,
# next-cluster-version-compatible, ...). For 3.5.35, 3.6.16 and 3.7.3: the
# 3.4.23 and 3.5.21 lists, every fs.*Var name and quoted name in
# etcdmain/config.go and embed/*.go of all three releases, the *FlagName
# constants (feature-gates), and the --help flags of all three (3.7's help
# still prints --discovery and --discovery-proxy, which 3.7 does not define).
# `etcd --<name>= --version` never starts a server: it fails with "flag
# provided but not defined" when the flag is absent, and otherwise either
# rejects the empty value or prints the version.
#
# With --gates, the candidates are feature gate names instead, and the output
# lists those `etcd --feature-gates=<name>=true --version` accepts (3.6+;
# "unrecognized feature gate" means absent). Candidates used: the gates in
# features/etcd_features.go of 3.6.16 and 3.7.3, AllAlpha and AllBeta
# (pkg/featuregate), and a made-up name as a control.
set -euo pipefail
gates=false
if [ "${1:-}" = --gates ]; then gates=true; shift; fi
bin="$1"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
while read -r f; do
  [ -n "$f" ] || continue
  if $gates; then
    out="$(timeout 5 "$bin" "--feature-gates=$f=true" --version </dev/null 2>&1 || true)"
    case "$out" in
      *"etcd Version:"*) echo "$f" ;;
    esac
    continue
  fi
  out="$(timeout 5 "$bin" "--$f=" --version </dev/null 2>&1 || true)"
  case "$out" in
    *"flag provided but not defined"*) ;;
    *) echo "$f" ;;
  esac
done
