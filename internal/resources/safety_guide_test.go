package resources_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The guide docs/guides/safety.md is rendered by tfplugindocs from
// templates/guides/safety.md.tmpl, which this test writes from the fault
// catalog and the bad-input rows, so the tables come from the tests.
const safetyGuide = "../../templates/guides/safety.md.tmpl"

func renderSafetyGuide() []byte {
	var b bytes.Buffer
	b.WriteString("---\npage_title: \"Faults and bad input\"\nsubcategory: \"\"\ndescription: |-\n  The faults the provider is tested against, made for real, and the inputs it refuses at plan time. Generated from the acceptance tests.\n---\n\n")
	for _, part := range [][]byte{renderFaultDoc(), renderBadInputDoc()} {
		// Drop each part's generator comment; the guide names both sources.
		s := string(part)
		if i := strings.Index(s, "-->\n\n"); strings.HasPrefix(s, "<!--") && i >= 0 {
			s = s[i+len("-->\n\n"):]
		}
		// One page, one title: the parts' titles become sections.
		s = strings.Replace(s, "# ", "## ", 1)
		b.WriteString(s)
		b.WriteString("\n")
	}
	b.WriteString("These tables are generated from `faultCatalog` in `internal/resources/fault_catalog_test.go` and the rows of `internal/resources/bad_input_test.go`.\n")
	return b.Bytes()
}

func TestSafetyGuide(t *testing.T) {
	want := append([]byte("# Faults and bad input\n\n"), renderSafetyGuide()...)
	want = moveTitleAfterFrontMatter(want)
	if os.Getenv("UPDATE_SAFETY_DOCS") != "" {
		if err := os.WriteFile(safetyGuide, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, err := os.ReadFile(safetyGuide); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what the tests render; regenerate it with UPDATE_SAFETY_DOCS=1 go test -run '^TestSafetyGuide$' ./internal/resources, then make generate", safetyGuide)
	}
}

// moveTitleAfterFrontMatter puts the page title below the front matter.
func moveTitleAfterFrontMatter(doc []byte) []byte {
	s := string(doc)
	title, rest, _ := strings.Cut(s, "\n\n")
	end := strings.Index(rest, "\n---\n") + len("\n---\n")
	return []byte(rest[:end] + "\n" + title + "\n" + rest[end:])
}
