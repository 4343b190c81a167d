package rollout

// Snapshot tests. The stream comes from a fake Cluster because a real etcd
// never sends a truncated or corrupted stream on demand; the files are real.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// streamCluster serves Snapshot only, writing data in chunks of the given
// size and then failing with err, if set.
type streamCluster struct {
	Cluster // nil: any other call panics
	data    []byte
	chunk   int
	err     error
	rev     int64
}

func (c *streamCluster) Snapshot(ctx context.Context, endpoint string, w io.Writer) (int64, error) {
	data := c.data
	for len(data) > 0 {
		n := min(len(data), max(c.chunk, 1))
		if _, err := w.Write(data[:n]); err != nil {
			return 0, err
		}
		data = data[n:]
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.rev, nil
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveSnapshotValid(t *testing.T) {
	data := snapshotBytes(24)
	// 15:04:05 in UTC+1 is 14:04:05 UTC: the name is in UTC.
	now := time.Date(2026, 11, 25, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	for _, chunk := range []int{1, 31, 32, 33, 512, 4096, len(data)} {
		t.Run(fmt.Sprintf("chunks of %d", chunk), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etcd-snapshots", "new")
			info, err := SaveSnapshot(context.Background(), &streamCluster{data: data, chunk: chunk, rev: 98765}, "http://10.0.0.11:2379", dir, "c0ffee", now)
			if err != nil {
				t.Fatal(err)
			}
			wantPath := filepath.Join(dir, "c0ffee-rev98765-20261125T140405Z.db")
			if info.Path != wantPath {
				t.Errorf("Path %s, want %s", info.Path, wantPath)
			}
			got, err := os.ReadFile(info.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Error("file content differs from the stream")
			}
			if want := fmt.Sprintf("%x", sha256.Sum256(data)); info.SHA256 != want {
				t.Errorf("SHA256 %s, want %s (of the whole file, as sha256sum prints it)", info.SHA256, want)
			}
			if info.SizeBytes != int64(len(data)) || info.Revision != 98765 {
				t.Errorf("SizeBytes %d Revision %d", info.SizeBytes, info.Revision)
			}
			st, err := os.Stat(info.Path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only the snapshot", names)
			}
		})
	}
}

func TestSaveSnapshotRejectsBadStreams(t *testing.T) {
	good := snapshotBytes(8)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		err  error
		want string
	}{
		{"truncated inside the database", good[:1000], nil, "no sha256 trailer"},
		{"truncated by one byte", good[:len(good)-1], nil, "no sha256 trailer"},
		{"trailer missing", good[:len(good)-32], nil, "no sha256 trailer"},
		{"one page lost", append(bytes.Clone(good[:512]), good[1024:]...), nil, "does not match"},
		{"a flipped bit in the first page", flip(0), nil, "does not match"},
		{"a flipped bit in the last page", flip(len(good) - 33), nil, "does not match"},
		{"a flipped bit in the trailer", flip(len(good) - 1), nil, "does not match"},
		{"empty", nil, nil, "no sha256 trailer"},
		{"the stream breaks off", good[:2048], errors.New("rpc error: code = Unavailable desc = transport is closing"), "transport is closing"},
		{"the stream fails after a complete snapshot", good, errors.New("context deadline exceeded"), "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			info, err := SaveSnapshot(context.Background(), &streamCluster{data: tc.data, chunk: 100, err: tc.err, rev: 1}, "http://10.0.0.11:2379", dir, "c0ffee", time.Now())
			if err == nil {
				t.Fatalf("SaveSnapshot accepted it: %+v", info)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Errorf("left behind: %v", names)
			}
		})
	}
}

func TestSaveSnapshotUnwritableDirectory(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "not-a-directory")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cluster := &streamCluster{data: snapshotBytes(4), chunk: 512, rev: 1}
	for _, dir := range []string{file, filepath.Join(file, "etcd-snapshots")} {
		if _, err := SaveSnapshot(context.Background(), cluster, "http://10.0.0.11:2379", dir, "c0ffee", time.Now()); err == nil {
			t.Errorf("SaveSnapshot into %s succeeded", dir)
		}
	}
	if os.Geteuid() != 0 { // root writes into a read-only directory anyway
		ro := filepath.Join(parent, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := SaveSnapshot(context.Background(), cluster, "http://10.0.0.11:2379", ro, "c0ffee", time.Now()); err == nil {
			t.Error("SaveSnapshot into a read-only directory succeeded")
		}
		if names := dirEntries(t, ro); len(names) != 0 {
			t.Errorf("left behind: %v", names)
		}
	}
}

// TestTrailerWriterSplits: the trailer is found however the stream is cut
// into writes, in particular around its last 32 bytes.
func TestTrailerWriterSplits(t *testing.T) {
	good := snapshotBytes(3)
	bad := bytes.Clone(good)
	bad[len(bad)-40] ^= 0x80
	n := len(good)

	type split struct {
		name  string
		sizes func() []int
	}
	fixed := func(size int) func() []int {
		return func() []int {
			var out []int
			for left := n; left > 0; left -= size {
				out = append(out, min(size, left))
			}
			return out
		}
	}
	splits := []split{
		{"1-byte writes", fixed(1)},
		{"31-byte writes", fixed(31)},
		{"32-byte writes", fixed(32)},
		{"33-byte writes", fixed(33)},
		{"one write", fixed(n)},
	}
	// Two writes cut at every point in the last 70 bytes, and three writes
	// with a small middle piece right at the trailer.
	for cut := n - 70; cut <= n; cut++ {
		splits = append(splits, split{fmt.Sprintf("cut at %d", cut), func() []int { return []int{cut, n - cut} }})
	}
	for _, mid := range []int{0, 1, 5, 31, 32, 33} {
		for _, at := range []int{n - 33, n - 32, n - 31, n - 1} {
			if at+mid > n {
				continue
			}
			splits = append(splits, split{fmt.Sprintf("%d bytes at %d", mid, at), func() []int { return []int{at, mid, n - at - mid} }})
		}
	}

	for _, sp := range splits {
		for _, data := range [][]byte{good, bad} {
			f, err := os.CreateTemp(t.TempDir(), "trailer-*")
			if err != nil {
				t.Fatal(err)
			}
			w := newTrailerWriter(f)
			off := 0
			for _, size := range sp.sizes() {
				if nw, err := w.Write(data[off : off+size]); err != nil || nw != size {
					t.Fatalf("%s: Write = %d, %v", sp.name, nw, err)
				}
				off += size
			}
			if off != n {
				t.Fatalf("%s: split covers %d of %d bytes", sp.name, off, n)
			}
			err = w.verify()
			if isGood := &data[0] == &good[0]; isGood && err != nil {
				t.Errorf("%s: valid stream rejected: %v", sp.name, err)
			} else if !isGood && err == nil {
				t.Errorf("%s: corrupted stream accepted", sp.name)
			}
			if w.n != int64(n) || (err == nil && !bytes.Equal(w.whole, sha256Of(data))) {
				t.Errorf("%s: counted %d bytes, whole-file hash wrong", sp.name, w.n)
			}
			f.Close()
			if written, _ := os.ReadFile(f.Name()); !bytes.Equal(written, data) {
				t.Errorf("%s: file content differs", sp.name)
			}
		}
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
