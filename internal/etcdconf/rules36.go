package etcdconf

import (
	"fmt"
	"strconv"
	"strings"
)

// The rules for 3.5 ⇄ 3.6 and 3.6 ⇄ 3.7, from the tables in tables36.go.

// gateKey names one feature gate in a Change: "feature-gates:InitialCorruptCheck".
func gateKey(gate string) string { return featureGates.name() + ":" + gate }

// up35to36: 3.5 → 3.6, also the rollback of a 3.6 → 3.5 downgrade.
func up35to36(d settings) ([]Change, error) {
	f := d.format()
	var cs []Change
	for _, s := range only35of36 {
		if dropAll(d, s.key(f)) {
			cs = append(cs, Change{Op: Drop, Key: s.name(), Note: s.note, Reason: s.why})
		}
	}
	for _, r := range stabilized36 {
		c, err := moveSetting(d, r.exp, r.stable, whyStable36)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c...)
	}
	gs, err := flagsToGates(d, "3.6")
	if err != nil {
		return nil, err
	}
	cs = append(cs, gs...)
	// A 3.5 file may hold a feature-gates value 3.5 ignored; 3.6 reads it
	// and exits on a gate it does not know.
	gs, err = dropGates(d, func(g gateInfo) bool { return g.since37 }, "3.6 does not have this 3.7 feature gate and exits on it (\"unrecognized feature gate\"); 3.5 ignored the setting", "3.6")
	if err != nil {
		return nil, err
	}
	cs = append(cs, gs...)
	return append(cs, upgradeDefaults(d, defaults36, "3.5")...), nil
}

// down36to35: 3.6 → 3.5, after etcd's downgrade API lowered the cluster.
func down36to35(d settings) ([]Change, error) {
	f := d.format()
	cs, err := gatesToFlags(d)
	if err != nil {
		return nil, err
	}
	for _, r := range stabilized36 {
		if r.exp.key(f) == "" {
			continue // only36 drops what 3.5 cannot read here
		}
		c, err := moveSetting(d, r.stable, r.exp, whyExp35)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c...)
	}
	for _, s := range append([]setting{warningUnaryRequestDuration.exp, warningUnaryRequestDuration.stable}, only36...) {
		if dropAll(d, s.key(f)) {
			why := s.why
			if s.flag == warningUnaryRequestDuration.exp.flag {
				why = warningUnaryRequestDuration.stable.why
			}
			cs = append(cs, Change{Op: Drop, Key: s.name(), Note: s.note, Reason: why})
		}
	}
	// 3.6 ran with write-only whatever was set, except write-only-skip-check;
	// 3.5 would act on the other stages: write-only-drop-data wipes the v2
	// store.
	if es := d.find(v2Deprecation.key(f)); len(es) > 0 {
		last := es[len(es)-1]
		if v := last.value; v != "write-only" && v != "write-only-skip-check" {
			for _, e := range es[:len(es)-1] {
				d.remove(e)
			}
			d.setValue(last, "write-only")
			cs = append(cs, Change{Op: Set, Key: v2Deprecation.name(), Old: v, Value: "write-only",
				Reason: "3.6 ignored v2-deprecation=" + v + " and ran with write-only (it enforces its default), while 3.5 would act on it; write-only keeps the member as it ran"})
		}
	}
	return append(cs, downgradeDefaults(d, defaults36, "3.6")...), nil
}

// up36to37: 3.6 → 3.7, also the rollback of a 3.7 → 3.6 downgrade.
func up36to37(d settings) ([]Change, error) {
	f := d.format()
	var cs []Change
	for _, s := range only36of37 {
		if dropAll(d, s.key(f)) {
			cs = append(cs, Change{Op: Drop, Key: s.name(), Note: s.note, Reason: s.why})
		}
	}
	const why = "3.7 removed the experimental name; 3.6 reads the stable one too"
	for _, r := range append(stabilized36, warningUnaryRequestDuration) {
		c, err := moveSetting(d, r.expIn36(), r.stable, why)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c...)
	}
	gs, err := flagsToGates(d, "3.7")
	if err != nil {
		return nil, err
	}
	cs = append(cs, gs...)
	return append(cs, upgradeDefaults(d, defaults37, "3.6")...), nil
}

// down37to36: 3.7 → 3.6, after etcd's downgrade API lowered the cluster.
func down37to36(d settings) ([]Change, error) {
	cs, err := dropGates(d, func(g gateInfo) bool { return g.since37 },
		"3.6 does not have this 3.7 feature gate and exits on it (\"unrecognized feature gate\"); on 3.6 the feature is off (FastLeaseKeepAlive: lease renewals wait for the applied index again)", "3.6")
	if err != nil {
		return nil, err
	}
	return append(cs, downgradeDefaults(d, defaults37, "3.7")...), nil
}

// moveSetting gives from's value to to's name, as renameSetting does; it
// also moves a value between a top-level key and a nested one in a config
// file. A key the format cannot hold on either side leaves it to the
// caller.
func moveSetting(d settings, from, to setting, why string) ([]Change, error) {
	fk, tk := from.key(d.format()), to.key(d.format())
	if fk == "" || tk == "" || fk == tk {
		return nil, nil
	}
	src := d.find(fk)
	if len(src) == 0 {
		return nil, nil
	}
	var cs []Change
	if dropAll(d, tk) {
		cs = append(cs, Change{Op: Drop, Key: to.name(), Note: "replaced by " + from.name(),
			Reason: "the source version ignored it; the renamed " + from.name() + " takes its place"})
	}
	last := src[len(src)-1]
	for _, e := range src[:len(src)-1] {
		d.remove(e)
	}
	if !strings.Contains(fk, ".") && !strings.Contains(tk, ".") {
		d.rename(last, tk)
	} else {
		v := last.value
		d.remove(last)
		if err := put(d, tk, v); err != nil {
			return nil, err
		}
	}
	return append(cs, Change{Op: Rename, Key: from.name(), NewKey: to.name(), Reason: why}), nil
}

// put adds key=value; a nested config-file key goes into its block.
func put(d settings, key, value string) error {
	if i := strings.IndexByte(key, '.'); i > 0 {
		if doc, ok := d.(*doc); ok && doc.kind == FormatYAML {
			return doc.addNested(key[:i], key[i+1:], value)
		}
	}
	d.add(key, value)
	return nil
}

// parseBool reads a boolean as etcd does (see isTrue); ok is false for a
// value etcd would refuse.
func parseBool(f Format, v string) (b, ok bool) {
	if f == FormatYAML {
		switch v {
		case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE":
			return true, true
		case "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE":
			return false, true
		}
		return false, false
	}
	b, err := strconv.ParseBool(v)
	return b, err == nil
}

// gate is one "Name=value" of a feature-gates value, the value as written.
type gate struct{ name, value string }

// parseGates reads a feature-gates value as featuregate.Set does.
func parseGates(v string) ([]gate, error) {
	var out []gate
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		kv := strings.SplitN(s, "=", 2)
		name := strings.TrimSpace(kv[0])
		if len(kv) != 2 {
			return nil, fmt.Errorf("feature-gates=%s: %q has no value (write %s=true or %s=false); etcd exits on it", v, name, name, name)
		}
		val := strings.TrimSpace(kv[1])
		if _, err := strconv.ParseBool(val); err != nil {
			return nil, fmt.Errorf("feature-gates=%s: %s=%s is not a boolean; etcd exits on it", v, name, val)
		}
		out = append(out, gate{name, val})
	}
	return out, nil
}

func formatGates(gs []gate) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.name + "=" + g.value
	}
	return strings.Join(parts, ",")
}

// mergesRepeats reports whether every occurrence of a setting counts, as
// for feature-gates on a command line (each --feature-gates adds to the
// gates); in a file the last one wins.
func mergesRepeats(d settings) bool {
	switch d.(type) {
	case *argDoc, *argsWithEnv:
		return true
	}
	return false
}

// elsewhereValue is the value another source (an env file next to a command
// line) gives key, if any.
func elsewhereValue(d settings, key string) (string, bool) {
	if a, ok := d.(*argsWithEnv); ok {
		v, ok := a.env[key]
		return v, ok
	}
	return "", false
}

// readGates returns the gates in effect and the entries that hold them.
func readGates(d settings) ([]gate, []*entry, error) {
	k := featureGates.key(d.format())
	es := d.find(k)
	if len(es) == 0 {
		if v, ok := elsewhereValue(d, k); ok {
			gs, err := parseGates(v)
			return gs, nil, err
		}
		return nil, nil, nil
	}
	use := es[len(es)-1:]
	if mergesRepeats(d) {
		use = es
	}
	var gs []gate
	for _, e := range use {
		more, err := parseGates(e.value)
		if err != nil {
			return nil, nil, err
		}
		gs = setGates(gs, more...)
	}
	return gs, es, nil
}

// setGates sets each of more in gs, in place when gs has it already.
func setGates(gs []gate, more ...gate) []gate {
next:
	for _, m := range more {
		for i := range gs {
			if gs[i].name == m.name {
				gs[i].value = m.value
				continue next
			}
		}
		gs = append(gs, m)
	}
	return gs
}

// writeGates makes gs the feature-gates setting: the entries collapse into
// the last one; with no gates left the setting goes.
func writeGates(d settings, es []*entry, gs []gate) {
	if len(es) == 0 {
		if len(gs) > 0 {
			d.add(featureGates.key(d.format()), formatGates(gs))
		}
		return
	}
	for _, e := range es[:len(es)-1] {
		d.remove(e)
	}
	last := es[len(es)-1]
	if len(gs) == 0 {
		d.remove(last)
		return
	}
	if v := formatGates(gs); v != last.value || len(es) > 1 {
		d.setValue(last, v)
	}
}

// flagsToGates turns the experimental boolean flags that became feature
// gates into entries of feature-gates, merged into the value there. On the
// source version feature-gates either did not exist (3.5: ignored, so the
// flag won) or could not name the same gate as the flag (3.6 exits), so the
// flag's value wins.
func flagsToGates(d settings, target string) ([]Change, error) {
	f := d.format()
	var cs []Change
	var set []gate
	for _, g := range gatedFlags {
		es := d.find(g.flag.key(f))
		if len(es) == 0 {
			continue
		}
		v := es[len(es)-1].value
		b, ok := parseBool(f, v)
		if !ok {
			return nil, fmt.Errorf("%s=%s is not a boolean; etcd would not start with it", g.flag.name(), v)
		}
		for _, e := range es {
			d.remove(e)
		}
		val := strconv.FormatBool(b)
		set = append(set, gate{g.gate, val})
		cs = append(cs, Change{Op: Rename, Key: g.flag.name(), NewKey: gateKey(g.gate), Value: val,
			Reason: strings.Replace(g.flag.why, "3.6 turns", target+" reads the gate; 3.6 turned", 1)})
	}
	if len(set) == 0 {
		return nil, nil
	}
	gs, es, err := readGates(d)
	if err != nil {
		return nil, err
	}
	writeGates(d, es, setGates(gs, set...))
	return cs, nil
}

// dropGates removes the gates drop selects, and refuses a gate neither
// 3.6 nor 3.7 has, on which the target would exit.
func dropGates(d settings, drop func(gateInfo) bool, why, target string) ([]Change, error) {
	gs, es, err := readGates(d)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	var keep []gate
	var cs []Change
	for _, g := range gs {
		info, known := gateByName(g.name)
		switch {
		case g.name == allAlpha || g.name == allBeta:
		case !known:
			return nil, fmt.Errorf("feature gate %s is not one etcd %s knows (it exits with \"unrecognized feature gate\"); remove it from feature-gates", g.name, target)
		case drop(info):
			cs = append(cs, Change{Op: Drop, Key: gateKey(g.name), Reason: why})
			continue
		}
		keep = append(keep, g)
	}
	if len(cs) > 0 {
		writeGates(d, es, keep)
	}
	return cs, nil
}

// gatesToFlags writes the feature gates 3.5 has as its experimental flags
// and drops feature-gates. AllAlpha and AllBeta count for the gates they
// switch that are not named.
func gatesToFlags(d settings) ([]Change, error) {
	f := d.format()
	k := featureGates.key(f)
	es := d.find(k)
	if len(es) == 0 {
		return nil, nil
	}
	gs, _, err := readGates(d)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		d.remove(e)
	}
	explicit := map[string]string{}
	for _, g := range gs {
		explicit[g.name] = g.value
	}
	var cs []Change
	mapped := map[string]bool{}
	for _, gf := range gatedFlags {
		mapped[gf.gate] = true
		v, ok := explicit[gf.gate]
		via := ""
		if !ok {
			info, _ := gateByName(gf.gate)
			toggle := allBeta
			if info.alpha {
				toggle = allAlpha
			}
			if v, ok = explicit[toggle]; !ok {
				continue
			}
			via = toggle
		}
		b, _ := strconv.ParseBool(v)
		val := strconv.FormatBool(b)
		fk := gf.flag.key(f)
		dropAll(d, fk) // 3.6 exits when both are set, so there is none to keep
		if err := put(d, fk, val); err != nil {
			return nil, err
		}
		c := Change{Op: Rename, Key: gateKey(gf.gate), NewKey: gf.flag.name(), Value: val,
			Reason: "3.5 has no feature gates; it reads this one as its experimental flag"}
		if via != "" {
			c.Key, c.Note = gateKey(via), "sets "+gf.gate
		}
		cs = append(cs, c)
	}
	for _, g := range gs {
		if mapped[g.name] {
			continue
		}
		why := "3.5 has no such setting (a 3.6 feature gate without an experimental flag in 3.5)"
		switch g.name {
		case allAlpha, allBeta:
			why = "3.5 has no feature gates; the gates this toggle switched that 3.5 has are written as their flags"
		case "SetMemberLocalAddr":
			why += "; 3.5 lets the system choose the local address of peer connections"
		}
		cs = append(cs, Change{Op: Drop, Key: gateKey(g.name), Reason: why})
	}
	if len(gs) == 0 {
		cs = append(cs, Change{Op: Drop, Key: featureGates.name(), Reason: featureGates.why})
	}
	return cs, nil
}

// setNonZero reports whether key is set to something other than "" or "0".
func setNonZero(d settings, key string) bool {
	es := d.find(key)
	if len(es) == 0 {
		return false
	}
	v := es[len(es)-1].value
	return v != "" && v != "0"
}

// upgradeDefaults pins the lower version's defaults, or sets the higher
// version's where it refuses the lower one's, also where a file sets the
// refused value.
func upgradeDefaults(d settings, dcs []defaultChange, lower string) []Change {
	f := d.format()
	var cs []Change
	for _, dc := range dcs {
		if !dc.in(f) {
			continue
		}
		k := dc.key(f)
		if es := d.find(k); len(es) > 0 {
			last := es[len(es)-1]
			if dc.refusedLower != "" && last.value == dc.lower {
				for _, e := range es[:len(es)-1] {
					d.remove(e)
				}
				d.setValue(last, dc.higher)
				cs = append(cs, Change{Op: Set, Key: dc.name(), Old: dc.lower, Value: dc.higher, Reason: dc.refusedLower})
			}
			continue
		}
		if d.has(k) || (dc.onlyWith != "" && !setNonZero(d, dc.onlyWith)) {
			continue
		}
		if dc.refusedLower != "" {
			d.add(k, dc.higher)
			cs = append(cs, Change{Op: Set, Key: dc.name(), Old: dc.lower, Value: dc.higher, Note: lower + " default", Reason: dc.refusedLower})
			continue
		}
		d.add(k, dc.lower)
		cs = append(cs, Change{Op: Pin, Key: dc.name(), Value: dc.lower, Note: lower + " default", Reason: dc.why})
	}
	return cs
}

// downgradeDefaults pins the higher version's defaults.
func downgradeDefaults(d settings, dcs []defaultChange, higher string) []Change {
	f := d.format()
	var cs []Change
	for _, dc := range dcs {
		k := dc.key(f)
		if !dc.in(f) || d.has(k) || (dc.onlyWith != "" && !setNonZero(d, dc.onlyWith)) {
			continue
		}
		d.add(k, dc.higher)
		cs = append(cs, Change{Op: Pin, Key: dc.name(), Value: dc.higher, Note: higher + " default", Reason: dc.why})
	}
	return cs
}
