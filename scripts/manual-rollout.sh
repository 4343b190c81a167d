#!/usr/bin/env bash
# manual-rollout.sh — an etcd version change done by hand, the way etcd's
# "Downgrade etcd from 3.5 to 3.4" guide describes it, with nothing but ssh,
# scp and etcdctl. It is what an operator would do without this provider, and
# the baseline `make bench` measures the provider against.
#
#   check health → snapshot from the leader → for each member, in the order
#   given: copy the binary over, move leadership away if it leads, stop, keep
#   the old binary, install the new one, edit the config, start, poll
#   `etcdctl endpoint health` until the cluster is healthy and the member runs
#   the target → print the timings.
#
# A downgrade from 3.6 or later to the minor below goes through etcd's
# downgrade API, as etcd's "Downgrade etcd from v3.6 to v3.5" guide says:
# after the snapshot, `etcdctl downgrade validate X.Y` and
# `etcdctl downgrade enable X.Y`, then poll every member's GET /version until
# etcdcluster (and the storage version, where a member reports one) is the
# target's X.Y.0; then the members as above; at the end, poll /version until
# every member reports the target's cluster version. This needs the etcdctl
# of the version the cluster runs (--etcdctl): the lower one has no
# `downgrade` command.
#
# usage:
#   manual-rollout.sh -i KEY -o KNOWN_HOSTS -b TARGET_ETCD_BINARY [options] HOST...
#
#   HOST                  SSH address of each member's machine, in rollout order
#   -i, --key FILE        SSH private key
#   -o, --known-hosts F   known_hosts file; host keys are always checked
#   -b, --binary FILE     the target version's etcd binary, on this machine
#   -e, --etcdctl PATH    etcdctl to use (default: etcdctl from PATH)
#   -u, --user NAME       SSH user (default root)
#   --endpoints URLS      comma-separated client URLs, one per HOST in the same
#                         order (default http://HOST:2379 for each)
#   --binary-path PATH    the binary the service runs (default /usr/local/bin/etcd)
#   --config-file PATH    the member's ETCD_* env file (default /etc/etcd/etcd.env)
#   --snapshot-dir DIR    where the snapshot goes (default .)
#   --stable-for SECONDS  after a member is healthy, keep checking this long,
#                         every check passing, before the next (default 0)
#   --poll SECONDS        time between health checks (default 0.2)
#   --timeout SECONDS     give up on a member after this long (default 300)
#
# Output: progress on stderr; on stdout one line per member and a total.
# stop_to_healthy ends at the first passing check, stop_to_stable after
# --stable-for more; through the downgrade API also the wait from validate to
# in effect, and the final wait for the cluster version:
#   downgrade_api_wait=2.345s
#   member s1 host=127.0.0.1 stop_to_healthy=1.234s stop_to_stable=1.234s
#   end_wait=0.012s
#   total=12.345s
set -euo pipefail

usage() { sed -n '/^# usage:/,/^# Output/p' "$0" | sed -e 's/^# \{0,1\}//' -e '$d' >&2; exit 2; }
die() { printf 'manual-rollout: %s\n' "$*" >&2; exit 1; }
say() { printf '[%7.3fs] %s\n' "$(elapsed "$started")" "$*" >&2; }
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
sleep_s() { sleep "$1"; }

key='' known_hosts='' binary='' etcdctl_bin='etcdctl' user='root' endpoints_arg=''
binary_path='/usr/local/bin/etcd' config_file='/etc/etcd/etcd.env' snapshot_dir='.'
stable_for='0' poll='0.2' timeout='300'
hosts=()
while (($#)); do
  case "$1" in
    -i | --key) key="$2"; shift 2 ;;
    -o | --known-hosts) known_hosts="$2"; shift 2 ;;
    -b | --binary) binary="$2"; shift 2 ;;
    -e | --etcdctl) etcdctl_bin="$2"; shift 2 ;;
    -u | --user) user="$2"; shift 2 ;;
    --endpoints) endpoints_arg="$2"; shift 2 ;;
    --binary-path) binary_path="$2"; shift 2 ;;
    --config-file) config_file="$2"; shift 2 ;;
    --snapshot-dir) snapshot_dir="$2"; shift 2 ;;
    --stable-for) stable_for="$2"; shift 2 ;;
    --poll) poll="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; hosts+=("$@"); break ;;
    -*) printf 'manual-rollout: unknown option %s\n' "$1" >&2; usage ;;
    *) hosts+=("$1"); shift ;;
  esac
done
[ -n "$key" ] && [ -n "$known_hosts" ] && [ -n "$binary" ] && ((${#hosts[@]})) || usage
[ -r "$key" ] || die "cannot read the SSH key $key"
[ -r "$known_hosts" ] || die "cannot read the known_hosts file $known_hosts"
[ -x "$binary" ] || die "$binary is not an executable etcd binary"
command -v "$etcdctl_bin" >/dev/null || die "etcdctl not found: $etcdctl_bin"
command -v curl >/dev/null || die "curl not found"

if [ -n "$endpoints_arg" ]; then
  IFS=',' read -r -a endpoints <<<"$endpoints_arg"
  ((${#endpoints[@]} == ${#hosts[@]})) || die "--endpoints names ${#endpoints[@]} URLs for ${#hosts[@]} hosts"
else
  endpoints=()
  for h in "${hosts[@]}"; do endpoints+=("http://$h:2379"); done
fi
all_endpoints="$(IFS=','; printf '%s' "${endpoints[*]}")"

ssh_opts=(-F /dev/null -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes
  -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null
  -o ConnectTimeout=10 -o LogLevel=ERROR)
remote() { local host="$1"; shift; ssh "${ssh_opts[@]}" "$user@$host" "$@"; }
# etcdctl's own defaults (2 s dial, 5 s per command; none for snapshot save).
etcdctl() { ETCDCTL_API=3 "$etcdctl_bin" "$@"; }

# The target's version, from `etcd --version`: "etcd Version: 3.4.34".
target="$("$binary" --version)"
target="${target%%$'\n'*}"
target="${target#etcd Version: }"
[[ "$target" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$binary --version: cannot read the version ($target)"

# `endpoint status -w simple`, one line per endpoint; up to etcdctl 3.5:
# endpoint, ID, version, db size, is leader, is learner, raft term, raft index, applied index, errors
# from etcdctl 3.6 on, storage version, in use, % not in use and quota come
# before is leader, and the downgrade target and state after the errors.
status_field() { # endpoint field-number
  etcdctl --endpoints="$1" endpoint status -w simple | awk -F', ' -v f="$2" '{ print $f }'
}
etcdctl_version="$("$etcdctl_bin" version 2>/dev/null)" || die "$etcdctl_bin version failed"
etcdctl_version="${etcdctl_version%%$'\n'*}"
etcdctl_version="${etcdctl_version#etcdctl version: }"
[[ "$etcdctl_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "$etcdctl_bin version: cannot read the version ($etcdctl_version)"
leader_field=5
if [ "$(printf '%s' "$etcdctl_version" | cut -d. -f2)" -ge 6 ]; then
  leader_field=9
  # v3 is the only API from 3.6 on, and ETCDCTL_API draws a warning.
  etcdctl() { "$etcdctl_bin" "$@"; }
fi

started="$(now)"

# Step 1: the cluster is healthy, and every member's version.
say "checking health: etcdctl endpoint health --endpoints=$all_endpoints"
etcdctl --endpoints="$all_endpoints" endpoint health >&2 || die "the cluster is not healthy; fix it first"
declare -A member_id=() member_name=() member_version=()
while IFS=', ' read -r ep id version _; do
  member_id["$ep"]="$id"
  member_version["$ep"]="$version"
done < <(etcdctl --endpoints="$all_endpoints" endpoint status -w simple | awk -F', ' '{ print $1 ", " $2 ", " $3 }')
# `member list -w simple`: ID, status, name, peer URLs, client URLs, is learner
while IFS= read -r line; do
  name="$(awk -F', ' '{ print $3 }' <<<"$line")"
  urls="$(awk -F', ' '{ print $5 }' <<<"$line")"
  for ep in "${endpoints[@]}"; do
    case ",$urls," in *",$ep,"*) member_name["$ep"]="$name" ;; esac
  done
done < <(etcdctl --endpoints="$all_endpoints" member list -w simple)
for ep in "${endpoints[@]}"; do
  [ -n "${member_id[$ep]:-}" ] && [ -n "${member_name[$ep]:-}" ] || die "no member answers at $ep"
done
from="${member_version[${endpoints[0]}]}"
say "cluster: ${#endpoints[@]} members on $from, target $target"

# Step 2: snapshot from the leader, before anything stops.
leader_ep=''
for ep in "${endpoints[@]}"; do
  [ "$(status_field "$ep" "$leader_field")" = true ] && leader_ep="$ep"
done
[ -n "$leader_ep" ] || die "no member reports being the leader"
mkdir -p "$snapshot_dir"
snapshot="$snapshot_dir/snapshot-$(date -u +%Y%m%dT%H%M%SZ).db"
say "snapshot: etcdctl --endpoints=$leader_ep snapshot save $snapshot"
etcdctl --endpoints="$leader_ep" snapshot save "$snapshot" >/dev/null 2>&1 || die "snapshot save from $leader_ep failed"
chmod 600 "$snapshot"

# The config edit the guide asks for, as a remote shell snippet on $f.
minor_of() { local v="$1"; v="${v#*.}"; printf '%s' "${v%%.*}"; }
config_edit=''
if [ "$(minor_of "$from")" = 5 ] && [ "$(minor_of "$target")" = 4 ]; then
  # 3.5 → 3.4: drop the 3.5-only flags, rename the freelist flag, keep zap
  # and pre-vote (3.4's defaults differ), add next-cluster-version-compatible.
  drop=''
  for k in SOCKET_REUSE_PORT SOCKET_REUSE_ADDRESS RAFT_READ_TIMEOUT RAFT_WRITE_TIMEOUT V2_DEPRECATION \
    CLIENT_CERT_FILE CLIENT_KEY_FILE PEER_CLIENT_CERT_FILE PEER_CLIENT_KEY_FILE SELF_SIGNED_CERT_VALIDITY \
    ENABLE_LOG_ROTATION LOG_ROTATION_CONFIG_JSON EXPERIMENTAL_ENABLE_DISTRIBUTED_TRACING \
    EXPERIMENTAL_DISTRIBUTED_TRACING_ADDRESS EXPERIMENTAL_DISTRIBUTED_TRACING_SERVICE_NAME \
    EXPERIMENTAL_DISTRIBUTED_TRACING_INSTANCE_ID EXPERIMENTAL_DISTRIBUTED_TRACING_SAMPLING_RATE \
    EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED EXPERIMENTAL_COMPACT_HASH_CHECK_TIME EXPERIMENTAL_DOWNGRADE_CHECK_TIME \
    EXPERIMENTAL_MEMORY_MLOCK EXPERIMENTAL_TXN_MODE_WRITE_WITH_SHARED_BUFFER \
    EXPERIMENTAL_BOOTSTRAP_DEFRAG_THRESHOLD_MEGABYTES EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG \
    EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES; do
    drop+=" -e '/^ETCD_${k}=/d'"
  done
  config_edit="sed -i$drop -e 's/^ETCD_BACKEND_BBOLT_FREELIST_TYPE=/ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=/' \"\$f\"
grep -q '^ETCD_LOGGER=' \"\$f\" || echo 'ETCD_LOGGER=zap' >>\"\$f\"
grep -q '^ETCD_PRE_VOTE=' \"\$f\" || echo 'ETCD_PRE_VOTE=true' >>\"\$f\"
grep -q '^ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=' \"\$f\" || echo 'ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true' >>\"\$f\""
elif [ "$(minor_of "$from")" = 4 ] && [ "$(minor_of "$target")" = 5 ]; then
  # 3.4 → 3.5 (the guide's rollback): the reverse.
  config_edit="sed -i -e '/^ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=/d' -e 's/^ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=/ETCD_BACKEND_BBOLT_FREELIST_TYPE=/' \"\$f\""
fi
# 3.6 → 3.5: no edit here. The guide's flag diff (settings 3.5 lacks:
# --feature-gates, --log-format, the v3 --discovery-* ones; stable names that
# 3.5 knows as --experimental-*) concerns settings this script's clusters do
# not set: name, data dir, URLs and initial cluster mean the same to both.
# Edit the env file by hand first if yours sets any of them.

# The downgrade API (3.6 and later, one minor down): the cluster version,
# and each member's storage version, must be the target's before the lower
# binary can start on the data.
major_of() { printf '%s' "${1%%.*}"; }
downgrade_api=''
if [ "$(major_of "$from")" = "$(major_of "$target")" ] && (($(minor_of "$from") >= 6)) &&
  (($(minor_of "$target") == $(minor_of "$from") - 1)); then
  downgrade_api="${target%.*}"
fi
want_cluster="${target%.*}.0"
# version_field: a field of GET /version, {"etcdserver":"3.6.16","etcdcluster":"3.6.0","storage":"3.6.0"}.
version_field() { # json key
  [[ "$1" =~ \"$2\":\"([^\"]*)\" ]] && printf '%s' "${BASH_REMATCH[1]}"
}
# cluster_versions_are: every member's /version reports cluster version
# $1, storage version $1 where it reports one (3.6 and later), and, with $2,
# server version $2. Says what it saw in $last_seen.
last_seen=''
cluster_versions_are() { # cluster-version [server-version]
  local ep json cv sv server seen='' ok=0
  for ep in "${endpoints[@]}"; do
    json="$(curl -fsS --max-time 2 "$ep/version" 2>/dev/null)" || { seen+=" ${member_name[$ep]}=unreachable"; ok=1; continue; }
    cv="$(version_field "$json" etcdcluster)" || cv=''
    sv="$(version_field "$json" storage)" || sv=''
    server="$(version_field "$json" etcdserver)" || server=''
    seen+=" ${member_name[$ep]}=server:$server,cluster:$cv${sv:+,storage:$sv}"
    [ "$cv" = "$1" ] && { [ -z "$sv" ] || [ "$sv" = "$1" ]; } && { [ -z "${2:-}" ] || [ "$server" = "$2" ]; } || ok=1
  done
  last_seen="${seen# }"
  return "$ok"
}
wait_versions() { # what cluster-version [server-version]
  local deadline
  deadline="$(awk -v a="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { printf "%.3f", a + t }')"
  until cluster_versions_are "$2" "${3:-}"; do
    awk -v d="$deadline" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b > d) }' &&
      die "gave up after ${timeout}s waiting for $1; last seen: $last_seen"
    sleep_s "$poll"
  done
}

api_wait=''
if [ -n "$downgrade_api" ]; then
  if cluster_versions_are "$want_cluster"; then
    say "downgrade to $downgrade_api already in effect: $last_seen"
  else
    t0="$(now)"
    say "downgrade API: etcdctl downgrade validate $downgrade_api; etcdctl downgrade enable $downgrade_api"
    etcdctl --endpoints="$all_endpoints" downgrade validate "$downgrade_api" >&2 || die "etcd refuses the downgrade to $downgrade_api"
    etcdctl --endpoints="$all_endpoints" downgrade enable "$downgrade_api" >&2 || die "enabling the downgrade to $downgrade_api failed"
    say "waiting until every member's /version reports cluster version $want_cluster and storage version $want_cluster"
    wait_versions "the downgrade to $downgrade_api to take effect (cancel it with: etcdctl downgrade cancel $downgrade_api)" "$want_cluster"
    api_wait="$(elapsed "$t0")"
    say "downgrade in effect after ${api_wait}s: $last_seen"
  fi
fi

# healthy_on_target: every member passes `endpoint health` and this member
# reports the target version.
healthy_on_target() { # endpoint
  etcdctl --endpoints="$all_endpoints" endpoint health >/dev/null 2>&1 &&
    [ "$(status_field "$1" 3 2>/dev/null)" = "$target" ]
}

done_eps=()
results=()
for i in "${!hosts[@]}"; do
  host="${hosts[$i]}"
  ep="${endpoints[$i]}"
  name="${member_name[$ep]}"
  if [ "${member_version[$ep]}" = "$target" ]; then
    say "$name already runs $target"
    done_eps+=("$ep")
    continue
  fi

  # Step 3: copy the binary over while the member still runs.
  say "$name: scp $binary $user@$host:$binary_path.new"
  scp -q "${ssh_opts[@]}" "$binary" "$user@$host:$binary_path.new"

  # Before stopping the server, check if it is the leader; if so, move-leader
  # to another member, one already on the target if there is one.
  if [ "$(status_field "$ep" "$leader_field")" = true ]; then
    to=''
    for d in "${done_eps[@]+"${done_eps[@]}"}"; do to="$d"; break; done
    if [ -z "$to" ]; then
      for other in "${endpoints[@]}"; do [ "$other" != "$ep" ] && { to="$other"; break; }; done
    fi
    say "$name leads: etcdctl move-leader ${member_id[$to]} (${member_name[$to]})"
    etcdctl --endpoints="$all_endpoints" move-leader "${member_id[$to]}" >&2
  fi

  # Step 4: stop, swap the binary, edit the config, start.
  t0="$(now)"
  say "$name: stop, swap the binary, edit $config_file, start"
  remote "$host" "set -e
systemctl stop etcd
cp -p $(printf '%q' "$binary_path") $(printf '%q' "$binary_path.$from")
chmod 755 $(printf '%q' "$binary_path.new")
mv -f $(printf '%q' "$binary_path.new") $(printf '%q' "$binary_path")
f=$(printf '%q' "$config_file")
cp -p \"\$f\" \"\$f.$from\"
$config_edit
systemctl start etcd"

  # Verify that the member, and then the whole cluster, is healthy on the
  # new binary; then that it stays so for --stable-for.
  deadline="$(awk -v a="$t0" -v t="$timeout" 'BEGIN { printf "%.3f", a + t }')"
  ok_since='' first_ok=''
  while :; do
    if healthy_on_target "$ep"; then
      [ -n "$ok_since" ] || ok_since="$(now)"
      [ -n "$first_ok" ] || first_ok="$ok_since"
      awk -v a="$ok_since" -v b="$EPOCHREALTIME" -v s="$stable_for" 'BEGIN { exit !(b - a >= s) }' && break
    else
      ok_since=''
    fi
    awk -v d="$deadline" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b > d) }' &&
      die "$name did not become healthy on $target within ${timeout}s; the old binary is $binary_path.$from on $host, the snapshot $snapshot"
    sleep_s "$poll"
  done
  stable="$(elapsed "$t0")"
  healthy="$(awk -v a="$t0" -v b="$first_ok" 'BEGIN { printf "%.3f", b - a }')"
  say "$name healthy on $target after ${healthy}s, stable after ${stable}s"
  results+=("member $name host=$host stop_to_healthy=${healthy}s stop_to_stable=${stable}s")
  done_eps+=("$ep")
done

# Through the downgrade API: every member reports the target and its
# cluster version. (etcd's leader ends the job itself once every member runs
# the target, within its 5 s check.)
end_wait=''
if [ -n "$downgrade_api" ]; then
  t0="$(now)"
  wait_versions "every member on $target with cluster version $want_cluster" "$want_cluster" "$target"
  end_wait="$(elapsed "$t0")"
  say "cluster version $want_cluster after ${end_wait}s: $last_seen"
fi

# Step 5: the whole cluster, once more.
etcdctl --endpoints="$all_endpoints" endpoint health >&2 || die "the cluster is not healthy after the rollout"
[ -z "$api_wait" ] || printf 'downgrade_api_wait=%ss\n' "$api_wait"
printf '%s\n' "${results[@]+"${results[@]}"}"
[ -z "$end_wait" ] || printf 'end_wait=%ss\n' "$end_wait"
printf 'total=%ss\n' "$(elapsed "$started")"
