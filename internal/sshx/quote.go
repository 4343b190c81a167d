package sshx

import "strings"

// Quote returns s quoted for a POSIX shell so that the shell passes it on as
// exactly one word, byte for byte: no expansion, globbing, word splitting or
// command substitution happens inside it.
//
// Words made only of characters that are never special to the shell are
// returned as they are, so that commands stay readable in plans and errors;
// everything else is wrapped in single quotes, the only quoting form in which
// the shell interprets nothing. A single quote inside s is written as: close
// the quote, a backslash-escaped quote, reopen the quote. Newlines need no
// escaping inside single quotes. The empty string becomes a pair of single
// quotes so that it stays an argument.
//
// A NUL byte cannot be part of any argument on Unix; Quote leaves it in place
// and the remote side will truncate or reject the command.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafeWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isSafeWord reports whether s consists only of characters that no POSIX shell
// treats specially in any position. '=' is deliberately absent: as the first
// word of a command, `a=b` is an assignment, not a command name. '~' is absent
// because of tilde expansion, and so are glob characters.
func isSafeWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '-', c == '.', c == '/', c == ':', c == '@', c == '%', c == '+', c == ',':
		default:
			return false
		}
	}
	return true
}

// Command quotes every argument with Quote and joins them with spaces, giving
// a shell command line that runs argv exactly as given. Use it for every
// command that contains a value from configuration:
//
//	h.Run(ctx, sshx.Command("sha256sum", "--", path))
//
// Shell syntax (pipes, redirections, &&) must be written around the result,
// never inside an argument.
func Command(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// SudoCommand wraps a shell command line so that it runs as root through sudo.
// -n makes sudo fail at once instead of waiting for a password prompt that
// nobody can answer over a non-interactive session; `sh -c` lets cmd keep its
// shell syntax (pipes, &&), which sudo alone would not interpret.
func SudoCommand(cmd string) string {
	return "sudo -n sh -c " + Quote(cmd)
}
