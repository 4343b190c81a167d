package etcdconf

import (
	"strings"
	"testing"
)

// TestDefaultDiffsCoverRecordedDefaults fails on any setting that 3.4.23
// and 3.5.21 ran with differently, per mechanism, in the recorded
// measurements (testdata/defaults) unless defaultDiffs handles it with
// exactly the recorded values; and on any entry of defaultDiffs the
// measurements contradict.
func TestDefaultDiffsCoverRecordedDefaults(t *testing.T) {
	for _, f := range []Format{FormatEnv, FormatYAML} {
		o34, o35 := readObservation(t, "3.4.23", f), readObservation(t, "3.5.21", f)
		handled := map[string]bool{}
		for _, k := range differing(o34.Settings, o35.Settings) {
			v34, v35 := o34.Settings[k], o35.Settings[k]
			var dd *defaultDiff
			for i := range defaultDiffs {
				if defaultDiffs[i].name() == k {
					dd = &defaultDiffs[i]
				}
			}
			switch {
			case dd == nil || !dd.in(f):
				t.Errorf("%s: %s defaults to %q on 3.4.23 and %q on 3.5.21, but defaultDiffs does not pin it for %s files", mechanism(f), k, v34, v35, f)
			case dd.v34 != v34 || dd.v35 != v35:
				t.Errorf("%s: defaultDiffs has %s = %q (3.4) / %q (3.5), measured %q / %q", mechanism(f), k, dd.v34, dd.v35, v34, v35)
			}
			handled[k] = true
		}
		for _, dd := range defaultDiffs {
			_, seen34 := o34.Settings[dd.name()]
			_, seen35 := o35.Settings[dd.name()]
			if dd.in(f) && seen34 && seen35 && !handled[dd.name()] {
				t.Errorf("%s: defaultDiffs pins %s, but 3.4.23 and 3.5.21 were measured with the same value %q", mechanism(f), dd.name(), o34.Settings[dd.name()])
			}
		}
	}
	// The case that started this: a YAML-configured 3.4 member has no gateway.
	if got := readObservation(t, "3.4.23", FormatYAML).Settings["enable-grpc-gateway"]; got != "false" {
		t.Errorf("3.4.23 YAML enable-grpc-gateway measured %q", got)
	}
}

// TestDefaultPinsOnRealEtcd starts the real 3.5.21 and 3.4.23 binaries on a
// minimal configuration and on its translation, in both directions and
// both mechanisms, and checks that the member runs with the same settings
// after the version change: every logged field, the logger and the
// probes, the gRPC gateway among them. The only change allowed is the one
// 3.5 forces and the plan names: capnslog becomes zap on the upgrade.
func TestDefaultPinsOnRealEtcd(t *testing.T) {
	bin34, bin35 := binaryOrSkip(t, "3.4.23"), binaryOrSkip(t, "3.5.21")
	for _, f := range []Format{FormatYAML, FormatEnv} {
		t.Run(mechanism(f)+" downgrade", func(t *testing.T) {
			m := newMember(t)
			base := m.config(f)
			before, _ := m.run(t, bin35, f, base)
			out, cs, err := translatePath(f, base, PathDowngrade)
			if err != nil {
				t.Fatal(err)
			}
			after, log := m.run(t, bin34, f, out)
			for _, k := range differing(before, after) {
				t.Errorf("%s: 3.5.21 ran with %q, 3.4.23 on the translated file with %q (changes: %s)\n%s", k, before[k], after[k], Summarize(cs), out)
			}
			if f == FormatYAML {
				if after["enable-grpc-gateway"] != "true" {
					t.Errorf("POST /v3/kv/range on 3.4.23 after the downgrade: gateway %s\n%s", after["enable-grpc-gateway"], log)
				}
				// Without the pin the gateway is gone: the reason for it.
				plain, _ := m.run(t, bin34, f, base)
				if plain["enable-grpc-gateway"] != "false" {
					t.Errorf("3.4.23 on the untranslated YAML file: gateway %s; the pin may no longer be needed", plain["enable-grpc-gateway"])
				}
			}
		})
		t.Run(mechanism(f)+" upgrade", func(t *testing.T) {
			m := newMember(t)
			base := m.config(f)
			before, _ := m.run(t, bin34, f, base)
			zap, _ := m.run(t, bin34, f, appendSetting(f, base, "logger", "zap"))
			for k, v := range zap {
				if _, ok := before[k]; !ok {
					before[k] = v
				}
			}
			out, cs, err := translatePath(f, base, PathUpgrade)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := m.run(t, bin35, f, out)
			for _, k := range differing(before, after) {
				if k == "logger" && strings.Contains(Summarize(cs), "logger=capnslog→zap") {
					continue
				}
				t.Errorf("%s: 3.4.23 ran with %q, 3.5.21 on the translated file with %q (changes: %s)\n%s", k, before[k], after[k], Summarize(cs), out)
			}
		})
	}
}
