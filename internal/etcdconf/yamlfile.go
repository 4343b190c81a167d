package etcdconf

import (
	"fmt"
	"strings"
)

// etcd's config file is one flat YAML mapping of "key: value" lines, plus a
// few nested blocks (client-transport-security, peer-transport-security,
// socket-options). This reader understands exactly that much: top-level
// keys with scalar, list or mapping values, one level of nesting, and
// one-line flow collections. What it cannot place safely (indented content
// outside a setting, several documents, anchors merged in with <<,
// multi-line flow collections) is an error, because a wrong guess would edit
// the wrong setting.

func yamlIndent(s string) int {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

// isYAMLNote is a blank or comment-only line.
func isYAMLNote(s string) bool {
	t := strings.TrimLeft(s, " \t")
	return t == "" || t[0] == '#'
}

// isSeqItem is a "- item" line (after indentation).
func isSeqItem(s string) bool {
	return s == "-" || (strings.HasPrefix(s, "-") && isBlank(s[1]))
}

func isMarker(s, m string) bool {
	return strings.HasPrefix(s, m) && isYAMLNote(s[len(m):])
}

func parseYAML(d *doc) error {
	var cur *entry
	seen := false
	for i, l := range d.lines {
		t := l.text
		switch {
		case isYAMLNote(t):
			continue
		case isBlank(t[0]):
			if cur == nil {
				return fmt.Errorf("line %d: indented content outside a setting; etcd's config file must be a mapping of top-level keys", i+1)
			}
			cur.last = i
			continue
		case strings.HasPrefix(t, "---") && !isMarker(t, "---"):
			return fmt.Errorf("line %d: content on the document-start line (---) is not supported", i+1)
		case isMarker(t, "---"):
			if seen || d.docEnd >= 0 {
				return fmt.Errorf("line %d: a second YAML document; etcd reads one, so the file must hold only one", i+1)
			}
			cur = nil
			continue
		case isMarker(t, "..."):
			if d.docEnd < 0 {
				d.docEnd = i
			}
			cur = nil
			continue
		case d.docEnd >= 0:
			return fmt.Errorf("line %d: content after the end of the YAML document (...)", i+1)
		case isSeqItem(t):
			// A list may sit at the key's own indentation.
			if cur == nil || cur.valStart != cur.valEnd || cur.quote != 0 {
				return fmt.Errorf("line %d: a list item outside a setting", i+1)
			}
			cur.last = i
			continue
		}
		e, err := parseYAMLKey(t, 0, i)
		if err != nil {
			return err
		}
		seen = true
		cur = e
		d.entries = append(d.entries, e)
	}
	for _, e := range append([]*entry(nil), d.entries...) {
		if err := d.parseYAMLChildren(e); err != nil {
			return err
		}
	}
	return nil
}

// parseYAMLKey reads "key: value" starting at offset off of line i.
func parseYAMLKey(t string, off, i int) (*entry, error) {
	bad := func(why string) error {
		return fmt.Errorf("line %d: cannot read %q as a `key: value` setting: %s", i+1, strings.TrimSpace(t), why)
	}
	e := &entry{first: i, last: i, keyStart: off}
	k := off
	switch c := t[off]; c {
	case '"', '\'':
		key, n := unquote(t[off:], c, true)
		if n == 0 {
			return nil, bad("unclosed quote")
		}
		e.key, e.keyQuote = key, c
		k = off + n
		e.keyEnd = k
		k = skipBlanks(t, k)
		if k == len(t) || t[k] != ':' {
			return nil, bad("no colon after the key")
		}
	case '{', '[', '&', '*', '!', '|', '>', '%', '@', '`', '?', '<', ',', '#', ':':
		return nil, bad("unsupported YAML syntax")
	default:
		// The key ends at the first ':' followed by a blank or the line end.
		for k < len(t) && (t[k] != ':' || (k+1 < len(t) && !isBlank(t[k+1]))) {
			if t[k] == '#' && isBlank(t[k-1]) {
				return nil, bad("no colon before the comment")
			}
			k++
		}
		if k == len(t) {
			return nil, bad("no colon")
		}
		e.key = strings.TrimRight(t[off:k], " \t")
		e.keyEnd = off + len(e.key)
	}
	k++ // the colon
	e.valStart, e.valEnd = k, k
	v := skipBlanks(t, k)
	rest := t[v:]
	switch {
	case rest == "" || rest[0] == '#':
		// The value, if any, is on the following lines.
	case rest[0] == '"' || rest[0] == '\'':
		inner, n := unquote(rest, rest[0], true)
		if n == 0 {
			return nil, bad("unclosed quote")
		}
		e.quote, e.value = rest[0], inner
		e.valStart, e.valEnd = v, v+n
	case rest[0] == '{' || rest[0] == '[':
		n := flowEnd(rest)
		if n == 0 {
			return nil, bad("a flow collection must fit on one line")
		}
		e.valStart, e.valEnd = v, v+n
		if rest[0] == '{' {
			e.flow = &flowMap{open: v, close: v + n - 1}
		} else {
			var items []string
			for _, it := range splitFlow(rest[1 : n-1]) {
				items = append(items, yamlScalar(it))
			}
			e.value = strings.Join(items, ",")
		}
	default:
		end := len(rest)
		for j := 1; j < len(rest); j++ {
			if rest[j] == '#' && isBlank(rest[j-1]) {
				end = j
				break
			}
		}
		raw := strings.TrimRight(rest[:end], " \t")
		e.valStart, e.valEnd = v, v+len(raw)
		if raw[0] != '|' && raw[0] != '>' {
			e.value = raw
		}
	}
	return e, nil
}

// yamlScalar is the value of a plain or quoted scalar.
func yamlScalar(s string) string {
	s = strings.TrimSpace(s)
	if q := quoteOf(s, true); q != 0 {
		v, _ := unquote(s, q, true)
		return v
	}
	return s
}

// flowEnd returns the length of the flow collection s starts with, or 0
// when it does not close on this line.
func flowEnd(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'':
			_, n := unquote(s[i:], c, true)
			if n == 0 {
				return 0
			}
			i += n - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

// splitFlow splits the inside of a flow collection at its top-level commas.
func splitFlow(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'':
			if _, n := unquote(s[i:], c, true); n > 0 {
				i += n - 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" || len(out) > 0 {
		out = append(out, s[start:])
	}
	var trimmed []string
	for _, it := range out {
		if it = strings.TrimSpace(it); it != "" {
			trimmed = append(trimmed, it)
		}
	}
	return trimmed
}

// parseYAMLChildren reads the settings nested under a top-level entry: a
// block mapping or list on the following lines, or a one-line flow mapping.
func (d *doc) parseYAMLChildren(p *entry) error {
	if p.flow != nil {
		t := d.lines[p.first].text
		items := splitFlow(t[p.flow.open+1 : p.flow.close])
		p.flow.items = items
		p.flow.removed = make([]bool, len(items))
		for n, it := range items {
			c, err := parseYAMLKey(it, 0, p.first)
			if err != nil {
				return err
			}
			c.key = p.key + "." + c.key
			c.first, c.last, c.parent, c.flowItem, c.flow = p.first, p.first, p, n, nil
			p.children = append(p.children, c)
			d.entries = append(d.entries, c)
		}
		return nil
	}
	if p.last == p.first || p.valStart != p.valEnd {
		return nil
	}
	var items []string
	indent := -1
	var prev *entry
	for i := p.first + 1; i <= p.last; i++ {
		t := d.lines[i].text
		if isYAMLNote(t) {
			continue
		}
		in := yamlIndent(t)
		if indent < 0 {
			indent = in
		}
		switch {
		case in > indent:
			if prev != nil {
				prev.last = i
			}
		case in < indent:
			return fmt.Errorf("line %d: indentation under %q does not line up", i+1, p.key)
		case isSeqItem(t[in:]):
			items = append(items, yamlScalar(t[in+1:]))
			prev = nil
		default:
			c, err := parseYAMLKey(t, in, i)
			if err != nil {
				if len(p.children) == 0 && len(items) == 0 {
					// A plain scalar continued on the next line.
					p.value = yamlScalar(t)
					return nil
				}
				return err
			}
			c.key = p.key + "." + c.key
			c.parent = p
			if c.flow != nil {
				c.flow = nil // nested deeper than this package edits
			}
			p.children = append(p.children, c)
			d.entries = append(d.entries, c)
			prev = c
		}
	}
	if len(p.children) == 0 {
		p.value = strings.Join(items, ",")
	}
	return nil
}

// addNested sets parent.child to value in a config file: as one more item
// of a one-line {flow} block, as one more line of an indented block, or,
// with no such block, as a new "parent: {child: value}" setting at the end.
func (d *doc) addNested(parent, child, value string) error {
	var p *entry
	for _, e := range d.find(parent) {
		if e.parent == nil {
			p = e
		}
	}
	key := parent + "." + child
	if p == nil {
		d.add(parent, "{"+child+": "+value+"}")
		e := d.entries[len(d.entries)-1]
		l := d.lines[e.first]
		open := strings.IndexByte(l.text, '{')
		e.value = ""
		e.valStart, e.valEnd = open, len(l.text)
		e.flow = &flowMap{open: open, close: len(l.text) - 1, items: []string{child + ": " + value}, removed: []bool{false}}
		c := &entry{key: key, value: value, first: e.first, last: e.first, parent: e}
		e.children = append(e.children, c)
		d.entries = append(d.entries, c)
		return nil
	}
	switch {
	case p.flow != nil:
		p.flow.items = append(p.flow.items, child+": "+value)
		p.flow.removed = append(p.flow.removed, false)
		d.rewriteFlow(p)
		c := &entry{key: key, value: value, first: p.first, last: p.first, parent: p, flowItem: len(p.flow.items) - 1}
		p.children = append(p.children, c)
		d.entries = append(d.entries, c)
		return nil
	case p.valStart != p.valEnd:
		return fmt.Errorf("cannot add %s: %s has a value of its own (%q) instead of a block of settings", key, parent, p.value)
	}
	indent := "  "
	for _, c := range p.children {
		if !c.removed {
			indent = d.lines[c.first].text[:c.keyStart]
			break
		}
	}
	at := p.last + 1
	if prev := d.lines[p.last]; prev.eol == "" {
		prev.eol = d.newline
	}
	d.lines = append(d.lines[:at], append([]*line{{text: indent + child + ": " + value, eol: d.newline}}, d.lines[at:]...)...)
	for _, e := range d.entries {
		if e.first >= at {
			e.first++
		}
		if e.last >= at {
			e.last++
		}
	}
	if d.docEnd >= at {
		d.docEnd++
	}
	c := &entry{key: key, value: value, first: at, last: at, parent: p,
		keyStart: len(indent), keyEnd: len(indent) + len(child), valStart: len(indent) + len(child) + 2, valEnd: len(indent) + len(child) + 2 + len(value)}
	p.children = append(p.children, c)
	p.last = at
	d.entries = append(d.entries, c)
	return nil
}
