package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// killTimeout bounds the clean-up after a cancelled command: waiting for its
// process group id, the kill session, and the command's exit.
const killTimeout = 10 * time.Second

// killGrace is how long a cancelled command has between SIGTERM and SIGKILL.
const killGrace = 5 * time.Second

// Host is one SSH server of a Pool. Its methods are safe for concurrent use;
// they share one connection.
type Host struct {
	pool     *Pool
	addr     string
	conn     slot
	sessions chan struct{} // semaphore, maxSessions
}

// Addr returns the host's address as dialled, "host:port".
func (h *Host) Addr() string { return h.addr }

// Result is what a finished command produced.
type Result struct {
	Stdout     string
	Stderr     string
	ExitStatus int // 128+N when the command was killed by signal N
}

// Err returns nil for exit status 0, and otherwise an error with the status
// and the end of stderr, for callers that treat any failure as fatal.
func (r Result) Err() error {
	if r.ExitStatus == 0 {
		return nil
	}
	return &ExitError{ExitStatus: r.ExitStatus, Stderr: r.Stderr}
}

// ExitError is a command that ran and exited non-zero.
type ExitError struct {
	ExitStatus int
	Stderr     string
}

func (e *ExitError) Error() string {
	msg := "exit status " + strconv.Itoa(e.ExitStatus)
	if tail := LastLines(e.Stderr, 10); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// LastLines is the last n lines of s, trimmed: the end of a long output,
// where errors are.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Run runs cmd, a shell command line, and collects its output in memory. A
// non-zero exit is reported in Result.ExitStatus, not as an error; errors mean
// the command's outcome is unknown (connection lost, ctx done). When ctx ends
// first, the remote command and every process it started are killed before Run
// returns (SIGTERM, then SIGKILL after 5s). Build cmd with Quote and Command
// for any value from configuration.
func (h *Host) Run(ctx context.Context, cmd string) (Result, error) {
	var stdout, stderr bytes.Buffer
	status, err := h.Stream(ctx, cmd, nil, &stdout, &stderr)
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitStatus: status}, err
}

// Stream is Run with the caller's streams: stdin (may be nil, meaning empty)
// is copied to the command, and its output goes to stdout and stderr (nil
// discards). stdout and stderr are written from different goroutines, so one
// writer given for both must be safe for concurrent use. If reading stdin
// fails, the remote command is killed rather than shown an end of input, so
// it never mistakes a truncated input for a whole one. It returns the exit
// status, or -1 with an error.
//
// cmd is run by the remote /bin/sh, whatever the user's login shell (which
// must itself be POSIX-like: sh, bash, dash, zsh, ksh; not csh or fish).
func (h *Host) Stream(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("ssh %s: %w", h.addr, err)
	}
	select {
	case h.sessions <- struct{}{}:
	case <-ctx.Done():
		return -1, fmt.Errorf("ssh %s: waiting for a free session: %w", h.addr, ctx.Err())
	}
	defer func() { <-h.sessions }()

	c, s, err := h.openSession(ctx)
	if err != nil {
		return -1, err
	}
	defer s.Close()

	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	mw := newMarkerWriter(stderr)
	s.Stdout = stdout
	s.Stderr = mw
	var in io.WriteCloser
	if stdin != nil {
		if in, err = s.StdinPipe(); err != nil {
			return -1, fmt.Errorf("ssh %s: %w", h.addr, err)
		}
	}
	if err := s.Start(h.pool.wrap(cmd)); err != nil {
		return -1, fmt.Errorf("ssh %s: starting the command: %w", h.addr, err)
	}

	waitDone := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = s.Wait()
		close(waitDone)
	}()
	stdinErr := make(chan error, 1)
	if in != nil {
		go func() { stdinErr <- copyStdin(in, stdin) }()
	}

	select {
	case <-waitDone:
		mw.flush()
		select {
		case err := <-stdinErr:
			if err != nil {
				return -1, fmt.Errorf("ssh %s: reading the command's input: %w", h.addr, err)
			}
		default:
		}
		return h.exitStatus(c, waitErr)
	case err := <-stdinErr:
		if err == nil {
			// All input sent; now wait for the command itself.
			select {
			case <-waitDone:
				mw.flush()
				return h.exitStatus(c, waitErr)
			case <-ctx.Done():
				h.kill(c, s, mw, waitDone)
				return -1, fmt.Errorf("ssh %s: %w (the remote command was killed)", h.addr, ctx.Err())
			}
		}
		h.kill(c, s, mw, waitDone)
		return -1, fmt.Errorf("ssh %s: reading the command's input: %w (the remote command was killed)", h.addr, err)
	case <-ctx.Done():
		h.kill(c, s, mw, waitDone)
		return -1, fmt.Errorf("ssh %s: %w (the remote command was killed)", h.addr, ctx.Err())
	}
}

// copyStdin copies r to the command's stdin and closes it at EOF. On a read
// error it returns without closing: an EOF would tell the command its input
// was complete.
func copyStdin(w io.WriteCloser, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				// The command stopped reading (exited); its exit status says
				// how that went, so this is not an error of the copy.
				return nil //nolint:nilerr // see above
			}
		}
		if rerr == io.EOF {
			_ = w.Close()
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func (h *Host) exitStatus(c *conn, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), nil
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		if !c.alive() {
			return -1, fmt.Errorf("ssh %s: connection lost while the command ran; its outcome is unknown", h.addr)
		}
		return -1, fmt.Errorf("ssh %s: the session closed without an exit status; the command's outcome is unknown", h.addr)
	}
	return -1, fmt.Errorf("ssh %s: connection lost while the command ran; its outcome is unknown: %w", h.addr, err)
}

// openSession returns a new session on the host's connection, dialling it if
// needed. A connection that fails to open a session is broken (the server
// restarted, the network dropped): it is replaced once.
func (h *Host) openSession(ctx context.Context) (*conn, *ssh.Session, error) {
	dial := func(ctx context.Context) (*conn, error) { return h.pool.dialTarget(ctx, h.addr) }
	for attempt := 0; ; attempt++ {
		if h.pool.isClosed() {
			return nil, nil, errPoolClosed
		}
		c, err := h.conn.get(ctx, dial)
		if err != nil {
			return nil, nil, err
		}
		s, err := newSession(ctx, c, h.pool.timeout)
		if err == nil {
			return c, s, nil
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("ssh %s: %w", h.addr, ctx.Err())
		}
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			// The server answered, so the connection works; it just
			// declined (e.g. MaxSessions). Redialling would not help.
			return nil, nil, fmt.Errorf("ssh %s: the server refused a new session: %w", h.addr, err)
		}
		h.conn.drop(c)
		if attempt > 0 {
			return nil, nil, fmt.Errorf("ssh %s: opening a session: %w", h.addr, err)
		}
	}
}

// newSession opens a session, giving up after timeout: a connection that
// cannot open a channel in that time is dead even if TCP has not noticed, so
// it is closed, which also unblocks the pending request.
func newSession(ctx context.Context, c *conn, timeout time.Duration) (*ssh.Session, error) {
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.client.NewSession()
		ch <- result{s, err}
	}()
	discard := func() {
		if r := <-ch; r.s != nil {
			r.s.Close()
		}
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go discard()
		return nil, ctx.Err()
	case <-t.C:
		c.close()
		go discard()
		return nil, fmt.Errorf("no answer within %s", timeout)
	}
}

// wrap builds the command line actually sent; see wrapCommand.
func (p *Pool) wrap(cmd string) string { return wrapCommand(cmd, p.cfg.Sudo) }

func (p *Pool) maybeSudo(cmd string) string {
	if p.cfg.Sudo {
		return SudoCommand(cmd)
	}
	return cmd
}

// pgidMarker starts the first line the wrapper writes to stderr.
const pgidMarker = "sshx-pgid:"

// wrapCommand makes cmd killable as a whole. Without a terminal, sshd does not
// signal the command when the session closes, and the "signal" request reaches
// only the session's top process, not its children. So the command runs as
// the leader of its own process group, which every process it starts joins,
// and the group id ($$ of the leader, which exec keeps) is printed on stderr
// before cmd starts; kill then signals the whole group.
//
// OpenSSH already makes the session's shell a process group leader (it calls
// setsid), which `kill -0 -$$` detects; otherwise (sudo without a pty,
// another server) setsid(1) makes one. setsid is used only for a non-leader,
// where it does not fork, so the pid and the exit status stay the command's.
// The builtin `kill -SIG -PGID` form is used because dash's kill rejects "--".
//
// With Sudo, the whole wrapper runs under sudo, so the group and the kill
// belong to root.
func wrapCommand(cmd string, sudo bool) string {
	inner := `printf '` + pgidMarker + `%s\n' "$$" >&2; exec sh -c "$1"`
	w := `if kill -0 -$$ 2>/dev/null || ! command -v setsid >/dev/null 2>&1; then sshx_setsid=; else sshx_setsid=setsid; fi; ` +
		`exec $sshx_setsid sh -c ` + Quote(inner) + ` sshx ` + Quote(cmd)
	if sudo {
		return SudoCommand(w)
	}
	return w
}

// killScript signals process group pgid with SIGTERM and, if anything in it
// is still alive after killGrace, SIGKILL; then it waits for the group to be
// gone, so that Run returns only once it is. The SIGKILL comes from a timer
// subshell, so the grace is wall-clock time even when a loaded host makes each
// poll slow; the subshell's output goes to /dev/null so that it cannot hold
// this session open. "Alive" skips zombies where ps and awk allow: orphans of
// the killed command are reaped by the host's init, which may take a while,
// and they are dead already. If pgid is not a group (no setsid on the host),
// it falls back to the single process.
func killScript(pgid int) string {
	return fmt.Sprintf(`p=%d; `+
		`alive() { if command -v ps >/dev/null 2>&1 && command -v awk >/dev/null 2>&1; then `+
		`ps -e -o pgid= -o stat= | awk -v g="$p" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; `+
		`else kill -0 -$p 2>/dev/null || kill -0 $p 2>/dev/null; fi; }; `+
		`kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null || exit 0; `+
		`( sleep %d; kill -KILL -$p; kill -KILL $p ) </dev/null >/dev/null 2>&1 & t=$!; `+
		`i=0; while alive && [ "$i" -lt %d ]; do i=$((i+1)); sleep 0.1 2>/dev/null || sleep 1; done; `+
		`if alive; then kill -KILL -$p 2>/dev/null; kill -KILL $p 2>/dev/null; i=0; while alive && [ "$i" -lt 10 ]; do i=$((i+1)); sleep 0.1 2>/dev/null || sleep 1; done; fi; `+
		`kill $t 2>/dev/null; exit 0`,
		pgid, int(killGrace/time.Second), int((killGrace+time.Second)/(100*time.Millisecond)))
}

// kill stops a command whose caller gave up on it: it waits (briefly) for the
// command's process group id, kills the group from a second session, and
// closes the first.
func (h *Host) kill(c *conn, s *ssh.Session, mw *markerWriter, waitDone <-chan struct{}) {
	// The caller's ctx is already done; the clean-up gets its own, bounded one.
	kctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	select {
	case <-mw.found:
	case <-waitDone:
	case <-kctx.Done():
	}
	if pgid := mw.pgid(); pgid > 0 {
		if ks, err := newSession(kctx, c, h.pool.timeout); err == nil {
			runSession(kctx, ks, h.pool.maybeSudo(killScript(pgid)))
			ks.Close()
		} else {
			_ = s.Signal(ssh.SIGTERM) // the connection is failing; try anyway
		}
	} else {
		// No group id: the wrapper has not even printed it, so the command
		// has not started. Signalling the session's process is enough.
		_ = s.Signal(ssh.SIGKILL)
	}
	select {
	case <-waitDone:
	case <-kctx.Done():
	}
	_ = s.Close()
}

// runSession runs cmd on s and waits for it or ctx, ignoring the outcome.
func runSession(ctx context.Context, s *ssh.Session, cmd string) {
	if err := s.Start(cmd); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		_ = s.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// markerWriter passes stderr through, except for the wrapper's first line,
// which carries the process group id.
type markerWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	done    bool // first line handled; pass everything through
	id      int
	found   chan struct{} // closed once the first line is handled
	closeMu sync.Once
}

func newMarkerWriter(w io.Writer) *markerWriter {
	return &markerWriter{w: w, found: make(chan struct{})}
}

// maxMarkerLine bounds how much stderr is held back looking for the marker.
const maxMarkerLine = 64

func (m *markerWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		if _, err := m.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	m.buf = append(m.buf, p...)
	i := bytes.IndexByte(m.buf, '\n')
	if i < 0 && len(m.buf) < maxMarkerLine {
		return len(p), nil
	}
	rest := m.buf
	if i >= 0 {
		if line := m.buf[:i]; bytes.HasPrefix(line, []byte(pgidMarker)) {
			if n, err := strconv.Atoi(string(line[len(pgidMarker):])); err == nil && n > 1 {
				m.id = n
			}
			rest = m.buf[i+1:]
		}
	}
	m.finish()
	if len(rest) > 0 {
		if _, err := m.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// finish marks the marker search over; m.mu must be held.
func (m *markerWriter) finish() {
	m.buf = nil
	m.done = true
	m.closeMu.Do(func() { close(m.found) })
}

// flush writes out whatever was held back, once the command has finished.
func (m *markerWriter) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return
	}
	rest := m.buf
	m.finish()
	if len(rest) > 0 {
		_, _ = m.w.Write(rest)
	}
}

func (m *markerWriter) pgid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id
}
