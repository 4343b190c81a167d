package etcdconf

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"
)

// These tests check the tables against etcd's own flag lists
// (testdata/flags-*.txt, probed from the real binaries by
// testdata/probe-flags.sh) and against the downgrade guide, typed in here
// rather than taken from tables.go.

// guide35Only is the guide's "flags not available in 3.4" list
// (etcd-downgrade-3.5-to-3.4.md), plus the two design.md adds.
var guide35Only = []string{
	"socket-reuse-port", "socket-reuse-address", "raft-read-timeout", "raft-write-timeout",
	"v2-deprecation", "client-cert-file", "client-key-file", "peer-client-cert-file",
	"peer-client-key-file", "self-signed-cert-validity", "enable-log-rotation", "log-rotation-config-json",
	"experimental-enable-distributed-tracing", "experimental-distributed-tracing-address",
	"experimental-distributed-tracing-service-name", "experimental-distributed-tracing-instance-id",
	"experimental-distributed-tracing-sampling-rate", "experimental-compact-hash-check-enabled",
	"experimental-compact-hash-check-time", "experimental-downgrade-check-time", "experimental-memory-mlock",
	"experimental-txn-mode-write-with-shared-buffer", "experimental-bootstrap-defrag-threshold-megabytes",
	"experimental-stop-grpc-service-on-defrag",
	// design.md
	"experimental-compaction-sleep-interval", "experimental-snapshot-catchup-entries",
}

// yamlOf writes a flag as etcd 3.5.21's config file spells it (embed.Config
// json tags); "" for flags without a config-file key.
var yamlOf = map[string]string{
	"socket-reuse-port":                     "socket-options:\n  reuse-port: true\n",
	"socket-reuse-address":                  "socket-options:\n  reuse-address: true\n",
	"raft-read-timeout":                     "",
	"raft-write-timeout":                    "",
	"client-cert-file":                      "client-transport-security:\n  client-cert-file: /x\n",
	"client-key-file":                       "client-transport-security:\n  client-key-file: /x\n",
	"peer-client-cert-file":                 "peer-transport-security:\n  client-cert-file: /x\n",
	"peer-client-key-file":                  "peer-transport-security:\n  client-key-file: /x\n",
	"experimental-snapshot-catchup-entries": "experimental-snapshot-catch-up-entries: 5000\n",
}

func readFlags(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "#") {
			m[s] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(m) < 50 {
		t.Fatalf("%s: only %d flags", path, len(m))
	}
	return m
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestTablesCoverFlagDiff(t *testing.T) {
	f35 := readFlags(t, "testdata/flags-3.5.21.txt")
	f34 := readFlags(t, "testdata/flags-3.4.23.txt")

	known := map[string]bool{freelist.v35.flag: true}
	for _, s := range only35 {
		if s.flag == "" {
			continue
		}
		known[s.flag] = true
		if !f35[s.flag] || f34[s.flag] {
			t.Errorf("only35 has %q, but 3.5.21 registers it: %v, 3.4.23 registers it: %v", s.flag, f35[s.flag], f34[s.flag])
		}
	}
	for _, f := range backportedTo34 {
		known[f] = true
	}
	for _, f := range minus(f35, f34) {
		if !known[f] {
			t.Errorf("3.5.21 registers %q and 3.4.23 does not, but the tables do not say what a downgrade does with it", f)
		}
	}
	want34 := []string{"debug", "experimental-backend-bbolt-freelist-type", "log-output", "log-package-levels"}
	if got := minus(f34, f35); strings.Join(got, " ") != strings.Join(want34, " ") {
		t.Errorf("flags of 3.4.23 missing in 3.5.21 = %v, want %v (the upgrade rules handle exactly these)", got, want34)
	}
	if f35["next-cluster-version-compatible"] || f34["next-cluster-version-compatible"] {
		t.Error("next-cluster-version-compatible should exist in neither 3.5.21 nor 3.4.23 (only 3.4.32+)")
	}
}

func changeKeys(cs []Change) map[string]Change {
	m := map[string]Change{}
	for _, c := range cs {
		m[c.Key] = c
	}
	return m
}

func TestGuideFlagsDroppedOnDowngrade(t *testing.T) {
	for _, flag := range guide35Only {
		in := "ETCD_NAME=s1\n" + envName(flag) + "=1\n"
		out, cs, err := translatePath(FormatEnv, []byte(in), PathDowngrade)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := changeKeys(cs)[flag]; !ok || c.Op != Drop || c.String() != "-"+flag {
			t.Errorf("%s: changes %v, want -%s", flag, cs, flag)
		}
		if strings.Contains(string(out), envName(flag)) {
			t.Errorf("%s: still in the output:\n%s", flag, out)
		}

		y, ok := yamlOf[flag]
		if !ok {
			y = flag + ": 1\n"
		}
		if y == "" {
			continue
		}
		in = "name: s1\n" + y + "data-dir: /d\n"
		out, cs, err = translatePath(FormatYAML, []byte(in), PathDowngrade)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := changeKeys(cs)[flag]; !ok || c.Op != Drop {
			t.Errorf("%s (YAML): changes %v, want -%s", flag, cs, flag)
		}
		if !strings.HasPrefix(string(out), "name: s1\ndata-dir: /d\n") {
			t.Errorf("%s (YAML): output\n%s", flag, out)
		}
	}
}

// Settings both versions have must come through a downgrade and an upgrade
// untouched, or the plan would change what the operator configured.
func TestSharedFlagsKept(t *testing.T) {
	f35 := readFlags(t, "testdata/flags-3.5.21.txt")
	f34 := readFlags(t, "testdata/flags-3.4.23.txt")
	shared := map[string]bool{}
	for f := range f35 {
		if f34[f] {
			shared[f] = true
		}
	}
	for _, f := range []string{"listen-client-http-urls", "tls-min-version", "tls-max-version"} {
		shared[f] = true // in 3.4 since 2023 backports, before 3.4.32
	}
	for f := range shared {
		if strings.Contains(f, ".") || f == "config-file" {
			continue // test.coverprofile: no ETCD_ variable maps to it; config-file: TestTranslateErrors
		}
		line := envName(f) + "=zap\n" // zap: a value the logger rule leaves alone
		for _, p := range []Path{PathDowngrade, PathUpgrade} {
			out, cs, err := translatePath(FormatEnv, []byte(line), p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), line) {
				t.Errorf("%s %s: line not kept:\n%s", p, f, out)
			}
			if _, ok := changeKeys(cs)[f]; ok {
				t.Errorf("%s %s: changed: %v", p, f, cs)
			}
		}
	}
}

func TestOnly34FlagsHandledOnUpgrade(t *testing.T) {
	f35 := readFlags(t, "testdata/flags-3.5.21.txt")
	f34 := readFlags(t, "testdata/flags-3.4.23.txt")
	for _, f := range append(minus(f34, f35), "next-cluster-version-compatible") {
		in := envName(f) + "=true\n"
		out, cs, err := translatePath(FormatEnv, []byte(in), PathUpgrade)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := changeKeys(cs)[f]; !ok {
			t.Errorf("%s: no change on upgrade: %v", f, cs)
		}
		if strings.Contains(string(out), envName(f)+"=") {
			t.Errorf("%s: still set after upgrade:\n%s", f, out)
		}
	}
}
