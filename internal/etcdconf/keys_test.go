package etcdconf

import (
	"reflect"
	"testing"
)

func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		want   map[string]string
	}{
		{
			name:   "env",
			format: FormatEnv,
			in: `# comment
ETCD_NAME=s1
export ETCD_DATA_DIR="/var/lib/etcd"
ETCD_INITIAL_CLUSTER='s1=https://10.0.0.11:2380,s2=https://10.0.0.12:2380'
ETCD_LISTEN_CLIENT_URLS=https://10.0.0.11:2379   # client
ETCD_ESCAPED="a\"b\\c\$d\n"
ETCD_NAME=s1-renamed
ETCD_LONG=a\
b
GOMAXPROCS=4
ETCD_=x
ETCD_lower=x
ETCD_HASH=#not-a-comment
ETCD_EMPTY=
ETCD_SPACES = around
  ETCD_INDENTED=yes
ETCD_UNCLOSED="oops
`,
			want: map[string]string{
				"name":               "s1-renamed",
				"data-dir":           "/var/lib/etcd",
				"initial-cluster":    "s1=https://10.0.0.11:2380,s2=https://10.0.0.12:2380",
				"listen-client-urls": "https://10.0.0.11:2379",
				"escaped":            `a"b\c$d\n`,
				"long":               "ab",
				"hash":               "#not-a-comment",
				"empty":              "",
				"spaces":             "around",
				"indented":           "yes",
				"unclosed":           `"oops`,
			},
		},
		{
			name:   "yaml",
			format: FormatYAML,
			in: `# etcd.conf.yml
name: 's1'
data-dir: "/var/lib/etcd"   # data
wal-dir:
initial-cluster: s1=https://10.0.0.11:2380,s2=https://10.0.0.12:2380
log-outputs: [stderr, "/var/log/etcd.log"]
listen-metrics-urls:
  - http://127.0.0.1:2381
  - http://10.0.0.11:2381
client-transport-security:
  cert-file: /etc/etcd/server.crt
  client-cert-auth: true
  allowed-cn: etcd-client
peer-transport-security: {cert-file: /etc/etcd/peer.crt, allowed-cn: [p1, p2], 'trusted-ca-file': ca.crt}
socket-options:
  reuse-port: true
experimental-snapshot-catch-up-entries: 5000
heartbeat-interval: 100
election-timeout: 'it''s'
description: >
  folded
future:
  nested: 1
`,
			want: map[string]string{
				"name":                                  "s1",
				"data-dir":                              "/var/lib/etcd",
				"wal-dir":                               "",
				"initial-cluster":                       "s1=https://10.0.0.11:2380,s2=https://10.0.0.12:2380",
				"log-outputs":                           "stderr,/var/log/etcd.log",
				"listen-metrics-urls":                   "http://127.0.0.1:2381,http://10.0.0.11:2381",
				"cert-file":                             "/etc/etcd/server.crt",
				"client-cert-auth":                      "true",
				"client-transport-security.allowed-cn":  "etcd-client",
				"peer-cert-file":                        "/etc/etcd/peer.crt",
				"peer-cert-allowed-cn":                  "p1,p2",
				"peer-trusted-ca-file":                  "ca.crt",
				"socket-reuse-port":                     "true",
				"experimental-snapshot-catchup-entries": "5000",
				"heartbeat-interval":                    "100",
				"election-timeout":                      "it's",
				"description":                           "",
				"future.nested":                         "1",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Keys(tc.format, []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				for k, v := range tc.want {
					if g, ok := got[k]; !ok || g != v {
						t.Errorf("%s = %q (present %v), want %q", k, g, ok, v)
					}
				}
				for k, v := range got {
					if _, ok := tc.want[k]; !ok {
						t.Errorf("unexpected %s = %q", k, v)
					}
				}
			}
		})
	}
}

func TestChangeString(t *testing.T) {
	for _, tc := range []struct {
		c    Change
		want string
	}{
		{Change{Op: Drop, Key: "socket-reuse-port"}, "-socket-reuse-port"},
		{Change{Op: Remove, Key: "next-cluster-version-compatible"}, "-next-cluster-version-compatible"},
		{Change{Op: Add, Key: "next-cluster-version-compatible", Value: "true"}, "+next-cluster-version-compatible"},
		{Change{Op: Add, Key: "log-level", Value: "debug"}, "+log-level=debug"},
		{Change{Op: Rename, Key: "backend-bbolt-freelist-type", NewKey: "experimental-backend-bbolt-freelist-type"}, "backend-bbolt-freelist-type→experimental-backend-bbolt-freelist-type"},
		{Change{Op: Rename, Key: "debug", NewKey: "log-level", Value: "debug"}, "debug→log-level=debug"},
		{Change{Op: Pin, Key: "logger", Value: "zap", Note: "3.5 default"}, "+logger=zap (pinned: 3.5 default)"},
		{Change{Op: Pin, Key: "pre-vote", Value: "true", Note: "3.5 default"}, "+pre-vote=true (pinned: 3.5 default)"},
		{Change{Op: Set, Key: "logger", Old: "capnslog", Value: "zap"}, "logger=capnslog→zap"},
		{Change{Op: Drop, Key: "peer-transport-security.allowed-cn", Note: "peer CN check off"}, "-peer-transport-security.allowed-cn (peer CN check off)"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
	if got := Summarize(nil); got != "no changes" {
		t.Errorf("Summarize(nil) = %q", got)
	}
	cs := []Change{{Op: Drop, Key: "socket-reuse-port"}, {Op: Add, Key: "next-cluster-version-compatible", Value: "true"}}
	if got := Summarize(cs); got != "-socket-reuse-port, +next-cluster-version-compatible" {
		t.Errorf("Summarize = %q", got)
	}
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{
		"/etc/etcd/etcd.env":       FormatEnv,
		"/etc/default/etcd":        FormatEnv,
		"/etc/etcd/etcd.conf":      FormatEnv,
		"/etc/etcd/etcd.conf.yml":  FormatYAML,
		"/etc/etcd/etcd.YAML":      FormatYAML,
		"/etc/etcd.yaml.d/etcd.sh": FormatEnv,
	} {
		if got := FormatOf(path); got != want {
			t.Errorf("FormatOf(%q) = %v, want %v", path, got, want)
		}
	}
}
