//go:build record

package etcdconf

import (
	"encoding/json"
	"os"
	"testing"
)

// TestRecordDefaults re-records testdata/defaults from the real binaries. It
// is a maintenance tool, built only with the record tag:
//
//	go test -tags record -run TestRecordDefaults ./internal/etcdconf
func TestRecordDefaults(t *testing.T) {
	for _, v := range []string{"3.4.23", "3.5.21"} {
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
