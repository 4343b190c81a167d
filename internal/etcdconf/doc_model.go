package etcdconf

import (
	"strings"
)

// The files are edited as lines, never re-serialised: an operator's comments,
// blank lines, ordering, quoting and the settings this package knows nothing
// about must come out exactly as they went in, and only the lines of the
// settings that change may differ.

type line struct {
	text    string // without the line terminator
	eol     string // "\n", "\r\n", or "" for a last line without one
	deleted bool
}

// entry is one setting found in a file.
type entry struct {
	key   string // env: the flag name; YAML: the key path, "parent.child" when nested
	value string // the value as etcd would read it (unquoted)

	first, last int // the lines the setting occupies, inclusive

	// Spans in lines[first].text. The value span includes any quotes.
	keyStart, keyEnd int
	valStart, valEnd int
	keyQuote         byte // YAML: the quote around the key, if any
	quote            byte // the quote around the value, if any

	parent   *entry
	children []*entry
	flow     *flowMap // YAML: the value is a one-line {flow: mapping}
	flowItem int      // YAML: this entry's index in parent.flow
	form     byte     // arguments: argBare, argInline or argNext

	removed bool
}

// flowMap is a one-line YAML {a: 1, b: 2}, kept as its raw items so that a
// removal rewrites only that mapping.
type flowMap struct {
	open, close int      // offsets of '{' and '}' in the line
	items       []string // raw "key: value" texts, trimmed
	removed     []bool
}

type doc struct {
	kind    Format
	lines   []*line
	entries []*entry // in file order; a parent comes before its children
	newline string   // the file's line terminator, for added lines
	export  bool     // env: settings are written "export ETCD_..."
	docEnd  int      // YAML: index of a closing "..." line, or -1
	marker  bool     // an added-settings comment heads the end of the file
	marked  bool     // marker has been worked out
}

// addedMarker heads the settings Translate appends, so an operator reading
// the file knows where they came from.
const addedMarker = "# added by terraform-provider-etcd for an etcd version change"

func splitLines(content []byte) []*line {
	s := string(content)
	var lines []*line
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, &line{text: s})
			break
		}
		t, eol := s[:i], "\n"
		if strings.HasSuffix(t, "\r") {
			t, eol = t[:len(t)-1], "\r\n"
		}
		lines = append(lines, &line{text: t, eol: eol})
		s = s[i+1:]
	}
	return lines
}

func newDoc(f Format, content []byte) *doc {
	d := &doc{kind: f, lines: splitLines(content), newline: "\n", docEnd: -1}
	if len(d.lines) > 0 && d.lines[0].eol == "\r\n" {
		d.newline = "\r\n"
	}
	return d
}

func (d *doc) bytes() []byte {
	var b strings.Builder
	for _, l := range d.lines {
		if !l.deleted {
			b.WriteString(l.text)
			b.WriteString(l.eol)
		}
	}
	return []byte(b.String())
}

// find returns the live entries for key, in file order.
func (d *doc) find(key string) []*entry {
	var out []*entry
	for _, e := range d.entries {
		if !e.removed && e.key == key {
			out = append(out, e)
		}
	}
	return out
}

func (d *doc) has(key string) bool { return len(d.find(key)) > 0 }

func (d *doc) remove(e *entry) {
	if e.removed {
		return
	}
	e.removed = true
	for _, c := range e.children {
		c.removed = true
	}
	p := e.parent
	if p != nil && p.flow != nil {
		p.flow.removed[e.flowItem] = true
		if p.liveChildren() == 0 {
			d.remove(p)
			return
		}
		d.rewriteFlow(p)
		return
	}
	for i := e.first; i <= e.last; i++ {
		d.lines[i].deleted = true
	}
	// A block left without settings would be an empty mapping the target
	// version may not know either; it goes with its last setting.
	if p != nil && p.liveChildren() == 0 {
		d.remove(p)
	}
}

func (e *entry) liveChildren() int {
	n := 0
	for _, c := range e.children {
		if !c.removed {
			n++
		}
	}
	return n
}

func (d *doc) rewriteFlow(p *entry) {
	l := d.lines[p.first]
	fm := p.flow
	var keep []string
	for i, it := range fm.items {
		if !fm.removed[i] {
			keep = append(keep, it)
		}
	}
	repl := "{" + strings.Join(keep, ", ") + "}"
	l.text = l.text[:fm.open] + repl + l.text[fm.close+1:]
	fm.close = fm.open + len(repl) - 1
}

// rename gives a top-level entry a new key, keeping everything else on its
// line.
func (d *doc) rename(e *entry, key string) {
	l := d.lines[e.first]
	raw := key
	if d.kind == FormatEnv {
		raw = envName(key)
	} else if e.keyQuote != 0 {
		raw = string(e.keyQuote) + key + string(e.keyQuote)
	}
	l.text = l.text[:e.keyStart] + raw + l.text[e.keyEnd:]
	delta := len(raw) - (e.keyEnd - e.keyStart)
	e.keyEnd += delta
	e.valStart += delta
	e.valEnd += delta
	e.key = key
}

// setValue replaces an entry's value, in the quoting it had. Continuation
// lines of the old value go.
func (d *doc) setValue(e *entry, v string) {
	l := d.lines[e.first]
	raw := v
	switch e.quote {
	case '"':
		raw = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	case '\'':
		raw = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	if d.kind == FormatYAML && e.valStart == e.valEnd && e.valStart > 0 && l.text[e.valStart-1] == ':' {
		raw = " " + raw
	}
	// "key:#note" read as an empty value and a comment; a comment needs a
	// blank before it once there is a value, or it joins the value.
	if d.kind == FormatYAML && e.valEnd < len(l.text) && l.text[e.valEnd] == '#' {
		raw += " "
	}
	l.text = l.text[:e.valStart] + raw + l.text[e.valEnd:]
	e.valEnd = e.valStart + len(raw)
	for i := e.first + 1; i <= e.last; i++ {
		d.lines[i].deleted = true
	}
	for _, c := range e.children {
		c.removed = true
	}
	e.last = e.first
	e.value = v
}

// add appends a setting at the end of the file, under the marker comment.
func (d *doc) add(key, value string) {
	var text string
	if d.kind == FormatEnv {
		text = envName(key) + "=" + value
		if d.export {
			text = "export " + text
		}
	} else {
		text = key + ": " + value
	}
	if !d.marked {
		d.marker = d.endsWithMarker()
		d.marked = true
	}
	var add []*line
	at := len(d.lines)
	if d.docEnd >= 0 {
		at = d.docEnd
	}
	if prev := d.lastLive(at); prev != nil {
		if prev.eol == "" {
			prev.eol = d.newline
		}
		// A trailing backslash would continue onto the added line.
		if strings.HasSuffix(prev.text, `\`) {
			add = append(add, &line{eol: d.newline})
			d.marker = false
		}
	}
	if !d.marker {
		add = append(add, &line{text: addedMarker, eol: d.newline})
		d.marker = true
	}
	add = append(add, &line{text: text, eol: d.newline})
	d.lines = append(d.lines[:at], append(add, d.lines[at:]...)...)
	if d.docEnd >= 0 {
		d.docEnd += len(add)
	}
	e := &entry{key: key, value: value, first: at + len(add) - 1}
	e.last = e.first
	d.entries = append(d.entries, e)
}

func (d *doc) lastLive(before int) *line {
	for i := before - 1; i >= 0; i-- {
		if !d.lines[i].deleted {
			return d.lines[i]
		}
	}
	return nil
}

// endsWithMarker reports whether the file already ends with settings under
// the marker, so that more added settings join them instead of each version
// change leaving one more marker behind.
func (d *doc) endsWithMarker() bool {
	owner := map[int]bool{}
	for _, e := range d.entries {
		if !e.removed && e.parent == nil {
			for i := e.first; i <= e.last; i++ {
				owner[i] = true
			}
		}
	}
	end := len(d.lines)
	if d.docEnd >= 0 {
		end = d.docEnd
	}
	for i := end - 1; i >= 0; i-- {
		l := d.lines[i]
		switch {
		case l.deleted || owner[i]:
			continue
		case l.text == addedMarker:
			return true
		default:
			return false
		}
	}
	return false
}

// format is the kind of file, for the rules.
func (d *doc) format() Format { return d.kind }
