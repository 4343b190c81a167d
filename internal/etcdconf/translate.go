package etcdconf

import (
	"fmt"
	"strconv"
)

// Translate rewrites a member's settings file for the change from → to and
// returns the new content with the changes it made. A refused transition is
// an error (see CheckTransition); a patch change or no change returns the
// content as it is. Translating an already translated file changes nothing,
// so a step may be re-run.
func Translate(f Format, content []byte, from, to Version) (out []byte, changes []Change, err error) {
	if _, err := CheckTransition(from, to); err != nil {
		return nil, nil, err
	}
	return TranslateMinors(f, content, from, to)
}

// step is a change of one minor version and its rules.
type step struct {
	from, to Version // the minor series; patch levels are ignored
	rules    func(settings) ([]Change, error)
}

// steps are the minor changes with rules: each pair by its own rules, so
// that 3.5 → 3.6 never applies what 3.4 → 3.5 needs.
var steps = []step{
	{v34, v35, noError(upgrade)},
	{v35, v34, noError(downgrade)},
	{v35, v36, up35to36},
	{v36, v35, down36to35},
	{v36, v37, up36to37},
	{v37, v36, down37to36},
}

func noError(rules func(settings) []Change) func(settings) ([]Change, error) {
	return func(d settings) ([]Change, error) { return rules(d), nil }
}

// stepFor returns the rules for from → to by minor version; nil for the
// same minor. A change with no rules (two minors apart, another major) is
// an error.
func stepFor(from, to Version) (*step, error) {
	if from.SameMinor(to) {
		return nil, nil
	}
	for i := range steps {
		if steps[i].from.SameMinor(from) && steps[i].to.SameMinor(to) {
			return &steps[i], nil
		}
	}
	return nil, fmt.Errorf("no translation rules for etcd %s → %s: settings are translated one minor version at a time between 3.4, 3.5, 3.6 and 3.7", from.MinorVersion(), to.MinorVersion())
}

// TranslateMinors applies the rules of the minor change from → to without
// looking at patch levels (3.5.21 → 3.4.23 uses the 3.5 → 3.4 rules). It
// serves tests that need a translation Translate refuses, such as a
// downgrade to a 3.4 release older than MinDowngradeTarget. The same minor
// returns the content as it is.
func TranslateMinors(f Format, content []byte, from, to Version) (out []byte, changes []Change, err error) {
	st, err := stepFor(from, to)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		return append([]byte(nil), content...), nil, nil
	}
	d, err := parse(f, content)
	if err != nil {
		return nil, nil, err
	}
	// With a config file etcd ignores every other ETCD_* variable, so
	// rewriting them would change nothing while the file that counts stayed
	// as it was.
	if es := d.find("config-file"); f == FormatEnv && len(es) > 0 && es[len(es)-1].value != "" {
		return nil, nil, fmt.Errorf("this env file sets %s=%s, so etcd reads its settings from that YAML file and ignores the other ETCD_* variables; set service.config_file to %s so that it is the file translated", envName("config-file"), es[len(es)-1].value, es[len(es)-1].value)
	}
	changes, err = st.rules(d)
	if err != nil {
		return nil, nil, err
	}
	if len(changes) == 0 {
		return append([]byte(nil), content...), nil, nil
	}
	return d.bytes(), changes, nil
}

func parse(f Format, content []byte) (*doc, error) {
	d := newDoc(f, content)
	if f == FormatYAML {
		if err := parseYAML(d); err != nil {
			return nil, err
		}
	} else {
		parseEnv(d)
	}
	return d, nil
}

// settings is what the translation rules edit: a file (*doc) or an
// argument list (*argDoc). Keys are in the form of the settings' format:
// flag names for env files and arguments, YAML paths for config files.
type settings interface {
	format() Format
	find(key string) []*entry
	has(key string) bool
	remove(e *entry)
	rename(e *entry, key string)
	setValue(e *entry, v string)
	add(key, value string)
}

// downgrade: 3.5 → 3.4 only.
func downgrade(d settings) []Change {
	var cs []Change
	for _, s := range only35 {
		if dropAll(d, s.key(d.format())) {
			cs = append(cs, Change{Op: Drop, Key: s.name(), Note: s.note, Reason: s.why})
		}
	}
	cs = append(cs, renameSetting(d, freelist.v35, freelist.v34)...)
	for _, dd := range defaultDiffs {
		if k := dd.key(d.format()); dd.in(d.format()) && !d.has(k) {
			d.add(k, dd.v35)
			cs = append(cs, Change{Op: Pin, Key: dd.name(), Value: dd.v35, Note: "3.5 default", Reason: dd.why})
		}
	}
	s := nextClusterVersionCompatible
	k := s.key(d.format())
	switch es := d.find(k); {
	case len(es) == 0:
		d.add(k, "true")
		cs = append(cs, Change{Op: Add, Key: s.name(), Value: "true", Reason: s.why})
	case !isTrue(d.format(), es[len(es)-1].value):
		last := es[len(es)-1]
		old := last.value
		for _, e := range es[:len(es)-1] {
			d.remove(e)
		}
		d.setValue(last, "true")
		cs = append(cs, Change{Op: Set, Key: s.name(), Old: old, Value: "true", Reason: s.why})
	}
	return cs
}

// upgrade: 3.4 → 3.5 only, also the rollback of a downgrade. The pins a
// downgrade wrote equal 3.5's defaults and stay; where a 3.4 default was in
// effect, it is pinned so that the member behaves as it did on 3.4.
func upgrade(d settings) []Change {
	var cs []Change
	f := d.format()
	s := nextClusterVersionCompatible
	if dropAll(d, s.key(f)) {
		cs = append(cs, Change{Op: Remove, Key: s.name(), Reason: "3.5 does not have this 3.4 setting; it only let 3.4 join the 3.5 cluster"})
	}

	// 3.4 used capnslog unless told otherwise; debug only meant a debug log
	// level with capnslog (with zap, 3.4.23 warns that it is inconsistent
	// with --log-level and ignores it).
	logger34 := "capnslog"
	if es := d.find(loggerSetting.key(f)); len(es) > 0 {
		logger34 = es[len(es)-1].value
	}
	if es := d.find(debugSetting.key(f)); len(es) > 0 {
		last := es[len(es)-1]
		if isTrue(f, last.value) && logger34 == "capnslog" && !d.has(logLevel.key(f)) {
			for _, e := range es[:len(es)-1] {
				d.remove(e)
			}
			d.rename(last, logLevel.key(f))
			d.setValue(last, "debug")
			cs = append(cs, Change{Op: Rename, Key: debugSetting.name(), NewKey: logLevel.name(), Value: "debug", Reason: debugSetting.why})
		} else {
			dropAll(d, debugSetting.key(f))
			cs = append(cs, Change{Op: Drop, Key: debugSetting.name(), Reason: debugSetting.why})
		}
	}
	for _, s := range []setting{logPackageLevels, logOutput} {
		if dropAll(d, s.key(f)) {
			cs = append(cs, Change{Op: Drop, Key: s.name(), Reason: s.why})
		}
	}
	cs = append(cs, renameSetting(d, freelist.v34, freelist.v35)...)
	if es := d.find(loggerSetting.key(f)); len(es) > 0 && es[len(es)-1].value == "capnslog" {
		last := es[len(es)-1]
		for _, e := range es[:len(es)-1] {
			d.remove(e)
		}
		d.setValue(last, "zap")
		cs = append(cs, Change{Op: Set, Key: loggerSetting.name(), Old: "capnslog", Value: "zap", Reason: loggerSetting.why})
	}
	for _, dd := range defaultDiffs {
		k := dd.key(f)
		if !dd.in(f) || d.has(k) {
			continue
		}
		if dd.refused34 != "" {
			d.add(k, dd.v35)
			cs = append(cs, Change{Op: Set, Key: dd.name(), Old: dd.v34, Value: dd.v35, Note: "3.4 default", Reason: dd.refused34})
			continue
		}
		d.add(k, dd.v34)
		cs = append(cs, Change{Op: Pin, Key: dd.name(), Value: dd.v34, Note: "3.4 default", Reason: dd.why})
	}
	return cs
}

// dropAll removes every occurrence of key and reports whether there was one.
func dropAll(d settings, key string) bool {
	if key == "" {
		return false
	}
	es := d.find(key)
	for _, e := range es {
		d.remove(e)
	}
	return len(es) > 0
}

// renameSetting moves from's value to to's name. The last occurrence of
// from is the one etcd used; a to already present was ignored by the
// source version, so it gives way rather than override the value in use.
func renameSetting(d settings, from, to setting) []Change {
	fk, tk := from.key(d.format()), to.key(d.format())
	src := d.find(fk)
	if len(src) == 0 {
		return nil
	}
	var cs []Change
	if dropAll(d, tk) {
		cs = append(cs, Change{Op: Drop, Key: to.name(), Note: "replaced by " + from.name(),
			Reason: "the source version ignored it; the renamed " + from.name() + " takes its place"})
	}
	for _, e := range src[:len(src)-1] {
		d.remove(e)
	}
	d.rename(src[len(src)-1], tk)
	return append(cs, Change{Op: Rename, Key: from.name(), NewKey: to.name(), Reason: from.why})
}

// isTrue reads a boolean the way etcd does: flags and ETCD_* variables go
// through strconv.ParseBool, YAML through sigs.k8s.io/yaml, whose YAML 1.1
// reader also takes yes/on/y.
func isTrue(f Format, v string) bool {
	if f == FormatYAML {
		switch v {
		case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE":
			return true
		}
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// Keys returns the settings of a file in flag form, for checks such as the
// data directory or the member name. In an env file only ETCD_* variables
// count, the last assignment winning. In a YAML file the nested TLS and
// socket blocks are flattened to their flags ("peer-transport-security:
// cert-file" is peer-cert-file); other nested keys appear as
// "parent.child"; lists are joined with commas.
func Keys(f Format, content []byte) (map[string]string, error) {
	d, err := parse(f, content)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range d.entries {
		if len(e.children) > 0 {
			continue
		}
		m[flagOfKey(f, e.key)] = e.value
	}
	return m, nil
}

// yamlFlags maps config-file keys to the flags they stand for where the two
// differ. [S35] embed/config.go: securityConfig (copySecurityDetails fills
// ClientTLSInfo and PeerTLSInfo, which the flags of etcdmain/config.go fill
// too), transport.SocketOpts, and the catch-up entries json tag; [S36]
// securityConfig skip-client-san-verification (tables36.go).
var yamlFlags = map[string]string{
	"experimental-snapshot-catch-up-entries":               "experimental-snapshot-catchup-entries",
	"peer-transport-security.skip-client-san-verification": "peer-skip-client-san-verification",
	"socket-options.reuse-port":                            "socket-reuse-port",
	"socket-options.reuse-address":                         "socket-reuse-address",
	"client-transport-security.cert-file":                  "cert-file",
	"client-transport-security.key-file":                   "key-file",
	"client-transport-security.client-cert-file":           "client-cert-file",
	"client-transport-security.client-key-file":            "client-key-file",
	"client-transport-security.client-cert-auth":           "client-cert-auth",
	"client-transport-security.trusted-ca-file":            "trusted-ca-file",
	"client-transport-security.auto-tls":                   "auto-tls",
	"client-transport-security.allowed-hostname":           "client-cert-allowed-hostname",
	"peer-transport-security.cert-file":                    "peer-cert-file",
	"peer-transport-security.key-file":                     "peer-key-file",
	"peer-transport-security.client-cert-file":             "peer-client-cert-file",
	"peer-transport-security.client-key-file":              "peer-client-key-file",
	"peer-transport-security.client-cert-auth":             "peer-client-cert-auth",
	"peer-transport-security.trusted-ca-file":              "peer-trusted-ca-file",
	"peer-transport-security.auto-tls":                     "peer-auto-tls",
	"peer-transport-security.allowed-cn":                   "peer-cert-allowed-cn",
	"peer-transport-security.allowed-hostname":             "peer-cert-allowed-hostname",
}

func flagOfKey(f Format, key string) string {
	if f == FormatYAML {
		if flag, ok := yamlFlags[key]; ok {
			return flag
		}
	}
	return key
}
