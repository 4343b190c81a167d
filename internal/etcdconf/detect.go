package etcdconf

import (
	"fmt"
	"strings"
)

// DetectFormat tells an ETCD_* environment file from an etcd YAML config
// file by what it holds, not by its name: distributions name YAML files
// etcd.conf (Pigsty) and env files /etc/default/etcd or etcd.conf
// (Fedora), so the name says little.
//
// Each line that is not blank or a comment is evidence for one side: a
// shell-style assignment NAME=value (optionally "export NAME=value") for an
// env file; a "key: value" or "key:" line, a list item, an indented line or
// a "---" document marker for YAML. A line that is neither (systemd skips
// such lines in an EnvironmentFile with a warning) counts for nothing, and so
// do the continuation lines of a value ending in a backslash. A file with
// evidence for both sides, or for none, is an error that names a line of
// each, because guessing would make Translate edit the wrong thing.
func DetectFormat(content []byte) (Format, error) {
	var envLine, yamlLine int // first line (1-based) of each kind, 0 if none
	var envText, yamlText string
	continued := false
	for i, l := range splitLines(content) {
		t := l.text
		if continued {
			continued = endsInContinuation(t)
			continue
		}
		s := strings.TrimLeft(t, " \t")
		if s == "" || s[0] == '#' {
			continue
		}
		switch {
		case isEnvAssignment(s):
			continued = endsInContinuation(strings.TrimRight(t, " \t"))
			if envLine == 0 {
				envLine, envText = i+1, t
			}
		case s[0] == ';':
			// A systemd EnvironmentFile comment; YAML has no use for it either.
		case isYAMLLine(t):
			if yamlLine == 0 {
				yamlLine, yamlText = i+1, t
			}
		}
	}
	switch {
	case envLine > 0 && yamlLine > 0:
		return FormatEnv, fmt.Errorf("cannot tell whether this is an ETCD_* environment file or an etcd YAML config file: line %d (%q) is a variable assignment and line %d (%q) is YAML", envLine, clip(envText), yamlLine, clip(yamlText))
	case envLine > 0:
		return FormatEnv, nil
	case yamlLine > 0:
		return FormatYAML, nil
	}
	return FormatEnv, fmt.Errorf("cannot tell whether this is an ETCD_* environment file or an etcd YAML config file: it has no settings (only blank lines and comments, or nothing)")
}

// isEnvAssignment is NAME=value as a shell or systemd's EnvironmentFile
// reads it, after "export " if any. The name must be a shell name and the
// '=' must follow it (blanks allowed, as systemd allows them).
func isEnvAssignment(s string) bool {
	if strings.HasPrefix(s, "export") && len(s) > 6 && isBlank(s[6]) {
		s = strings.TrimLeft(s[6:], " \t")
	}
	k := 0
	for k < len(s) && isEnvNameByte(s[k]) {
		k++
	}
	if k == 0 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	k = skipBlanks(s, k)
	return k < len(s) && s[k] == '='
}

// isYAMLLine is a line only a YAML file would have: "key:" followed by a
// blank or the end of the line (a key may be quoted), a "- item", an
// indented line, a document marker, or a flow mapping (etcd reads JSON too,
// since JSON is YAML).
func isYAMLLine(t string) bool {
	if isBlank(t[0]) {
		return true
	}
	if isMarker(t, "---") || isSeqItem(t) || t[0] == '{' {
		return true
	}
	if t[0] == '"' || t[0] == '\'' {
		_, n := unquote(t, t[0], true)
		return n > 0 && strings.HasPrefix(strings.TrimLeft(t[n:], " \t"), ":")
	}
	for k := 0; k < len(t); k++ {
		c := t[k]
		if c == ':' {
			return k > 0 && (k+1 == len(t) || isBlank(t[k+1]))
		}
		if !isEnvNameByte(c) && c != '-' && c != '.' {
			return false
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
