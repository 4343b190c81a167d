package sshx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
)

// Upload writes the contents of r to remotePath with mode, atomically: the
// data is streamed over a session's stdin into a temporary file beside
// remotePath (same directory, so the final rename cannot cross file systems),
// checked for length, fsynced, chmodded, and renamed over remotePath; then the
// directory is fsynced so the rename itself survives a crash. Readers of
// remotePath see the old file or the new one, never a partial one, and a
// running binary at remotePath keeps its old inode. On any failure the
// temporary file is removed and remotePath is untouched.
//
// Runs as the SSH user, or as root with Sudo. No SFTP subsystem is needed.
func (h *Host) Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error {
	return h.upload(ctx, r, -1, remotePath, mode)
}

// UploadGzip is Upload for data sent gzip-compressed: gz is unpacked on
// the host by `gzip -dc` as it arrives, and size, the unpacked length, is
// what the host must have written. A binary travels in about half its
// bytes. The host needs gzip (HasGzip).
func (h *Host) UploadGzip(ctx context.Context, gz io.Reader, size int64, remotePath string, mode os.FileMode) error {
	if size < 0 {
		return fmt.Errorf("upload to %s:%s: negative size %d", h.addr, remotePath, size)
	}
	return h.upload(ctx, gz, size, remotePath, mode)
}

// HasGzip reports whether the host has gzip on its PATH.
func (h *Host) HasGzip(ctx context.Context) (bool, error) {
	res, err := h.Run(ctx, "command -v gzip >/dev/null 2>&1")
	if err != nil {
		return false, err
	}
	return res.ExitStatus == 0, nil
}

// upload sends r to remotePath; with size ≥ 0, r is gzip data that the host
// unpacks, and size is its unpacked length.
func (h *Host) upload(ctx context.Context, r io.Reader, size int64, remotePath string, mode os.FileMode) error {
	if remotePath == "" || strings.HasSuffix(remotePath, "/") || strings.ContainsRune(remotePath, 0) {
		return fmt.Errorf("upload to %s: invalid remote path %q", h.addr, remotePath)
	}
	dir, base := path.Split(remotePath)
	if dir == "" {
		dir = "."
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := path.Join(dir, "."+base+".sshx-"+hex.EncodeToString(rnd[:])+".tmp")

	// Step 1: receive. noclobber (set -C) refuses to write through anything
	// already at the random name; umask keeps the partial file private until
	// chmod. wc reports the length written, which must equal what was sent
	// (or, unpacked, size): stdin ends early only if something went wrong.
	cr := &countingReader{r: r}
	receive := "cat > " + Quote(tmp)
	if size >= 0 {
		receive = "gzip -dc > " + Quote(tmp)
	}
	var out strings.Builder
	var errb strings.Builder
	status, err := h.Stream(ctx,
		"if [ ! -d "+Quote(dir)+" ]; then echo "+Quote("directory "+dir+" does not exist")+" >&2; exit 1; fi; "+
			"set -C; umask 077; "+receive+" && wc -c < "+Quote(tmp),
		cr, &out, &errb)
	if err != nil {
		h.removeTemp(tmp)
		return fmt.Errorf("upload to %s:%s: %w", h.addr, remotePath, err)
	}
	if status != 0 {
		h.removeTemp(tmp)
		return fmt.Errorf("upload to %s:%s: writing %s: %w", h.addr, remotePath, tmp, &ExitError{ExitStatus: status, Stderr: errb.String()})
	}
	want := cr.n.Load()
	if size >= 0 {
		want = size
	}
	got, perr := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if perr != nil || got != want {
		h.removeTemp(tmp)
		return fmt.Errorf("upload to %s:%s: sent %d bytes but the host wrote %q", h.addr, remotePath, want, strings.TrimSpace(out.String()))
	}

	// Step 2: commit. fsync before the rename, so that after a crash the
	// name never points at a file whose data was not written; GNU sync
	// accepts file arguments, other sync(1)s get a global sync.
	commit := fmt.Sprintf("chmod %s %s && { sync %s 2>/dev/null || sync; } && mv -f %s %s && { sync %s 2>/dev/null || true; }",
		chmodMode(mode), Quote(tmp), Quote(tmp), Quote(tmp), Quote(remotePath), Quote(dir))
	res, err := h.Run(ctx, commit)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		h.removeTemp(tmp)
		return fmt.Errorf("upload to %s:%s: installing the file: %w", h.addr, remotePath, err)
	}
	return nil
}

// removeTemp deletes a partial upload. It runs on its own short context: the
// caller's may be what just failed.
func (h *Host) removeTemp(tmp string) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	_, _ = h.Run(ctx, "rm -f "+Quote(tmp))
}

// chmodMode renders mode as chmod's octal argument, including the setuid,
// setgid and sticky bits, which os.FileMode keeps outside Perm().
func chmodMode(mode os.FileMode) string {
	m := uint32(mode.Perm())
	if mode&os.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&os.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&os.ModeSticky != 0 {
		m |= 0o1000
	}
	return fmt.Sprintf("%04o", m)
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
