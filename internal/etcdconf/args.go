package etcdconf

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
)

// Settings given on etcd's command line. etcd parses them with Go's flag
// package (etcdmain/config.go: flag.NewFlagSet("etcd", flag.ContinueOnError)),
// so "-name", "--name", "--name=value" and "--name value" are all the same,
// a boolean flag takes no separate value ("--pre-vote" alone is true,
// "--pre-vote=false" turns it off, and "--pre-vote false" would end the
// flags at "false"), and parsing stops at "--" or the first argument that is
// not a flag. Unlike an env file, a flag the binary does not define makes
// etcd exit at once ("flag provided but not defined"), so here dropping what
// the target lacks is not a nicety: any flag left that the target version
// does not define is an error.

// The probed flag lists (see tables.go) say which names each version
// defines.
var (
	//go:embed testdata/flags-3.4.23.txt
	flags3423 []byte
	//go:embed testdata/flags-3.5.21.txt
	flags3521 []byte
	//go:embed testdata/flags-3.5.35.txt
	flags3535 []byte
	//go:embed testdata/flags-3.6.16.txt
	flags3616 []byte
	//go:embed testdata/flags-3.7.3.txt
	flags373 []byte
)

func readFlagList(b []byte) map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			m[s] = true
		}
	}
	return m
}

var (
	// flags34 are what a downgrade target (3.4.32+) defines: 3.4.23's flags,
	// the backports of 3.4.24-3.4.31 and next-cluster-version-compatible.
	flags34 = func() map[string]bool {
		m := readFlagList(flags3423)
		for _, f := range backportedTo34 {
			m[f] = true
		}
		m[nextClusterVersionCompatible.flag] = true
		return m
	}()
	// flags35: 3.5.21 and 3.5.35 register the same flags (both probed).
	flags35 = func() map[string]bool {
		m := readFlagList(flags3521)
		for f := range readFlagList(flags3535) {
			m[f] = true
		}
		return m
	}()
	flags36 = readFlagList(flags3616)
	flags37 = readFlagList(flags373)
)

// flagsOf are the flags a minor series defines.
func flagsOf(v Version) map[string]bool {
	switch {
	case v.SameMinor(v34):
		return flags34
	case v.SameMinor(v35):
		return flags35
	case v.SameMinor(v36):
		return flags36
	case v.SameMinor(v37):
		return flags37
	}
	return nil
}

// boolFlags are the flags registered with fs.BoolVar in 3.4.23 or 3.5.21
// (etcdmain/config.go of each), next-cluster-version-compatible (3.4.32
// etcdmain/config.go fs.BoolVar(&cfg.ec.NextClusterVersionCompatible, ...)),
// and the ignored legacy flags, whose flags.IgnoredFlag says IsBoolFlag
// (pkg/flags/ignored.go). Only these take no separate value.
var boolFlags = map[string]bool{
	"auto-tls": true, "client-cert-auth": true, "debug": true, "enable-grpc-gateway": true,
	"enable-log-rotation": true, "enable-pprof": true, "enable-v2": true,
	"experimental-compact-hash-check-enabled": true, "experimental-enable-distributed-tracing": true,
	"experimental-enable-lease-checkpoint": true, "experimental-enable-lease-checkpoint-persist": true,
	"experimental-initial-corrupt-check": true, "experimental-memory-mlock": true,
	"experimental-peer-skip-client-san-verification": true, "experimental-stop-grpc-service-on-defrag": true,
	"experimental-txn-mode-write-with-shared-buffer": true, "force-new-cluster": true,
	"initial-election-tick-advance": true, "peer-auto-tls": true, "peer-client-cert-auth": true,
	"pre-vote": true, "socket-reuse-address": true, "socket-reuse-port": true,
	"strict-reconfig-check": true, "unsafe-no-fsync": true, "version": true,
	"next-cluster-version-compatible": true,
	// 3.6.16 and 3.7.3 embed/config.go AddFlags fs.BoolVar
	"discovery-insecure-skip-tls-verify": true, "discovery-insecure-transport": true,
	"enable-distributed-tracing": true, "memory-mlock": true, "peer-skip-client-san-verification": true,
	// etcdmain/config.go ignored (3.4.23 and 3.5.21 alike; vv in 3.5.21 to 3.7.3)
	"cluster-active-size": true, "cluster-remove-delay": true, "cluster-sync-interval": true,
	"config": true, "force": true, "max-result-buffer": true, "max-retry-attempts": true,
	"peer-heartbeat-interval": true, "peer-election-timeout": true, "retry-interval": true,
	"snapshot": true, "v": true, "vv": true,
}

// argDoc is an argument list being translated. Its entries use flag names,
// like an env file's, so the same rules apply.
type argDoc struct {
	args    []string // the input, without the program name
	text    []string // what each input argument becomes
	deleted []bool
	changed []bool
	entries []*entry
	added   []string
}

// entry fields for an argument: first is the index of the flag, last the
// index of its separate value (== first otherwise), keyStart the number of
// dashes, and argForm how the value is given.
const (
	argBare   = 0   // "--flag", a boolean
	argInline = '=' // "--flag=value"
	argNext   = ' ' // "--flag value"
)

// parseArgs reads args given to etcd `from` on their way to `to`: a flag
// neither defines is an error.
func parseArgs(args []string, from, to Version) (*argDoc, error) {
	d := &argDoc{args: args, text: append([]string(nil), args...), deleted: make([]bool, len(args)), changed: make([]bool, len(args))}
	for i := 0; i < len(args); i++ {
		s := args[i]
		if len(s) < 2 || s[0] != '-' {
			return nil, fmt.Errorf("argument %q is not a flag: etcd takes no positional arguments and exits (\"'%s' is not a valid flag\")", s, s)
		}
		dashes := 1
		if s[1] == '-' {
			dashes = 2
			if len(s) == 2 {
				if i+1 < len(args) {
					return nil, fmt.Errorf("arguments after \"--\" (%q): etcd takes no positional arguments and exits", args[i+1])
				}
				return nil, fmt.Errorf("a trailing \"--\" is not something this translation rewrites; remove it")
			}
		}
		name := s[dashes:]
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, fmt.Errorf("bad flag syntax: %q", s)
		}
		e := &entry{first: i, last: i, keyStart: dashes}
		if k := strings.IndexByte(name, '='); k >= 0 {
			e.key, e.value, e.form = name[:k], name[k+1:], argInline
		} else {
			e.key = name
		}
		switch {
		case e.key == "h" || e.key == "help":
			return nil, fmt.Errorf("%q makes etcd print its help and exit; remove it", s)
		case !flagsOf(from)[e.key] && !flagsOf(to)[e.key]:
			lo, hi := from, to
			if lo.Compare(hi) > 0 {
				lo, hi = hi, lo
			}
			return nil, fmt.Errorf("flag %q: neither etcd %s nor etcd %s defines --%s, so etcd would exit (\"flag provided but not defined\")", s, lo.MinorVersion(), hi.MinorVersion(), e.key)
		case e.form == argInline:
		case boolFlags[e.key]:
			e.value, e.form = "true", argBare
		case i+1 < len(args):
			i++
			e.last, e.value, e.form = i, args[i], argNext
		default:
			return nil, fmt.Errorf("flag %q needs a value and is the last argument", s)
		}
		d.entries = append(d.entries, e)
	}
	return d, nil
}

func (d *argDoc) format() Format { return FormatEnv }

func (d *argDoc) find(key string) []*entry {
	var out []*entry
	for _, e := range d.entries {
		if !e.removed && e.key == key {
			out = append(out, e)
		}
	}
	return out
}

func (d *argDoc) has(key string) bool { return len(d.find(key)) > 0 }

func (d *argDoc) remove(e *entry) {
	e.removed = true
	for i := e.first; i <= e.last; i++ {
		d.deleted[i] = true
	}
}

func (d *argDoc) set(i int, s string) {
	d.text[i] = s
	d.changed[i] = true
}

func (d *argDoc) rename(e *entry, key string) {
	e.key = key
	if e.form == argInline {
		d.set(e.first, strings.Repeat("-", e.keyStart)+key+"="+e.value)
	} else {
		d.set(e.first, strings.Repeat("-", e.keyStart)+key)
	}
}

func (d *argDoc) setValue(e *entry, v string) {
	e.value = v
	if e.form == argNext {
		d.set(e.last, v)
		return
	}
	e.form = argInline
	d.set(e.first, strings.Repeat("-", e.keyStart)+e.key+"="+v)
}

func (d *argDoc) add(key, value string) {
	d.added = append(d.added, "--"+key+"="+value)
	d.entries = append(d.entries, &entry{key: key, value: value, first: -1, last: -1, keyStart: 2, form: argInline})
}

func (d *argDoc) result() []string {
	var out []string
	for i, s := range d.text {
		if !d.deleted[i] {
			out = append(out, s)
		}
	}
	return append(out, d.added...)
}

// TranslateArgs rewrites etcd's command-line arguments (without the program
// name) for the change from → to, with the same rules as Translate for an
// env file (for 3.5 → 3.4: 3.5-only flags dropped, the freelist flag
// renamed, the defaults that differ pinned (appended as --key=value),
// next-cluster-version-compatible added; and so on for each minor change).
// A refused transition, an argument etcd would not accept, or a flag the
// target version does not define after the rules have run is an error. A
// patch change or no change returns the arguments as they are. Translating
// the result again changes nothing.
func TranslateArgs(args []string, from, to Version) (out []string, changes []Change, err error) {
	if _, err := CheckTransition(from, to); err != nil {
		return nil, nil, err
	}
	return TranslateArgsMinors(args, from, to, nil)
}

// TranslateArgsMinors applies the rules of the minor change from → to to
// args, ignoring patch levels. elsewhere holds the settings the member also
// gets from an env file (in flag form, as Keys returns them): a flag on the
// command line overrides its ETCD_* variable, so a default is not pinned
// here when the env file sets it, or the pin would override the operator's
// value; and gates written to --feature-gates start from the env file's.
func TranslateArgsMinors(args []string, from, to Version, elsewhere map[string]string) (out []string, changes []Change, err error) {
	d, cs, err := translateArgs(args, from, to, elsewhere)
	if err != nil {
		return nil, nil, err
	}
	return d.result(), cs, nil
}

func translateArgs(args []string, from, to Version, elsewhere map[string]string) (*argDoc, []Change, error) {
	st, err := stepFor(from, to)
	if err != nil {
		return nil, nil, err
	}
	if st == nil {
		return &argDoc{text: append([]string(nil), args...), deleted: make([]bool, len(args)), changed: make([]bool, len(args))}, nil, nil
	}
	d, err := parseArgs(args, from, to)
	if err != nil {
		return nil, nil, err
	}
	if es := d.find("config-file"); len(es) > 0 && es[len(es)-1].value != "" {
		f := es[len(es)-1].value
		return nil, nil, fmt.Errorf("the command line sets --config-file=%s, so etcd reads its settings from that YAML file and ignores the other flags; set service.config_file to %s so that it is the file translated", f, f)
	}
	var cs []Change
	withElsewhere(d, elsewhere, func(s settings) {
		cs, err = st.rules(s)
	})
	if err != nil {
		return nil, nil, err
	}
	target := flagsOf(to)
	for _, e := range d.entries {
		if !e.removed && !target[e.key] {
			return nil, nil, fmt.Errorf("etcd %s does not define --%s, and etcd exits at start (\"flag provided but not defined\") when a flag it does not know is on its command line; no translation rule covers it, so remove it from the command line", to.MinorVersion(), e.key)
		}
	}
	return d, cs, nil
}

// withElsewhere runs the rules on d while has() also sees the settings of
// another source, so that pins skip what that source sets.
func withElsewhere(d *argDoc, elsewhere map[string]string, rules func(settings)) {
	if len(elsewhere) == 0 {
		rules(d)
		return
	}
	rules(&argsWithEnv{argDoc: d, env: elsewhere})
}

type argsWithEnv struct {
	*argDoc
	env map[string]string
}

func (a *argsWithEnv) has(key string) bool {
	_, ok := a.env[key]
	return ok || a.argDoc.has(key)
}
