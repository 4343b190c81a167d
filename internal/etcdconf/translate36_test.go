package etcdconf

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// The rules for 3.5 ⇄ 3.6 and 3.6 ⇄ 3.7, per direction and format.
var translate36Cases = []translateCase{
	{
		name: "env 3.5 → 3.6: v2 and proxy dropped, renames, gates, pins and the refused defaults set",
		from: "3.5.35", to: "3.6.16",
		in: `# member s1
ETCD_NAME=s1
ETCD_ENABLE_V2=false
ETCD_PROXY=off
ETCD_PROXY_DIAL_TIMEOUT=1000
ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME=5m # check
ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES=5000
ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true
ETCD_EXPERIMENTAL_TXN_MODE_WRITE_WITH_SHARED_BUFFER=false
ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION=true
ETCD_V2_DEPRECATION=not-yet
ETCD_BACKEND_BBOLT_FREELIST_TYPE=map
`,
		want: `# member s1
ETCD_NAME=s1
ETCD_CORRUPT_CHECK_TIME=5m # check
ETCD_SNAPSHOT_CATCHUP_ENTRIES=5000
ETCD_PEER_SKIP_CLIENT_SAN_VERIFICATION=true
ETCD_V2_DEPRECATION=write-only
ETCD_BACKEND_BBOLT_FREELIST_TYPE=map
# added by terraform-provider-etcd for an etcd version change
ETCD_FEATURE_GATES=InitialCorruptCheck=true,TxnModeWriteWithSharedBuffer=false
ETCD_SNAPSHOT_COUNT=100000
ETCD_DISCOVERY_FALLBACK=exit
`,
		summary: "-enable-v2, -proxy, -proxy-dial-timeout, experimental-corrupt-check-time→corrupt-check-time, experimental-peer-skip-client-san-verification→peer-skip-client-san-verification, experimental-snapshot-catchup-entries→snapshot-catchup-entries, experimental-initial-corrupt-check→feature-gates:InitialCorruptCheck=true, experimental-txn-mode-write-with-shared-buffer→feature-gates:TxnModeWriteWithSharedBuffer=false, +snapshot-count=100000 (pinned: 3.5 default), v2-deprecation=not-yet→write-only, discovery-fallback=proxy→exit (3.5 default)",
	},
	{
		name: "env 3.5 → 3.6: gates merge into a feature-gates value 3.5 ignored; the flag wins; 3.7 gates go",
		from: "3.5.35", to: "3.6.16",
		in:      "ETCD_FEATURE_GATES=CompactHashCheck=true, LeaseCheckpoint=false,FastLeaseKeepAlive=false\nETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT=1\nETCD_SNAPSHOT_COUNT=5000\nETCD_V2_DEPRECATION=write-only\nETCD_DISCOVERY_FALLBACK=exit\n",
		want:    "ETCD_FEATURE_GATES=CompactHashCheck=true,LeaseCheckpoint=true\nETCD_SNAPSHOT_COUNT=5000\nETCD_V2_DEPRECATION=write-only\nETCD_DISCOVERY_FALLBACK=exit\n",
		summary: "experimental-enable-lease-checkpoint→feature-gates:LeaseCheckpoint=true, -feature-gates:FastLeaseKeepAlive",
	},
	{
		name: "env 3.6 → 3.5: gates back to flags, stable names back, 3.6-only settings dropped, pins",
		from: "3.6.16", to: "3.5.35",
		in: `ETCD_NAME=s1
ETCD_FEATURE_GATES=InitialCorruptCheck=true,SetMemberLocalAddr=true,StopGRPCServiceOnDefrag=false
ETCD_COMPACTION_BATCH_LIMIT=1000
ETCD_DOWNGRADE_CHECK_TIME=2s
ETCD_LOG_FORMAT=console
ETCD_MAX_LEARNERS=1
ETCD_DISCOVERY_ENDPOINTS=http://d:2379
ETCD_DISCOVERY_TOKEN=t
ETCD_WARNING_UNARY_REQUEST_DURATION=1s
ETCD_V2_DEPRECATION=write-only-drop-data
`,
		want: `ETCD_NAME=s1
ETCD_EXPERIMENTAL_COMPACTION_BATCH_LIMIT=1000
ETCD_EXPERIMENTAL_DOWNGRADE_CHECK_TIME=2s
ETCD_V2_DEPRECATION=write-only
# added by terraform-provider-etcd for an etcd version change
ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true
ETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG=false
ETCD_SNAPSHOT_COUNT=10000
ETCD_DISCOVERY_FALLBACK=exit
`,
		summary: "feature-gates:InitialCorruptCheck→experimental-initial-corrupt-check=true, feature-gates:StopGRPCServiceOnDefrag→experimental-stop-grpc-service-on-defrag=false, -feature-gates:SetMemberLocalAddr, compaction-batch-limit→experimental-compaction-batch-limit, downgrade-check-time→experimental-downgrade-check-time, -warning-unary-request-duration, -log-format (3.5 logs JSON), -max-learners, -discovery-endpoints, -discovery-token, v2-deprecation=write-only-drop-data→write-only, +snapshot-count=10000 (pinned: 3.6 default), +discovery-fallback=exit (pinned: 3.6 default)",
	},
	{
		name: "env 3.6 → 3.5: AllAlpha stands for the alpha gates not named",
		from: "3.6.16", to: "3.5.35",
		in:      "ETCD_FEATURE_GATES=AllAlpha=true,CompactHashCheck=false\nETCD_SNAPSHOT_COUNT=10000\nETCD_V2_DEPRECATION=write-only\nETCD_DISCOVERY_FALLBACK=exit\n",
		want:    "ETCD_SNAPSHOT_COUNT=10000\nETCD_V2_DEPRECATION=write-only\nETCD_DISCOVERY_FALLBACK=exit\n# added by terraform-provider-etcd for an etcd version change\nETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true\nETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED=false\nETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT=true\nETCD_EXPERIMENTAL_ENABLE_LEASE_CHECKPOINT_PERSIST=true\nETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG=true\n",
		summary: "feature-gates:AllAlpha→experimental-initial-corrupt-check=true (sets InitialCorruptCheck), feature-gates:CompactHashCheck→experimental-compact-hash-check-enabled=false, feature-gates:AllAlpha→experimental-enable-lease-checkpoint=true (sets LeaseCheckpoint), feature-gates:AllAlpha→experimental-enable-lease-checkpoint-persist=true (sets LeaseCheckpointPersist), feature-gates:AllAlpha→experimental-stop-grpc-service-on-defrag=true (sets StopGRPCServiceOnDefrag), -feature-gates:AllAlpha",
	},
	{
		name: "env 3.6 → 3.7: experimental names to stable ones and gates, v2 discovery dropped",
		from: "3.6.16", to: "3.7.3",
		in:      "ETCD_NAME=s1\nETCD_DISCOVERY=https://discovery.example/abc\nETCD_DISCOVERY_PROXY=http://p:8080\nETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=5m\nETCD_EXPERIMENTAL_WARNING_UNARY_REQUEST_DURATION=1s\nETCD_FEATURE_GATES=CompactHashCheck=true\nETCD_EXPERIMENTAL_MEMORY_MLOCK=true\nETCD_EXPERIMENTAL_STOP_GRPC_SERVICE_ON_DEFRAG=true\n",
		want:    "ETCD_NAME=s1\nETCD_WATCH_PROGRESS_NOTIFY_INTERVAL=5m\nETCD_WARNING_UNARY_REQUEST_DURATION=1s\nETCD_FEATURE_GATES=CompactHashCheck=true,StopGRPCServiceOnDefrag=true\nETCD_MEMORY_MLOCK=true\n",
		summary: "-discovery, -discovery-proxy, experimental-memory-mlock→memory-mlock, experimental-watch-progress-notify-interval→watch-progress-notify-interval, experimental-warning-unary-request-duration→warning-unary-request-duration, experimental-stop-grpc-service-on-defrag→feature-gates:StopGRPCServiceOnDefrag=true",
	},
	{
		name: "env 3.7 → 3.6: the 3.7 gates go, the rest stays",
		from: "3.7.3", to: "3.6.16",
		in:      "ETCD_NAME=s1\nETCD_FEATURE_GATES=FastLeaseKeepAlive=false,InitialCorruptCheck=true,PriorityRequest=true\nETCD_MEMORY_MLOCK=true\n",
		want:    "ETCD_NAME=s1\nETCD_FEATURE_GATES=InitialCorruptCheck=true\nETCD_MEMORY_MLOCK=true\n",
		summary: "-feature-gates:FastLeaseKeepAlive, -feature-gates:PriorityRequest",
	},
	{
		name: "env 3.7 → 3.6: a feature-gates left empty goes",
		from: "3.7.3", to: "3.6.16",
		in:      "ETCD_NAME=s1\nETCD_FEATURE_GATES=PriorityRequest=true\n",
		want:    "ETCD_NAME=s1\n",
		summary: "-feature-gates:PriorityRequest",
	},
	{
		name: "env 3.6 → 3.7 and 3.7 → 3.6: nothing to do", from: "3.6.16", to: "3.7.3",
		in: "ETCD_NAME=s1\nETCD_SNAPSHOT_COUNT=100000\n", want: "ETCD_NAME=s1\nETCD_SNAPSHOT_COUNT=100000\n", summary: "no changes",
	},
	{
		name: "env 3.7 → 3.6: nothing to do", from: "3.7.3", to: "3.6.16",
		in: "ETCD_NAME=s1\n", want: "ETCD_NAME=s1\n", summary: "no changes",
	},
	{
		name:   "yaml 3.5 → 3.6: catch-up spelling, gates as a string, retention without a mode",
		format: FormatYAML, from: "3.5.35", to: "3.6.16",
		in:      "name: s1\nenable-v2: false\nexperimental-enable-v2v3: /v2\nexperimental-snapshot-catch-up-entries: 500\nexperimental-initial-corrupt-check: yes\nexperimental-compact-hash-check-time: 2m\nauto-compaction-retention: 1\npeer-transport-security:\n  cert-file: /p\n",
		want:    "name: s1\nsnapshot-catchup-entries: 500\ncompact-hash-check-time: 2m\nauto-compaction-retention: 1\npeer-transport-security:\n  cert-file: /p\n# added by terraform-provider-etcd for an etcd version change\nfeature-gates: InitialCorruptCheck=true\nsnapshot-count: 100000\nv2-deprecation: write-only\nauto-compaction-mode: periodic\n",
		summary: "-enable-v2, -experimental-enable-v2v3, experimental-compact-hash-check-time→compact-hash-check-time, experimental-snapshot-catchup-entries→snapshot-catchup-entries, experimental-initial-corrupt-check→feature-gates:InitialCorruptCheck=true, +snapshot-count=100000 (pinned: 3.5 default), v2-deprecation=not-yet→write-only (3.5 default), auto-compaction-mode=\"\"→periodic (3.5 default)",
	},
	{
		name:   "yaml 3.5 → 3.6: explicit settings kept, an explicit empty compaction mode set",
		format: FormatYAML, from: "3.5.35", to: "3.6.16",
		in:      "snapshot-count: 50000\nv2-deprecation: 'write-only'\nauto-compaction-mode:\nauto-compaction-retention: 0\n",
		want:    "snapshot-count: 50000\nv2-deprecation: 'write-only'\nauto-compaction-mode: periodic\nauto-compaction-retention: 0\n",
		summary: "auto-compaction-mode=\"\"→periodic",
	},
	{
		name:   "yaml 3.6 → 3.5: the SAN checks and 3.6-only keys dropped, gates back, pins",
		format: FormatYAML, from: "3.6.16", to: "3.5.35",
		in:      "name: s1\nfeature-gates: 'TxnModeWriteWithSharedBuffer=false'\nsnapshot-catchup-entries: 500\npeer-transport-security:\n  cert-file: /p\n  skip-client-san-verification: true\nclient-transport-security: {cert-file: /c, skip-client-san-verification: true}\ndiscovery-config:\n  client:\n    endpoints: [http://d:2379]\n  token: t\nmax-learners: 2\nauto-compaction-retention: 1h\n",
		want:    "name: s1\nexperimental-snapshot-catch-up-entries: 500\npeer-transport-security:\n  cert-file: /p\nclient-transport-security: {cert-file: /c}\nauto-compaction-retention: 1h\n# added by terraform-provider-etcd for an etcd version change\nexperimental-txn-mode-write-with-shared-buffer: false\nsnapshot-count: 10000\nv2-deprecation: write-only\nauto-compaction-mode: periodic\n",
		summary: "feature-gates:TxnModeWriteWithSharedBuffer→experimental-txn-mode-write-with-shared-buffer=false, snapshot-catchup-entries→experimental-snapshot-catchup-entries, -max-learners, -discovery-endpoints, -client-transport-security.skip-client-san-verification (not in 3.5's config file: client SAN check on), -peer-transport-security.skip-client-san-verification (not in 3.5's config file: peer SAN check on), +snapshot-count=10000 (pinned: 3.6 default), +v2-deprecation=write-only (pinned: 3.6 default), +auto-compaction-mode=periodic (pinned: 3.6 default)",
	},
	{
		name:   "yaml 3.6 → 3.7: the top-level experimental SAN key moves into its block",
		format: FormatYAML, from: "3.6.16", to: "3.7.3",
		in:      "name: s1\nexperimental-peer-skip-client-san-verification: true\npeer-transport-security:\n  cert-file: /p\n  key-file: /k\ndata-dir: /d\nexperimental-stop-grpc-service-on-defrag: true\nfeature-gates: FastLeaseKeepAlive=false\ndiscovery: https://discovery.example/abc\n",
		want:    "name: s1\npeer-transport-security:\n  cert-file: /p\n  key-file: /k\n  skip-client-san-verification: true\ndata-dir: /d\nfeature-gates: FastLeaseKeepAlive=false,StopGRPCServiceOnDefrag=true\n",
		summary: "-discovery, experimental-peer-skip-client-san-verification→peer-skip-client-san-verification, experimental-stop-grpc-service-on-defrag→feature-gates:StopGRPCServiceOnDefrag=true",
	},
	{
		name:   "yaml 3.6 → 3.7: the SAN key into a flow block, or a new one",
		format: FormatYAML, from: "3.6.16", to: "3.7.3",
		in:      "experimental-peer-skip-client-san-verification: false\npeer-transport-security: {cert-file: /p}\n",
		want:    "peer-transport-security: {cert-file: /p, skip-client-san-verification: false}\n",
		summary: "experimental-peer-skip-client-san-verification→peer-skip-client-san-verification",
	},
	{
		name:   "yaml 3.6 → 3.7: no peer block yet",
		format: FormatYAML, from: "3.6.16", to: "3.7.3",
		in:      "name: s1\nexperimental-peer-skip-client-san-verification: true\n",
		want:    "name: s1\n# added by terraform-provider-etcd for an etcd version change\npeer-transport-security: {skip-client-san-verification: true}\n",
		summary: "experimental-peer-skip-client-san-verification→peer-skip-client-san-verification",
	},
	{
		name:   "yaml 3.7 → 3.6: the 3.7 gates go",
		format: FormatYAML, from: "3.7.3", to: "3.6.16",
		in:      "name: s1\nfeature-gates: \"FastLeaseKeepAlive=true,CompactHashCheck=true\" # gates\n",
		want:    "name: s1\nfeature-gates: \"CompactHashCheck=true\" # gates\n",
		summary: "-feature-gates:FastLeaseKeepAlive",
	},
}

func TestTranslate36(t *testing.T) {
	for _, tc := range translate36Cases {
		t.Run(tc.name, func(t *testing.T) {
			out := runTranslateCase(t, tc)
			checkTarget(t, tc.format, out, mustVersion(t, tc.to))
		})
	}
}

// checkTarget fails on a setting in out that the target version does not
// read: a flag it does not register or a config-file key it does not have,
// and on a feature gate it does not know.
func checkTarget(t *testing.T, f Format, out []byte, to Version) {
	t.Helper()
	d, err := parse(f, out)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	flags, keys := targetLists(t, to)
	for _, e := range d.entries {
		if e.removed {
			continue
		}
		known := flags[e.key]
		if f == FormatYAML {
			known = keys[e.key] || (e.parent != nil && e.parent.key == "discovery-config")
		}
		if !known {
			t.Errorf("etcd %s does not read %s, left in\n%s", to, e.key, out)
		}
		if e.key == featureGates.key(f) {
			gs, err := parseGates(e.value)
			if err != nil {
				t.Error(err)
			}
			for _, g := range gs {
				if !probedGates(t, to)[g.name] {
					t.Errorf("etcd %s does not know gate %s, left in\n%s", to, g.name, out)
				}
			}
		}
	}
}

// targetLists are the probed flags and config-file keys of the release a
// test stands for.
func targetLists(t *testing.T, v Version) (flags, yaml map[string]bool) {
	t.Helper()
	r := map[string]string{"3.5": "3.5.35", "3.6": "3.6.16", "3.7": "3.7.3"}[v.MinorVersion()]
	if r == "" {
		t.Fatalf("no lists for %s", v)
	}
	return readFlags(t, "testdata/flags-"+r+".txt"), readFlags(t, "testdata/yaml-keys-"+r+".txt")
}

func probedGates(t *testing.T, v Version) map[string]bool {
	switch v.MinorVersion() {
	case "3.6":
		return readList(t, "testdata/gates-3.6.16.txt")
	case "3.7":
		return readList(t, "testdata/gates-3.7.3.txt")
	}
	return map[string]bool{}
}

var args36Cases = []argsCase{
	{
		name: "3.5 → 3.6: bare booleans, a value in the next argument",
		from: "3.5.35", to: "3.6.16",
		in:      []string{"--name=s1", "--enable-v2", "--proxy", "off", "--experimental-initial-corrupt-check", "-experimental-compaction-sleep-interval", "10ms", "--snapshot-count=5000", "--v2-deprecation=write-only", "--discovery-fallback=exit"},
		want:    []string{"--name=s1", "-compaction-sleep-interval", "10ms", "--snapshot-count=5000", "--v2-deprecation=write-only", "--discovery-fallback=exit", "--feature-gates=InitialCorruptCheck=true"},
		summary: "-enable-v2, -proxy, experimental-compaction-sleep-interval→compaction-sleep-interval, experimental-initial-corrupt-check→feature-gates:InitialCorruptCheck=true",
	},
	{
		name: "3.6 → 3.5: several --feature-gates add up",
		from: "3.6.16", to: "3.5.35",
		in:      []string{"--feature-gates=InitialCorruptCheck=true", "--feature-gates", "CompactHashCheck=true", "--memory-mlock", "--snapshot-count=10000", "--v2-deprecation=write-only", "--discovery-fallback=exit"},
		want:    []string{"--experimental-memory-mlock", "--snapshot-count=10000", "--v2-deprecation=write-only", "--discovery-fallback=exit", "--experimental-initial-corrupt-check=true", "--experimental-compact-hash-check-enabled=true"},
		summary: "feature-gates:InitialCorruptCheck→experimental-initial-corrupt-check=true, feature-gates:CompactHashCheck→experimental-compact-hash-check-enabled=true, memory-mlock→experimental-memory-mlock",
	},
	{
		name: "3.6 → 3.7",
		from: "3.6.16", to: "3.7.3",
		in:      []string{"--discovery-proxy=http://p", "--experimental-enable-lease-checkpoint", "--feature-gates=LeaseCheckpointPersist=true", "--experimental-downgrade-check-time=1s"},
		want:    []string{"--feature-gates=LeaseCheckpointPersist=true,LeaseCheckpoint=true", "--downgrade-check-time=1s"},
		summary: "-discovery-proxy, experimental-downgrade-check-time→downgrade-check-time, experimental-enable-lease-checkpoint→feature-gates:LeaseCheckpoint=true",
	},
	{
		name: "3.7 → 3.6",
		from: "3.7.3", to: "3.6.16",
		in:      []string{"--feature-gates=FastLeaseKeepAlive=false", "--name=s1"},
		want:    []string{"--name=s1"},
		summary: "-feature-gates:FastLeaseKeepAlive",
	},
}

func TestTranslateArgs36(t *testing.T) {
	for _, tc := range args36Cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to := mustVersion(t, tc.from), mustVersion(t, tc.to)
			out, cs, err := TranslateArgs(tc.in, from, to)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(out, " ") != strings.Join(tc.want, " ") {
				t.Errorf("args\n got: %q\nwant: %q", out, tc.want)
			}
			if got := Summarize(cs); got != tc.summary {
				t.Errorf("changes\n got: %s\nwant: %s", got, tc.summary)
			}
			again, cs2, err := TranslateArgs(out, from, to)
			if err != nil || len(cs2) > 0 || strings.Join(again, " ") != strings.Join(out, " ") {
				t.Errorf("second translation: %v, %v, %q", Summarize(cs2), err, again)
			}
		})
	}
	// A gate with no value, or one neither 3.6 nor 3.7 knows.
	for _, tc := range []struct {
		in       []string
		from, to Version
		want     string
	}{
		{[]string{"--feature-gates=InitialCorruptCheck"}, v36, v35, "has no value"},
		{[]string{"--feature-gates=Nope=true"}, v37, v36, "not one etcd 3.6 knows"},
		{[]string{"--experimental-initial-corrupt-check=maybe"}, v35, v36, "is not a boolean"},
		{[]string{"--proxy=off"}, v36, v37, "neither etcd 3.6 nor etcd 3.7 defines --proxy"},
	} {
		if _, _, err := TranslateArgsMinors(tc.in, tc.from, tc.to, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %s→%s: %v, want %q", tc.in, tc.from.MinorVersion(), tc.to.MinorVersion(), err, tc.want)
		}
	}
	// Gates the env file sets are kept when the command line gets its own.
	out, _, err := TranslateArgsMinors([]string{"--experimental-initial-corrupt-check"}, v35, v36, map[string]string{"feature-gates": "CompactHashCheck=true", "snapshot-count": "1", "v2-deprecation": "write-only", "discovery-fallback": "exit"})
	if err != nil || strings.Join(out, " ") != "--feature-gates=CompactHashCheck=true,InitialCorruptCheck=true" {
		t.Errorf("with the env file's gates: %q %v", out, err)
	}
}

// Every pair of minors has its own rules: 3.5 → 3.6 must not add what 3.4
// needed, nor 3.6 → 3.5 what 3.4 needs.
func TestRulesByMinors(t *testing.T) {
	for _, p := range [][2]string{{"3.5.35", "3.6.16"}, {"3.6.16", "3.5.35"}, {"3.6.16", "3.7.3"}, {"3.7.3", "3.6.16"}} {
		from, to := mustVersion(t, p[0]), mustVersion(t, p[1])
		for _, f := range []Format{FormatEnv, FormatYAML} {
			out, cs, err := Translate(f, []byte(""), from, to)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"next-cluster-version-compatible", "logger", "pre-vote", "enable-grpc-gateway", "NEXT_CLUSTER", "LOGGER"} {
				if strings.Contains(string(out), bad) || strings.Contains(Summarize(cs), bad) {
					t.Errorf("%s → %s %s: 3.4 ⇄ 3.5 rule applied (%s):\n%s", p[0], p[1], f, Summarize(cs), out)
				}
			}
		}
	}
	for _, p := range [][2]Version{{v34, v36}, {v37, v35}, {v34, v37}} {
		if _, _, err := TranslateMinors(FormatEnv, nil, p[0], p[1]); err == nil || !strings.Contains(err.Error(), "one minor version at a time") {
			t.Errorf("%v → %v: %v", p[0], p[1], err)
		}
	}
	if out, cs, err := TranslateMinors(FormatEnv, []byte("ETCD_ENABLE_V2=true\n"), Version{3, 6, 5}, Version{3, 6, 16}); err != nil || len(cs) > 0 || string(out) != "ETCD_ENABLE_V2=true\n" {
		t.Errorf("same minor: %s %v %q", Summarize(cs), err, out)
	}
}

func readList(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := testdataFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readFlagList(b)
}

// TestTablesCoverFlagDiff36 checks the tables against the probed flag lists
// of each adjacent pair: every flag one registers and the other does not is
// handled by the rules of both directions.
func TestTablesCoverFlagDiff36(t *testing.T) {
	f35 := readFlags(t, "testdata/flags-3.5.35.txt")
	f36 := readFlags(t, "testdata/flags-3.6.16.txt")
	f37 := readFlags(t, "testdata/flags-3.7.3.txt")
	if got := minus(f35, readFlags(t, "testdata/flags-3.5.21.txt")); len(got) > 0 {
		t.Errorf("3.5.35 registers %v, 3.5.21 does not; flags35 takes both", got)
	}
	if got := minus(readFlags(t, "testdata/flags-3.5.21.txt"), f35); len(got) > 0 {
		t.Errorf("3.5.21 registers %v, 3.5.35 does not", got)
	}

	// Upgrades: a flag only the lower version has must be dropped or renamed.
	up := func(lower, higher map[string]bool, from, to Version) {
		for _, fl := range minus(lower, higher) {
			line := envName(fl) + "=true\n"
			if fl == "proxy" || fl == "discovery-fallback" {
				line = envName(fl) + "=off\n"
			}
			out, cs, err := TranslateMinors(FormatEnv, []byte(line), from, to)
			if err != nil {
				t.Errorf("%s: %v", fl, err)
				continue
			}
			if _, ok := changeKeys(cs)[fl]; !ok || strings.Contains(string(out), envName(fl)+"=") {
				t.Errorf("%s → %s: %s is registered by %s only, but the upgrade leaves it: %s\n%s", from, to, fl, from.MinorVersion(), Summarize(cs), out)
			}
		}
	}
	up(f35, f36, v35, v36)
	up(f36, f37, v36, v37)
	if got := minus(f37, f36); len(got) > 0 {
		t.Errorf("3.7.3 registers %v and 3.6.16 does not: the 3.7 → 3.6 rules handle none", got)
	}

	// The downgrade to 3.5 handles every 3.6-only flag.
	for _, fl := range minus(f36, f35) {
		v := "1"
		if fl == "feature-gates" {
			v = "InitialCorruptCheck=true"
		}
		out, cs, err := TranslateMinors(FormatEnv, []byte(envName(fl)+"="+v+"\n"), v36, v35)
		if err != nil {
			t.Errorf("%s: %v", fl, err)
			continue
		}
		if strings.Contains(string(out), envName(fl)+"=") {
			t.Errorf("3.6 → 3.5: %s is registered by 3.6 only, but the downgrade leaves it: %s\n%s", fl, Summarize(cs), out)
		}
	}

	// The tables name only flags that exist where they say.
	for _, s := range stabilized36 {
		if !f35[s.exp.flag] || !f36[s.exp.flag] || f37[s.exp.flag] || f35[s.stable.flag] || !f36[s.stable.flag] || !f37[s.stable.flag] {
			t.Errorf("stabilized36 %s → %s does not match the probed lists", s.exp.flag, s.stable.flag)
		}
	}
	for _, g := range gatedFlags {
		if !f35[g.flag.flag] || !f36[g.flag.flag] || f37[g.flag.flag] {
			t.Errorf("gatedFlags %s does not match the probed lists", g.flag.flag)
		}
	}
	for _, s := range append(only36, warningUnaryRequestDuration.exp, warningUnaryRequestDuration.stable) {
		if s.flag != "" && (f35[s.flag] || !f36[s.flag]) {
			t.Errorf("only36 has %s: 3.5.35 %v, 3.6.16 %v", s.flag, f35[s.flag], f36[s.flag])
		}
	}
	for _, s := range only35of36 {
		if !f35[s.flag] || f36[s.flag] {
			t.Errorf("only35of36 has %s: 3.5.35 %v, 3.6.16 %v", s.flag, f35[s.flag], f36[s.flag])
		}
	}
	for _, s := range only36of37 {
		if !f36[s.flag] || f37[s.flag] {
			t.Errorf("only36of37 has %s: 3.6.16 %v, 3.7.3 %v", s.flag, f36[s.flag], f37[s.flag])
		}
	}
	// The counts the report names.
	if a, b, c := len(minus(f35, f36)), len(minus(f36, f35)), len(minus(f36, f37)); a != 8 || b != 34 || c != 25 {
		t.Errorf("flag diffs: 3.5-only %d, 3.6-only (vs 3.5) %d, 3.6-only (vs 3.7) %d; the tables were written for 8, 34 and 25", a, b, c)
	}
}

// TestYAMLKeysCovered36 does for config-file keys what
// TestTablesCoverFlagDiff36 does for flags.
func TestYAMLKeysCovered36(t *testing.T) {
	y35 := readFlags(t, "testdata/yaml-keys-3.5.35.txt")
	y36 := readFlags(t, "testdata/yaml-keys-3.6.16.txt")
	y37 := readFlags(t, "testdata/yaml-keys-3.7.3.txt")
	yamlLine := func(k, v string) string {
		if i := strings.IndexByte(k, '.'); i > 0 {
			return k[:i] + ":\n  " + k[i+1:] + ": " + v + "\n"
		}
		return k + ": " + v + "\n"
	}
	check := func(lower, higher map[string]bool, from, to Version) {
		// The keys only the source version reads.
		source, target := lower, higher
		if from.Compare(to) > 0 {
			source, target = higher, lower
		}
		for _, k := range minus(source, target) {
			v := "true"
			if k == "feature-gates" {
				v = "InitialCorruptCheck=true"
			}
			out, cs, err := TranslateMinors(FormatYAML, []byte(yamlLine(k, v)), from, to)
			if err != nil {
				t.Errorf("%s: %v", k, err)
				continue
			}
			d, _ := parse(FormatYAML, out)
			if d.has(k) {
				t.Errorf("%s → %s: config-file key %s is not read by %s, but the translation leaves it: %s\n%s", from.MinorVersion(), to.MinorVersion(), k, to.MinorVersion(), Summarize(cs), out)
			}
		}
	}
	check(y35, y36, v35, v36)
	check(y35, y36, v36, v35)
	check(y36, y37, v36, v37)
	if got := minus(y37, y36); len(got) > 0 {
		t.Errorf("3.7.3 reads config-file keys %v that 3.6.16 does not", got)
	}
	// The YAML keys of the tables exist where they say.
	for _, s := range stabilized36 {
		if (s.exp.yaml != "" && !y35[s.exp.yaml]) || !y36[s.expIn36().yaml] || !y36[s.stable.yaml] || !y37[s.stable.yaml] || y37[s.expIn36().yaml] {
			t.Errorf("stabilized36 %s: YAML keys do not match the lists", s.exp.flag)
		}
	}
	for _, g := range gatedFlags {
		if !y35[g.flag.yaml] || !y36[g.flag.yaml] || y37[g.flag.yaml] {
			t.Errorf("gatedFlags %s: YAML key does not match the lists", g.flag.yaml)
		}
	}
}

// TestGatesMatchProbe checks the gate table against the gates the binaries
// accept.
func TestGatesMatchProbe(t *testing.T) {
	g36, g37 := readList(t, "testdata/gates-3.6.16.txt"), readList(t, "testdata/gates-3.7.3.txt")
	var want36, want37 []string
	for _, g := range gates {
		if !g.since37 {
			want36 = append(want36, g.name)
		}
		want37 = append(want37, g.name)
	}
	want36 = append(want36, allAlpha, allBeta)
	want37 = append(want37, allAlpha, allBeta)
	for _, c := range []struct {
		got  map[string]bool
		want []string
		v    string
	}{{g36, want36, "3.6.16"}, {g37, want37, "3.7.3"}} {
		var got []string
		for g := range c.got {
			got = append(got, g)
		}
		sort.Strings(got)
		sort.Strings(c.want)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s accepts gates %v, the table says %v", c.v, got, c.want)
		}
	}
	for _, gf := range gatedFlags {
		if !g36[gf.gate] {
			t.Errorf("%s: 3.6.16 has no gate %s", gf.flag.flag, gf.gate)
		}
	}
}

// TestDefaultChangesCoverRecordedDefaults36 fails on any setting that two
// adjacent releases ran with differently in the recorded measurements,
// unless defaults36/defaults37 handle it with the recorded values.
func TestDefaultChangesCoverRecordedDefaults36(t *testing.T) {
	for _, p := range []struct {
		lo, hi string
		table  []defaultChange
	}{{"3.5.35", "3.6.16", defaults36}, {"3.6.16", "3.7.3", defaults37}} {
		for _, f := range []Format{FormatEnv, FormatYAML} {
			lo, hi := readObservation(t, p.lo, f), readObservation(t, p.hi, f)
			for _, k := range differing(lo.Settings, hi.Settings) {
				var dc *defaultChange
				for i := range p.table {
					if p.table[i].name() == k {
						dc = &p.table[i]
					}
				}
				switch {
				case dc == nil || !dc.in(f):
					t.Errorf("%s: %s defaults to %q on %s and %q on %s, but the tables do not handle it for %s files", mechanism(f), k, lo.Settings[k], p.lo, hi.Settings[k], p.hi, f)
				case dc.lower != lo.Settings[k] || dc.higher != hi.Settings[k]:
					t.Errorf("%s: the table has %s = %q / %q, measured %q / %q", mechanism(f), k, dc.lower, dc.higher, lo.Settings[k], hi.Settings[k])
				}
			}
			for _, dc := range p.table {
				a, okA := lo.Settings[dc.name()]
				b, okB := hi.Settings[dc.name()]
				if dc.in(f) && okA && okB && a == b {
					t.Errorf("%s: the table changes %s, but %s and %s were measured with the same value %q", mechanism(f), dc.name(), p.lo, p.hi, a)
				}
			}
		}
	}
	// Not logged by 3.5, so from the source; 3.6 logs what it enforces.
	if got := readObservation(t, "3.6.16", FormatEnv).Settings["v2-deprecation"]; got != "write-only" {
		t.Errorf("3.6.16 v2-deprecation measured %q", got)
	}
}

func testdataFile(path string) ([]byte, error) { return os.ReadFile(path) }

// TestTranslated36OnRealEtcd starts the target binary of each direction on
// a translated configuration that uses what the change touches, with both
// mechanisms: it must start, and with ETCD_* variables it must not report
// one it does not know or an experimental flag it deprecates.
func TestTranslated36OnRealEtcd(t *testing.T) {
	bins := map[string]string{}
	for _, v := range []string{"3.5.35", "3.6.16", "3.7.3"} {
		bins[v] = binaryOrSkip(t, v)
	}
	type kv = []string // key, value, and the value in YAML when it differs (durations are nanoseconds there)
	for _, tc := range []struct {
		from, to string
		set      []kv
	}{
		{"3.5.35", "3.6.16", []kv{{"enable-v2", "false"}, {"v2-deprecation", "not-yet"}, {"experimental-initial-corrupt-check", "true"},
			{"experimental-txn-mode-write-with-shared-buffer", "false"}, {"experimental-compaction-batch-limit", "500"}, {"experimental-watch-progress-notify-interval", "5m", "300000000000"}}},
		{"3.6.16", "3.5.35", []kv{{"feature-gates", "InitialCorruptCheck=true,SetMemberLocalAddr=false"}, {"compaction-batch-limit", "500"},
			{"max-learners", "1"}, {"log-format", "json"}, {"warning-unary-request-duration", "1s", "1000000000"}, {"downgrade-check-time", "2s", "2000000000"}}},
		{"3.6.16", "3.7.3", []kv{{"experimental-stop-grpc-service-on-defrag", "true"}, {"feature-gates", "CompactHashCheck=true"},
			{"experimental-warning-unary-request-duration", "1s", "1000000000"}, {"experimental-peer-skip-client-san-verification", "false"}, {"experimental-corrupt-check-time", "3m", "180000000000"}}},
		{"3.7.3", "3.6.16", []kv{{"feature-gates", "FastLeaseKeepAlive=false,PriorityRequest=true,InitialCorruptCheck=true"}, {"memory-mlock", "false"}}},
	} {
		for _, f := range []Format{FormatEnv, FormatYAML} {
			t.Run(tc.from+" to "+tc.to+" "+mechanism(f), func(t *testing.T) {
				m := newMember(t)
				base := m.config(f)
				for _, s := range tc.set {
					v := s[1]
					if f == FormatYAML && len(s) > 2 {
						v = s[2]
					}
					base = appendSetting(f, base, s[0], v)
				}
				// The source runs on it, so the case is a real configuration.
				m.run(t, bins[tc.from], f, base)
				out, cs, err := TranslateMinors(f, base, mustVersion(t, tc.from), mustVersion(t, tc.to))
				if err != nil {
					t.Fatal(err)
				}
				_, log := m.run(t, bins[tc.to], f, out)
				for _, bad := range []string{"unrecognized environment variable", "--experimental-"} {
					if f == FormatEnv && strings.Contains(log, bad) {
						t.Errorf("%s on the translated file logs %q (changes: %s)\n%s\n%s", tc.to, bad, Summarize(cs), out, log)
					}
				}
			})
		}
	}
}
