package etcdconf

import (
	"fmt"
	"strings"
)

// ArgSyntax is how a string holding etcd's arguments is split into them.
type ArgSyntax int

const (
	// CommandSyntax is a command line as systemd's ExecStart= and a POSIX
	// shell read it: words separated by blanks, 'single' and "double"
	// quotes, backslash escapes, and a backslash at the end of a line
	// continuing the command on the next one.
	CommandSyntax ArgSyntax = iota
	// ExpandedSyntax is the value of a variable expanded unquoted, as
	// DAEMON_ARGS is in Debian's `ExecStart=/usr/bin/etcd $DAEMON_ARGS` (or
	// the init script's `-- $DAEMON_ARGS`): systemd and the shell split it
	// at blanks and newlines only; quotes and backslashes in it are plain
	// characters that etcd receives as they are.
	ExpandedSyntax
)

// word is one argument and where it came from.
type word struct {
	start, end int    // its text in the source
	value      string // the argument it stands for
	quote      byte   // the quote around the whole word, if it is one quoted string
	dynamic    bool   // holds a $ or ` expansion: its value is only known at run time
}

func isArgSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// splitWords splits s as syntax says.
func splitWords(s string, syntax ArgSyntax) ([]word, error) {
	var words []word
	i := 0
	for {
		// Blanks and line continuations separate words.
	blanks:
		for i < len(s) {
			switch {
			case isArgSpace(s[i]):
				i++
			case syntax == CommandSyntax && s[i] == '\\' && (strings.HasPrefix(s[i+1:], "\n") || strings.HasPrefix(s[i+1:], "\r\n")):
				i += 2
			default:
				break blanks
			}
		}
		if i == len(s) {
			return words, nil
		}
		w := word{start: i}
		if syntax == ExpandedSyntax {
			for i < len(s) && !isArgSpace(s[i]) {
				i++
			}
			w.end, w.value = i, s[w.start:i]
			words = append(words, w)
			continue
		}
		var b strings.Builder
		quotes := 0
		for i < len(s) && !isArgSpace(s[i]) {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) {
					return nil, fmt.Errorf("a backslash ends the command line")
				}
				if s[i+1] == '\n' || s[i+1] == '\r' {
					// A continuation inside a word: shells join the parts,
					// systemd separates them; neither is worth guessing.
					return nil, fmt.Errorf("a line continuation inside the word starting at %q; put a blank before the backslash", clip(s[w.start:i]))
				}
				b.WriteByte(s[i+1])
				i += 2
			case c == '\'':
				j := strings.IndexByte(s[i+1:], '\'')
				if j < 0 {
					return nil, fmt.Errorf("unclosed ' in %q", clip(s[w.start:]))
				}
				b.WriteString(s[i+1 : i+1+j])
				i += j + 2
				quotes++
			case c == '"':
				i++
				for ; i < len(s) && s[i] != '"'; i++ {
					switch {
					case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
						i++
						b.WriteByte(s[i])
					case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\n':
						i++
					case s[i] == '$' || s[i] == '`':
						w.dynamic = true
						b.WriteByte(s[i])
					default:
						b.WriteByte(s[i])
					}
				}
				if i == len(s) {
					return nil, fmt.Errorf("unclosed \" in %q", clip(s[w.start:]))
				}
				i++
				quotes++
			case c == '$' || c == '`':
				w.dynamic = true
				b.WriteByte(c)
				i++
			case strings.IndexByte(";&|<>()", c) >= 0:
				return nil, fmt.Errorf("shell syntax %q in %q: only a plain command line can be rewritten", string(c), clip(s[w.start:]))
			default:
				b.WriteByte(c)
				i++
			}
		}
		w.end, w.value = i, b.String()
		if q := s[w.start]; quotes == 1 && (q == '"' || q == '\'') && s[w.end-1] == q {
			w.quote = q
		}
		words = append(words, w)
	}
}

// SplitArgs returns the arguments s stands for, as syntax reads them.
func SplitArgs(s string, syntax ArgSyntax) ([]string, error) {
	ws, err := splitWords(s, syntax)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.value
	}
	return out, nil
}

// TranslateCommandLine applies TranslateArgs to the arguments in s and
// returns s edited minimally: the words that did not change keep their
// text, quoting and the blanks and line continuations around them; a
// dropped word goes with the blanks before it; a changed word is rewritten
// in its own quotes; added flags go after the last word. With program true,
// the first word is the program (with any systemd prefix such as "-" or
// "@") and is kept as it is: pass the value of an ExecStart= line (after
// "ExecStart=", continuation lines included). With program false pass a
// value such as DAEMON_ARGS's, with ExpandedSyntax when the unit expands it
// unquoted. elsewhere is as for TranslateArgsMinors.
//
// A word expanded at run time ($VAR, ${VAR}, `cmd`) cannot be read, so it is
// an error where it stands for a flag's name, and kept unread as a value.
func TranslateCommandLine(s string, syntax ArgSyntax, program bool, from, to Version, elsewhere map[string]string) (string, []Change, error) {
	if _, err := CheckTransition(from, to); err != nil {
		return "", nil, err
	}
	return TranslateCommandLineMinors(s, syntax, program, from, to, elsewhere)
}

// TranslateCommandLineMinors is TranslateCommandLine for the minor change
// from → to, ignoring patch levels.
func TranslateCommandLineMinors(s string, syntax ArgSyntax, program bool, from, to Version, elsewhere map[string]string) (string, []Change, error) {
	ws, err := splitWords(s, syntax)
	if err != nil {
		return "", nil, err
	}
	if program {
		if len(ws) == 0 {
			return "", nil, fmt.Errorf("the command line is empty")
		}
		ws = ws[1:]
	}
	args := make([]string, len(ws))
	for i, w := range ws {
		args[i] = w.value
	}
	st, err := stepFor(from, to)
	if err != nil {
		return "", nil, err
	}
	if st == nil {
		return s, nil, nil
	}
	// A dynamic word in a flag's place could be any number of flags.
	if d, err := parseArgs(args, from, to); err == nil {
		for _, e := range d.entries {
			// "--name=${HOSTNAME}" is fine: only the value is unknown.
			w := ws[e.first]
			raw := s[w.start:w.end]
			if k, eq := strings.IndexAny(raw, "$`"), strings.IndexByte(raw, '='); w.dynamic && (eq < 0 || k < eq) {
				return "", nil, fmt.Errorf("%q is expanded at run time, so the flags it stands for cannot be read; translate the variable's value instead", clip(s[w.start:w.end]))
			}
		}
	} else {
		for _, w := range ws {
			if w.dynamic {
				return "", nil, fmt.Errorf("%q is expanded at run time, so the flags it stands for cannot be read; translate the variable's value instead", clip(s[w.start:w.end]))
			}
		}
	}
	d, cs, err := translateArgs(args, from, to, elsewhere)
	if err != nil {
		return "", nil, err
	}
	if len(cs) == 0 {
		return s, nil, nil
	}
	var b strings.Builder
	pos := 0      // s[:pos] has been written or dropped
	prevEnd := -1 // end of the last word kept, the program's included
	if program {
		all, _ := splitWords(s, syntax)
		prevEnd = all[0].end
	}
	for i, w := range ws {
		switch {
		case d.deleted[i]:
			if prevEnd >= 0 {
				// Drop the word and the separator before it.
				if pos < prevEnd {
					b.WriteString(s[pos:prevEnd])
				}
				pos = w.end
			} else {
				// The first argument: drop it and the separator after it.
				b.WriteString(s[pos:w.start])
				pos = w.end
				for pos < len(s) && (isArgSpace(s[pos]) || (s[pos] == '\\' && syntax == CommandSyntax && pos+1 < len(s) && (s[pos+1] == '\n' || s[pos+1] == '\r'))) {
					if s[pos] == '\\' {
						pos++
						if s[pos] == '\r' {
							pos++
						}
					}
					pos++
				}
			}
		case d.changed[i]:
			q, err := quoteArg(d.text[i], w.quote, syntax)
			if err != nil {
				return "", nil, err
			}
			b.WriteString(s[pos:w.start])
			b.WriteString(q)
			pos = w.end
			prevEnd = w.end
		default:
			prevEnd = w.end
		}
	}
	if len(d.added) > 0 {
		// After the last word kept; with none, where the dropped ones were.
		at := pos
		if prevEnd > pos {
			at = prevEnd
		}
		b.WriteString(s[pos:at])
		for _, a := range d.added {
			q, err := quoteArg(a, 0, syntax)
			if err != nil {
				return "", nil, err
			}
			// A blank escaped by a backslash belongs to the word before.
			if w := b.String(); w != "" && (!isArgSpace(w[len(w)-1]) || endsInContinuation(w[:len(w)-1])) {
				b.WriteByte(' ')
			}
			b.WriteString(q)
		}
		if at < len(s) && !isArgSpace(s[at]) {
			b.WriteByte(' ')
		}
		pos = at
	}
	b.WriteString(s[pos:])
	return b.String(), cs, nil
}

// quoteArg writes an argument so that syntax reads it back as a, in the
// quote the word it replaces had, or bare when nothing needs quoting.
func quoteArg(a string, quote byte, syntax ArgSyntax) (string, error) {
	if syntax == ExpandedSyntax {
		if a == "" || strings.ContainsAny(a, " \t\n\r") {
			return "", fmt.Errorf("argument %q cannot be written into a value that is split at blanks", a)
		}
		return a, nil
	}
	safe := a != ""
	for i := 0; i < len(a) && safe; i++ {
		c := a[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_=.,:/+@", c) >= 0
	}
	switch {
	case safe && quote == 0:
		return a, nil
	case quote == '"':
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`").Replace(a) + `"`, nil
	case !strings.Contains(a, "'"):
		return "'" + a + "'", nil
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`").Replace(a) + `"`, nil
}
