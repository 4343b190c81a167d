//go:build record

package etcdconf

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// recordedVersions are the releases testdata/defaults holds measurements
// of, one file per mechanism.
var recordedVersions = []string{"3.4.23", "3.5.21", "3.5.35", "3.6.16", "3.7.3"}

// TestRecordDefaults re-records testdata/defaults from the real binaries. It
// is a maintenance tool, built only with the record tag:
//
//	go test -tags record -run TestRecordDefaults ./internal/etcdconf
//
// ETCDCONF_RECORD_VERSIONS="3.6.16 3.7.3" re-records only those.
func TestRecordDefaults(t *testing.T) {
	versions := recordedVersions
	if s := os.Getenv("ETCDCONF_RECORD_VERSIONS"); s != "" {
		versions = strings.Fields(s)
	}
	for _, v := range versions {
		bin := binaryOrSkip(t, v)
		for _, f := range []Format{FormatEnv, FormatYAML} {
			o := observe(t, bin, v, f)
			b, err := json.MarshalIndent(o, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(defaultsFile(v, f), append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// observe measures one version with one mechanism from the minimal
// configuration.
func observe(t *testing.T, bin, version string, f Format) observation {
	t.Helper()
	m := newMember(t)
	base := m.config(f)
	s, _ := m.run(t, bin, f, base)
	o := observation{Etcd: version, Mechanism: mechanism(f), Settings: s,
		How: "one start from the minimal configuration; fields from its \"starting an etcd server\" log line"}
	if s["logger"] != "zap" {
		z, _ := m.run(t, bin, f, appendSetting(f, base, "logger", "zap"))
		for k, v := range z {
			if _, ok := s[k]; !ok {
				s[k] = v
			}
		}
		o.How = "logger and probes from a start with the minimal configuration; log fields from a second start with logger=zap added, since capnslog does not log them"
	}
	return o
}
