package rollout

// Planner tests. Observations and specs are built by hand, and every
// expected value is written from design.md ("Transitions and their rules",
// "What a rollout is") and etcd's downgrade guide, not copied from the
// planner's output.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
)

func mustVersion(t testing.TB, s string) etcdconf.Version {
	t.Helper()
	v, err := etcdconf.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func memberName(i int) string { return fmt.Sprintf("s%d", i) }
func memberIP(i int) string   { return fmt.Sprintf("10.0.0.%d", 10+i) }
func memberURL(i int) string  { return fmt.Sprintf("http://%s:2379", memberIP(i)) }

// Paths of the discovered runtime the planner tests use: a systemd unit
// "etcd" with an EnvironmentFile, as on most hosts.
const (
	rtBinary  = "/usr/local/bin/etcd"
	rtEnvFile = "/etc/etcd/etcd.env"
	rtUnit    = "/etc/systemd/system/etcd.service"
)

// rtConfig is what discovery learns of a member that runs /usr/local/bin/etcd
// from unit etcd with its settings in /etc/etcd/etcd.env holding env.
func rtConfig(env string) Runtime {
	vars := map[string]string{}
	for _, l := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "ETCD_") {
			vars[k] = v
		}
	}
	return Runtime{Unit: "etcd", PID: 4242, Exe: rtBinary, BinaryPath: rtBinary, UnitFile: rtUnit, UnitType: "notify",
		EnvFiles: []string{rtEnvFile}, Env: vars, EnvReadable: true,
		ExecStart: "{ path=" + rtBinary + " ; argv[]=" + rtBinary + " ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }",
		Files: map[string]FileMeta{
			rtBinary:  {Path: rtBinary, Resolved: rtBinary, Type: "regular file", Owner: "root", Group: "root", Mode: "755"},
			rtEnvFile: {Path: rtEnvFile, Resolved: rtEnvFile, Type: "regular file", Owner: "root", Group: "root", Mode: "644", Content: []byte(env)},
		}}
}

// rtMissing is a member whose unit names an env file that is not there.
func rtMissing() Runtime {
	rt := rtConfig("")
	rt.Files[rtEnvFile] = FileMeta{Path: rtEnvFile, Missing: true}
	return rt
}

// planSpec is a configuration for members s1..sn with the defaults the
// schema gives.
func planSpec(t testing.TB, target string, n int) Spec {
	t.Helper()
	s := Spec{
		Target: mustVersion(t, target),
		Binary: Binary{Path: "/usr/local/bin/etcd", Source: "/srv/etcd/v" + target + "/etcd"},
		Service: Service{
			StartCommand: DefaultStartCommand, StopCommand: DefaultStopCommand,
			LogCommand: DefaultLogCommand,
		},
		SnapshotDir: DefaultSnapshotDir,
		Health:      Health{Timeout: DefaultTimeout, StableFor: DefaultStableFor, MemberPause: DefaultMemberPause},
	}
	for i := 1; i <= n; i++ {
		s.Members = append(s.Members, MemberSpec{Name: memberName(i), Host: memberIP(i), ClientURL: memberURL(i)})
	}
	return s
}

// liveMember is member si as etcdx.Client.Observe reports a healthy one.
func liveMember(i int, version string, leader bool) etcdx.Member {
	return etcdx.Member{
		ID:         0xa1b2c3d400000000 + uint64(i),
		Name:       memberName(i),
		ClientURLs: []string{memberURL(i)},
		PeerURLs:   []string{fmt.Sprintf("http://%s:2380", memberIP(i))},
		Reachable:  true,
		Version:    version,
		DBSize:     24 << 20,
		IsLeader:   leader,
		RaftTerm:   7,
		RaftIndex:  48213,
		Healthy:    true,
	}
}

// observation: members s1.. on the given versions, member `leader` leading,
// every config file readable (env35 for 3.5 members, env34 for 3.4 ones)
// and a local binary whose sha256 is sourceSum.
func observation(leader int, versions ...string) Observation {
	obs := Observation{ClusterID: "c0ffee1234", Runtimes: map[string]Runtime{},
		Source: LocalSource{Checked: true, SHA256: sourceSum, Size: 23 << 20}}
	minor := ""
	for i, v := range versions {
		n := i + 1
		obs.Members = append(obs.Members, liveMember(n, v, n == leader))
		if strings.HasPrefix(v, "3.4.") {
			obs.Runtimes[memberName(n)] = rtConfig(env34(n))
		} else {
			obs.Runtimes[memberName(n)] = rtConfig(env35(n))
		}
		if minor == "" || v < minor {
			minor = v
		}
	}
	if len(minor) >= 3 {
		obs.ClusterVersion = minor[:3] + ".0"
	}
	return obs
}

const sourceSum = "3f4b0d2a9c1e5b7a8d6c4e2f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7"

// env35 is a 3.5 member's ETCD_* file as a config-management tool would
// render it.
func env35(i int) string {
	return fmt.Sprintf(`# etcd member %[1]s, rendered by config management
ETCD_NAME=%[1]s
ETCD_DATA_DIR=/var/lib/etcd
ETCD_LISTEN_PEER_URLS=http://%[2]s:2380
ETCD_LISTEN_CLIENT_URLS=http://%[2]s:2379,http://127.0.0.1:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://%[2]s:2380
ETCD_ADVERTISE_CLIENT_URLS=http://%[2]s:2379
ETCD_INITIAL_CLUSTER=s1=http://10.0.0.11:2380,s2=http://10.0.0.12:2380,s3=http://10.0.0.13:2380
ETCD_INITIAL_CLUSTER_TOKEN=etcd-prod
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_QUOTA_BACKEND_BYTES=8589934592
ETCD_AUTO_COMPACTION_MODE=periodic
ETCD_AUTO_COMPACTION_RETENTION=1h
ETCD_SOCKET_REUSE_PORT=true
ETCD_BACKEND_BBOLT_FREELIST_TYPE=map
ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL=10ms
`, memberName(i), memberIP(i))
}

// env35Tuned is a 3.5 file that already sets logger and pre-vote and uses
// one of the 3.5-only settings the guide's diff could not list.
func env35Tuned(i int) string {
	return fmt.Sprintf(`ETCD_NAME=%[1]s
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=http://%[2]s:2379
ETCD_LOGGER=zap
ETCD_PRE_VOTE=true
ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES=5000
`, memberName(i), memberIP(i))
}

// env34 is what a member's file looks like after the 3.5 → 3.4 downgrade.
func env34(i int) string {
	return fmt.Sprintf(`ETCD_NAME=%[1]s
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=http://%[2]s:2379
ETCD_QUOTA_BACKEND_BYTES=8589934592
ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=map
# added by terraform-provider-etcd for an etcd version change
ETCD_LOGGER=zap
ETCD_PRE_VOTE=true
ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true
`, memberName(i), memberIP(i))
}

// env34Original is a cluster that started life on 3.4 with 3.4's own
// settings.
func env34Original(i int) string {
	return fmt.Sprintf(`ETCD_NAME=%[1]s
ETCD_DATA_DIR=/var/lib/etcd
ETCD_ADVERTISE_CLIENT_URLS=http://%[2]s:2379
ETCD_LOGGER=capnslog
ETCD_DEBUG=false
ETCD_LOG_PACKAGE_LEVELS=etcdserver=INFO
`, memberName(i), memberIP(i))
}

// change is the part of an etcdconf.Change the plan must get right.
type change struct {
	Op     etcdconf.ChangeOp
	Key    string
	NewKey string
	Value  string
}

func changesOf(cs []etcdconf.Change) []change {
	out := make([]change, len(cs))
	for i, c := range cs {
		out[i] = change{c.Op, c.Key, c.NewKey, c.Value}
	}
	sortChanges(out)
	return out
}

func sortChanges(cs []change) {
	sort.Slice(cs, func(i, j int) bool { return fmt.Sprint(cs[i]) < fmt.Sprint(cs[j]) })
}

// inOrder checks that s contains parts, each after the previous one.
func inOrder(s string, parts ...string) error {
	rest := s
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			if strings.Contains(s, p) {
				return fmt.Errorf("%q is out of order in %q", p, s)
			}
			return fmt.Errorf("%q missing from %q", p, s)
		}
		rest = rest[i+len(p):]
	}
	return nil
}

func stepWithPrefix(steps []string, prefix string) (string, bool) {
	for _, s := range steps {
		if strings.HasPrefix(s, prefix) {
			return s, true
		}
	}
	return "", false
}

func mustPlan(t *testing.T, obs Observation, spec Spec) *Plan {
	t.Helper()
	plan, probs := MakePlan(obs, spec)
	if len(probs) > 0 {
		t.Fatalf("MakePlan refused: %v", probs)
	}
	if plan == nil {
		t.Fatal("MakePlan returned neither a plan nor problems")
	}
	return plan
}

// TestMakePlanRollouts covers the allowed transitions: what each member goes
// through, the config changes named per member, and the steps shown.
func TestMakePlanRollouts(t *testing.T) {
	downgradeS1S3 := []change{ // env35: design.md's 3.5 → 3.4 translation
		{Op: etcdconf.Drop, Key: "socket-reuse-port"},
		{Op: etcdconf.Drop, Key: "experimental-compaction-sleep-interval"},
		{Op: etcdconf.Rename, Key: "backend-bbolt-freelist-type", NewKey: "experimental-backend-bbolt-freelist-type"},
		{Op: etcdconf.Pin, Key: "logger", Value: "zap"},
		{Op: etcdconf.Pin, Key: "pre-vote", Value: "true"},
		{Op: etcdconf.Add, Key: "next-cluster-version-compatible", Value: "true"},
	}
	downgradeS2 := []change{ // env35Tuned: logger and pre-vote already set
		{Op: etcdconf.Drop, Key: "experimental-snapshot-catchup-entries"},
		{Op: etcdconf.Add, Key: "next-cluster-version-compatible", Value: "true"},
	}
	rollback := []change{ // env34: the downgrade undone; the pins equal 3.5's defaults and stay
		{Op: etcdconf.Remove, Key: "next-cluster-version-compatible"},
		{Op: etcdconf.Rename, Key: "experimental-backend-bbolt-freelist-type", NewKey: "backend-bbolt-freelist-type"},
	}
	upgradeOriginal := []change{ // env34Original: 3.4-only settings go, capnslog is refused by 3.5, 3.4's pre-vote default is pinned
		{Op: etcdconf.Drop, Key: "debug"},
		{Op: etcdconf.Drop, Key: "log-package-levels"},
		{Op: etcdconf.Set, Key: "logger", Value: "zap"},
		{Op: etcdconf.Pin, Key: "pre-vote", Value: "false"},
	}

	type memberWant struct {
		path    etcdconf.Path
		from    string
		changes []change
		step    []string // phrases, in order, of the member's step
	}
	cases := []struct {
		name     string
		target   string
		versions []string
		setup    func(*Observation, *Spec)
		members  map[string]memberWant
		// preflight, stage and verify phrases
		preflight []string
		stage     []string
		verify    string
	}{
		{
			name: "downgrade 3.5.21 → 3.4.34, config changes named per member", target: "3.4.34",
			versions: []string{"3.5.21", "3.5.21", "3.5.21"},
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s2"] = rtConfig(env35Tuned(2))
			},
			members: map[string]memberWant{
				"s1": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, []string{
					"member s1 (10.0.0.11): downgrade 3.5.21 → 3.4.34", "stop", "keep 3.5.21 binary as /usr/local/bin/etcd.3.5.21",
					"install 3.4.34", "config /etc/etcd/etcd.env: ", "-socket-reuse-port", "(backup /etc/etcd/etcd.env.3.5.21, owner and mode kept)", "start",
					"gate: linearizable read, version 3.4.34", "caught up", "all members healthy", "stable 5s"}},
				"s2": {etcdconf.PathDowngrade, "3.5.21", downgradeS2, []string{
					"member s2 (10.0.0.12): downgrade 3.5.21 → 3.4.34", "stop", "install 3.4.34",
					"config /etc/etcd/etcd.env: -experimental-snapshot-catchup-entries (line 6), +next-cluster-version-compatible (backup", "start", "gate:"}},
				"s3": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, []string{"member s3 (10.0.0.13): downgrade", "stop", "install", "config", "start", "gate"}},
			},
			preflight: []string{"3/3 members healthy on 3.5.21", "no alarms", "auth disabled", "target 3.4.34 >= 3.4.32"},
			stage:     []string{"/srv/etcd/v3.4.34/etcd", "/usr/local/bin/etcd.3.4.34", "s1, s2, s3", "`etcd --version` = 3.4.34", "before any member stops"},
			verify:    "verify: all members on 3.4.34, cluster version 3.4.0",
		},
		{
			name: "upgrade 3.4 → 3.5, the rollback of a downgrade: next-cluster-version-compatible removed", target: "3.5.21",
			versions: []string{"3.4.34", "3.4.34", "3.4.34"},
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s2"] = rtConfig(env34Original(2))
			},
			members: map[string]memberWant{
				"s1": {etcdconf.PathUpgrade, "3.4.34", rollback, []string{
					"member s1 (10.0.0.11): upgrade 3.4.34 → 3.5.21", "stop", "keep 3.4.34 binary as /usr/local/bin/etcd.3.4.34",
					"install 3.5.21", "-next-cluster-version-compatible", "(backup /etc/etcd/etcd.env.3.4.34, owner and mode kept)", "start", "gate:", "version 3.5.21"}},
				"s2": {etcdconf.PathUpgrade, "3.4.34", upgradeOriginal, []string{"member s2 (10.0.0.12): upgrade", "-debug", "-log-package-levels", "start"}},
				"s3": {etcdconf.PathUpgrade, "3.4.34", rollback, []string{"member s3 (10.0.0.13): upgrade", "-next-cluster-version-compatible"}},
			},
			preflight: []string{"3/3 members healthy on 3.4.34", "no alarms", "upgrade to 3.5.21"},
			stage:     []string{"/usr/local/bin/etcd.3.5.21", "s1, s2, s3"},
			verify:    "verify: all members on 3.5.21, cluster version 3.5.0",
		},
		{
			name: "patch change 3.5.17 → 3.5.21: binary only, config untouched", target: "3.5.21",
			versions: []string{"3.5.17", "3.5.17", "3.5.17"},
			members: map[string]memberWant{
				"s1": {etcdconf.PathPatch, "3.5.17", nil, []string{"member s1 (10.0.0.11): patch 3.5.17 → 3.5.21", "stop", "keep 3.5.17 binary as /usr/local/bin/etcd.3.5.17", "install 3.5.21", "settings unchanged", "start", "gate:"}},
				"s2": {etcdconf.PathPatch, "3.5.17", nil, []string{"member s2 (10.0.0.12): patch", "settings unchanged"}},
				"s3": {etcdconf.PathPatch, "3.5.17", nil, []string{"member s3 (10.0.0.13): patch", "settings unchanged"}},
			},
			preflight: []string{"3/3 members healthy on 3.5.17", "no alarms", "patch change to 3.5.21"},
			stage:     []string{"/usr/local/bin/etcd.3.5.21", "s1, s2, s3"},
			verify:    "verify: all members on 3.5.21, cluster version 3.5.0",
		},
		{
			name: "patch down 3.4.34 → 3.4.23 is a patch change, allowed below 3.4.32", target: "3.4.23",
			versions: []string{"3.4.34", "3.4.34", "3.4.34"},
			members: map[string]memberWant{
				"s1": {etcdconf.PathPatch, "3.4.34", nil, []string{"member s1 (10.0.0.11): patch 3.4.34 → 3.4.23", "settings unchanged"}},
				"s2": {etcdconf.PathPatch, "3.4.34", nil, nil},
				"s3": {etcdconf.PathPatch, "3.4.34", nil, nil},
			},
			preflight: []string{"patch change to 3.4.23"},
			verify:    "verify: all members on 3.4.23, cluster version 3.4.0",
		},
		{
			name: "mixed cluster resuming a downgrade: the member on target is skipped", target: "3.4.34",
			versions: []string{"3.4.34", "3.5.21", "3.5.21"},
			setup: func(o *Observation, _ *Spec) {
				// The done member's host being down does not matter: nothing
				// happens on it.
				o.Runtimes["s1"] = Runtime{HostErr: "SSH to 10.0.0.11: connection refused"}
			},
			members: map[string]memberWant{
				"s1": {etcdconf.PathNone, "3.4.34", nil, []string{"member s1: already on 3.4.34, skipped"}},
				"s2": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, []string{"member s2 (10.0.0.12): downgrade 3.5.21 → 3.4.34", "+next-cluster-version-compatible"}},
				"s3": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, []string{"member s3 (10.0.0.13): downgrade 3.5.21 → 3.4.34"}},
			},
			preflight: []string{"3/3 members healthy on s1=3.4.34 s2=3.5.21 s3=3.5.21", "auth disabled", "target 3.4.34 >= 3.4.32"},
			stage:     []string{"on s2, s3;"},
			verify:    "verify: all members on 3.4.34, cluster version 3.4.0",
		},
		{
			name: "rolling back a half-done downgrade: the member still on 3.5 is skipped", target: "3.5.21",
			versions: []string{"3.4.34", "3.5.21", "3.5.21"},
			members: map[string]memberWant{
				"s1": {etcdconf.PathUpgrade, "3.4.34", rollback, []string{"member s1 (10.0.0.11): upgrade 3.4.34 → 3.5.21", "-next-cluster-version-compatible"}},
				"s2": {etcdconf.PathNone, "3.5.21", nil, []string{"member s2: already on 3.5.21, skipped"}},
				"s3": {etcdconf.PathNone, "3.5.21", nil, []string{"member s3: already on 3.5.21, skipped"}},
			},
			preflight: []string{"upgrade to 3.5.21"},
			stage:     []string{"on s1;"},
			verify:    "verify: all members on 3.5.21, cluster version 3.5.0",
		},
		{
			name: "patch change with auth enabled: auth only blocks the downgrade", target: "3.5.21",
			versions: []string{"3.5.17", "3.5.17", "3.5.17"},
			setup:    func(o *Observation, _ *Spec) { o.AuthEnabled = true },
			members: map[string]memberWant{
				"s1": {etcdconf.PathPatch, "3.5.17", nil, nil}, "s2": {etcdconf.PathPatch, "3.5.17", nil, nil}, "s3": {etcdconf.PathPatch, "3.5.17", nil, nil},
			},
			verify: "verify: all members on 3.5.21, cluster version 3.5.0",
		},
		{
			name: "upgrade with auth enabled is allowed", target: "3.5.21",
			versions: []string{"3.4.34", "3.4.34", "3.4.34"},
			setup:    func(o *Observation, _ *Spec) { o.AuthEnabled = true },
			members: map[string]memberWant{
				"s1": {etcdconf.PathUpgrade, "3.4.34", rollback, nil}, "s2": {etcdconf.PathUpgrade, "3.4.34", rollback, nil}, "s3": {etcdconf.PathUpgrade, "3.4.34", rollback, nil},
			},
		},
		{
			name: "patch change with a config file that cannot be read: only minor changes rewrite it", target: "3.5.21",
			versions: []string{"3.5.17", "3.5.17", "3.5.17"},
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s2"] = rtMissing()
			},
			members: map[string]memberWant{
				"s1": {etcdconf.PathPatch, "3.5.17", nil, nil}, "s2": {etcdconf.PathPatch, "3.5.17", nil, []string{"settings unchanged"}}, "s3": {etcdconf.PathPatch, "3.5.17", nil, nil},
			},
		},
		{
			name: "URL source, sha256 given, member pause: download step and pause shown", target: "3.4.34",
			versions: []string{"3.5.21", "3.5.21", "3.5.21"},
			setup: func(o *Observation, s *Spec) {
				s.Binary.Source = "https://files.example.internal/etcd-v3.4.34-linux-amd64.tar.gz"
				s.Binary.SHA256 = sourceSum
				s.Health.MemberPause = 30e9
				o.Source = LocalSource{} // Observe leaves it zero for a URL
			},
			members: map[string]memberWant{
				"s1": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, []string{"member s1", "gate:", "; pause 30s"}},
				"s2": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, nil},
				"s3": {etcdconf.PathDowngrade, "3.5.21", downgradeS1S3, nil},
			},
			stage: []string{"download https://files.example.internal/etcd-v3.4.34-linux-amd64.tar.gz", "unpack", "/usr/local/bin/etcd.3.4.34", "sha256 3f4b0d2a9c1e", "`etcd --version` = 3.4.34"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := observation(1, tc.versions...)
			spec := planSpec(t, tc.target, len(tc.versions))
			if tc.setup != nil {
				tc.setup(&obs, &spec)
			}
			plan := mustPlan(t, obs, spec)
			if plan.Blocked != nil {
				t.Errorf("Blocked = %v, want nil: a binary is configured", plan.Blocked)
			}
			var names []string
			for _, m := range plan.Members {
				names = append(names, m.Name)
				want, ok := tc.members[m.Name]
				if !ok {
					t.Errorf("unexpected member %s in plan", m.Name)
					continue
				}
				if m.Path != want.path || m.From.String() != want.from {
					t.Errorf("member %s: path %s from %s, want %s from %s", m.Name, m.Path, m.From, want.path, want.from)
				}
				wantChanges := slices.Clone(want.changes)
				sortChanges(wantChanges)
				if got := changesOf(m.Changes); !slices.Equal(got, wantChanges) {
					t.Errorf("member %s: changes\n got %v\nwant %v", m.Name, got, wantChanges)
				}
				if want.path == etcdconf.PathNone != m.Done() {
					t.Errorf("member %s: Done() = %v", m.Name, m.Done())
				}
				if want.step != nil {
					step, ok := stepWithPrefix(plan.Steps, "member "+m.Name+" ")
					if !ok {
						step, ok = stepWithPrefix(plan.Steps, "member "+m.Name+":")
					}
					if !ok {
						t.Errorf("no step for member %s in %q", m.Name, plan.Steps)
					} else if err := inOrder(step, want.step...); err != nil {
						t.Errorf("member %s step: %v", m.Name, err)
					}
				}
			}
			if !slices.Equal(names, []string{"s1", "s2", "s3"}) {
				t.Errorf("plan members %v, want s1, s2, s3 in name order", names)
			}

			// The fixed skeleton: preflight, snapshot, stage, order, one step
			// per member in name order, verify.
			steps := plan.Steps
			if len(steps) != 4+3+1 {
				t.Fatalf("got %d steps, want preflight, snapshot, stage, order, 3 members, verify:\n%s", len(steps), strings.Join(steps, "\n"))
			}
			if err := inOrder(steps[0], append([]string{"preflight: "}, tc.preflight...)...); err != nil {
				t.Errorf("preflight: %v", err)
			}
			if err := inOrder(steps[1], "snapshot: from the leader to etcd-snapshots/", "sha256 verified", "0600", "before any member stops"); err != nil {
				t.Errorf("snapshot: %v", err)
			}
			if err := inOrder(steps[2], append([]string{"stage: "}, tc.stage...)...); err != nil {
				t.Errorf("stage: %v", err)
			}
			if err := inOrder(steps[3], "order: followers first", "by name", "leading at that moment goes last", "after leadership moves", "already on "+tc.target); err != nil {
				t.Errorf("order: %v", err)
			}
			for i, name := range []string{"s1", "s2", "s3"} {
				if !strings.HasPrefix(steps[4+i], "member "+name) {
					t.Errorf("step %d = %q, want member %s's", 4+i, steps[4+i], name)
				}
			}
			if tc.verify != "" && steps[7] != tc.verify {
				t.Errorf("verify step %q, want %q", steps[7], tc.verify)
			}
		})
	}
}

func TestMakePlanNothingToDo(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		versions := slices.Repeat([]string{"3.4.34"}, n)
		obs := observation(n, versions...)
		obs.Runtimes = nil // Observe reads no config when nothing changes
		for _, binary := range []bool{true, false} {
			spec := planSpec(t, "3.4.34", n)
			if !binary {
				spec.Binary = Binary{} // drift watch only
			}
			plan := mustPlan(t, obs, spec)
			if len(plan.Steps) != 1 || !strings.HasPrefix(plan.Steps[0], "nothing to do") || !strings.Contains(plan.Steps[0], "3.4.34") {
				t.Errorf("%d members, binary %v: steps %q, want one \"nothing to do\" step naming 3.4.34", n, binary, plan.Steps)
			}
			if plan.Blocked != nil {
				t.Errorf("%d members, binary %v: Blocked %v with nothing to do", n, binary, plan.Blocked)
			}
			if len(plan.Pending()) != 0 {
				t.Errorf("Pending() = %v", plan.Pending())
			}
		}
	}
	if NeedsChange(observation(1, "3.4.34", "3.4.34", "3.4.34"), mustVersion(t, "3.4.34")) {
		t.Error("NeedsChange with every member on target")
	}
	if !NeedsChange(observation(1, "3.4.34", "3.4.33", "3.4.34"), mustVersion(t, "3.4.34")) {
		t.Error("NeedsChange false with a member on 3.4.33")
	}
}

// TestMakePlanWithoutBinary: a configuration that only watches for drift
// still gets a plan that shows the drift, marked blocked.
func TestMakePlanWithoutBinary(t *testing.T) {
	for _, tc := range []struct {
		name     string
		target   string
		versions []string
		binary   Binary
	}{
		{"no binary at all, downgrade", "3.4.34", []string{"3.5.21", "3.5.21", "3.5.21"}, Binary{}},
		{"path without source, patch", "3.5.21", []string{"3.5.21", "3.5.17", "3.5.21"}, Binary{Path: "/usr/local/bin/etcd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := observation(2, tc.versions...)
			obs.Source = LocalSource{}
			spec := planSpec(t, tc.target, 3)
			spec.Binary = tc.binary
			plan := mustPlan(t, obs, spec)
			if plan.Blocked == nil {
				t.Fatal("Blocked is nil, want the missing binary reported")
			}
			if plan.Blocked.Attribute != "binary" || !strings.Contains(plan.Blocked.Detail, tc.target) {
				t.Errorf("Blocked = %+v, want attribute binary naming %s", plan.Blocked, tc.target)
			}
			if _, ok := stepWithPrefix(plan.Steps, "stage: blocked"); !ok {
				t.Errorf("no \"stage: blocked\" step in %q", plan.Steps)
			}
			if s, ok := stepWithPrefix(plan.Steps, "stage: "); ok && !strings.HasPrefix(s, "stage: blocked") {
				t.Errorf("a stage step that is not blocked: %q", s)
			}
			if probs := CheckInputs(obs, spec, plan); len(probs) != 0 {
				t.Errorf("CheckInputs = %v; a missing binary goes through Blocked only", probs)
			}
		})
	}
}

type wantProblem struct {
	attr, key string
	phrases   []string
}

func matchProblems(t *testing.T, got []Problem, want []wantProblem) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, p := range got {
			if used[i] || p.Attribute != w.attr || p.MapKey != w.key {
				continue
			}
			ok := true
			for _, ph := range w.phrases {
				if !strings.Contains(p.Summary+": "+p.Detail, ph) {
					ok = false
				}
			}
			if ok {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no problem on %s[%q] with %q in:\n%s", w.attr, w.key, w.phrases, problemList(got))
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %s[%q]: %s", p.Attribute, p.MapKey, p.Error())
		}
	}
}

func problemList(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s[%q] %s\n", p.Attribute, p.MapKey, p.Error())
	}
	return b.String()
}

// handPlan is the per-member plan the transition rules give, for calling
// CheckInputs on its own.
func handPlan(t *testing.T, obs Observation, target etcdconf.Version) *Plan {
	plan := &Plan{}
	for _, m := range obs.Members {
		from := mustVersion(t, m.Version)
		p, err := etcdconf.CheckTransition(from, target)
		if err != nil {
			t.Fatal(err)
		}
		plan.Members = append(plan.Members, MemberPlan{Name: m.Name, From: from, Path: p})
	}
	return plan
}

// TestMakePlanRefusals: every reason design.md gives to refuse, each tied to
// the attribute to fix. `by` says which check must find it: "membership"
// (CheckMembership), "check" (Check) or "inputs" (CheckInputs).
func TestMakePlanRefusals(t *testing.T) {
	downgrade := []string{"3.5.21", "3.5.21", "3.5.21"}
	cases := []struct {
		name     string
		target   string
		versions []string
		setup    func(*Observation, *Spec)
		by       string
		want     []wantProblem
	}{
		{
			name: "downgrade target 3.4.23 is older than 3.4.32", target: "3.4.23", versions: downgrade, by: "check",
			want: []wantProblem{
				{"version", "", []string{`"s1"`, "3.4.32", "next-cluster-version-compatible"}},
				{"version", "", []string{`"s2"`, "3.4.32"}},
				{"version", "", []string{`"s3"`, "3.4.32"}},
			},
		},
		{
			name: "downgrade target 3.4.31, one below the minimum", target: "3.4.31", versions: []string{"3.4.34", "3.5.21", "3.5.21"}, by: "check",
			want: []wantProblem{
				{"version", "", []string{`"s2"`, "3.4.32"}},
				{"version", "", []string{`"s3"`, "3.4.32"}},
			},
		},
		{
			name: "upgrade skipping a minor, 3.4 → 3.6", target: "3.6.5", versions: []string{"3.4.34", "3.4.34", "3.4.34"}, by: "check",
			want: []wantProblem{
				{"version", "", []string{`"s1"`, "skips a minor", "3.5.x"}},
				{"version", "", []string{`"s2"`, "skips a minor"}},
				{"version", "", []string{`"s3"`, "skips a minor"}},
			},
		},
		{
			name: "downgrade skipping a minor, 3.6 → 3.4", target: "3.4.34", versions: []string{"3.6.5", "3.6.5", "3.6.5"}, by: "check",
			want: []wantProblem{
				{"version", "", []string{`"s1"`, "skips a minor"}},
				{"version", "", []string{`"s2"`, "skips a minor"}},
				{"version", "", []string{`"s3"`, "skips a minor"}},
			},
		},
		{
			name: "3.5 before 3.5.26 → 3.6 is refused", target: "3.6.5", versions: []string{"3.5.21", "3.5.21", "3.5.21"}, by: "check",
			want: []wantProblem{
				{"version", "", []string{`"s1"`, "not allowed", "3.4.x"}},
				{"version", "", []string{`"s2"`, "not allowed"}},
				{"version", "", []string{`"s3"`, "not allowed"}},
			},
		},
		{
			name: "auth enabled on a downgrade", target: "3.4.34", versions: downgrade, by: "check",
			setup: func(o *Observation, _ *Spec) { o.AuthEnabled = true },
			want:  []wantProblem{{"version", "", []string{"Auth is enabled", "auth disable", "3.5"}}},
		},
		{
			name: "auth enabled while resuming a downgrade", target: "3.4.34", versions: []string{"3.4.34", "3.4.34", "3.5.21"}, by: "check",
			setup: func(o *Observation, _ *Spec) { o.AuthEnabled = true },
			want:  []wantProblem{{"version", "", []string{"Auth is enabled"}}},
		},
		{
			name: "a learner", target: "3.4.34", versions: downgrade, by: "membership",
			setup: func(o *Observation, _ *Spec) { o.Members[2].IsLearner = true },
			want:  []wantProblem{{"members", "s3", []string{"learner", "member promote a1b2c3d400000003"}}},
		},
		{
			name: "an unstarted member, which has no name", target: "3.4.34", versions: downgrade, by: "membership",
			setup: func(o *Observation, _ *Spec) {
				o.Members = append(o.Members, etcdx.Member{ID: 0x8e9e05c52164694d, PeerURLs: []string{"http://10.0.0.14:2380"},
					Problem: "member has not published a client URL yet (not started?)"})
			},
			want: []wantProblem{{"members", "", []string{"never started", "8e9e05c52164694d", "member remove 8e9e05c52164694d"}}},
		},
		{
			name: "an extra member in the cluster", target: "3.4.34", versions: []string{"3.5.21", "3.5.21", "3.5.21", "3.5.21"}, by: "membership",
			setup: func(o *Observation, s *Spec) { s.Members = s.Members[:3] },
			want:  []wantProblem{{"members", "", []string{`"s4"`, `s4 = { host = "10.0.0.14", client_url = "http://10.0.0.14:2379" }`}}},
		},
		{
			name: "a configured member missing from the cluster", target: "3.4.34", versions: downgrade, by: "membership",
			setup: func(o *Observation, s *Spec) {
				s.Members = append(s.Members, MemberSpec{Name: "s4", Host: "10.0.0.14", ClientURL: "http://10.0.0.14:2379"})
			},
			want: []wantProblem{{"members", "s4", []string{`"s4"`, "s1, s2, s3", "member list"}}},
		},
		{
			name: "a configured name that is not the member's", target: "3.4.34", versions: downgrade, by: "membership",
			setup: func(o *Observation, s *Spec) { s.Members[1].Name = "etcd-2" },
			want: []wantProblem{
				{"members", "", []string{`"s2"`, "not in members"}},
				{"members", "etcd-2", []string{`"etcd-2"`, "no member of that name"}},
			},
		},
		{
			name: "a wrong client URL", target: "3.4.34", versions: downgrade, by: "membership",
			setup: func(o *Observation, s *Spec) { s.Members[1].ClientURL = "http://10.0.0.99:2379" },
			want:  []wantProblem{{"members", "s2", []string{"http://10.0.0.99:2379", "advertises http://10.0.0.12:2379"}}},
		},
		{
			name: "an alarm", target: "3.4.34", versions: downgrade, by: "check",
			setup: func(o *Observation, _ *Spec) { o.Alarms = []string{"NOSPACE on member a1b2c3d400000002"} },
			want:  []wantProblem{{"members", "", []string{"NOSPACE on member a1b2c3d400000002", "disarm"}}},
		},
		{
			name: "a config file that cannot be read on a minor change", target: "3.4.34", versions: downgrade, by: "translate",
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s2"] = rtMissing()
			},
			want: []wantProblem{{"service.config_file", "", []string{`"s2"`, "cannot read /etc/etcd/etcd.env on 10.0.0.12", "EnvironmentFile= of /etc/systemd/system/etcd.service"}}},
		},
		{
			// What discovery reports for a unit systemd shows with no main
			// process: etcd runs under another unit, or outside systemd.
			name: "a unit without a running process", target: "3.4.34", versions: downgrade, by: "translate",
			setup: func(o *Observation, _ *Spec) { o.Runtimes["s2"] = parseDiscovery("etcd", "") },
			want:  []wantProblem{{"service.start_command", "", []string{`"s2"`, "Cannot tell how etcd runs", "no running etcd found for unit etcd", "no MainPID"}}},
		},
		{
			name: "a host unreachable over SSH", target: "3.4.34", versions: downgrade, by: "translate",
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s3"] = Runtime{HostErr: "SSH to 10.0.0.13: dial tcp 10.0.0.13:22: connect: connection refused"}
			},
			want: []wantProblem{{"members", "s3", []string{`"s3"`, "SSH to 10.0.0.13", "connection refused"}}},
		},
		{
			name: "a host unreachable over SSH on a patch change", target: "3.5.21", versions: []string{"3.5.17", "3.5.17", "3.5.17"}, by: "translate",
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s1"] = Runtime{HostErr: "SSH to 10.0.0.11: ssh: handshake failed: knownhosts: key mismatch"}
			},
			want: []wantProblem{{"members", "s1", []string{"knownhosts: key mismatch"}}},
		},
		{
			name: "binary.source not readable", target: "3.4.34", versions: downgrade, by: "inputs",
			setup: func(o *Observation, _ *Spec) {
				o.Source = LocalSource{Checked: true, Err: `binary.source "/srv/etcd/v3.4.34/etcd": open /srv/etcd/v3.4.34/etcd: no such file or directory`}
			},
			want: []wantProblem{{"binary.source", "", []string{"no such file or directory", "3.4.34"}}},
		},
		{
			name: "binary.sha256 does not match the source", target: "3.4.34", versions: downgrade, by: "inputs",
			setup: func(o *Observation, s *Spec) {
				s.Binary.SHA256 = strings.Repeat("ab", 32)
			},
			want: []wantProblem{{"binary.sha256", "", []string{sourceSum, strings.Repeat("ab", 32)}}},
		},
		{
			name: "a YAML config file named by ETCD_CONFIG_FILE that cannot be read", target: "3.4.34", versions: downgrade, by: "translate",
			setup: func(o *Observation, _ *Spec) {
				o.Runtimes["s1"] = rtConfig("ETCD_CONFIG_FILE=/etc/etcd/etcd.yml\n")
			},
			want: []wantProblem{{"service.config_file", "", []string{`"s1"`, "--config-file or ETCD_CONFIG_FILE", "cannot read /etc/etcd/etcd.yml"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := observation(1, tc.versions...)
			spec := planSpec(t, tc.target, len(tc.versions))
			if tc.setup != nil {
				tc.setup(&obs, &spec)
			}
			plan, probs := MakePlan(obs, spec)
			if plan != nil {
				t.Errorf("MakePlan made a plan: %q", plan.Steps)
			}
			matchProblems(t, probs, tc.want)

			switch tc.by {
			case "membership":
				matchProblems(t, CheckMembership(obs, spec), tc.want)
			case "check":
				if got := CheckMembership(obs, spec); len(got) != 0 {
					t.Errorf("CheckMembership reports %v", got)
				}
				matchProblems(t, Check(obs, spec), tc.want)
			case "inputs", "translate":
				if got := Check(obs, spec); len(got) != 0 {
					t.Errorf("Check reports %v; the cluster itself is fine", got)
				}
				if tc.by == "inputs" {
					matchProblems(t, CheckInputs(obs, spec, handPlan(t, obs, spec.Target)), tc.want)
				}
			default:
				t.Fatalf("bad by %q", tc.by)
			}
		})
	}
}

// TestCheckInputsOnlyForPendingMembers: inputs of members already on the
// target do not matter, and nothing matters when nothing changes.
func TestCheckInputsOnlyForPendingMembers(t *testing.T) {
	spec := planSpec(t, "3.4.34", 3)
	obs := observation(1, "3.4.34", "3.4.34", "3.4.34")
	obs.Runtimes = map[string]Runtime{"s1": {HostErr: "SSH to 10.0.0.11: timeout"}, "s2": rtMissing()}
	obs.Source = LocalSource{Checked: true, Err: "gone"}
	if probs := CheckInputs(obs, spec, handPlan(t, obs, spec.Target)); len(probs) != 0 {
		t.Errorf("nothing to do, yet CheckInputs = %v", probs)
	}

	obs = observation(1, "3.4.34", "3.5.21", "3.4.34")
	obs.Runtimes["s1"] = Runtime{HostErr: "SSH to 10.0.0.11: timeout"}
	obs.Runtimes["s3"] = rtMissing()
	if probs := CheckInputs(obs, spec, handPlan(t, obs, spec.Target)); len(probs) != 0 {
		t.Errorf("only s2 changes, yet CheckInputs = %v", probs)
	}
}

// TestMakePlanUnsortedObservation: steps come in name order whatever order
// the members were listed in.
func TestMakePlanUnsortedObservation(t *testing.T) {
	spec := planSpec(t, "3.4.34", 3)
	sorted := observation(2, "3.5.21", "3.5.21", "3.5.21")
	shuffled := sorted
	shuffled.Members = []etcdx.Member{sorted.Members[2], sorted.Members[0], sorted.Members[1]}
	a, b := mustPlan(t, sorted, spec), mustPlan(t, shuffled, spec)
	if !slices.Equal(a.Steps, b.Steps) {
		t.Errorf("steps depend on listing order:\n%s\n---\n%s", strings.Join(a.Steps, "\n"), strings.Join(b.Steps, "\n"))
	}
}

// TestStepsDoNotDependOnLeader: leadership may move between plan and apply,
// and apply compares the steps, so they must not say who leads.
func TestStepsDoNotDependOnLeader(t *testing.T) {
	for _, tc := range []struct {
		target   string
		versions []string
	}{
		{"3.4.34", []string{"3.5.21", "3.5.21", "3.5.21"}},
		{"3.5.21", []string{"3.4.34", "3.4.34", "3.4.34", "3.4.34", "3.4.34"}},
		{"3.5.21", []string{"3.5.17", "3.5.21", "3.5.17"}},
		{"3.4.34", []string{"3.4.34", "3.5.21", "3.5.21"}},
	} {
		spec := planSpec(t, tc.target, len(tc.versions))
		var first []string
		for leader := 0; leader <= len(tc.versions); leader++ { // 0: no leader reported
			obs := observation(leader, tc.versions...)
			for i := range obs.Members {
				// A new leader also comes with its own term and indexes.
				obs.Members[i].RaftTerm += uint64(leader)
				obs.Members[i].RaftIndex += uint64(100 * leader)
			}
			plan := mustPlan(t, obs, spec)
			if leader == 0 {
				first = plan.Steps
				continue
			}
			if !slices.Equal(plan.Steps, first) {
				t.Errorf("%v → %s: steps with s%d leading differ from steps with no leader:\n%s\n---\n%s",
					tc.versions, tc.target, leader, strings.Join(plan.Steps, "\n"), strings.Join(first, "\n"))
			}
			for _, s := range plan.Steps {
				if strings.Contains(s, "leader at plan time") || strings.Contains(s, fmt.Sprintf("s%d (leader", leader)) {
					t.Errorf("step names the plan-time leader: %q", s)
				}
			}
		}
	}
}

// TestMakePlanRefusesClustersTooSmallToKeepQuorum: design.md promises a
// zero-downtime rolling replacement that "keeps quorum throughout". With one
// member there is nothing to hand leadership to and stopping it is an
// outage; with two, quorum is two, so stopping either loses it.
func TestMakePlanRefusesClustersTooSmallToKeepQuorum(t *testing.T) {
	for _, versions := range [][]string{{"3.5.21"}, {"3.5.21", "3.5.21"}} {
		spec := planSpec(t, "3.4.34", len(versions))
		plan, probs := MakePlan(observation(1, versions...), spec)
		if plan != nil || len(probs) == 0 {
			t.Errorf("%d members: MakePlan made a plan, want a refusal on members", len(versions))
			continue
		}
		if probs[0].Attribute != "members" || !strings.Contains(probs[0].Detail, "quorum") {
			t.Errorf("%d members: problem %+v, want one on members explaining quorum", len(versions), probs[0])
		}
	}
}

func TestMixedVersions(t *testing.T) {
	for _, tc := range []struct {
		members []etcdx.Member
		want    string
	}{
		{[]etcdx.Member{liveMember(1, "3.5.21", true), liveMember(2, "3.5.21", false)}, "3.5.21"},
		{[]etcdx.Member{liveMember(3, "3.5.21", true), liveMember(1, "3.4.34", false), liveMember(2, "3.5.21", false)}, "s1=3.4.34 s2=3.5.21 s3=3.5.21"},
		{[]etcdx.Member{liveMember(1, "3.5.21", true), liveMember(2, "", false)}, "s1=3.5.21 s2=unreachable"},
		{[]etcdx.Member{liveMember(1, "", true), liveMember(2, "", false)}, "s1=unreachable s2=unreachable"},
	} {
		if got := MixedVersions(tc.members); got != tc.want {
			t.Errorf("MixedVersions = %q, want %q", got, tc.want)
		}
	}
}

// TestBlockedPlanNamesNoEmptyPaths: without binary.path the member steps
// must not show paths built from an empty path (".3.5.21").
func TestBlockedPlanNamesNoEmptyPaths(t *testing.T) {
	spec := planSpec(t, "3.4.34", 3)
	spec.Binary = Binary{}
	plan := mustPlan(t, observation(1, "3.5.21", "3.5.21", "3.5.21"), spec)
	for _, s := range plan.Steps {
		if strings.Contains(s, " .3.5.21") || strings.Contains(s, " .3.4.34") {
			t.Errorf("step shows a path built from an empty binary.path: %q", s)
		}
	}
}

// TestMakePlanWithMembersDown: with a member down the plan is still made,
// so that Terraform keeps planning during an incident, but it is blocked:
// Check refuses (apply runs it again), each member is named in a warning,
// and the steps hold no error text, so the plan made again at apply time
// matches while the same members are down.
func TestMakePlanWithMembersDown(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		versions     []string
		setup        func(o *Observation)
		member, want string
	}{
		{"an unreachable member, no version change", "3.5.21", []string{"3.5.21", "3.5.21", "3.5.21"},
			func(o *Observation) {
				o.Members[2].Healthy, o.Members[2].Reachable, o.Members[2].Version = false, false, ""
				o.Members[2].Problem = "status from http://10.0.0.13:2379: connection refused"
			}, "s3", "connection refused"},
		{"an unreachable member during a downgrade", "3.4.34", []string{"3.5.21", "3.5.21", "3.5.21"},
			func(o *Observation) {
				o.Members[1].Healthy, o.Members[1].Reachable, o.Members[1].Version = false, false, ""
				o.Members[1].Problem = "status from http://10.0.0.12:2379: context deadline exceeded"
			}, "s2", "context deadline exceeded"},
		{"a member without quorum, on a patch change", "3.5.21", []string{"3.5.17", "3.5.17", "3.5.17"},
			func(o *Observation) {
				o.Members[2].Healthy = false
				o.Members[2].Problem = "linearizable read through http://10.0.0.13:2379: etcdserver: request timed out"
			}, "s3", "request timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := observation(1, tc.versions...)
			spec := planSpec(t, tc.target, len(tc.versions))
			tc.setup(&obs)
			plan, probs := MakePlan(obs, spec)
			if len(probs) > 0 || plan == nil {
				t.Fatalf("MakePlan refused: %v", probs)
			}
			if plan.Blocked == nil || !strings.Contains(plan.Blocked.Summary, tc.member) {
				t.Errorf("plan not blocked on %s: %+v", tc.member, plan.Blocked)
			}
			matchProblems(t, plan.Warnings, []wantProblem{{"members", tc.member, []string{`"` + tc.member + `"`, tc.want, "quorum", "apply refuses"}}})
			matchProblems(t, Check(obs, spec), []wantProblem{{"members", tc.member, []string{tc.want}}})
			for _, step := range plan.Steps {
				if strings.Contains(step, tc.want) {
					t.Errorf("step %q holds the member's error, which may read differently at apply time", step)
				}
			}
			if !strings.HasPrefix(plan.Steps[0], "preflight: blocked: "+tc.member+" not healthy") {
				t.Errorf("first step %q", plan.Steps[0])
			}
		})
	}
}

// TestMakePlanFailsClosed: a pre-flight check that cannot be answered
// refuses the plan, naming the check.
func TestMakePlanFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(o *Observation)
		want  []string
	}{
		{"alarms cannot be listed", func(o *Observation) {
			o.AlarmErr = "alarm list: etcdserver: permission denied (with auth enabled this needs the root role)"
		}, []string{"Cannot check alarms", "permission denied", "root role"}},
		{"the user lacks the root role", func(o *Observation) {
			o.AdminErr = &etcdx.PermissionError{User: "deploy", Roles: []string{"readwrite"}}
		}, []string{"Missing permission", `user "deploy" has roles readwrite, not root`, "snapshot", "move-leader", "downgrade API", "etcdctl user grant-role deploy root"}},
		{"auth is on and no username is set", func(o *Observation) {
			o.AdminErr = &etcdx.PermissionError{}
		}, []string{"Missing permission", "no username"}},
		{"the permission check cannot be answered", func(o *Observation) {
			o.AdminErr = errors.New("checking the user's permissions (role list): context deadline exceeded")
		}, []string{"Cannot check permissions", "context deadline exceeded"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := observation(1, "3.5.21", "3.5.21", "3.5.21")
			spec := planSpec(t, "3.5.16", 3)
			tc.setup(&obs)
			plan, probs := MakePlan(obs, spec)
			if plan != nil {
				t.Fatalf("MakePlan made a plan: %q", plan.Steps)
			}
			var all []string
			for _, p := range probs {
				all = append(all, p.Summary+": "+p.Detail)
			}
			for _, w := range tc.want {
				if !strings.Contains(strings.Join(all, "\n"), w) {
					t.Errorf("no %q in %q", w, all)
				}
			}
		})
	}
}
