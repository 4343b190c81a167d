package rollout

// snapshot.copy_to: the copy on another host, over SSH. The backup host is a
// real shell in a directory of its own, like the fake etcd hosts; only its
// Upload can be made to fail or to corrupt what it writes.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

const (
	backupAddr = "backup1.example.net"
	backupDir  = "backups/etcd cluster" // relative: inside the backup host's directory; a space to test quoting
)

// backupHost is the snapshot.copy_to host.
type backupHost struct {
	c   *fakeCluster // events only
	dir string

	mu sync.Mutex
	// uploadErrs are returned by the next uploads, one each, instead of
	// writing the file.
	uploadErrs []error
	// corrupt flips a byte of what the next upload writes.
	corrupt bool
}

func (h *backupHost) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	h.c.record("backup", cmd)
	var stdout, stderr bytes.Buffer
	sh := exec.CommandContext(ctx, "sh", "-c", cmd)
	sh.Dir = h.dir
	sh.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	sh.Stdout, sh.Stderr = &stdout, &stderr
	err := sh.Run()
	res := sshx.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.ExitStatus = exit.ExitCode()
	case err != nil:
		return res, err
	}
	return res, nil
}

func (h *backupHost) Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error {
	h.c.record("backup", fmt.Sprintf("upload %s %#o", remotePath, mode))
	h.mu.Lock()
	var fail error
	if len(h.uploadErrs) > 0 {
		fail, h.uploadErrs = h.uploadErrs[0], h.uploadErrs[1:]
	}
	corrupt := h.corrupt
	h.mu.Unlock()
	if fail != nil {
		return fail
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if corrupt {
		data[len(data)/2] ^= 0x01
	}
	dst := filepath.Join(h.dir, remotePath)
	if _, err := os.Stat(filepath.Dir(dst)); err != nil {
		return &sshx.ExitError{ExitStatus: 1, Stderr: "directory " + path.Dir(remotePath) + " does not exist"}
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// copyRig is a rig whose spec copies the snapshot to a backup host.
func copyRig(t *testing.T) (*rig, *backupHost) {
	t.Helper()
	r := newRig(t, 3, 2, "3.5.21", "3.4.34", env35)
	b := &backupHost{c: r.c, dir: t.TempDir()}
	r.spec.SnapshotCopy = &SnapshotCopy{Host: backupAddr, Directory: backupDir}
	return r, b
}

func (r *rig) copyExecutor(planned []string, b *backupHost) *Executor {
	e := r.executor(planned)
	members := e.Hosts
	e.Hosts = func(m MemberSpec) Host {
		if m.Host == backupAddr {
			return b
		}
		return members(m)
	}
	return e
}

func (r *rig) savedSnapshot() *SnapshotInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

// TestRunCopiesSnapshot: the copy is made before any member stops, in a
// directory created 0700, under the snapshot's own name, mode 0600, and
// checked with sha256sum on the backup host; last_snapshot records it.
func TestRunCopiesSnapshot(t *testing.T) {
	t.Parallel()
	r, b := copyRig(t)
	plan := r.plan()
	wantStep := "; copy to " + backupAddr + ":" + backupDir + "/ over SSH, sha256 verified, mode 0600"
	if !strings.HasSuffix(plan.Steps[1], wantStep) || !strings.HasPrefix(plan.Steps[1], "snapshot: ") {
		t.Errorf("snapshot step %q does not end with %q", plan.Steps[1], wantStep)
	}
	if err := r.copyExecutor(plan.Steps, b).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
	}
	r.checkNoViolations()

	snap := r.savedSnapshot()
	if snap == nil {
		t.Fatal("SnapshotSaved was not called")
	}
	remote := path.Join(backupDir, filepath.Base(snap.Path))
	if want := backupAddr + ":" + remote; snap.Copy != want {
		t.Errorf("SnapshotInfo.Copy %q, want %q", snap.Copy, want)
	}
	local, err := os.ReadFile(snap.Path)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join(b.dir, remote))
	if err != nil {
		t.Fatalf("no copy on the backup host: %v", err)
	}
	if !bytes.Equal(copied, local) || fmt.Sprintf("%x", sha256.Sum256(copied)) != snap.SHA256 {
		t.Error("the copy differs from the local snapshot")
	}
	for p, want := range map[string]os.FileMode{remote: 0o600, backupDir: 0o700} {
		st, err := os.Stat(filepath.Join(b.dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}

	wantCmds := []string{
		"mkdir -p -m 0700 -- 'backups/etcd cluster'",
		"upload " + remote + " 0600",
		"sha256sum < '" + remote + "'",
	}
	if got := r.commands("backup"); !slices.Equal(got, wantCmds) {
		t.Errorf("backup host saw\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(wantCmds, "\n  "))
	}
	verified, firstStop := r.firstEvent("backup", "sha256sum"), r.firstEvent("", fakeStop)
	if verified < 0 || firstStop < 0 || verified > firstStop {
		t.Errorf("copy verified at event %d, first stop at %d: the copy must be verified before any member stops\n%s", verified, firstStop, r.dumpEvents())
	}
	if saved := r.firstEvent("cluster", "snapshot saved"); saved < verified {
		t.Errorf("SnapshotSaved (event %d) before the copy was verified (event %d)", saved, verified)
	}

	r.mu.Lock()
	logged := strings.Join(r.logged, "\n")
	r.mu.Unlock()
	if !strings.Contains(logged, "snapshot copied") || !strings.Contains(logged, "copy:"+snap.Copy) || !strings.Contains(logged, "duration:") {
		t.Errorf("the copy is not logged with its path and duration:\n%s", logged)
	}
}

// TestRunSnapshotCopyFails: a copy that cannot be made, or that arrives
// different, stops the rollout before any member stops; the local snapshot
// is still recorded, without a copy.
func TestRunSnapshotCopyFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(b *backupHost)
		want  string
	}{
		{"upload fails on the host", func(b *backupHost) {
			b.uploadErrs = []error{fmt.Errorf("upload to backup1.example.net:22:x: writing x: %w", &sshx.ExitError{ExitStatus: 1, Stderr: "cat: write error: No space left on device"})}
		}, "No space left on device"},
		{"sha256 differs on the host", func(b *backupHost) { b.corrupt = true }, "after transfer, want"},
		{"directory cannot be created", func(b *backupHost) {
			if err := os.WriteFile(filepath.Join(b.dir, "backups"), []byte("a file, not a directory"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "creating the directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, b := copyRig(t)
			tc.setup(b)
			err := r.copyExecutor(r.plan().Steps, b).Run(context.Background())
			if err == nil {
				t.Fatalf("Run succeeded\n%s", r.dumpEvents())
			}
			se := asStepError(t, err)
			if se.Step != "snapshot copy" || !se.Unchanged || se.Member != "" {
				t.Errorf("StepError{Member %q Step %q Unchanged %v}, want snapshot copy, unchanged", se.Member, se.Step, se.Unchanged)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(se.Hint, "snapshot.copy_to") || !strings.Contains(se.Hint, backupAddr) {
				t.Errorf("error lacks %q, or its hint does not name snapshot.copy_to and the host:\n%v", tc.want, err)
			}
			if stops := r.stops(); len(stops) != 0 {
				t.Errorf("members stopped after a failed snapshot copy: %v\n%s", stops, r.dumpEvents())
			}
			for name := range r.hosts {
				r.checkUntouched(name, "3.5.21", env35(memberIndex(name)))
			}
			snap := r.savedSnapshot()
			if snap == nil {
				t.Fatal("the local snapshot was not recorded")
			}
			if snap.Copy != "" {
				t.Errorf("Copy %q recorded for a failed copy", snap.Copy)
			}
			if !strings.Contains(se.Hint, snap.Path) {
				t.Errorf("hint does not name the local snapshot %s: %s", snap.Path, se.Hint)
			}
			// A copy that is not the snapshot is not left to be mistaken for it.
			if _, err := os.Stat(filepath.Join(b.dir, backupDir, filepath.Base(snap.Path))); err == nil {
				t.Error("a failed copy is left on the backup host")
			}
		})
	}
}

// TestRunSnapshotCopyRetriesLostConnection: an upload whose connection
// broke is sent again; one that the host refused is not.
func TestRunSnapshotCopyRetriesLostConnection(t *testing.T) {
	t.Parallel()
	r, b := copyRig(t)
	b.uploadErrs = []error{errors.New("ssh: connection lost")}
	if err := r.copyExecutor(r.plan().Steps, b).Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, r.dumpEvents())
	}
	var uploads int
	for _, c := range r.commands("backup") {
		if strings.HasPrefix(c, "upload ") {
			uploads++
		}
	}
	if uploads != 2 {
		t.Errorf("%d uploads, want 2 (one lost, one retried)", uploads)
	}
	if snap := r.savedSnapshot(); snap == nil || snap.Copy == "" {
		t.Errorf("copy not recorded: %+v", snap)
	}
}

func TestSnapshotStep(t *testing.T) {
	spec := Spec{SnapshotDir: "etcd-snapshots/"}
	base := "snapshot: from the leader to etcd-snapshots/, sha256 verified, mode 0600, before any member stops"
	if got := snapshotStep(spec); got != base {
		t.Errorf("without a copy: %q", got)
	}
	spec.SnapshotCopy = &SnapshotCopy{Host: "backup1.example.net", Directory: "/var/backups/etcd/"}
	if got, want := snapshotStep(spec), base+"; copy to backup1.example.net:/var/backups/etcd/ over SSH, sha256 verified, mode 0600"; got != want {
		t.Errorf("with a copy:\n got %q\nwant %q", got, want)
	}
	spec.SnapshotCopy.SSHPort = 2222
	if got, want := snapshotStep(spec), base+"; copy to backup1.example.net:/var/backups/etcd/ over SSH on port 2222, sha256 verified, mode 0600"; got != want {
		t.Errorf("with a port:\n got %q\nwant %q", got, want)
	}
}
