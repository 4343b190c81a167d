#!/usr/bin/env bash
# Regenerates a flags-<version>.txt list: which candidate flag names an etcd
# binary registers. Usage: probe-flags.sh /path/to/etcd < candidates > flags-X.txt
# Candidates used for the committed lists: every fs.*Var name and the ignored
# list in etcdmain/config.go of 3.5.21, the --help flags of 3.5.21 and 3.4.23,
# and 3.4 names from its changelog (log-output, ca-file, peer-ca-file,
# next-cluster-version-compatible, ...).
# `etcd --<name>= --version` never starts a server: it fails with "flag
# provided but not defined" when the flag is absent, and otherwise either
# rejects the empty value or prints the version.
set -euo pipefail
bin="$1"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
while read -r f; do
  [ -n "$f" ] || continue
  out="$(timeout 5 "$bin" "--$f=" --version </dev/null 2>&1 || true)"
  case "$out" in
    *"flag provided but not defined"*) ;;
    *) echo "$f" ;;
  esac
done
