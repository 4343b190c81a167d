package rollout

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// gzipShellHost is a shellHost that takes uploads compressed, unpacking
// them with the real gzip as sshx.Host does on a host, and counts what it
// was sent each way.
type gzipShellHost struct {
	shellHost
	hasGzip        bool
	gzBytes, plain int
}

func (h *gzipShellHost) HasGzip(context.Context) (bool, error) { return h.hasGzip, nil }

func (h *gzipShellHost) UploadGzip(ctx context.Context, gz io.Reader, size int64, remotePath string, mode os.FileMode) error {
	b, err := io.ReadAll(gz)
	if err != nil {
		return err
	}
	h.gzBytes += len(b)
	cmd := exec.CommandContext(ctx, "gzip", "-dc")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	if int64(len(out)) != size {
		return io.ErrShortWrite
	}
	return os.WriteFile(filepath.Join(string(h.shellHost), remotePath), out, mode)
}

func (h *gzipShellHost) Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	h.plain += len(b)
	return h.shellHost.Upload(ctx, bytes.NewReader(b), remotePath, mode)
}

// TestUploadBinary stages a real Go binary (this test's own, built like
// etcd): compressed, in well under its size, to a host with gzip; as it is
// to a host without; and the same file twice is compressed once.
func TestUploadBinary(t *testing.T) {
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	withGzip := &gzipShellHost{shellHost: shellHost(t.TempDir()), hasGzip: true}
	if err := uploadBinary(ctx, withGzip, src, "etcd"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(string(withGzip.shellHost), "etcd"))
	if !bytes.Equal(got, want) || withGzip.plain != 0 {
		t.Fatalf("with gzip: staged %d bytes (want the %d of %s), %d sent uncompressed", len(got), len(want), src, withGzip.plain)
	}
	if withGzip.gzBytes == 0 || withGzip.gzBytes > len(want)*3/4 {
		t.Errorf("with gzip: sent %d bytes for a %d-byte binary", withGzip.gzBytes, len(want))
	}
	t.Logf("%s: %d bytes sent as %d", src, len(want), withGzip.gzBytes)
	first, _, _ := compressed(src)
	again, _, _ := compressed(src)
	if &first[0] != &again[0] {
		t.Error("the same file was compressed twice")
	}

	without := &gzipShellHost{shellHost: shellHost(t.TempDir())}
	if err := uploadBinary(ctx, without, src, "etcd"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(string(without.shellHost), "etcd"))
	if !bytes.Equal(got, want) || without.gzBytes != 0 || without.plain != len(want) {
		t.Fatalf("without gzip: staged %d bytes, sent %d plain and %d compressed", len(got), without.plain, without.gzBytes)
	}
}
