package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// TestPlanHost: what discovery saw on a member's host decides the files its
// change touches, and every reason it must not start. Each case is one way
// a real host differs from the plain one (rtConfig).
func TestPlanHost(t *testing.T) {
	hardway := func() Runtime {
		rt := rtConfig("")
		rt.EnvFiles = nil
		delete(rt.Files, rtEnvFile)
		rt.Args = []string{"--name", "s1", "--data-dir=/var/lib/etcd", "--socket-reuse-port=true"}
		unit := "[Unit]\nDescription=etcd\n\n[Service]\nType=notify\nExecStart=/usr/local/bin/etcd \\\n  --name s1 \\\n  --data-dir=/var/lib/etcd \\\n  --socket-reuse-port=true\nRestart=on-failure\n"
		rt.Files[rtUnit] = FileMeta{Path: rtUnit, Resolved: rtUnit, Type: "regular file", Owner: "root", Group: "root", Mode: "644", Content: []byte(unit)}
		return rt
	}
	for _, tc := range []struct {
		name     string
		from, to string
		rt       func() Runtime
		spec     func(*Spec)
		problem  []string // attribute, then phrases of one problem's detail
		warning  []string
		check    func(t *testing.T, mp MemberPlan)
	}{
		{name: "a wrapper script in ExecStart", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.Wrapper = "/usr/local/bin/etcd-wrapper"; return rt },
			problem: []string{"binary.path", "/usr/local/bin/etcd-wrapper", "runs /usr/local/bin/etcd"}},
		{name: "a binary owned by a package", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.PackageOwner = "etcd-server"; return rt },
			problem: []string{"binary.replace_packaged", "etcd-server", "package upgrade"}},
		{name: "a binary owned by a package, accepted", from: "3.5.17", to: "3.5.21",
			rt:   func() Runtime { rt := rtConfig(env35(1)); rt.PackageOwner = "etcd-server"; return rt },
			spec: func(s *Spec) { s.Binary.ReplacePackaged = true }},
		{name: "the host runs another member", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.Env["ETCD_NAME"] = "s2"; return rt },
			problem: []string{"members", `runs as member "s2", not "s1"`}},
		{name: "binary.path is not what the unit starts", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { return rtConfig(env35(1)) },
			spec:    func(s *Spec) { s.Binary.Path = "/usr/bin/etcd" },
			problem: []string{"binary.path", `"/usr/bin/etcd"`, `"/usr/local/bin/etcd"`}},
		{name: "service.config_file is not what the unit reads", from: "3.5.21", to: "3.4.34",
			rt:      func() Runtime { return rtConfig(env35(1)) },
			spec:    func(s *Spec) { s.Service.ConfigFile = "/etc/default/etcd" },
			problem: []string{"service.config_file", `"/etc/default/etcd"`, "/etc/etcd/etcd.env"}},
		{name: "a notify unit with a start timeout shorter than health.timeout", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.TimeoutStart = 90 * time.Second; return rt },
			warning: []string{"health.timeout", "TimeoutStartSec=1m30s", "5m0s"}},
		{name: "another unit runs the same binary", from: "3.5.17", to: "3.5.21",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.OtherUnits = []string{"etcd-events.service"}; return rt },
			warning: []string{"binary.path", "etcd-events.service", "3.5.21"}},
		{name: "a 3.5-only variable set by the unit's Environment=", from: "3.5.21", to: "3.4.34",
			rt: func() Runtime {
				rt := rtConfig(env35(1))
				rt.UnitEnv = map[string]string{"ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES": "5000"}
				return rt
			},
			problem: []string{"service.config_file", "experimental-snapshot-catchup-entries", "Environment="}},
		{name: "the process still has a variable since removed from its file: not a unit setting", from: "3.4.23", to: "3.5.21",
			rt: func() Runtime {
				rt := rtConfig(env34(1))
				rt.Env["ETCD_SOCKET_REUSE_PORT"] = "notabool"
				rt.UnitEnv = map[string]string{"ETCD_NAME": "%H"}
				return rt
			}},
		{name: "a symlinked binary is pointed at the new version", from: "3.5.17", to: "3.5.21",
			rt: func() Runtime {
				rt := rtConfig(env35(1))
				rt.Files[rtBinary] = FileMeta{Path: rtBinary, Symlink: true, LinkTarget: "/opt/etcd-3.5.17/etcd", Resolved: "/opt/etcd-3.5.17/etcd", Type: "regular file", Owner: "root", Group: "root", Mode: "755"}
				return rt
			},
			check: func(t *testing.T, mp MemberPlan) {
				if b := mp.Binary; !b.Symlink || b.OldTarget != "/opt/etcd-3.5.17/etcd" || b.NewTarget != "/opt/etcd-3.5.21/etcd" || b.Kept != "" {
					t.Errorf("binary plan %+v, want the link pointed from /opt/etcd-3.5.17/etcd to /opt/etcd-3.5.21/etcd", b)
				}
			}},
		{name: "a symlinked settings file is written through its link", from: "3.5.21", to: "3.4.34",
			rt: func() Runtime {
				rt := rtConfig(env35(1))
				fm := rt.Files[rtEnvFile]
				fm.Symlink, fm.LinkTarget, fm.Resolved = true, "etcd.env.d/s1.env", "/etc/etcd/etcd.env.d/s1.env"
				rt.Files[rtEnvFile] = fm
				return rt
			},
			check: func(t *testing.T, mp MemberPlan) {
				if len(mp.Configs) != 1 || mp.Configs[0].Real != "/etc/etcd/etcd.env.d/s1.env" || mp.Configs[0].Backup != "/etc/etcd/etcd.env.d/s1.env.3.5.21" {
					t.Errorf("config edits %+v, want one through the link, backed up beside its target", mp.Configs)
				}
			}},
		{name: "every setting on the command line: ExecStart= is rewritten", from: "3.5.21", to: "3.4.34", rt: hardway,
			check: func(t *testing.T, mp MemberPlan) {
				if len(mp.Configs) != 1 || !mp.Configs[0].Unit || mp.Configs[0].Path != rtUnit {
					t.Fatalf("config edits %+v, want one of the unit file", mp.Configs)
				}
				got := string(mp.Configs[0].New)
				for _, want := range []string{"[Unit]\nDescription=etcd\n", "ExecStart=/usr/local/bin/etcd \\\n  --name s1 \\\n  --data-dir=/var/lib/etcd", "--next-cluster-version-compatible", "Restart=on-failure\n"} {
					if !strings.Contains(got, want) {
						t.Errorf("rewritten unit lacks %q:\n%s", want, got)
					}
				}
				if strings.Contains(got, "socket-reuse-port") {
					t.Errorf("rewritten unit keeps the 3.5-only --socket-reuse-port:\n%s", got)
				}
				if l := mp.Configs[0].Lines["socket-reuse-port"]; l != 9 {
					t.Errorf("socket-reuse-port is on line %d of the unit, want 9", l)
				}
			}},
		{name: "flags beside a settings file that must change", from: "3.5.21", to: "3.4.34",
			rt:      func() Runtime { rt := rtConfig(env35(1)); rt.Args = []string{"--socket-reuse-port=true"}; return rt },
			problem: []string{"service.config_file", "ExecStart of /etc/systemd/system/etcd.service", "-socket-reuse-port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := planSpec(t, tc.to, 1)
			if tc.spec != nil {
				tc.spec(&spec)
			}
			from := mustVersion(t, tc.from)
			path, err := etcdconf.CheckTransition(from, spec.Target)
			if err != nil {
				t.Fatal(err)
			}
			mp := MemberPlan{Name: "s1", From: from, Path: path}
			probs, warns := planHost(&mp, tc.rt(), spec)
			expectOne(t, "problem", probs, tc.problem)
			expectOne(t, "warning", warns, tc.warning)
			if tc.check != nil {
				tc.check(t, mp)
			}
		})
	}
}

// expectOne checks that list holds exactly the problem want describes
// (attribute, then phrases of its detail), or nothing when want is nil.
func expectOne(t *testing.T, what string, list []Problem, want []string) {
	t.Helper()
	if want == nil {
		for _, p := range list {
			t.Errorf("unexpected %s on %s: %s", what, p.Attribute, p.Error())
		}
		return
	}
	if len(list) != 1 {
		t.Fatalf("%d %ss, want one on %s: %v", len(list), what, want[0], list)
	}
	if list[0].Attribute != want[0] {
		t.Errorf("%s on %s, want %s: %s", what, list[0].Attribute, want[0], list[0].Error())
	}
	for _, phrase := range want[1:] {
		if !strings.Contains(list[0].Detail, phrase) {
			t.Errorf("%s detail lacks %q: %s", what, phrase, list[0].Detail)
		}
	}
}
