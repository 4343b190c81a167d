package etcdconf

import (
	"os"
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // under testdata/formats, or "" to use in
		in      string
		want    Format
		wantErr string
		noEdit  bool // detected, but more YAML than Translate edits
	}{
		{name: "kubespray /etc/etcd.env, ETCDCTL_* beside ETCD_*", file: "kubespray-etcd.env", want: FormatEnv},
		{name: "Fedora /etc/etcd/etcd.conf, sections in comments", file: "fedora-etcd.conf", want: FormatEnv},
		{name: "Debian /etc/default/etcd, DAEMON_ARGS continued", file: "debian-default-etcd", want: FormatEnv},
		{name: "Percona etcd.conf.yaml", file: "percona-etcd.conf.yaml", want: FormatYAML},
		{name: "Pigsty YAML named etcd.conf", file: "pigsty-etcd.conf", want: FormatYAML},
		{name: "only DAEMON_ARGS", in: "# options\nDAEMON_ARGS=\"--name s1\"\n", want: FormatEnv},
		{name: "export and blanks around =", in: "export ETCD_NAME=s1\nETCD_DATA_DIR = /d\n", want: FormatEnv},
		{name: "systemd ; comments", in: "; etcd\nETCD_NAME=s1\n", want: FormatEnv},
		{name: "a continued value that looks like YAML", in: "DAEMON_ARGS=\"--name s1 \\\n  --key: value\"\n", want: FormatEnv},
		{name: "values with colons and = in YAML", in: "initial-cluster: s1=http://a:2380\nname: s1\n", want: FormatYAML},
		{name: "quoted YAML key", in: "'name': s1\n", want: FormatYAML},
		{name: "YAML document marker and list", in: "---\nlog-outputs:\n- stderr\n", want: FormatYAML},
		{name: "JSON, which etcd reads as YAML", in: "{\"name\": \"s1\"}\n", want: FormatYAML, noEdit: true},
		{name: "CRLF YAML", in: "name: s1\r\ndata-dir: /d\r\n", want: FormatYAML},
		{name: "empty", in: "", wantErr: "it has no settings"},
		{name: "comments only", in: "# ETCD_NAME=s1\n#name: s1\n\n", wantErr: "it has no settings"},
		{name: "text only", in: "hello world\n", wantErr: "it has no settings"},
		{name: "both", in: "ETCD_NAME=s1\nname: s1\n", wantErr: `line 1 ("ETCD_NAME=s1") is a variable assignment and line 2 ("name: s1") is YAML`},
		{name: "YAML with an env line pasted in", in: "name: s1\n  cert-file: /c\nETCD_DEBUG=true\n", wantErr: "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			if tc.file != "" {
				var err error
				if in, err = os.ReadFile("testdata/formats/" + tc.file); err != nil {
					t.Fatal(err)
				}
			}
			got, err := DetectFormat(in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("DetectFormat = %v, %v; want %v", got, err, tc.want)
			}
			// What was detected must be readable as that format.
			if _, err := Keys(got, in); (err != nil) != tc.noEdit {
				t.Errorf("Keys(%v): %v", got, err)
			}
		})
	}
}
