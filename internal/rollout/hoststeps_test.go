package rollout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// The host steps run here in a real shell (sh -c, GNU coreutils) on files
// in a temp dir, the way they run on a host: each Do makes its change and
// can run again, and the reverse of the Undos puts every file back with its
// content, mode and link target.

func sh(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s\nscript:\n%s", err, out, script)
	}
}

type fileState struct {
	mode    os.FileMode
	link    string
	content string
}

func snapshotFiles(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		li, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fileState{mode: li.Mode()}
		if li.Mode()&os.ModeSymlink != 0 {
			st.link, _ = os.Readlink(p)
		} else if li.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			st.content = string(b)
		}
		out[rel] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestHostStepsRegularFiles: binary swap and config rewrite of plain files
// keep the old modes (0750 binary, 0640 config), twice-run steps change
// nothing more, and the undos restore the directory exactly.
func TestHostStepsRegularFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "bin/etcd"), "etcd 3.5.21", 0o750)
	write(t, filepath.Join(dir, "bin/etcd.3.4.34"), "etcd 3.4.34", 0o755) // staged
	write(t, filepath.Join(dir, "etc/etcd.env"), "ETCD_NAME=s1\nETCD_SOCKET_REUSE_PORT=true\n", 0o640)
	before := snapshotFiles(t, dir)

	newConfig := "ETCD_NAME=s1\nETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true\n"
	steps := []hostStep{
		keepBinaryStep("bin/etcd", "bin/etcd.3.5.21", 0, false),
		prepareBinaryStep("bin/etcd", "bin/etcd.3.4.34"),
		backupConfigStep("etc/etcd.env", "etc/etcd.env.3.5.21", false, sha256Hex(newConfig)),
		installBinaryStep("bin/etcd", "bin/etcd.3.4.34", "bin/etcd.3.5.21", ""),
		writeConfigStep("etc/etcd.env", "etc/etcd.env", "etc/etcd.env.3.5.21", "etc/etcd.env.new", "", false),
	}
	for _, st := range steps {
		if st.Name == "write config" {
			write(t, filepath.Join(dir, "etc/etcd.env.new"), newConfig, 0o600)
		}
		sh(t, dir, st.Do)
		sh(t, dir, st.Do) // a retried step
	}
	after := snapshotFiles(t, dir)
	if got := after["bin/etcd"]; got.content != "etcd 3.4.34" || got.mode != 0o750 {
		t.Errorf("installed binary %+v, want 3.4.34 with the old mode 0750", got)
	}
	if got := after["bin/etcd.3.5.21"]; got.content != "etcd 3.5.21" || got.mode != 0o750 {
		t.Errorf("kept binary %+v, want an exact copy of the old one", got)
	}
	if got := after["etc/etcd.env"]; got.content != newConfig || got.mode != 0o640 {
		t.Errorf("config %+v, want the new content with the old mode 0640", got)
	}
	if got := after["etc/etcd.env.3.5.21"]; got != before["etc/etcd.env"] {
		t.Errorf("config backup %+v, want an exact copy %+v", got, before["etc/etcd.env"])
	}

	sh(t, dir, undoScript(steps))
	if got := snapshotFiles(t, dir); !sameFiles(got, before) {
		t.Errorf("after the undos:\n%v\nwant\n%v", got, before)
	}
}

// TestHostStepsSymlinks: a symlinked binary is pointed at the new version
// (a new directory beside the old one, with its mode), a symlinked config is
// written through its link, and the undos put both links and every file back.
func TestHostStepsSymlinks(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "opt/etcd-3.5.21/etcd"), "etcd 3.5.21", 0o750)
	if err := os.Chmod(filepath.Join(dir, "opt/etcd-3.5.21"), 0o750); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "bin/etcd.3.5.16"), "etcd 3.5.16", 0o755) // staged
	write(t, filepath.Join(dir, "etc/etcd.env.d/s1.env"), "ETCD_NAME=s1\n", 0o640)
	sh(t, dir, "ln -s ../opt/etcd-3.5.21/etcd bin/etcd && ln -s etcd.env.d/s1.env etc/etcd.env")
	before := snapshotFiles(t, dir)

	steps := []hostStep{
		prepareLinkTargetStep("opt/etcd-3.5.21/etcd", "opt/etcd-3.5.16/etcd", "bin/etcd.3.5.16", false, false),
		backupConfigStep("etc/etcd.env.d/s1.env", "etc/etcd.env.d/s1.env.3.5.21", false, sha256Hex("x")),
		repointLinkStep("bin/etcd", "../opt/etcd-3.5.21/etcd", "../opt/etcd-3.5.16/etcd", ""),
		writeConfigStep("etc/etcd.env", "etc/etcd.env.d/s1.env", "etc/etcd.env.d/s1.env.3.5.21", "etc/etcd.env.d/s1.env.new", "", false),
	}
	write(t, filepath.Join(dir, "etc/etcd.env.d/s1.env.new"), "ETCD_NAME=s1\nETCD_X=1\n", 0o600)
	for _, st := range steps {
		sh(t, dir, st.Do)
		sh(t, dir, st.Do)
	}
	after := snapshotFiles(t, dir)
	if got := after["bin/etcd"]; got.link != "../opt/etcd-3.5.16/etcd" {
		t.Errorf("binary link %+v, want it pointed at ../opt/etcd-3.5.16/etcd", got)
	}
	if got := after["opt/etcd-3.5.16"]; got.mode != os.ModeDir|0o750 {
		t.Errorf("new version directory mode %v, want the old one's drwxr-x---", got.mode)
	}
	if got := after["opt/etcd-3.5.16/etcd"]; got.content != "etcd 3.5.16" || got.mode != 0o750 {
		t.Errorf("new link target %+v, want 3.5.16 with the old target's mode 0750", got)
	}
	if got := after["etc/etcd.env"]; got.link != "etcd.env.d/s1.env" {
		t.Errorf("config link %+v, want it kept", got)
	}
	if got := after["etc/etcd.env.d/s1.env"]; got.content != "ETCD_NAME=s1\nETCD_X=1\n" || got.mode != 0o640 {
		t.Errorf("config target %+v, want the new content with mode 0640", got)
	}

	sh(t, dir, undoScript(steps))
	if got := snapshotFiles(t, dir); !sameFiles(got, before) {
		t.Errorf("after the undos:\n%v\nwant\n%v", got, before)
	}
}

// TestRecordRoundTrip: the lines a step appends on the host read back as
// the steps, with their undos, and a closed record reads as finished.
func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	record := "records/c0ffee-s1.jsonl"
	steps := []hostStep{
		keepBinaryStep("bin/etcd", "bin/etcd.3.5.21", 0, false),
		startStep("etcd", "systemctl start etcd", "systemctl stop etcd"),
	}
	sh(t, dir, appendRecord(record, recordLine(recordHeader{Member: "s1", From: "3.5.21", To: "3.4.34"})))
	for _, st := range steps {
		sh(t, dir, appendRecord(record, recordLine(st)))
	}
	h := shellHost(dir)
	hdr, got, err := readRecord(t.Context(), h, record)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Member != "s1" || hdr.From != "3.5.21" || len(got) != 2 || got[0].Undo != steps[0].Undo || got[1].Undo != steps[1].Undo {
		b, _ := json.Marshal(got)
		t.Errorf("read back %+v %s", hdr, b)
	}
	if fi, err := os.Stat(filepath.Join(dir, "records")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("record directory %v (%v), want 0700", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, record)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record %v (%v), want 0600", fi.Mode(), err)
	}
	sh(t, dir, appendRecord(record, recordLine(recordEnd{End: "done"})))
	if _, got, _ := readRecord(t.Context(), h, record); got != nil {
		t.Errorf("a finished record reads as unfinished: %+v", got)
	}
	if strings.Contains(appendRecord(record, recordLine(steps[1])), "systemctl stop") {
		t.Errorf("the undo of a start shows in the command that records it")
	}
}

func sameFiles(a, b map[string]fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// shellHost runs commands in a real shell in a directory: a Host with no
// etcd behind it, for steps that only touch files.
type shellHost string

func (d shellHost) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	c := exec.CommandContext(ctx, "sh", "-c", cmd)
	c.Dir = string(d)
	var stdout, stderr strings.Builder
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	res := sshx.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		res.ExitStatus = exit.ExitCode()
		err = nil
	}
	return res, err
}

func (d shellHost) Upload(ctx context.Context, r io.Reader, remotePath string, mode os.FileMode) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(string(d), remotePath), b, mode)
}

// TestBatchScript runs a batch in a real shell: the steps before the failing
// one are done and recorded, the failing one is named with its own exit
// status, nothing after it runs, and the host's clock times each step done.
func TestBatchScript(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "rec", "r.jsonl")
	steps := []hostStep{
		{Name: "first", Do: "touch a", Undo: "rm -f a"},
		{Name: "install binary", Do: "touch b && sleep 0.05", Undo: "rm -f b"},
		{Name: "start", Do: "touch started", Undo: "rm -f started"},
		{Name: "write config", Do: "echo 'config is read-only' >&2; exit 3", Undo: "true"},
		{Name: "later", Do: "touch never"},
	}
	cmd := exec.Command("sh", "-c", "umask 022\n"+batchScript(record, steps))
	cmd.Dir = dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("batch exited with %v, want status 3 of the failing step", err)
	}
	failed, rest, took := batchResult(stdout.String(), stderr.String())
	if failed != "write config" || strings.TrimSpace(rest) != "config is read-only" {
		t.Errorf("batchResult named %q with stderr %q, want write config and its own message", failed, rest)
	}
	if len(took) != 3 || took[0].Name != "first" || took[1].Name != "install binary" || took[1].Took < 50*time.Millisecond {
		t.Errorf("step times %+v, want first, then install binary of at least 50ms, then start", took)
	}
	// The record's umask 077 stays in its own subshell: a file the start
	// creates gets the shell's umask (022 here), as without a batch.
	if st, err := os.Stat(filepath.Join(dir, "started")); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("a file made by the step after a record line has mode %v, want 0644", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
		t.Error("the step after the failing one ran")
	}
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var st hostStep
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			t.Fatalf("record line %q: %v", l, err)
		}
		names = append(names, st.Name)
	}
	if strings.Join(names, ",") != "first,install binary,start" {
		t.Errorf("record holds %v, want the three steps done", names)
	}

	// A host whose date has no %N gives no timings, and nothing breaks.
	if _, _, took := batchResult("etcd-rollout step begin: \netcd-rollout step done: first N\n", ""); took != nil {
		t.Errorf("timings %+v from a date without %%N", took)
	}
	if got := stepTimes([]stepTime{{"install binary", 3 * time.Millisecond}, {"start", 1204 * time.Millisecond}}); got != "install binary=3ms, start=1.204s" {
		t.Errorf("stepTimes = %q", got)
	}
}

// TestOtherUnitsScript runs the search for other units that run the same
// binary in a real shell: the unit being changed is left out, a directory
// reached twice (merged /usr: /lib → /usr/lib) is searched once, and only
// an ExecStart of exactly that binary counts.
func TestOtherUnitsScript(t *testing.T) {
	root := t.TempDir()
	etc, usrlib := filepath.Join(root, "etc"), filepath.Join(root, "usr-lib")
	for _, d := range []string{etc, usrlib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(root, "lib")
	if err := os.Symlink(usrlib, lib); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{
		filepath.Join(etc, "etcd.service"):           "[Service]\nExecStart=/usr/bin/etcd --name s1\n",
		filepath.Join(etc, "etcd-events.service"):    "[Service]\nExecStart=-/usr/bin/etcd --name events\n",
		filepath.Join(usrlib, "etcd-backup.service"): "[Service]\nExecStart=/usr/bin/etcd\n",
		filepath.Join(usrlib, "etcdctl.service"):     "[Service]\nExecStart=/usr/bin/etcdctl get x\n",
		filepath.Join(usrlib, "other.service"):       "[Service]\nExecStart=/usr/bin/sleep 1\n",
	}
	for p, c := range units {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := "bin=/usr/bin/etcd; unit_file=" + sshx.Quote(filepath.Join(etc, "etcd.service")) + "\n" +
		otherUnitsScript(etc, filepath.Join(root, "run-missing"), lib, usrlib)
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "etcd-events.service etcd-backup.service" {
		t.Errorf("other units %q, want etcd-events.service and etcd-backup.service, each once", got)
	}
}
