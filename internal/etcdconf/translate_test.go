package etcdconf

import (
	"strings"
	"testing"
)

type translateCase struct {
	name     string
	format   Format
	from, to string
	in       string
	want     string // expected output
	summary  string // expected Summarize(changes)
}

var translateCases = []translateCase{
	{
		name: "env downgrade: drops, rename, pins, add; comments, order, quoting and unknown variables kept",
		from: "3.5.21", to: "3.4.34",
		in: `# etcd member s1
ETCD_NAME=s1
ETCD_DATA_DIR="/var/lib/etcd"

# sockets
export ETCD_SOCKET_REUSE_PORT=true
ETCD_SOCKET_REUSE_ADDRESS='true'   # same
ETCD_BACKEND_BBOLT_FREELIST_TYPE="map" # faster
GOMAXPROCS=4
ETCDCTL_API=3
ETCD_UNSUPPORTED_ARCH=arm64
ETCD_LISTEN_CLIENT_HTTP_URLS=http://10.0.0.1:2382
ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL=10ms
ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES=5000
`,
		want: `# etcd member s1
ETCD_NAME=s1
ETCD_DATA_DIR="/var/lib/etcd"

# sockets
ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE="map" # faster
GOMAXPROCS=4
ETCDCTL_API=3
ETCD_UNSUPPORTED_ARCH=arm64
ETCD_LISTEN_CLIENT_HTTP_URLS=http://10.0.0.1:2382
# added by terraform-provider-etcd for an etcd version change
ETCD_LOGGER=zap
ETCD_PRE_VOTE=true
ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true
`,
		summary: "-socket-reuse-port, -socket-reuse-address, -experimental-compaction-sleep-interval, -experimental-snapshot-catchup-entries, backend-bbolt-freelist-type→experimental-backend-bbolt-freelist-type, +logger=zap (pinned: 3.5 default), +pre-vote=true (pinned: 3.5 default), +next-cluster-version-compatible",
	},
	{
		name: "env downgrade: the design's example, explicit logger and pre-vote kept as they are",
		from: "3.5.21", to: "3.4.34",
		in:      "ETCD_NAME=s1\nETCD_LOGGER=zap\nETCD_PRE_VOTE=false\nETCD_SOCKET_REUSE_PORT=true\n",
		want:    "ETCD_NAME=s1\nETCD_LOGGER=zap\nETCD_PRE_VOTE=false\n# added by terraform-provider-etcd for an etcd version change\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n",
		summary: "-socket-reuse-port, +next-cluster-version-compatible",
	},
	{
		name: "env downgrade: export style followed, no trailing newline, CRLF kept",
		from: "3.5.21", to: "3.4.32",
		in:      "export ETCD_NAME=s1\r\nexport ETCD_LOGGER=zap\r\nexport ETCD_PRE_VOTE=true",
		want:    "export ETCD_NAME=s1\r\nexport ETCD_LOGGER=zap\r\nexport ETCD_PRE_VOTE=true\r\n# added by terraform-provider-etcd for an etcd version change\r\nexport ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\r\n",
		summary: "+next-cluster-version-compatible",
	},
	{
		name: "env downgrade: next-cluster-version-compatible=false is set to true, in its quotes",
		from: "3.5.21", to: "3.4.34",
		in:      "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=\"false\"\n",
		want:    "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=\"true\"\n",
		summary: "next-cluster-version-compatible=false→true",
	},
	{
		name: "env downgrade: a stale 3.4 freelist name gives way to the 3.5 one in use",
		from: "3.5.21", to: "3.4.34",
		in:      "ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=array\nETCD_BACKEND_BBOLT_FREELIST_TYPE=map\nETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=1\n",
		want:    "ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=map\nETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=1\n",
		summary: "-experimental-backend-bbolt-freelist-type (replaced by backend-bbolt-freelist-type), backend-bbolt-freelist-type→experimental-backend-bbolt-freelist-type",
	},
	{
		name: "env downgrade: repeated and continued settings go whole",
		from: "3.5.21", to: "3.4.34",
		in:      "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\nETCD_V2_DEPRECATION=not-yet\nETCD_V2_DEPRECATION=write-only\nETCD_LOG_ROTATION_CONFIG_JSON={\"maxsize\": 100, \\\n  \"maxage\": 0}\nETCD_NAME=s1\n",
		want:    "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\nETCD_NAME=s1\n",
		summary: "-v2-deprecation, -log-rotation-config-json",
	},
	{
		name: "env downgrade: lower-case and prefix-only variables are not etcd's",
		from: "3.5.21", to: "3.4.34",
		in:      "etcd_socket_reuse_port=true\nETCD_=x\nETCD_Socket_Reuse_Port=true\nETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n",
		want:    "etcd_socket_reuse_port=true\nETCD_=x\nETCD_Socket_Reuse_Port=true\nETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n",
		summary: "no changes",
	},
	{
		name: "env downgrade: empty file",
		from: "3.5.21", to: "3.4.34",
		in:      "",
		want:    "# added by terraform-provider-etcd for an etcd version change\nETCD_LOGGER=zap\nETCD_PRE_VOTE=true\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n",
		summary: "+logger=zap (pinned: 3.5 default), +pre-vote=true (pinned: 3.5 default), +next-cluster-version-compatible",
	},
	{
		name: "env downgrade: a trailing backslash is not continued onto the added lines",
		from: "3.5.21", to: "3.4.34",
		in:      "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\n# note \\",
		want:    "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\n# note \\\n\n# added by terraform-provider-etcd for an etcd version change\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n",
		summary: "+next-cluster-version-compatible",
	},
	{
		name: "env upgrade (rollback): the downgrade undone, pins stay",
		from: "3.4.34", to: "3.5.21",
		in: `# etcd member s1
ETCD_NAME=s1
ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE="map" # faster
# added by terraform-provider-etcd for an etcd version change
ETCD_LOGGER=zap
ETCD_PRE_VOTE=true
ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true
`,
		want: `# etcd member s1
ETCD_NAME=s1
ETCD_BACKEND_BBOLT_FREELIST_TYPE="map" # faster
# added by terraform-provider-etcd for an etcd version change
ETCD_LOGGER=zap
ETCD_PRE_VOTE=true
`,
		summary: "-next-cluster-version-compatible, experimental-backend-bbolt-freelist-type→backend-bbolt-freelist-type",
	},
	{
		name: "env upgrade: a 3.4 capnslog setup",
		from: "3.4.23", to: "3.5.21",
		in:      "ETCD_NAME=s1\nETCD_DEBUG=true\nETCD_LOG_PACKAGE_LEVELS=etcdserver=DEBUG\nETCD_LOG_OUTPUT=default\nETCD_LOGGER='capnslog'\n",
		want:    "ETCD_NAME=s1\nETCD_LOG_LEVEL=debug\nETCD_LOGGER='zap'\n# added by terraform-provider-etcd for an etcd version change\nETCD_PRE_VOTE=false\n",
		summary: "debug→log-level=debug, -log-package-levels, -log-output, logger=capnslog→zap, +pre-vote=false (pinned: 3.4 default)",
	},
	{
		name: "env upgrade: debug with an explicit log level, capnslog by default",
		from: "3.4.23", to: "3.5.21",
		in:      "ETCD_LOG_LEVEL=warn\nETCD_DEBUG=true\n",
		want:    "ETCD_LOG_LEVEL=warn\n# added by terraform-provider-etcd for an etcd version change\nETCD_LOGGER=zap\nETCD_PRE_VOTE=false\n",
		summary: "-debug, logger=capnslog→zap (3.4 default), +pre-vote=false (pinned: 3.4 default)",
	},
	{
		name: "env upgrade: debug under zap never set the level in 3.4",
		from: "3.4.34", to: "3.5.21",
		in:      "ETCD_LOGGER=zap\nETCD_DEBUG=1\nETCD_PRE_VOTE=true\n",
		want:    "ETCD_LOGGER=zap\nETCD_PRE_VOTE=true\n",
		summary: "-debug",
	},
	{
		name: "env upgrade: debug=false",
		from: "3.4.34", to: "3.5.21",
		in:      "ETCD_DEBUG=false\nETCD_NAME=s1",
		want:    "ETCD_NAME=s1\n# added by terraform-provider-etcd for an etcd version change\nETCD_LOGGER=zap\nETCD_PRE_VOTE=false\n",
		summary: "-debug, logger=capnslog→zap (3.4 default), +pre-vote=false (pinned: 3.4 default)",
	},
	{
		name: "env patch: untouched, even 3.5-only settings on 3.4",
		from: "3.4.23", to: "3.4.34",
		in:      "ETCD_SOCKET_REUSE_PORT=true\nETCD_DEBUG=true\n",
		want:    "ETCD_SOCKET_REUSE_PORT=true\nETCD_DEBUG=true\n",
		summary: "no changes",
	},
	{
		name: "env same version: untouched", from: "3.5.21", to: "3.5.21",
		in: "ETCD_SOCKET_REUSE_PORT=true\n", want: "ETCD_SOCKET_REUSE_PORT=true\n", summary: "no changes",
	},
	{
		name:   "yaml downgrade: nested blocks edited, everything else kept",
		format: FormatYAML, from: "3.5.21", to: "3.4.34",
		in: `# This is the configuration file for the etcd server.
name: 's1'
data-dir: /var/lib/etcd
socket-options:
  reuse-port: true
  # kept together
  reuse-address: true
listen-client-urls: https://10.0.0.11:2379
client-transport-security:
  cert-file: /etc/etcd/server.crt
  key-file: /etc/etcd/server.key
  client-cert-file: /etc/etcd/client.crt   # 3.5 only
  client-key-file: /etc/etcd/client.key
  client-cert-auth: true
  trusted-ca-file: /etc/etcd/ca.crt
peer-transport-security: {cert-file: /etc/etcd/peer.crt, client-key-file: "/etc/etcd/pc.key", allowed-cn: etcd-peer}
log-outputs:
- stderr
backend-bbolt-freelist-type: map
experimental-snapshot-catch-up-entries: 5000
some-future-key: {a: 1}
`,
		want: `# This is the configuration file for the etcd server.
name: 's1'
data-dir: /var/lib/etcd
listen-client-urls: https://10.0.0.11:2379
client-transport-security:
  cert-file: /etc/etcd/server.crt
  key-file: /etc/etcd/server.key
  client-cert-auth: true
  trusted-ca-file: /etc/etcd/ca.crt
peer-transport-security: {cert-file: /etc/etcd/peer.crt}
log-outputs:
- stderr
experimental-backend-bbolt-freelist-type: map
some-future-key: {a: 1}
# added by terraform-provider-etcd for an etcd version change
logger: zap
pre-vote: true
enable-grpc-gateway: true
next-cluster-version-compatible: true
`,
		summary: "-socket-reuse-port, -socket-reuse-address, -client-cert-file, -client-key-file, -peer-client-key-file, -experimental-snapshot-catchup-entries, -peer-transport-security.allowed-cn (not in 3.4's config file: peer CN check off), backend-bbolt-freelist-type→experimental-backend-bbolt-freelist-type, +logger=zap (pinned: 3.5 default), +pre-vote=true (pinned: 3.5 default), +enable-grpc-gateway=true (pinned: 3.5 default), +next-cluster-version-compatible",
	},
	{
		name:   "yaml downgrade: flow socket-options and quoted values",
		format: FormatYAML, from: "3.5.21", to: "3.4.34",
		in:      "---\nsocket-options: {reuse-port: true}\nlogger: \"zap\"\npre-vote: yes\nenable-grpc-gateway: on\nnext-cluster-version-compatible: 'off'\n...\n",
		want:    "---\nlogger: \"zap\"\npre-vote: yes\nenable-grpc-gateway: on\nnext-cluster-version-compatible: 'true'\n...\n",
		summary: "-socket-reuse-port, next-cluster-version-compatible=off→true",
	},
	{
		name:   "yaml downgrade: added settings go before the document end",
		format: FormatYAML, from: "3.5.21", to: "3.4.34",
		in:      "name: s1\n...\n# trailing note\n",
		want:    "name: s1\n# added by terraform-provider-etcd for an etcd version change\nlogger: zap\npre-vote: true\nenable-grpc-gateway: true\nnext-cluster-version-compatible: true\n...\n# trailing note\n",
		summary: "+logger=zap (pinned: 3.5 default), +pre-vote=true (pinned: 3.5 default), +enable-grpc-gateway=true (pinned: 3.5 default), +next-cluster-version-compatible",
	},
	{
		name:   "yaml downgrade: an empty value gets one",
		format: FormatYAML, from: "3.5.21", to: "3.4.34",
		in:      "logger: zap\npre-vote: true\nenable-grpc-gateway: false\nnext-cluster-version-compatible:   # set me\n",
		want:    "logger: zap\npre-vote: true\nenable-grpc-gateway: false\nnext-cluster-version-compatible: true   # set me\n",
		summary: `next-cluster-version-compatible=""→true`,
	},
	{
		name:   "yaml upgrade: capnslog config from 3.4",
		format: FormatYAML, from: "3.4.23", to: "3.5.21",
		in:      "name: s1\nlogger: capnslog # old\ndebug: true\nlog-package-levels: etcdmain=CRITICAL\nlog-output: default\nexperimental-backend-bbolt-freelist-type: \"array\"\nclient-transport-security:\n  cert-file: /c\n",
		want:    "name: s1\nlogger: zap # old\nlog-level: debug\nbackend-bbolt-freelist-type: \"array\"\nclient-transport-security:\n  cert-file: /c\n# added by terraform-provider-etcd for an etcd version change\npre-vote: false\nenable-grpc-gateway: false\n",
		summary: "debug→log-level=debug, -log-package-levels, -log-output, experimental-backend-bbolt-freelist-type→backend-bbolt-freelist-type, logger=capnslog→zap, +pre-vote=false (pinned: 3.4 default), +enable-grpc-gateway=false (pinned: 3.4 default)",
	},
}

func TestTranslate(t *testing.T) {
	for _, tc := range translateCases {
		t.Run(tc.name, func(t *testing.T) { runTranslateCase(t, tc) })
	}
}

// runTranslateCase translates tc.in, checks the output, the changes and
// their reasons, and that a second translation changes nothing: the
// provider may re-run a step on a file it already rewrote.
func runTranslateCase(t *testing.T, tc translateCase) []byte {
	t.Helper()
	from, to := mustVersion(t, tc.from), mustVersion(t, tc.to)
	out, cs, err := Translate(tc.format, []byte(tc.in), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != tc.want {
		t.Errorf("output\n got: %q\nwant: %q\n%s", out, tc.want, out)
	}
	if got := Summarize(cs); got != tc.summary {
		t.Errorf("changes\n got: %s\nwant: %s", got, tc.summary)
	}
	for _, c := range cs {
		if c.Reason == "" {
			t.Errorf("change %s has no reason", c)
		}
	}
	again, cs2, err := Translate(tc.format, out, from, to)
	if err != nil || len(cs2) > 0 || string(again) != string(out) {
		t.Errorf("second translation: %v, %v\n%s", Summarize(cs2), err, again)
	}
	return out
}

// A downgrade, its rollback and a second downgrade end where the first
// downgrade did, with one marker comment.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		f  Format
		in string
	}{
		{FormatEnv, "# s1\nETCD_NAME=s1\nETCD_SOCKET_REUSE_PORT=true\nETCD_BACKEND_BBOLT_FREELIST_TYPE=map\n"},
		{FormatYAML, "# s1\nname: s1\nsocket-options:\n  reuse-port: true\nbackend-bbolt-freelist-type: map\n"},
	} {
		down1, _, err := translatePath(tc.f, []byte(tc.in), PathDowngrade)
		if err != nil {
			t.Fatal(err)
		}
		up, cs, err := translatePath(tc.f, down1, PathUpgrade)
		if err != nil {
			t.Fatal(err)
		}
		if got := Summarize(cs); got != "-next-cluster-version-compatible, experimental-backend-bbolt-freelist-type→backend-bbolt-freelist-type" {
			t.Errorf("%s rollback changes: %s", tc.f, got)
		}
		down2, cs, err := translatePath(tc.f, up, PathDowngrade)
		if err != nil {
			t.Fatal(err)
		}
		if got := Summarize(cs); got != "backend-bbolt-freelist-type→experimental-backend-bbolt-freelist-type, +next-cluster-version-compatible" {
			t.Errorf("%s second downgrade changes: %s", tc.f, got)
		}
		if string(down2) != string(down1) {
			t.Errorf("%s: second downgrade\n%s\ndiffers from the first\n%s", tc.f, down2, down1)
		}
		if n := strings.Count(string(down2), addedMarker); n != 1 {
			t.Errorf("%s: %d markers", tc.f, n)
		}
	}
}

func TestTranslateErrors(t *testing.T) {
	v3521, v3423 := Version{3, 5, 21}, Version{3, 4, 23}
	if _, _, err := Translate(FormatEnv, nil, v3521, v3423); err == nil || !strings.Contains(err.Error(), "needs 3.4.32 or later") {
		t.Errorf("downgrade to 3.4.23: %v", err)
	}
	// The real negative case: 3.4.23 still gets a translated file when a test asks for it.
	out, cs, err := translatePath(FormatEnv, []byte("ETCD_NAME=s1\n"), PathDowngrade)
	if err != nil || len(cs) != 3 || !strings.Contains(string(out), "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true") {
		t.Errorf("TranslatePath: %v %v\n%s", Summarize(cs), err, out)
	}

	_, _, err = translatePath(FormatEnv, []byte("ETCD_CONFIG_FILE=/etc/etcd/etcd.yml\nETCD_NAME=s1\n"), PathUpgrade)
	if want := "this env file sets ETCD_CONFIG_FILE=/etc/etcd/etcd.yml, so etcd reads its settings from that YAML file and ignores the other ETCD_* variables; set service.config_file to /etc/etcd/etcd.yml so that it is the file translated"; err == nil || err.Error() != want {
		t.Errorf("env file with ETCD_CONFIG_FILE: %v", err)
	}

	for _, tc := range []struct{ in, want string }{
		{"name: a\n---\nname: b\n", "line 2: a second YAML document"},
		{"  name: a\n", "line 1: indented content outside a setting"},
		{"name: a\n<<: *defaults\n", `line 2: cannot read "<<: *defaults"`},
		{"peer-transport-security: {cert-file: a,\n  key-file: b}\n", "a flow collection must fit on one line"},
		{"name: s1\njust a scalar\n", `line 2: cannot read "just a scalar" as a ` + "`key: value`" + ` setting: no colon`},
		{"name: a\n...\nname: b\n", "line 3: content after the end of the YAML document"},
		{"client-transport-security:\n    cert-file: a\n  key-file: b\n", `line 3: indentation under "client-transport-security" does not line up`},
	} {
		_, _, err := translatePath(FormatYAML, []byte(tc.in), PathDowngrade)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
		if _, err := Keys(FormatYAML, []byte(tc.in)); err == nil {
			t.Errorf("Keys(%q): no error", tc.in)
		}
		// A patch change does not read the file at all.
		if _, _, err := translatePath(FormatYAML, []byte(tc.in), PathPatch); err != nil {
			t.Errorf("patch: %v", err)
		}
	}
}

// path34 gives the 3.4 ⇄ 3.5 minors of p, for the tests written per path
// before the rules were chosen by minor versions.
func path34(p Path) (from, to Version) {
	switch p {
	case PathDowngrade:
		return v35, v34
	case PathUpgrade:
		return v34, v35
	}
	return v35, v35
}

func translatePath(f Format, content []byte, p Path) ([]byte, []Change, error) {
	from, to := path34(p)
	return TranslateMinors(f, content, from, to)
}

func translateArgsPath(args []string, p Path, elsewhere map[string]string) ([]string, []Change, error) {
	from, to := path34(p)
	return TranslateArgsMinors(args, from, to, elsewhere)
}

func translateCommandLinePath(s string, syntax ArgSyntax, program bool, p Path, elsewhere map[string]string) (string, []Change, error) {
	from, to := path34(p)
	return TranslateCommandLineMinors(s, syntax, program, from, to, elsewhere)
}
