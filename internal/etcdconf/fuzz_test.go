package etcdconf

import (
	"bytes"
	"strings"
	"testing"
)

// Seeds beyond testdata/fuzz: the translate test inputs.
func addTranslateSeeds(f *testing.F, format Format) {
	for _, tc := range translateCases {
		if tc.format == format {
			f.Add([]byte(tc.in), tc.to > tc.from)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"3.4.34", "3.5", "v3.4.34", "3.4.34-rc.1", "latest", "", " 3.5.21 ", "03.04.05", "1.2.3.4", "9999999999.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid version ") {
				t.Fatalf("ParseVersion(%q): error %q", s, err)
			}
			return
		}
		if v.String() != s {
			t.Fatalf("ParseVersion(%q) = %v, which prints differently", s, v)
		}
		// Every accepted version has a defined relation to every other.
		if _, err := CheckTransition(v, MinDowngradeTarget); err != nil && !strings.Contains(err.Error(), "the allowed targets are: ") {
			t.Fatalf("CheckTransition(%v, ...): %v", v, err)
		}
	})
}

// fuzzTranslate checks, for either direction: no panic; an error leaves no
// output; no changes means the input comes back byte for byte; and a
// second translation of the output changes nothing, since the provider may
// re-run a step on a file it already rewrote.
func fuzzTranslate(t *testing.T, format Format, in []byte, up bool) {
	p := PathDowngrade
	if up {
		p = PathUpgrade
	}
	if _, err := Keys(format, in); err != nil {
		if _, _, terr := translatePath(format, in, p); terr == nil {
			t.Fatalf("Keys fails (%v) but Translate does not", err)
		}
	}
	out, cs, err := translatePath(format, in, p)
	if err != nil {
		if out != nil || cs != nil {
			t.Fatalf("error %v with output", err)
		}
		return
	}
	if len(cs) == 0 && !bytes.Equal(out, in) {
		t.Fatalf("no changes, but the output differs:\n%q\n%q", in, out)
	}
	out2, cs2, err := translatePath(format, out, p)
	if err != nil {
		t.Fatalf("second %s of\n%q\n(from %q): %v", p, out, in, err)
	}
	if len(cs2) > 0 || !bytes.Equal(out2, out) {
		t.Fatalf("second %s changed %s:\n in: %q\nout: %q\nout2: %q", p, Summarize(cs2), in, out, out2)
	}
	// The other minor changes: the same promises of idempotence.
	for _, st := range steps[2:] { // after 3.4 ⇄ 3.5
		o, c, err := TranslateMinors(format, in, st.from, st.to)
		if err != nil {
			if o != nil || c != nil {
				t.Fatalf("%s → %s: error %v with output", st.from, st.to, err)
			}
			continue
		}
		if len(c) == 0 && !bytes.Equal(o, in) {
			t.Fatalf("%s → %s: no changes, but the output differs:\n%q\n%q", st.from, st.to, in, o)
		}
		o2, c2, err := TranslateMinors(format, o, st.from, st.to)
		if err != nil || len(c2) > 0 || !bytes.Equal(o2, o) {
			t.Fatalf("second %s → %s changed %s (%v):\n in: %q\nout: %q\nout2: %q", st.from, st.to, Summarize(c2), err, in, o, o2)
		}
	}
	// What each direction promises, read back from the output.
	d, err := parse(format, out)
	if err != nil {
		t.Fatalf("parsing the output: %v", err)
	}
	ncvc := nextClusterVersionCompatible.key(format)
	if p == PathDowngrade {
		es := d.find(ncvc)
		if len(es) == 0 || !isTrue(format, es[len(es)-1].value) {
			t.Fatalf("downgrade output lacks next-cluster-version-compatible=true: %q", out)
		}
		for _, s := range only35 {
			if k := s.key(format); k != "" && d.has(k) {
				t.Fatalf("downgrade output still has %s: %q", k, out)
			}
		}
		for _, dd := range defaultDiffs {
			if dd.in(format) && !d.has(dd.key(format)) {
				t.Fatalf("downgrade output leaves %s to the 3.4 default: %q", dd.key(format), out)
			}
		}
	} else {
		for _, k := range []string{ncvc, debugSetting.key(format), logOutput.key(format), logPackageLevels.key(format), freelist.v34.key(format)} {
			if d.has(k) {
				t.Fatalf("upgrade output still has %s: %q", k, out)
			}
		}
		if es := d.find(loggerSetting.key(format)); len(es) > 0 && es[len(es)-1].value == "capnslog" {
			t.Fatalf("upgrade output still has logger=capnslog: %q", out)
		}
		for _, dd := range defaultDiffs {
			if dd.in(format) && !d.has(dd.key(format)) {
				t.Fatalf("upgrade output leaves %s to the 3.5 default: %q", dd.key(format), out)
			}
		}
	}
}

func FuzzTranslateEnv(f *testing.F) {
	addTranslateSeeds(f, FormatEnv)
	f.Fuzz(func(t *testing.T, in []byte, up bool) { fuzzTranslate(t, FormatEnv, in, up) })
}

func FuzzTranslateYAML(f *testing.F) {
	addTranslateSeeds(f, FormatYAML)
	f.Fuzz(func(t *testing.T, in []byte, up bool) { fuzzTranslate(t, FormatYAML, in, up) })
}

// FuzzTranslateCommandLine checks the command-line rewrite as fuzzTranslate
// does the files: no panic; an error leaves no output; no changes gives the
// text back; a second run changes nothing; what the arguments read back as
// equals what TranslateArgsPath makes of them; and after a downgrade every
// flag left is one 3.4 defines.
func FuzzTranslateCommandLine(f *testing.F) {
	for _, tc := range argsCases {
		f.Add(strings.Join(tc.in, " "), tc.to > tc.from, false)
	}
	f.Add("/usr/bin/etcd --name 's1' \\\n  --socket-reuse-port \\\n  --backend-bbolt-freelist-type \"map\"\n", false, true)
	f.Add("/usr/bin/etcd \"--logger=capnslog\" --debug --name=${HOSTNAME}", true, true)
	f.Fuzz(func(t *testing.T, s string, up, program bool) {
		p := PathDowngrade
		if up {
			p = PathUpgrade
		}
		out, cs, err := translateCommandLinePath(s, CommandSyntax, program, p, nil)
		if err != nil {
			if out != "" || cs != nil {
				t.Fatalf("error %v with output", err)
			}
			return
		}
		if len(cs) == 0 && out != s {
			t.Fatalf("no changes, but the output differs:\n%q\n%q", s, out)
		}
		out2, cs2, err := translateCommandLinePath(out, CommandSyntax, program, p, nil)
		if err != nil || len(cs2) > 0 || out2 != out {
			t.Fatalf("second %s of %q (from %q): %s %v %q", p, out, s, Summarize(cs2), err, out2)
		}
		in, _ := SplitArgs(s, CommandSyntax)
		got, err := SplitArgs(out, CommandSyntax)
		if err != nil {
			t.Fatalf("the output %q does not split: %v", out, err)
		}
		if program {
			if len(got) == 0 || got[0] != in[0] {
				t.Fatalf("program changed: %q → %q", in, got)
			}
			in, got = in[1:], got[1:]
		}
		want, _, err := translateArgsPath(in, p, nil)
		if err != nil || strings.Join(want, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("%q reads back as %q, TranslateArgsPath gives %q (%v)", out, got, want, err)
		}
		if p == PathDowngrade {
			d, err := parseArgs(got, v35, v34)
			if err != nil {
				t.Fatalf("output args %q: %v", got, err)
			}
			for _, e := range d.entries {
				if !flags34[e.key] {
					t.Fatalf("3.4 does not define --%s, left in %q", e.key, out)
				}
			}
		}
	})
}
