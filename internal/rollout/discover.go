package rollout

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Runtime is how one member really runs on its host, learned at plan time
// from the running process and its systemd unit: the binary it was started
// from, every place a setting comes from, and the user it runs as.
type Runtime struct {
	Unit         string   // systemd unit, from service.start_command; "" when not systemd
	PID          int      // the running etcd; 0 when none was found
	Exe          string   // /proc/<pid>/exe: the file actually running
	ExeDeleted   bool     // the running file was replaced or removed on disk
	BinaryPath   string   // the path the service starts (ExecStart), maybe a symlink
	Args         []string // the running process's arguments, without argv[0]
	Env          map[string]string
	EnvReadable  bool // the process environment could be read
	UnitFile     string
	UnitType     string // notify, simple, ...
	User, Group  string
	TimeoutStart time.Duration     // TimeoutStartUSec; 0 when unknown or infinite
	UnitEnv      map[string]string // ETCD_* variables set by the unit's Environment= lines
	EnvFiles     []string          // EnvironmentFile= entries, in order, "-" stripped
	OptionalEnv  []string          // those marked "-": missing is fine
	ExecStart    string            // the unit's ExecStart as systemctl shows it

	// Filled by the second round trip (inspectFiles).
	Files map[string]FileMeta // every path below, by path
	// PackageOwner is the dpkg or rpm package that owns BinaryPath, if any.
	PackageOwner string
	// OtherUnits lists other systemd units whose ExecStart runs BinaryPath.
	OtherUnits []string
	// Wrapper is set when the unit starts a script that runs etcd.
	Wrapper string
	Err     string // why discovery could not complete
	HostErr string // why the host could not be reached over SSH
}

// FileMeta is what a rollout must keep of a file: its type, owner, group,
// mode, SELinux label, and for a symlink where it points.
type FileMeta struct {
	Path       string
	Missing    bool
	Symlink    bool
	LinkTarget string // readlink, as written in the link
	Resolved   string // readlink -f
	Type       string // of the resolved file: "regular file", "directory", ...
	UID, GID   int
	Owner      string
	Group      string
	Mode       string // octal, of the resolved file
	Label      string // SELinux context, "" when none
	Content    []byte // only for settings files
}

// Stat renders the metadata as one line, for plans, logs and tests.
func (f FileMeta) Stat() string {
	if f.Missing {
		return "missing"
	}
	s := fmt.Sprintf("%s %s:%s %s", f.Type, f.Owner, f.Group, f.Mode)
	if f.Symlink {
		s = "symlink → " + f.LinkTarget + ", " + s
	}
	return s
}

// readOnlyMarker opens every discovery script: they only read, and a
// reader of the host's auth log or of the tests' event lists can tell.
const readOnlyMarker = "# terraform-provider-etcd: discovery, read-only"

// unitOf reads the systemd unit from a start command such as
// `systemctl start etcd` or `sudo systemctl start etcd-main.service`.
var unitRE = regexp.MustCompile(`^\s*(?:sudo\s+(?:-n\s+)?)?(?:/usr/bin/|/bin/)?systemctl\s+(?:--no-block\s+)?start\s+([A-Za-z0-9@._:-]+?)(?:\.service)?\s*$`)

func unitOf(startCommand string) string {
	m := unitRE.FindStringSubmatch(startCommand)
	if m == nil {
		return ""
	}
	return m[1]
}

// systemdProps are the unit properties discovery reads.
var systemdProps = []string{"MainPID", "ExecStart", "Environment", "EnvironmentFiles", "User", "Group", "Type", "TimeoutStartUSec", "FragmentPath", "ActiveState"}

// discoverScript prints the unit's properties and the running process's
// exe, arguments and ETCD_* environment, each in a section of its own. $1 is
// the unit. It never fails: what it cannot read stays empty.
func discoverScript(unit string) string {
	var show []string
	for _, p := range systemdProps {
		show = append(show, "-p", p)
	}
	return strings.Join([]string{
		readOnlyMarker,
		"unit=" + sshx.Quote(unit),
		"echo '== show'",
		// One systemctl a discovery: MainPID is read from the same output.
		"show=$(systemctl show " + sshx.Command(show...) + ` -- "$unit" 2>&1)`,
		`printf '%s\n' "$show"`,
		`pid=`,
		`while IFS= read -r l; do case $l in MainPID=*) pid=${l#MainPID=} ;; esac; done <<EOF`,
		`$show`,
		`EOF`,
		`case $pid in ''|0|*[!0-9]*) pid= ;; esac`,
		`echo '== pid'; echo "$pid"`,
		`if [ -n "$pid" ]; then`,
		`  echo '== exe'; readlink "/proc/$pid/exe"`,
		`  echo '== cmdline'; base64 < "/proc/$pid/cmdline" | tr -d '\n'; echo`,
		`  if [ -r "/proc/$pid/environ" ]; then echo '== environ'; tr '\0' '\n' < "/proc/$pid/environ" | grep '^ETCD_' | base64 | tr -d '\n'; echo; fi`,
		`fi`,
		`echo '== end'`,
	}, "\n")
}

// sections splits output of the discovery scripts into "== name" sections.
func sections(out string) map[string]string {
	secs := map[string]string{}
	var name string
	var b strings.Builder
	flush := func() {
		if name != "" {
			secs[name] = strings.TrimSuffix(b.String(), "\n")
		}
		b.Reset()
	}
	for _, line := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(line, "== "); ok {
			flush()
			name = n
			continue
		}
		b.WriteString(line + "\n")
	}
	flush()
	return secs
}

// parseDiscovery reads discoverScript's output.
func parseDiscovery(unit, out string) Runtime {
	rt := Runtime{Unit: unit, Env: map[string]string{}}
	secs := sections(out)
	props := map[string]string{}
	for _, line := range strings.Split(secs["show"], "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	rt.UnitFile = props["FragmentPath"]
	rt.UnitType = props["Type"]
	rt.User, rt.Group = props["User"], props["Group"]
	rt.ExecStart = props["ExecStart"]
	rt.TimeoutStart = parseSystemdDuration(props["TimeoutStartUSec"])
	rt.EnvFiles, rt.OptionalEnv = parseEnvironmentFiles(props["EnvironmentFiles"])
	rt.UnitEnv = map[string]string{}
	for _, kv := range strings.Fields(props["Environment"]) {
		if k, v, ok := strings.Cut(strings.Trim(kv, `"`), "="); ok && strings.HasPrefix(k, "ETCD_") {
			rt.UnitEnv[k] = v
		}
	}
	rt.PID, _ = strconv.Atoi(strings.TrimSpace(secs["pid"]))
	exe := strings.TrimSpace(secs["exe"])
	if e, ok := strings.CutSuffix(exe, " (deleted)"); ok {
		exe, rt.ExeDeleted = e, true
	}
	rt.Exe = exe
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secs["cmdline"])); err == nil && len(raw) > 0 {
		argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
		rt.BinaryPath = argv[0]
		rt.Args = argv[1:]
	}
	if p := execStartPath(rt.ExecStart); p != "" {
		// The unit's path is what the next start runs, even when argv[0]
		// was rewritten by a wrapper.
		if rt.BinaryPath != "" && p != rt.BinaryPath {
			rt.Wrapper = p
		}
		rt.BinaryPath = p
	}
	if enc, ok := secs["environ"]; ok {
		rt.EnvReadable = true
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc)); err == nil {
			for _, line := range strings.Split(string(raw), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "ETCD_") {
					rt.Env[k] = v
				}
			}
		}
	}
	if rt.PID == 0 {
		rt.Err = fmt.Sprintf("no running etcd found for unit %s (systemctl show reports no MainPID)", unit)
	}
	return rt
}

// execStartPath reads path= from systemd's ExecStart rendering
// "{ path=/usr/bin/etcd ; argv[]=/usr/bin/etcd ... }".
func execStartPath(execStart string) string {
	i := strings.Index(execStart, "path=")
	if i < 0 {
		return ""
	}
	rest := execStart[i+len("path="):]
	if j := strings.Index(rest, " ;"); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

// parseEnvironmentFiles reads systemd's
// "/etc/etcd/etcd.conf (ignore_errors=yes) /etc/etcd.env (ignore_errors=no)".
func parseEnvironmentFiles(v string) (files, optional []string) {
	for _, f := range strings.Fields(v) {
		switch {
		case f == "(ignore_errors=yes)" && len(files) > 0:
			optional = append(optional, files[len(files)-1])
		case strings.HasPrefix(f, "("):
		case strings.HasPrefix(f, "-"):
			files = append(files, f[1:])
			optional = append(optional, f[1:])
		default:
			files = append(files, f)
		}
	}
	return files, optional
}

// parseSystemdDuration reads "1min 30s", "5s", "infinity" or a number of
// microseconds.
func parseSystemdDuration(s string) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" || s == "infinity" {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Microsecond
	}
	var total time.Duration
	for _, part := range strings.Fields(s) {
		i := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 {
			return 0
		}
		n, _ := strconv.Atoi(part[:i])
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour}[part[i:]]
		if unit == 0 {
			return 0
		}
		total += time.Duration(n) * unit
	}
	return total
}

// inspectScript prints, for each path argument, its metadata (lstat, then
// the resolved file) and, for the first nSettings paths, its content; then
// the package that owns $bin and other units that run it.
func inspectScript(bin, unitFile string, settings, others []string) string {
	args := []string{bin, unitFile, strconv.Itoa(len(settings))}
	args = append(args, settings...)
	args = append(args, others...)
	return readOnlyMarker + `
set -- ` + sshx.Command(args...) + `
bin=$1; unit_file=$2; n=$3; shift 3
i=0
for f in "$@"; do
  i=$((i + 1))
  echo "== file $f"
  if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo missing; continue; fi
  stat -c '%F|%u|%g|%U|%G|%a' -- "$f"
  readlink -- "$f" || echo
  readlink -f -- "$f"
  stat -L -c '%F|%u|%g|%U|%G|%a' -- "$f"
  (stat -L -c '%C' -- "$f" 2>/dev/null || echo) | sed 's/^?$//'
  if [ "$i" -le "$n" ] && [ -f "$f" ]; then echo "== content $f"; base64 < "$f" | tr -d '\n'; echo; fi
done
echo '== package'
if [ -n "$bin" ]; then
  # Debian packages never install into /usr/local (policy 9.1.2), and
  # dpkg-query -S reads every package's file list: skip it there.
  case "$(readlink -f -- "$bin")" in
  /usr/local/*) ;;
  *) if command -v dpkg-query >/dev/null 2>&1; then dpkg-query -S -- "$(readlink -f -- "$bin")" 2>/dev/null || dpkg-query -S -- "$bin" 2>/dev/null; fi ;;
  esac
  if command -v rpm >/dev/null 2>&1; then rpm -qf --qf '%{NAME}\n' -- "$bin" 2>/dev/null | grep -v 'not owned'; fi
fi
echo '== others'
` + otherUnitsScript(unitDirs...) + `
echo '== end'
`
}

// unitDirs are where systemd looks for units, highest precedence first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// otherUnitsScript prints the names of the units in dirs, other than
// $unit_file, whose ExecStart runs $bin. One grep a directory, not one a
// unit (a host has a few hundred: 1.6 s of forks on a test host), and each
// directory once: on merged-/usr systems /lib/systemd/system is
// /usr/lib/systemd/system.
func otherUnitsScript(dirs ...string) string {
	return `seen=
for d in ` + sshx.Command(dirs...) + `; do
  [ -d "$d" ] || continue
  r=$(readlink -f -- "$d")
  case " $seen " in *" $r "*) continue ;; esac
  seen="$seen $r"
  grep -lsE "^ExecStart=[-@+!]*$bin( |\$)" -- "$d"/*.service
done | while IFS= read -r u; do
  [ "$u" = "$unit_file" ] || echo "${u##*/}"
done`
}

// parseInspect reads inspectScript's output into rt.
func parseInspect(rt *Runtime, out string) {
	rt.Files = map[string]FileMeta{}
	var cur *FileMeta
	lines := strings.Split(out, "\n")
	section := ""
	var fileLines []string
	finish := func() {
		if cur == nil {
			return
		}
		fm := *cur
		switch {
		case len(fileLines) > 0 && fileLines[0] == "missing":
			fm.Missing = true
		case len(fileLines) >= 4:
			l := strings.Split(fileLines[0], "|")
			fm.Symlink = len(l) > 0 && l[0] == "symbolic link"
			if fm.Symlink {
				fm.LinkTarget = fileLines[1]
			}
			fm.Resolved = fileLines[2]
			r := strings.Split(fileLines[3], "|")
			if len(r) == 6 {
				fm.Type, fm.Owner, fm.Group, fm.Mode = r[0], r[3], r[4], r[5]
				fm.UID, _ = strconv.Atoi(r[1])
				fm.GID, _ = strconv.Atoi(r[2])
			}
			if len(fileLines) >= 5 {
				fm.Label = strings.TrimSpace(fileLines[4])
			}
		}
		if prev, ok := rt.Files[fm.Path]; ok && prev.Content != nil {
			fm.Content = prev.Content
		}
		rt.Files[fm.Path] = fm
		cur, fileLines = nil, nil
	}
	for _, line := range lines {
		if name, ok := strings.CutPrefix(line, "== "); ok {
			finish()
			switch {
			case strings.HasPrefix(name, "file "):
				section = "file"
				cur = &FileMeta{Path: strings.TrimPrefix(name, "file ")}
			case strings.HasPrefix(name, "content "):
				section = "content:" + strings.TrimPrefix(name, "content ")
			default:
				section = name
			}
			continue
		}
		switch {
		case section == "file":
			fileLines = append(fileLines, line)
		case strings.HasPrefix(section, "content:"):
			p := strings.TrimPrefix(section, "content:")
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
			if err == nil {
				fm := rt.Files[p]
				if raw == nil {
					raw = []byte{}
				}
				fm.Content = raw
				rt.Files[p] = fm
			}
			section = ""
		case section == "package" && strings.TrimSpace(line) != "":
			if rt.PackageOwner == "" {
				owner, _, _ := strings.Cut(strings.TrimSpace(line), ":")
				rt.PackageOwner = owner
			}
		case section == "others" && strings.TrimSpace(line) != "":
			rt.OtherUnits = append(rt.OtherUnits, strings.TrimSpace(line))
		}
	}
	finish()
}

// Discover learns how a member runs: two round trips over the plan's SSH
// connection, one for the unit and the process, one for the files they name.
// configFile is service.config_file when set, so its metadata and content are
// read even when the process does not name it.
func Discover(ctx context.Context, h Host, unit, configFile, binaryPath string) (Runtime, error) {
	rt := Runtime{Env: map[string]string{}}
	if unit != "" {
		res, err := h.Run(ctx, discoverScript(unit))
		if err != nil {
			return Runtime{}, err
		}
		if res.ExitStatus != 0 {
			return Runtime{}, fmt.Errorf("discovery on the host failed: %s", sudoHint(strings.TrimSpace(res.Stderr+res.Stdout)))
		}
		rt = parseDiscovery(unit, res.Stdout)
	}
	if rt.BinaryPath == "" {
		rt.BinaryPath = binaryPath
	}
	settings := rt.SettingsFiles(configFile)
	if rt.UnitFile != "" {
		settings = append(settings, rt.UnitFile) // for settings on its command line
	}
	var others []string
	for _, p := range []string{rt.BinaryPath, rt.UnitFile, rt.Exe} {
		if p != "" {
			others = append(others, p)
		}
	}
	if binaryPath != "" && binaryPath != rt.BinaryPath {
		others = append(others, binaryPath)
	}
	res, err := h.Run(ctx, inspectScript(rt.BinaryPath, rt.UnitFile, settings, others))
	if err != nil {
		return rt, err
	}
	if res.ExitStatus != 0 {
		return rt, fmt.Errorf("reading the member's files failed: %s", sudoHint(strings.TrimSpace(res.Stderr+res.Stdout)))
	}
	parseInspect(&rt, res.Stdout)
	if rt.Wrapper != "" {
		if fm, ok := rt.Files[rt.BinaryPath]; ok && fm.Resolved != "" && fm.Resolved == rt.Exe {
			rt.Wrapper = "" // a symlink to the running binary, not a wrapper
		}
	}
	return rt, nil
}

// sudoHint explains sudo's refusals, which end every command when the SSH
// user may not use sudo without a password or a terminal.
func sudoHint(msg string) string {
	switch {
	case strings.Contains(msg, "a password is required"):
		return msg + ". The provider runs sudo without a terminal and cannot type a password (ssh.sudo = true): give the SSH user passwordless sudo, for example `deploy ALL=(ALL) NOPASSWD: ALL` in /etc/sudoers.d/, or connect as root."
	case strings.Contains(msg, "must have a tty"), strings.Contains(msg, "requiretty"):
		return msg + ". sudo is configured with requiretty, and the provider's commands run without a terminal (ssh.sudo = true): add `Defaults:<user> !requiretty` to /etc/sudoers.d/ for the SSH user."
	}
	return msg
}

// ConfigFileArg is the etcd config file the process was started with, from
// --config-file or ETCD_CONFIG_FILE.
func (rt Runtime) ConfigFileArg() string {
	for i, a := range rt.Args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "config-file" || !strings.HasPrefix(a, "-") {
			continue
		}
		if hasVal {
			return val
		}
		if i+1 < len(rt.Args) {
			return rt.Args[i+1]
		}
	}
	return rt.Env["ETCD_CONFIG_FILE"]
}

// SettingsFiles lists the files that may hold etcd's settings: the config
// file when one is used (etcd then ignores flags and variables), otherwise
// the unit's environment files; plus service.config_file when it is set.
func (rt Runtime) SettingsFiles(configured string) []string {
	var out []string
	add := func(p string) {
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if cf := rt.ConfigFileArg(); cf != "" {
		add(cf)
	} else {
		for _, f := range rt.EnvFiles {
			add(f)
		}
	}
	add(configured)
	return out
}

// InlineFlags lists the settings given on the command line, in
// ETCD_NAME=value form, without --config-file.
func (rt Runtime) InlineFlags() []string {
	var out []string
	for i := 0; i < len(rt.Args); i++ {
		a := rt.Args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal {
			val = "true"
			if i+1 < len(rt.Args) && !strings.HasPrefix(rt.Args[i+1], "-") {
				val = rt.Args[i+1]
				i++
			}
		}
		if name == "config-file" {
			continue
		}
		out = append(out, "ETCD_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+"="+val)
	}
	return out
}
