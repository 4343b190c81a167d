package rollout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// SnapshotInfo describes a saved snapshot file.
type SnapshotInfo struct {
	Path      string
	SHA256    string // of the whole file, as `sha256sum` prints it
	SizeBytes int64
	Revision  int64
	// Copy is where snapshot.copy_to holds a verified copy, as
	// "host:/dir/file"; "" when there is none.
	Copy string
}

// SaveSnapshot streams a snapshot from endpoint into dir:
// temp file (0600) → verify etcd's trailing sha256 → fsync → rename to
// <cluster-id>-rev<revision>-<UTC>.db → fsync the directory.
// Nothing is left behind on failure.
func SaveSnapshot(ctx context.Context, cluster Cluster, endpoint, dir, clusterID string, now time.Time) (SnapshotInfo, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return SnapshotInfo{}, fmt.Errorf("creating snapshot directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".snapshot-*.part")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("creating a file in the snapshot directory: %w", err)
	}
	defer func() {
		if tmp != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return SnapshotInfo{}, err
	}
	w := newTrailerWriter(tmp)
	defer w.finish()
	rev, err := cluster.Snapshot(ctx, endpoint, w)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("streaming the snapshot from %s: %w", endpoint, err)
	}
	if err := w.verify(); err != nil {
		return SnapshotInfo{}, err
	}
	if err := tmp.Sync(); err != nil {
		return SnapshotInfo{}, fmt.Errorf("syncing the snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return SnapshotInfo{}, err
	}
	name := fmt.Sprintf("%s-rev%d-%s.db", clusterID, rev, now.UTC().Format("20060102T150405Z"))
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return SnapshotInfo{}, err
	}
	tmp = nil
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return SnapshotInfo{Path: final, SHA256: hex.EncodeToString(w.whole), SizeBytes: w.n, Revision: rev}, nil
}

// trailerWriter writes through to a file while hashing. etcd appends the
// sha256 of the database to the snapshot stream; the writer holds the last
// 32 bytes back from the content hash so it can compare them at the end
// without reading the file again. Hashing runs in its own goroutine, on
// copies of the chunks, so it overlaps with receiving and writing: on a
// large database the digest would otherwise bound the throughput.
type trailerWriter struct {
	f      *os.File
	n      int64
	chunks chan []byte
	done   chan struct{}
	once   sync.Once
	whole  []byte // digest of the whole file, set by verify

	// Owned by the hashing goroutine until done is closed.
	content hash.Hash // everything but the last 32 bytes seen so far
	tail    []byte
}

var chunkPool = sync.Pool{New: func() any { return make([]byte, 0, 64<<10) }}

func newTrailerWriter(f *os.File) *trailerWriter {
	w := &trailerWriter{f: f, content: sha256.New(), chunks: make(chan []byte, 64), done: make(chan struct{})}
	go w.hashChunks()
	return w
}

func (w *trailerWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing the snapshot: %w", err)
	}
	w.n += int64(n)
	w.chunks <- append(chunkPool.Get().([]byte)[:0], p...)
	return n, nil
}

func (w *trailerWriter) hashChunks() {
	defer close(w.done)
	for p := range w.chunks {
		w.hashChunk(p)
		chunkPool.Put(p[:0]) //nolint:staticcheck // a slice is what the pool holds
	}
}

func (w *trailerWriter) hashChunk(p []byte) {
	if len(p) >= sha256.Size {
		w.content.Write(w.tail)
		w.content.Write(p[:len(p)-sha256.Size])
		w.tail = append(w.tail[:0], p[len(p)-sha256.Size:]...)
		return
	}
	buf := append(append(make([]byte, 0, 2*sha256.Size), w.tail...), p...)
	if len(buf) > sha256.Size {
		w.content.Write(buf[:len(buf)-sha256.Size])
		buf = buf[len(buf)-sha256.Size:]
	}
	w.tail = append(w.tail[:0], buf...)
}

// finish waits for the hashing goroutine; safe to call more than once.
func (w *trailerWriter) finish() {
	w.once.Do(func() { close(w.chunks) })
	<-w.done
}

func (w *trailerWriter) verify() error {
	w.finish()
	// etcd's snapshot file is a bolt database (pages of 512-byte multiples)
	// followed by the digest; etcdutl checks it the same way on restore.
	if w.n%512 != sha256.Size || len(w.tail) != sha256.Size {
		return errors.New("the snapshot has no sha256 trailer (size " + fmt.Sprint(w.n) + "); it may be truncated")
	}
	if !bytes.Equal(w.content.Sum(nil), w.tail) {
		return errors.New("the snapshot's sha256 does not match its content; it was corrupted in transfer")
	}
	// Sum leaves the hash running: adding the trailer gives the digest of
	// the whole file, without hashing every byte twice.
	w.content.Write(w.tail)
	w.whole = w.content.Sum(nil)
	return nil
}

// Target names the copy's directory as the plan shows it: host:/dir/.
func (c SnapshotCopy) Target() string {
	return c.Host + ":" + strings.TrimRight(c.Directory, "/") + "/"
}

// portText is " on port N" for a port set in the configuration.
func portText(port int) string {
	if port == 0 {
		return ""
	}
	return fmt.Sprintf(" on port %d", port)
}

// snapshotStep is the plan's snapshot step.
func snapshotStep(spec Spec) string {
	step := fmt.Sprintf("snapshot: from the leader to %s/, sha256 verified, mode 0600, before any member stops", strings.TrimRight(spec.SnapshotDir, "/"))
	if c := spec.SnapshotCopy; c != nil {
		step += fmt.Sprintf("; copy to %s over SSH%s, sha256 verified, mode 0600", c.Target(), portText(c.SSHPort))
	}
	return step
}

// copySnapshot puts a copy of the local snapshot file snap.Path on h, in
// dir under the same name: mkdir -p (0700, when missing) → upload (0600,
// atomic) → sha256sum on h, compared with snap.SHA256. A copy whose digest
// differs is removed. It returns the copy's path on h.
//
// A broken SSH connection is retried within SSHRetryBudget; a command that
// ran and failed (no such directory, permission denied, disk full) is not.
func copySnapshot(ctx context.Context, h Host, snap SnapshotInfo, dir string) (string, error) {
	remote := path.Join(dir, filepath.Base(snap.Path))
	if _, err := run(ctx, h, sshx.Command("mkdir", "-p", "-m", "0700", "--", dir)); err != nil {
		return remote, fmt.Errorf("creating the directory %s: %w", dir, err)
	}
	var failed error // a transfer that reached the host and failed there
	err := retry(ctx, SSHRetryBudget, func() error {
		f, err := os.Open(snap.Path)
		if err != nil {
			failed = err
			return nil
		}
		defer f.Close()
		err = h.Upload(ctx, f, remote, 0o600)
		var exit *sshx.ExitError
		if errors.As(err, &exit) {
			failed = err
			return nil
		}
		return err
	})
	if err == nil {
		err = failed
	}
	if err != nil {
		return remote, fmt.Errorf("uploading %s to %s: %w", snap.Path, remote, err)
	}
	out, err := run(ctx, h, sshx.Command("sha256sum")+" < "+sshx.Quote(remote))
	if err != nil {
		return remote, fmt.Errorf("verifying %s: %w", remote, err)
	}
	fields := strings.Fields(out)
	if len(fields) == 0 || fields[0] != snap.SHA256 {
		got := "nothing"
		if len(fields) > 0 {
			got = "sha256 " + fields[0]
		}
		// A copy that is not the snapshot must not be mistaken for one
		// later; the local file is still there.
		_, rmErr := run(ctx, h, sshx.Command("rm", "-f", "--", remote))
		kept := "it was removed"
		if rmErr != nil {
			kept = "removing it failed too, delete it by hand: " + rmErr.Error()
		}
		return remote, fmt.Errorf("the copy %s has %s after transfer, want %s (the local snapshot's); %s", remote, got, snap.SHA256, kept)
	}
	return remote, nil
}
