package testhosts

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// sshAs runs command on h as user with the system ssh client, like sshRun.
func sshAs(ctx context.Context, s *Sandbox, h *Host, user, command string) (string, error) {
	cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null",
		"-i", s.PrivateKeyFile,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+s.KnownHostsFile,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=5",
		"-o", "LogLevel=ERROR",
		user+"@"+h.Addr, command)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// wantFile is what the shape table promises about one path.
type wantFile struct {
	path, owner string // owner "user:group"
	mode        os.FileMode
	link        string // the symlink's target, "" for a plain file
}

// The expectations are the shape table of Options.Shape, written out again
// here rather than read from the code under test.
var shapeWants = map[string]struct {
	binary, unit, config, runUser, execStart string
	files                                    []wantFile
}{
	ShapeDefault: {
		binary: "/usr/local/bin/etcd", unit: "/etc/systemd/system/etcd.service", config: "/etc/etcd/etcd.env", runUser: "root",
		execStart: "/usr/local/bin/etcd",
		files: []wantFile{
			{path: "/usr/local/bin/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/etcd/etcd.env", owner: "root:root", mode: 0o644},
		},
	},
	ShapeKubespray: {
		binary: "/usr/local/bin/etcd", unit: "/etc/systemd/system/etcd.service", config: "/etc/etcd.env", runUser: "root",
		execStart: "/usr/local/bin/etcd",
		files: []wantFile{
			{path: "/usr/local/bin/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/etcd.env", owner: "root:root", mode: 0o640},
		},
	},
	ShapeRPM: {
		binary: "/usr/bin/etcd", unit: "/usr/lib/systemd/system/etcd.service", config: "/etc/etcd/etcd.conf", runUser: "etcd",
		execStart: "/usr/bin/etcd",
		files: []wantFile{
			{path: "/usr/bin/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/etcd/etcd.conf", owner: "root:etcd", mode: 0o640},
			{path: "/var/lib/etcd/data", owner: "etcd:etcd", mode: 0o700 | os.ModeDir},
		},
	},
	ShapeDebian: {
		binary: "/usr/bin/etcd", unit: "/lib/systemd/system/etcd.service", config: "/etc/default/etcd", runUser: "etcd",
		execStart: "/usr/bin/etcd $DAEMON_ARGS",
		files: []wantFile{
			{path: "/usr/bin/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/default/etcd", owner: "root:root", mode: 0o644},
		},
	},
	ShapePercona: {
		binary: "/usr/bin/etcd", unit: "/etc/systemd/system/etcd.service", config: "/etc/etcd/etcd.conf.yaml", runUser: "etcd",
		execStart: "/usr/bin/etcd --config-file /etc/etcd/etcd.conf.yaml",
		files: []wantFile{
			{path: "/usr/bin/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/etcd/etcd.conf.yaml", owner: "etcd:etcd", mode: 0o640},
		},
	},
	ShapeHardway: {
		binary: "/usr/local/bin/etcd", unit: "/etc/systemd/system/etcd.service", config: "", runUser: "root",
		execStart: "/usr/local/bin/etcd --name s1 --data-dir /var/lib/etcd/data ",
		files: []wantFile{
			{path: "/usr/local/bin/etcd", owner: "root:root", mode: 0o755},
		},
	},
	ShapeSymlink: {
		binary: "/usr/local/bin/etcd", unit: "/etc/systemd/system/etcd.service", config: "/etc/etcd/etcd.env", runUser: "etcd",
		execStart: "/usr/local/bin/etcd",
		files: []wantFile{
			{path: "/usr/local/bin/etcd", owner: "root:root", mode: 0o777 | os.ModeSymlink, link: "/opt/etcd-3.5.21/etcd"},
			{path: "/opt/etcd-3.5.21/etcd", owner: "root:root", mode: 0o755},
			{path: "/etc/etcd/etcd.env", owner: "etcd:etcd", mode: 0o640},
		},
	},
}

// Every shape: a healthy cluster, a unit systemctl show reads as systemd
// would, etcd running as the unit's user, and the files of the table.
func TestShapes(t *testing.T) {
	t.Parallel()
	needSSHClient(t)
	for _, shape := range Shapes {
		name := shape
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := shapeWants[shape]
			s := ForTest(t, Options{Members: 2, Shape: shape})
			ctx := testContext(t)
			if s.Shape != shape || s.BinaryPath != want.binary || s.UnitFile != want.unit || s.ConfigFile() != want.config || s.RunUser != want.runUser || s.SudoUser != "deploy" {
				t.Errorf("Sandbox: shape %q binary %s unit %s config %q run user %s sudo user %s", s.Shape, s.BinaryPath, s.UnitFile, s.ConfigFile(), s.RunUser, s.SudoUser)
			}
			h := s.Hosts[0]

			out, err := sshRun(ctx, s, h, "systemctl show etcd -p ExecStart -p User -p Type")
			if err != nil {
				t.Fatalf("systemctl show: %v: %s", err, out)
			}
			user := want.runUser
			if shape == ShapeDefault || shape == ShapeHardway {
				user = "" // no User= in the unit
			}
			lines := strings.Split(out, "\n")
			if len(lines) != 4 || lines[0] != "Type=notify" || lines[2] != "User="+user || lines[3] != "" ||
				!strings.HasPrefix(lines[1], "ExecStart={ path="+want.binary+" ; argv[]="+want.execStart) ||
				!strings.Contains(lines[1], " ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=") {
				t.Errorf("systemctl show etcd -p ExecStart -p User -p Type:\n%s", out)
			}
			// Debian 12's systemd, which the stand-in follows, finds units of
			// /usr/lib/systemd/system through /lib first.
			fragment := strings.Replace(want.unit, "/usr/lib/", "/lib/", 1)
			out, err = sshRun(ctx, s, h, "systemctl show etcd --property=FragmentPath,ActiveState,SubState,MainPID --value")
			if f := strings.Fields(out); err != nil || len(f) != 4 || f[0] == "0" || f[1] != "active" || f[2] != "running" || f[3] != fragment {
				t.Errorf("systemctl show --value: %v:\n%s", err, out)
			}

			// etcd runs as the unit's user, every one of its uids.
			out, err = h.Exec(ctx, `set -e; u=$(id -u `+want.runUser+`); echo $u; sed -n 's/^Uid:[[:space:]]*//p' /proc/$(cat /var/lib/etcd/etcd.pid)/status`)
			if f := strings.Fields(out); err != nil || len(f) != 5 || f[1] != f[0] || f[2] != f[0] || f[3] != f[0] || f[4] != f[0] {
				t.Errorf("etcd's uids (want all %s's): %v: %q", want.runUser, err, out)
			}

			for _, w := range append(want.files, wantFile{path: want.unit, owner: "root:root", mode: 0o644}) {
				fi, err := h.Stat(ctx, w.path)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				if fi.User+":"+fi.Group != w.owner || fi.Mode != w.mode || fi.LinkTarget != w.link {
					t.Errorf("%s: %s:%s %v -> %q; want %s %v -> %q", w.path, fi.User, fi.Group, fi.Mode, fi.LinkTarget, w.owner, w.mode, w.link)
				}
			}
			if shape == ShapeSymlink {
				// The link and its target have the same content.
				link, err1 := h.Stat(ctx, "/usr/local/bin/etcd")
				file, err2 := h.Stat(ctx, "/opt/etcd-3.5.21/etcd")
				if err1 != nil || err2 != nil || link.SHA256 == "" || link.SHA256 != file.SHA256 {
					t.Errorf("link digest %q, file digest %q: %v %v", link.SHA256, file.SHA256, err1, err2)
				}
			}
			if shape == ShapeDebian {
				if out, err := sshRun(ctx, s, h, "dpkg -S /usr/bin/etcd; dpkg-query -W -f '${Status}\\n' etcd-server"); err != nil || out != "etcd-server: /usr/bin/etcd\ninstall ok installed\n" {
					t.Errorf("dpkg on the host: %v: %q", err, out)
				}
			}
			// Nothing reached this machine's own directories.
			for _, p := range []string{want.unit, want.config, "/etc/sudoers.d/deploy", "/opt/etcd-3.5.21"} {
				if _, err := os.Lstat(p); p != "" && p != "/etc/etcd/etcd.env" && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s exists on this machine: %v", p, err)
				}
			}
		})
	}
}

// ConfigSymlink: the config file is a link into a directory of its own, and
// the service still reads the settings through it.
func TestConfigSymlink(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{Members: 1, Shape: ShapeSymlink, ConfigSymlink: true})
	ctx := testContext(t)
	if s.ConfigTarget != "/etc/etcd/etcd.env.d/etcd.env" {
		t.Errorf("ConfigTarget %q", s.ConfigTarget)
	}
	h := s.Hosts[0]
	link, err := h.Stat(ctx, s.ConfigFile())
	if err != nil || !link.IsSymlink || link.LinkTarget != s.ConfigTarget {
		t.Errorf("%s: %+v, %v", s.ConfigFile(), link, err)
	}
	file, err := h.Stat(ctx, s.ConfigTarget)
	if err != nil || file.IsSymlink || file.User != "etcd" || file.Group != "etcd" || file.Mode != 0o640 || file.SHA256 != link.SHA256 {
		t.Errorf("%s: %+v, %v", s.ConfigTarget, file, err)
	}
}

// The debian shape's unit splits $DAEMON_ARGS into arguments, and reads
// ETCD_* settings from /etc/default/etcd into etcd's environment.
func TestDebianDaemonArgs(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{Members: 1, Shape: ShapeDebian, DaemonArgs: "--snapshot-count 5000  --log-level info"})
	ctx := testContext(t)
	h := s.Hosts[0]
	out, err := h.Exec(ctx, `p=$(cat /var/lib/etcd/etcd.pid); tr '\0' ' ' </proc/$p/cmdline; echo; tr '\0' '\n' </proc/$p/environ | sort`)
	if err != nil {
		t.Fatal(err)
	}
	cmdline, env, _ := strings.Cut(out, "\n")
	if cmdline != "/usr/bin/etcd --snapshot-count 5000 --log-level info " {
		t.Errorf("etcd's command line %q", cmdline)
	}
	// systemd's environment for User=etcd, the unit's Environment= and the
	// file's settings, which win; nothing else.
	for _, kv := range []string{"ETCD_NAME=s1", "ETCD_DATA_DIR=" + DataDir, "DAEMON_ARGS=--snapshot-count 5000  --log-level info",
		"HOME=/var/lib/etcd", "USER=etcd", "LOGNAME=etcd", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"} {
		if !strings.Contains("\n"+env, "\n"+kv+"\n") {
			t.Errorf("etcd's environment lacks %s:\n%s", kv, env)
		}
	}
	if strings.Contains(env, "SSH_") || strings.Contains(env, "LANG=") {
		t.Errorf("etcd's environment is not clean:\n%s", env)
	}
	out, err = h.Exec(ctx, "systemctl show etcd -p EnvironmentFiles -p Environment -p TimeoutStartUSec -p TimeoutStopUSec -p Restart")
	want := "Restart=on-abnormal\nTimeoutStartUSec=1min 30s\nTimeoutStopUSec=1min 30s\nEnvironment=DAEMON_ARGS= ETCD_NAME=%H ETCD_DATA_DIR=/var/lib/etcd/default\nEnvironmentFiles=/etc/default/etcd (ignore_errors=yes)\n"
	host, _ := os.Hostname()
	want = strings.Replace(want, "%H", host, 1)
	if err != nil || out != want {
		t.Errorf("systemctl show: %v:\n%s\nwant:\n%s", err, out, want)
	}
}

// Type=simple: start returns at the fork, before etcd is ready.
func TestUnitTypeSimple(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{Members: 1, Shape: ShapeRPM, UnitType: "simple"})
	ctx := testContext(t)
	h := s.Hosts[0]
	out, err := h.Exec(ctx, `systemctl show etcd -P Type
systemctl stop etcd
n=$(wc -c </var/lib/etcd/etcd.log)
systemctl start etcd
tail -c +$((n + 1)) /var/lib/etcd/etcd.log | grep -c 'ready to serve client requests'
systemctl is-active etcd`)
	if out != "simple\n0\nactive\n" {
		t.Errorf("start of a Type=simple unit: %v: %q, want it back before etcd is ready", err, out)
	}
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// The start limit: after five failed starts within the interval the sixth
// is refused as systemd refuses it, until reset-failed.
func TestStartLimit(t *testing.T) {
	t.Parallel()
	s := ForTest(t, Options{Members: 1})
	ctx := testContext(t)
	h := s.Hosts[0]
	out, err := h.Exec(ctx, "systemctl show etcd -p StartLimitIntervalUSec -p StartLimitBurst")
	if err != nil || out != "StartLimitIntervalUSec=10s\nStartLimitBurst=5\n" {
		t.Errorf("systemd's default start limit: %v: %q", err, out)
	}
	// Five starts in 10 s are not certain on a busy machine, so a drop-in
	// widens the interval, as an operator's would. The sandbox's own start
	// counted too: start from a clean slate.
	if out, err := h.Exec(ctx, `set -e
mkdir -p /etc/systemd/system/etcd.service.d
printf '[Unit]\nStartLimitIntervalSec=2min\n' >/etc/systemd/system/etcd.service.d/limit.conf
systemctl daemon-reload
systemctl stop etcd
systemctl reset-failed etcd
cp /etc/etcd/etcd.env /etc/etcd/etcd.env.good
echo ETCD_SNAPSHOT_COUNT=many >>/etc/etcd/etcd.env
systemctl show etcd -p StartLimitIntervalUSec -p DropInPaths`); err != nil || out != "DropInPaths=/etc/systemd/system/etcd.service.d/limit.conf\nStartLimitIntervalUSec=2min\n" {
		t.Fatalf("%v: %q", err, out)
	}
	for i := 1; i <= 5; i++ {
		out, err := h.Exec(ctx, "systemctl start etcd")
		if err == nil || !strings.Contains(out, "Job for etcd.service failed because the control process exited with error code.") {
			t.Fatalf("start %d with a bad setting: %v: %s", i, err, out)
		}
	}
	out, err = h.Exec(ctx, "systemctl is-failed etcd")
	if err != nil || out != "failed\n" {
		t.Errorf("is-failed after a failed start: %v: %q", err, out)
	}
	if _, err := h.Exec(ctx, "cp /etc/etcd/etcd.env.good /etc/etcd/etcd.env"); err != nil {
		t.Fatal(err)
	}
	out, err = h.Exec(ctx, "systemctl start etcd")
	if err == nil || !strings.Contains(out, "Job for etcd.service failed because start of the service was attempted too often.") {
		t.Errorf("sixth start: %v: %s", err, out)
	}
	out, err = h.Exec(ctx, "systemctl show etcd -p ActiveState -p Result; journalctl -u etcd | grep -c 'Start request repeated too quickly'")
	if err != nil || out != "Result=start-limit-hit\nActiveState=failed\n1\n" {
		t.Errorf("after the start limit: %v: %q", err, out)
	}
	if out, err := h.Exec(ctx, "systemctl reset-failed etcd && systemctl is-failed etcd; systemctl start etcd && systemctl is-active etcd"); err != nil || out != "inactive\nactive\n" {
		t.Errorf("reset-failed, then start: %v: %q", err, out)
	}
	if err := s.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// The sudo user logs in with the sandbox's key and runs commands through the
// real sudo, as each policy allows.
func TestSudoUser(t *testing.T) {
	t.Parallel()
	needSSHClient(t)
	for _, tc := range []struct{ policy, cmd, want string }{
		{"", "id -un; sudo -n id -u", "deploy\n0\n"},
		{"password", "sudo -n true", "sudo: a password is required\n"},
		{"requiretty", "sudo -n true", "sudo: sorry, you must have a tty to run sudo\n"},
	} {
		t.Run("policy="+tc.policy, func(t *testing.T) {
			t.Parallel()
			s := ForTest(t, Options{Members: 1, NoEtcd: true, SudoPolicy: tc.policy})
			ctx := testContext(t)
			h := s.Hosts[0]
			out, err := sshAs(ctx, s, h, s.SudoUser, tc.cmd)
			if out != tc.want || (err == nil) != (tc.policy == "") {
				t.Errorf("%s: %v: %q, want %q", tc.cmd, err, out, tc.want)
			}
			if tc.policy == "password" {
				if out, err := sshAs(ctx, s, h, s.SudoUser, "echo "+s.SudoPassword+" | sudo -S -p '' id -u"); err != nil || out != "0\n" {
					t.Errorf("sudo with the password: %v: %q", err, out)
				}
			}
			fi, err := h.Stat(ctx, "/etc/sudoers.d/deploy")
			if err != nil || fi.User != "root" || fi.Group != "root" || fi.Mode != 0o440 {
				t.Errorf("/etc/sudoers.d/deploy: %+v, %v", fi, err)
			}
		})
	}
}
