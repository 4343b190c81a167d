package testhosts

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// FileInfo is what Host.Stat reports about one path, as the host sees it
// (its own /etc/passwd names the owners).
type FileInfo struct {
	Path       string
	Mode       os.FileMode // of the path itself: a symlink is ModeSymlink|0777
	UID, GID   int
	User       string // owner's name, "UNKNOWN" when the host has none for UID
	Group      string
	Size       int64
	IsSymlink  bool
	LinkTarget string // the link's target as written, when IsSymlink
	SHA256     string // hex digest of the content, following a link; "" for anything but a regular file
}

// statScript prints stat's fields, the link target and the content's
// digest on three lines. [ -f ] follows links, so a link to a file gets the
// file's digest.
const statScript = `stat -c '%f %u %g %s %U %G' -- "$1" || exit 1
if [ -L "$1" ]; then readlink -- "$1"; else echo; fi
if [ -f "$1" ]; then sha256sum <"$1" | cut -c1-64; else echo; fi`

// Stat reports path on the host from inside its namespace, the way the
// provider would see it over SSH: through the overlays and bind mounts, for
// any path. A path that does not exist returns an error matching
// fs.ErrNotExist. Tests compare Stat before and after a rollout.
func (h *Host) Stat(ctx context.Context, path string) (FileInfo, error) {
	holder, err := h.liveHolder()
	if err != nil {
		return FileInfo{}, err
	}
	out, stderr, err := h.nsRun(ctx, holder, statScript, path)
	if err != nil {
		if strings.Contains(stderr, "No such file or directory") {
			return FileInfo{}, &fs.PathError{Op: "stat", Path: h.Name + ":" + path, Err: fs.ErrNotExist}
		}
		return FileInfo{}, fmt.Errorf("%s: stat %s: %w: %s", h.Name, path, err, strings.TrimSpace(stderr))
	}
	return parseStat(path, out)
}

func parseStat(path, out string) (FileInfo, error) {
	lines := strings.SplitN(out, "\n", 4)
	fields := strings.Fields(lines[0])
	if len(lines) < 3 || len(fields) != 6 {
		return FileInfo{}, fmt.Errorf("stat %s: unexpected output %q", path, out)
	}
	raw, err1 := strconv.ParseUint(fields[0], 16, 32)
	uid, err2 := strconv.Atoi(fields[1])
	gid, err3 := strconv.Atoi(fields[2])
	size, err4 := strconv.ParseInt(fields[3], 10, 64)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return FileInfo{}, fmt.Errorf("stat %s: %q: %w", path, lines[0], err)
		}
	}
	fi := FileInfo{
		Path: path, Mode: unixMode(uint32(raw)), UID: uid, GID: gid, Size: size,
		User: fields[4], Group: fields[5], SHA256: lines[2],
	}
	if fi.Mode&os.ModeSymlink != 0 {
		fi.IsSymlink, fi.LinkTarget = true, lines[1]
	}
	return fi, nil
}

// unixMode turns st_mode into an os.FileMode, as os.Stat does.
func unixMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & 0o170000 {
	case 0o040000:
		mode |= os.ModeDir
	case 0o120000:
		mode |= os.ModeSymlink
	case 0o020000:
		mode |= os.ModeDevice | os.ModeCharDevice
	case 0o060000:
		mode |= os.ModeDevice
	case 0o010000:
		mode |= os.ModeNamedPipe
	case 0o140000:
		mode |= os.ModeSocket
	}
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
