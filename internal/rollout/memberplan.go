package rollout

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// BinaryPlan is how a member's binary is swapped: a rename over a regular
// file, or a symlink pointed at the new version.
type BinaryPlan struct {
	Path        string // the path the service starts
	Before      FileMeta
	Kept        string // regular file: where the running binary is kept
	KeptExisted bool
	// Symlinked installs (/usr/local/bin/etcd → /opt/etcd-3.5.21/etcd).
	Symlink          bool
	OldTarget        string // as written in the link
	NewTarget        string
	NewTargetExisted bool
	NewDirExisted    bool
}

// ConfigEdit is one settings file the rollout rewrites.
type ConfigEdit struct {
	Path          string // as the service names it
	Real          string // the file written: the symlink's target, or Path
	Format        etcdconf.Format
	New           []byte
	Changes       []etcdconf.Change
	Backup        string
	BackupExisted bool
	Before        FileMeta
	Lines         map[string]int // changed setting → line in the old file
	// Unit: the file is the systemd unit, whose ExecStart= holds the
	// settings; systemd re-reads it after the rewrite and the undo.
	Unit bool
}

// planHost works out, from what discovery saw, which files the member's
// change touches and how, and every reason it cannot be done safely. It
// fills mp's Binary and Configs.
func planHost(mp *MemberPlan, rt Runtime, spec Spec) (probs, warns []Problem) {
	name := mp.Name
	problem := problemFor(name, &probs)
	if rt.HostErr != "" {
		summary := "Host not reachable over SSH"
		if strings.Contains(rt.HostErr, "sudo") {
			summary = "sudo refused on the host"
		}
		problem("members", summary, "%s", rt.HostErr)
		return probs, nil
	}
	if rt.Unit != "" && rt.Err != "" {
		problem("service.start_command", "Cannot tell how etcd runs", "%s. The provider reads the unit named in service.start_command (%q) to find the binary and settings etcd really uses; check that it is the unit that runs this member.", rt.Err, spec.Service.StartCommand)
		return probs, nil
	}

	// The member must be the one the map says: two map entries pointing at
	// one host would stop the wrong etcd.
	if n := rt.MemberName(); n != "" && n != name {
		problem("members", "Host runs another member", "the etcd on %s runs as member %q, not %q. Check members[%q].host: each entry must name the host of that member.", hostOfRuntime(spec, name), n, name, name)
	}

	// The binary.
	bin := rt.BinaryPath
	if spec.Binary.Path != "" && bin != "" && !samePath(rt, spec.Binary.Path, bin) {
		problem("binary.path", "binary.path is not what the member runs", "binary.path is %q, but the service starts %q (the running process is %s). Remove binary.path to use what the host runs, or correct it.", spec.Binary.Path, bin, rt.Exe)
	}
	if bin == "" {
		bin = spec.Binary.Path
	}
	if bin == "" {
		problem("binary.path", "Cannot tell which binary the member runs", "no running etcd process or unit names it. Set binary.path to the binary the service starts.")
		return probs, nil
	}
	if rt.Wrapper != "" {
		problem("binary.path", "etcd is started through a wrapper", "the unit starts %s, which runs %s: swapping either could leave the other pointing at the wrong version. Change the unit to start the etcd binary directly, or change the version by hand.", rt.Wrapper, rt.Exe)
	}
	if rt.PackageOwner != "" && !spec.Binary.ReplacePackaged {
		problem("binary.replace_packaged", "Binary owned by a package", "%s belongs to the package %s: the next package upgrade would silently put the packaged version back. Install etcd outside the package manager, or set binary.replace_packaged = true to accept that risk.", bin, rt.PackageOwner)
	}
	before := rt.Files[bin]
	if before.Missing {
		problem("binary.path", "Binary not found", "%s does not exist on the host.", bin)
		return probs, nil
	}
	bp := BinaryPlan{Path: bin, Before: before}
	if before.Symlink {
		bp.Symlink = true
		bp.OldTarget = before.LinkTarget
		bp.NewTarget = linkTargetFor(before.LinkTarget, mp.From.String(), spec.Target.String(), StagedPath(bin, spec.Target))
		if !path.IsAbs(bp.NewTarget) {
			bp.NewTarget = path.Join(path.Dir(bin), bp.NewTarget)
		}
		nt := rt.Files[bp.NewTarget]
		bp.NewTargetExisted = !nt.Missing && nt.Type != ""
		nd := rt.Files[path.Dir(bp.NewTarget)]
		bp.NewDirExisted = !nd.Missing && nd.Type != ""
	} else {
		bp.Kept = KeptBinaryPath(bin, mp.From)
		k := rt.Files[bp.Kept]
		bp.KeptExisted = !k.Missing && k.Type != ""
	}
	if len(rt.OtherUnits) > 0 {
		warns = append(warns, Problem{Attribute: "binary.path", Summary: "Another service runs the same binary",
			Detail: fmt.Sprintf("Member %q: %s also start %s, so they will run %s from their next restart on. Give them a binary of their own if that is not wanted.", name, strings.Join(rt.OtherUnits, ", "), bin, spec.Target)})
	}
	mp.Binary = bp

	// systemd would kill a notify unit that is not ready within its start
	// timeout, before our own gate gives up.
	if rt.UnitType == "notify" && rt.TimeoutStart > 0 && spec.Health.Timeout > rt.TimeoutStart {
		warns = append(warns, Problem{Attribute: "health.timeout", Summary: "health.timeout exceeds the unit's start timeout",
			Detail: fmt.Sprintf("Member %q: %s is Type=notify with TimeoutStartSec=%s, shorter than health.timeout (%s). A member that needs longer to catch up is killed by systemd before its gate ends. Raise TimeoutStartSec (a drop-in) or lower health.timeout.", name, rt.UnitFile, rt.TimeoutStart, spec.Health.Timeout)})
	}

	if mp.Path == etcdconf.PathPatch || mp.Path == etcdconf.PathNone {
		return probs, warns
	}
	cp, cw := planConfigs(mp, rt, spec)
	return append(probs, cp...), append(warns, cw...)
}

// planConfigs finds every place the member's settings live and translates
// them: the config file when etcd uses one (it then ignores flags and
// variables), otherwise the ETCD_* variables of the unit's environment
// files and the flags on its command line.
func planConfigs(mp *MemberPlan, rt Runtime, spec Spec) (probs, warns []Problem) {
	name := mp.Name
	problem := problemFor(name, &probs)
	configured := spec.Service.ConfigFile
	var candidates []string
	if cf := rt.ConfigFileArg(); cf != "" {
		candidates = []string{cf}
	} else if rt.Unit != "" {
		candidates = rt.EnvFiles
	}
	if configured != "" {
		if len(candidates) > 0 && !anySamePath(rt, configured, candidates) {
			problem("service.config_file", "service.config_file is not what the member uses", "service.config_file is %q, but etcd takes its settings from %s. Remove service.config_file to use what the host runs, or correct it.", configured, strings.Join(candidates, ", "))
			return probs, nil
		}
		if len(candidates) == 0 {
			candidates = []string{configured}
		}
	}

	type source struct {
		fm      FileMeta
		format  etcdconf.Format
		hasName bool
	}
	var sources []source
	for _, p := range candidates {
		fm := rt.Files[p]
		if fm.Missing || fm.Content == nil {
			if !slices.Contains(rt.OptionalEnv, p) {
				problem("service.config_file", "Config file not readable", "cannot read %s on %s (%s). A change between minor versions rewrites etcd's settings there.", p, hostOfRuntime(spec, name), rt.origin(p, configured))
			}
			continue // an optional EnvironmentFile=- that does not exist
		}
		f, err := etcdconf.DetectFormat(fm.Content)
		if err != nil {
			f = etcdconf.FormatOf(p)
		}
		keys, _ := etcdconf.Keys(f, fm.Content)
		if f == etcdconf.FormatEnv && len(keys) == 0 && p != configured {
			continue // an environment file with no etcd settings
		}
		_, hasName := keys["name"]
		sources = append(sources, source{fm: fm, format: f, hasName: hasName})
	}

	// The primary source takes the settings a change adds; any other must
	// need no change at all, or the rollout would split settings.
	primary := -1
	for i, s := range sources {
		if s.hasName || s.format == etcdconf.FormatYAML {
			primary = i
			break
		}
	}
	if primary < 0 && len(sources) > 0 {
		primary = 0
	}
	for i, s := range sources {
		out, changes, err := etcdconf.Translate(s.format, s.fm.Content, mp.From, spec.Target)
		if err != nil {
			problem("service.config_file", "Config file cannot be translated", "%s: %v", s.fm.Path, err)
			continue
		}
		if len(changes) == 0 {
			continue
		}
		if i != primary {
			problem("service.config_file", "Settings spread over several files", "%s must change in %s (%s), but this member's main settings file is %s. Move those settings into %s, then plan again.",
				changeKeys(changes), s.fm.Path, etcdconf.Summarize(changes), sources[primary].fm.Path, sources[primary].fm.Path)
			continue
		}
		real := s.fm.Path
		if s.fm.Symlink && s.fm.Resolved != "" {
			real = s.fm.Resolved
		}
		backup := KeptConfigPath(real, mp.From)
		bf := rt.Files[backup]
		mp.Configs = append(mp.Configs, ConfigEdit{Path: s.fm.Path, Real: real, Format: s.format, New: out, Changes: changes,
			Backup: backup, BackupExisted: !bf.Missing && bf.Type != "", Before: s.fm, Lines: changedLines(s.format, s.fm.Content, changes)})
		mp.Changes = append(mp.Changes, changes...)
	}

	// Flags on the command line. With no settings file, they are the
	// member's settings: the unit's ExecStart= is rewritten (etcd rejects a
	// flag it does not know, so dropping is not optional). Beside a settings
	// file, any that must change are refused with the line to edit. With a
	// config file, etcd ignores them.
	if rt.ConfigFileArg() == "" {
		if flags := rt.InlineFlags(); len(flags) > 0 {
			env := strings.Join(flags, "\n") + "\n"
			_, changes, err := etcdconf.Translate(etcdconf.FormatEnv, []byte(env), mp.From, spec.Target)
			switch {
			case err != nil || len(changes) == 0:
			case len(sources) == 0 && rt.UnitFile != "":
				edit, err := planUnitEdit(mp, rt, spec)
				if err != nil {
					problem("service.config_file", "Settings on the command line cannot be rewritten", "%s needs %s in ExecStart of %s (%s), but %v. Move these flags into an environment file (EnvironmentFile=) or change them by hand, then plan again.",
						spec.Target, etcdconf.Summarize(changes), rt.UnitFile, rt.ExecStartLine(), err)
				} else if edit != nil {
					mp.Configs = append(mp.Configs, *edit)
					mp.Changes = append(mp.Changes, edit.Changes...)
				}
			case hasRemoval(changes) || len(sources) == 0:
				where := "the command line etcd was started with"
				if rt.UnitFile != "" {
					where = fmt.Sprintf("ExecStart of %s (%s)", rt.UnitFile, rt.ExecStartLine())
				}
				problem("service.config_file", "Settings on the command line must change", "%s needs %s in %s, beside the settings in %s. Move these flags into that file or change them by hand, then plan again.",
					spec.Target, etcdconf.Summarize(changes), where, settingsPlaces(rt, spec))
			}
		}
	}
	// Variables set by the unit itself (Environment=, drop-ins) reach etcd
	// like those of an environment file, but live in no file the provider
	// rewrites: one that must go or change is refused with where it is set.
	// (An environment file's value wins over Environment=, so only those
	// the files do not set count.)
	if rt.ConfigFileArg() == "" && len(rt.UnitEnv) > 0 {
		inFiles := map[string]bool{}
		for _, s := range sources {
			if keys, err := etcdconf.Keys(etcdconf.FormatEnv, s.fm.Content); err == nil {
				for k := range keys {
					inFiles[k] = true
				}
			}
		}
		var env []string
		present := map[string]bool{}
		for k, v := range rt.UnitEnv {
			if flag := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "ETCD_"), "_", "-")); !inFiles[flag] {
				env = append(env, k+"="+v)
				present[flag] = true
			}
		}
		_, changes, err := etcdconf.Translate(etcdconf.FormatEnv, []byte(strings.Join(env, "\n")+"\n"), mp.From, spec.Target)
		var mustChange []etcdconf.Change
		for _, c := range changes {
			if present[c.Key] && c.Op != etcdconf.Pin && c.Op != etcdconf.Add {
				mustChange = append(mustChange, c)
			}
		}
		if err == nil && len(mustChange) > 0 {
			problem("service.config_file", "Settings in the unit must change", "etcd gets %s from its unit's Environment= (%s or a drop-in), not from a file the provider rewrites, and %s needs %s. Move these variables into the unit's EnvironmentFile or change them by hand, then plan again.",
				changeKeys(mustChange), rt.UnitFile, spec.Target, etcdconf.Summarize(mustChange))
		}
	}
	if len(probs) == 0 && len(sources) == 0 && len(mp.Configs) == 0 && needsAdd(mp, spec) {
		problem("service.config_file", "No settings file found", "etcd on %s takes no settings from a file the provider can rewrite (no config file, no environment file with ETCD_* settings), but %s → %s must add settings. Set service.config_file to the ETCD_* environment file or YAML config file the service reads.", hostOfRuntime(spec, name), mp.From, spec.Target)
	}
	return probs, warns
}

// planUnitEdit translates the flags of the unit's ExecStart= line, minimally
// (every other byte of the unit stays), for a member whose settings all live
// on its command line.
func planUnitEdit(mp *MemberPlan, rt Runtime, spec Spec) (*ConfigEdit, error) {
	fm := rt.Files[rt.UnitFile]
	if fm.Content == nil {
		return nil, fmt.Errorf("the unit file cannot be read")
	}
	lines := strings.SplitAfter(string(fm.Content), "\n")
	start := -1
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "ExecStart=") && strings.TrimSpace(strings.TrimPrefix(t, "ExecStart=")) != "" {
			if start >= 0 {
				return nil, fmt.Errorf("the unit has more than one ExecStart=")
			}
			start = i
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("the unit file has no ExecStart= (a drop-in may set it)")
	}
	end := start
	for end < len(lines)-1 && strings.HasSuffix(strings.TrimRight(lines[end], "\n"), "\\") {
		end++
	}
	head := lines[start][:strings.Index(lines[start], "ExecStart=")+len("ExecStart=")]
	value := strings.TrimPrefix(strings.Join(lines[start:end+1], ""), head)
	trail := value[len(strings.TrimRight(value, "\n")):]
	out, changes, err := etcdconf.TranslateCommandLine(strings.TrimRight(value, "\n"), etcdconf.CommandSyntax, true, mp.From, spec.Target, nil)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, nil
	}
	content := strings.Join(lines[:start], "") + head + out + trail + strings.Join(lines[end+1:], "")
	real := fm.Path
	if fm.Symlink && fm.Resolved != "" {
		real = fm.Resolved
	}
	backup := KeptConfigPath(real, mp.From)
	bf := rt.Files[backup]
	lineOf := map[string]int{}
	for _, c := range changes {
		for i := start; i <= end; i++ {
			if strings.Contains(lines[i], "--"+c.Key) || strings.Contains(lines[i], "-"+c.Key+"=") {
				lineOf[c.Key] = i + 1
			}
		}
	}
	return &ConfigEdit{Path: fm.Path, Real: real, New: []byte(content), Changes: changes, Unit: true,
		Backup: backup, BackupExisted: !bf.Missing && bf.Type != "", Before: fm, Lines: lineOf}, nil
}

// needsAdd reports whether the change adds settings wherever they live:
// translating an empty env file shows what is always added.
func needsAdd(mp *MemberPlan, spec Spec) bool {
	_, changes, err := etcdconf.Translate(etcdconf.FormatEnv, nil, mp.From, spec.Target)
	return err == nil && len(changes) > 0
}

func hasRemoval(changes []etcdconf.Change) bool {
	for _, c := range changes {
		switch c.Op {
		case etcdconf.Drop, etcdconf.Remove, etcdconf.Rename, etcdconf.Set:
			return true
		}
	}
	return false
}

func changeKeys(changes []etcdconf.Change) string {
	var keys []string
	for _, c := range changes {
		keys = append(keys, c.Key)
	}
	return strings.Join(keys, ", ")
}

// changedLines finds the line of each changed setting in the old file, so
// the plan can say where it lives.
func changedLines(f etcdconf.Format, content []byte, changes []etcdconf.Change) map[string]int {
	out := map[string]int{}
	lines := strings.Split(string(content), "\n")
	for _, c := range changes {
		var prefix string
		if f == etcdconf.FormatYAML {
			prefix = c.Key + ":"
		} else {
			prefix = "ETCD_" + strings.ToUpper(strings.ReplaceAll(c.Key, "-", "_")) + "="
		}
		for i, l := range lines {
			t := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "export "))
			if strings.HasPrefix(t, prefix) {
				out[c.Key] = i + 1
			}
		}
	}
	return out
}

// describe renders a config edit for the plan: file, changes with their
// lines, backup.
func (c ConfigEdit) describe() string {
	parts := make([]string, len(c.Changes))
	for i, ch := range c.Changes {
		parts[i] = ch.String()
		if l, ok := c.Lines[ch.Key]; ok {
			parts[i] += fmt.Sprintf(" (line %d)", l)
		}
	}
	where := c.Path
	if c.Real != c.Path {
		where += " → " + c.Real
	}
	if c.Unit {
		return fmt.Sprintf("unit %s ExecStart=: %s (backup %s, owner and mode kept; systemctl daemon-reload)", where, strings.Join(parts, ", "), c.Backup)
	}
	return fmt.Sprintf("config %s: %s (backup %s, owner and mode kept)", where, strings.Join(parts, ", "), c.Backup)
}

// linkTargetFor is where a symlinked install's new version goes: the old
// target with the version in it replaced (/opt/etcd-3.5.21/etcd →
// /opt/etcd-3.5.16/etcd), or the staged binary when the target names no
// version.
func linkTargetFor(oldTarget, from, to, staged string) string {
	if strings.Contains(oldTarget, from) {
		return strings.ReplaceAll(oldTarget, from, to)
	}
	if strings.Contains(oldTarget, "v"+from) {
		return strings.ReplaceAll(oldTarget, "v"+from, "v"+to)
	}
	return staged
}

func samePath(rt Runtime, a, b string) bool {
	if a == b {
		return true
	}
	fa, fb := rt.Files[a], rt.Files[b]
	return fa.Resolved != "" && fa.Resolved == fb.Resolved
}

func anySamePath(rt Runtime, p string, list []string) bool {
	for _, x := range list {
		if samePath(rt, p, x) {
			return true
		}
	}
	return false
}

// problemFor returns a function that adds a problem about member name to
// *into, its detail opening with the member.
func problemFor(name string, into *[]Problem) func(attr, summary, format string, a ...any) {
	return func(attr, summary, format string, a ...any) {
		*into = append(*into, Problem{Attribute: attr, MapKey: mapKeyFor(attr, name), Summary: summary, Detail: fmt.Sprintf("Member %q: ", name) + fmt.Sprintf(format, a...)})
	}
}

func mapKeyFor(attr, name string) string {
	if attr == "members" {
		return name
	}
	return ""
}

func hostOfRuntime(spec Spec, name string) string {
	ms, _ := spec.Member(name)
	return ms.Host
}

// origin says where discovery found a settings file, for messages.
func (rt Runtime) origin(p, configured string) string {
	switch {
	case p == rt.ConfigFileArg():
		return "named by --config-file or ETCD_CONFIG_FILE"
	case slices.Contains(rt.EnvFiles, p) && rt.UnitFile != "":
		return "EnvironmentFile= of " + rt.UnitFile
	case p == configured:
		return "service.config_file"
	}
	return "settings file"
}

// MemberName is the member name etcd was started with: --name, ETCD_NAME,
// or name: in its config file.
func (rt Runtime) MemberName() string { return rt.Setting("name") }

// Setting is the value etcd was started with for flag: from its command
// line, its config file (which then overrides its environment), or its
// ETCD_* environment; "" when none sets it.
func (rt Runtime) Setting(flag string) string {
	env := "ETCD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	for _, f := range rt.InlineFlags() {
		if v, ok := strings.CutPrefix(f, env+"="); ok {
			return v
		}
	}
	if cf := rt.ConfigFileArg(); cf != "" {
		if fm, ok := rt.Files[cf]; ok && fm.Content != nil {
			if keys, err := etcdconf.Keys(etcdconf.FormatYAML, fm.Content); err == nil {
				return keys[flag]
			}
		}
		return ""
	}
	return rt.Env[env]
}

// ExecStartLine is the unit's command line as systemctl shows it.
func (rt Runtime) ExecStartLine() string {
	s := rt.ExecStart
	if i := strings.Index(s, "argv[]="); i >= 0 {
		s = s[i+len("argv[]="):]
		if j := strings.Index(s, " ;"); j >= 0 {
			s = s[:j]
		}
	}
	return strings.TrimSpace(s)
}
