package etcdconf

import "strings"

// An env file holds lines ETCD_FOO_BAR=value, as systemd's EnvironmentFile
// or a shell reads them: "export " allowed, values unquoted, "double" or
// 'single' quoted, a trailing backslash continues the value on the next
// line. etcd maps ETCD_FOO_BAR to --foo-bar (pkg/flags.SetFlagsFromEnv).
// Everything else (comments, other variables, lines that are not
// assignments) is kept as it is.

const envPrefix = "ETCD_"

// envName is the variable etcd reads for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagOfEnv is the flag a variable sets, or "" when etcd would not read the
// variable as a flag (etcd looks up exactly envName(flag)).
func flagOfEnv(name string) string {
	if !strings.HasPrefix(name, envPrefix) || len(name) == len(envPrefix) {
		return ""
	}
	flag := strings.ToLower(strings.ReplaceAll(name[len(envPrefix):], "_", "-"))
	if envName(flag) != name {
		return ""
	}
	return flag
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func skipBlanks(s string, i int) int {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

func isEnvNameByte(c byte) bool {
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

func parseEnv(d *doc) {
	firstExport := -1
	for i := 0; i < len(d.lines); i++ {
		t := d.lines[i].text
		k := skipBlanks(t, 0)
		if k == len(t) || t[k] == '#' || t[k] == ';' {
			continue
		}
		exported := false
		if strings.HasPrefix(t[k:], "export") && k+6 < len(t) && isBlank(t[k+6]) {
			k = skipBlanks(t, k+6)
			exported = true
		}
		ks := k
		for k < len(t) && isEnvNameByte(t[k]) {
			k++
		}
		ke := k
		k = skipBlanks(t, k)
		if k == len(t) || t[k] != '=' {
			continue
		}
		flag := flagOfEnv(t[ks:ke])
		if flag == "" {
			continue
		}
		e := &entry{key: flag, first: i, last: i, keyStart: ks, keyEnd: ke}
		e.valStart = skipBlanks(t, k+1)
		v := t[e.valStart:]
		switch q := quoteOf(v, false); {
		case q != 0:
			inner, n := unquote(v, q, false)
			e.quote, e.value, e.valEnd = q, inner, e.valStart+n
		default:
			end := len(v)
			for j := 1; j < len(v); j++ {
				if v[j] == '#' && isBlank(v[j-1]) {
					end = j
					break
				}
			}
			e.value = strings.TrimRight(v[:end], " \t")
			e.valEnd = e.valStart + len(e.value)
			for endsInContinuation(e.value) && e.last+1 < len(d.lines) {
				e.last++
				e.value = e.value[:len(e.value)-1] + d.lines[e.last].text
				e.valEnd = len(t)
			}
		}
		if firstExport < 0 {
			firstExport = 0
			if exported {
				firstExport = 1
			}
		}
		d.entries = append(d.entries, e)
		i = e.last
	}
	d.export = firstExport == 1
}

// endsInContinuation reports an odd number of trailing backslashes: the
// last one escapes the newline.
func endsInContinuation(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// quoteOf returns the quote a value starts with if the value is closed by
// it, else 0: an unclosed quote is read as part of an unquoted value.
func quoteOf(v string, yaml bool) byte {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		return 0
	}
	if _, n := unquote(v, v[0], yaml); n == 0 {
		return 0
	}
	return v[0]
}

// unquote reads a quoted value at the start of v and returns its content
// and the length of the quoted text, or n == 0 when the quote is not
// closed. Escapes follow the reader: a shell reads \" \\ \$ \` in double
// quotes and nothing in single quotes; YAML reads backslash escapes in
// double quotes and a doubled single quote for one in single quotes.
func unquote(v string, q byte, yaml bool) (string, int) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		c := v[i]
		switch {
		case q == '"' && c == '\\' && i+1 < len(v):
			i++
			switch n := v[i]; {
			case yaml && n == 'n':
				b.WriteByte('\n')
			case yaml && n == 't':
				b.WriteByte('\t')
			case yaml || n == '"' || n == '\\' || n == '$' || n == '`':
				b.WriteByte(n)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
		case yaml && q == '\'' && c == '\'' && i+1 < len(v) && v[i+1] == '\'':
			i++
			b.WriteByte('\'')
		case c == q:
			return b.String(), i + 1
		default:
			b.WriteByte(c)
		}
	}
	return "", 0
}
