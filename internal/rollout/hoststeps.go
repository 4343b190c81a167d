package rollout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// A member's change is a list of named host steps. Each has a command that
// makes its change (safe to run again) and one that undoes it (also safe to
// run again, and safe when the change was never made). As each step is done
// it appends a line to a record on the host: its name, the path it changed,
// that path's metadata before, and its undo. Putting a member back replays
// the record's undos in reverse; an apply that finds an unfinished record
// (the provider was killed mid-member) undoes it before starting again.
type hostStep struct {
	Name   string `json:"step"`
	Path   string `json:"path,omitempty"`
	Before string `json:"before,omitempty"`
	Undo   string `json:"undo,omitempty"`
	Do     string `json:"-"`
	// Upload, when set, is written to UploadPath (mode 0600) before Do runs.
	Upload     []byte `json:"-"`
	UploadPath string `json:"-"`
}

// recordHeader is the first line of a member's record.
type recordHeader struct {
	Member  string `json:"member"`
	Cluster string `json:"cluster"`
	From    string `json:"from"`
	To      string `json:"to"`
	PID     int    `json:"pid,omitempty"`
	Started string `json:"started"`
}

// recordEnd is the last line: how the change ended ("done", "put back").
type recordEnd struct {
	End string `json:"end"`
	At  string `json:"at"`
}

// RecordPath is where a member's change is recorded on its host.
func RecordPath(dir, clusterID, member string) string {
	return path.Join(dir, clusterID+"-"+member+".jsonl")
}

// metaRef copies owner, group, mode and SELinux label from ref to file, so
// a file written by the provider keeps what its predecessor had.
func metaRef(ref, file string) string {
	return sshx.Command("chown", "--reference="+ref, "--", file) + " && " +
		sshx.Command("chmod", "--reference="+ref, "--", file) + " && " +
		"{ ! command -v selinuxenabled >/dev/null 2>&1 || ! selinuxenabled || " + sshx.Command("chcon", "--reference="+ref, "--", file) + "; }"
}

// removeIfCreated is the undo of a step that created path: remove it only
// when it did not exist before the step.
func removeIfCreated(p string, existed bool) string {
	if existed {
		return ""
	}
	return sshx.Command("rm", "-f", "--", p)
}

// keepBinaryStep keeps the binary the member was started from as kept: an
// exact copy of binary.path's metadata with the running process's content
// (/proc/<pid>/exe), so put-back has the right binary even when binary.path
// was already replaced on disk.
func keepBinaryStep(bin, kept string, pid int, keptExisted bool) hostStep {
	tmp := kept + ".tmp"
	do := sshx.Command("cp", "-a", "--", bin, tmp)
	if pid > 0 {
		do += " && " + fmt.Sprintf("cat /proc/%d/exe > %s", pid, sshx.Quote(tmp))
	}
	do += " && " + sshx.Command("mv", "-f", "--", tmp, kept)
	if keptExisted {
		// A kept copy from an earlier change stays as it is; a retry must
		// never overwrite it with the new binary.
		do = "[ -e " + sshx.Quote(kept) + " ] || { " + do + "; }"
	}
	return hostStep{Name: "keep binary", Path: kept, Do: do, Undo: removeIfCreated(kept, keptExisted)}
}

// prepareBinaryStep copies the staged binary beside binary.path as
// <path>.new with binary.path's owner, group, mode and label, while the
// member still runs, so the swap after the stop is a rename.
func prepareBinaryStep(bin, staged string) hostStep {
	next := bin + ".new"
	return hostStep{Name: "prepare binary", Path: next,
		Do:   sshx.Command("cp", "--", staged, next) + " && " + metaRef(bin, next),
		Undo: sshx.Command("rm", "-f", "--", next)}
}

// installBinaryStep renames the prepared binary over binary.path; undone by
// renaming an exact copy of the kept binary back.
func installBinaryStep(bin, staged, kept, before string) hostStep {
	next := bin + ".new"
	return hostStep{Name: "install binary", Path: bin, Before: before,
		Do: "if [ -e " + sshx.Quote(next) + " ]; then " + sshx.Command("mv", "-f", "--", next, bin) + "; fi && " + sshx.Command("cmp", "-s", "--", bin, staged),
		Undo: "if [ -e " + sshx.Quote(kept) + " ]; then " + sshx.Command("cp", "-a", "--", kept, bin+".tmp") + " && " +
			sshx.Command("mv", "-f", "--", bin+".tmp", bin) + "; fi"}
}

// prepareLinkTargetStep puts the new binary where a symlinked install keeps
// its versions (/opt/etcd-3.5.21/etcd → /opt/etcd-3.5.16/etcd), with the
// old target's and its directory's owner, group and mode.
func prepareLinkTargetStep(oldTarget, newTarget, staged string, newExisted, dirExisted bool) hostStep {
	dir, oldDir := path.Dir(newTarget), path.Dir(oldTarget)
	tmp := newTarget + ".tmp"
	do := "if [ ! -d " + sshx.Quote(dir) + " ]; then " + sshx.Command("mkdir", "--", dir) + " && " + metaRef(oldDir, dir) + "; fi && " +
		sshx.Command("cp", "--", staged, tmp) + " && " + metaRef(oldTarget, tmp) + " && " + sshx.Command("mv", "-f", "--", tmp, newTarget)
	if newExisted {
		do = "if ! " + sshx.Command("cmp", "-s", "--", newTarget, staged) + "; then " + do + "; fi"
	}
	undo := removeIfCreated(newTarget, newExisted)
	if !dirExisted && undo != "" {
		undo += " && { " + sshx.Command("rmdir", "--", dir) + " 2>/dev/null || true; }"
	}
	return hostStep{Name: "prepare link target", Path: newTarget, Do: do, Undo: undo}
}

// repointLinkStep points the binary's symlink at the new version,
// atomically (a new link renamed over the old); undone by pointing it back.
func repointLinkStep(link, oldTarget, newTarget, before string) hostStep {
	repoint := func(to string) string {
		return sshx.Command("ln", "-sfn", "--", to, link+".tmp") + " && " + sshx.Command("mv", "-Tf", "--", link+".tmp", link)
	}
	return hostStep{Name: "repoint binary link", Path: link, Before: before, Do: repoint(newTarget), Undo: repoint(oldTarget)}
}

// backupConfigStep keeps an exact copy of a settings file (same content,
// owner, group, mode, label) as backup, while the member still runs. A
// symlinked file is copied through the link.
func backupConfigStep(real, backup string, backupExisted bool, newSum string) hostStep {
	do := sshx.Command("cp", "-a", "--", real, backup+".tmp") + " && " + sshx.Command("mv", "-f", "--", backup+".tmp", backup)
	// Only while the file is still the old one: a retry after the rewrite
	// must not replace the backup with the new content.
	do = "if [ \"$(sha256sum < " + sshx.Quote(real) + " | cut -d' ' -f1)\" != " + newSum + " ]; then " + do + "; fi"
	return hostStep{Name: "back up config", Path: backup, Do: do, Undo: removeIfCreated(backup, backupExisted)}
}

// stageConfigStep uploads a settings file's new content beside it while the
// member still runs, so the rewrite after the stop is a rename.
func stageConfigStep(uploaded string, content []byte) hostStep {
	return hostStep{Name: "stage config", Path: uploaded, Upload: content, UploadPath: uploaded,
		Undo: sshx.Command("rm", "-f", "--", uploaded)}
}

// writeConfigStep renames the staged new content over the real file (the
// target of a symlink, so the link stays), with the old file's owner,
// group, mode and label; undone by an exact copy of the backup. A unit
// file is followed by a daemon-reload, both ways.
func writeConfigStep(shown, real, backup, uploaded, before string, unit bool) hostStep {
	st := hostStep{Name: "write config", Path: shown, Before: before,
		Do: "if [ -e " + sshx.Quote(uploaded) + " ]; then " + metaRef(real, uploaded) + " && " + sshx.Command("mv", "-f", "--", uploaded, real) + "; fi",
		Undo: "if [ -e " + sshx.Quote(backup) + " ]; then " + sshx.Command("cp", "-a", "--", backup, real+".tmp") + " && " +
			sshx.Command("mv", "-f", "--", real+".tmp", real) + "; fi"}
	if unit {
		st.Name = "write unit"
		st.Do += " && systemctl daemon-reload"
		st.Undo += " && systemctl daemon-reload"
	}
	return st
}

// stopStep and startStep run the configured service commands. Undoing a
// start is a stop that may find the member already stopped.
func stopStep(stop string) hostStep {
	return hostStep{Name: "stop", Do: userCommand(stop)}
}

func startStep(unit, start, stop string) hostStep {
	do := userCommand(start)
	if unit != "" {
		// A member that failed fast (put back, or an earlier attempt) must
		// not be held back by systemd's start limit.
		do = "{ " + sshx.Command("systemctl", "reset-failed", unit) + " 2>/dev/null || true; } && " + do
	}
	return hostStep{Name: "start", Do: do, Undo: userCommand(stop) + " || true"}
}

// stepMarker begins the lines a batch of steps prints: which step failed
// (on stderr) and when each one ended (on stdout, the host's clock in
// nanoseconds).
const stepMarker = "etcd-rollout step "

// batchScript runs steps in one shell on the host, in order, each followed
// by its record line, so a member's swap costs one SSH round trip instead
// of one a step. It stops at the first step that fails, printing
// "etcd-rollout step failed: NAME" on stderr and exiting with that step's
// status; after each step it prints "etcd-rollout step done: NAME NANOS".
// No step may carry an upload: those go before a batch.
func batchScript(record string, steps []hostStep) string {
	var b strings.Builder
	b.WriteString("echo " + sshx.Quote(stepMarker+"begin: ") + "\"$(date +%s%N 2>/dev/null)\"\n")
	for _, st := range steps {
		cmd := appendRecord(record, recordLine(st))
		if st.Do != "" {
			// A subshell, so a step (or an operator's service command)
			// that calls exit still ends in the marker naming it.
			cmd = "( " + st.Do + "\n) && " + cmd
		}
		fmt.Fprintf(&b, "%s || { rc=$?; echo %s >&2; exit $rc; }\n", cmd, sshx.Quote(stepMarker+"failed: "+st.Name))
		fmt.Fprintf(&b, "echo %s\"$(date +%%s%%N 2>/dev/null)\"\n", sshx.Quote(stepMarker+"done: "+st.Name+" "))
	}
	return b.String()
}

// batchResult reads a batch's output: the step that failed ("" when the
// output names none), stderr without the marker, and how long each step
// took by the host's clock (nil when the host's date has no %N).
func batchResult(stdout, stderr string) (failed, rest string, took []stepTime) {
	var kept []string
	for _, l := range strings.Split(stderr, "\n") {
		if name, ok := strings.CutPrefix(l, stepMarker+"failed: "); ok {
			failed = name
			continue
		}
		kept = append(kept, l)
	}
	var last int64
	for _, l := range strings.Split(stdout, "\n") {
		l, ok := strings.CutPrefix(l, stepMarker)
		if !ok {
			continue
		}
		var name, at string
		if t, ok := strings.CutPrefix(l, "begin: "); ok {
			at = t
		} else if d, ok := strings.CutPrefix(l, "done: "); ok {
			i := strings.LastIndexByte(d, ' ')
			if i < 0 {
				continue
			}
			name, at = d[:i], d[i+1:]
		}
		ns, err := strconv.ParseInt(at, 10, 64)
		if err != nil || ns <= 0 {
			return failed, strings.Join(kept, "\n"), nil
		}
		if name != "" && last > 0 {
			took = append(took, stepTime{Name: name, Took: time.Duration(ns - last)})
		}
		last = ns
	}
	return failed, strings.Join(kept, "\n"), took
}

// stepTime is how long one host step took.
type stepTime struct {
	Name string
	Took time.Duration
}

// stepTimes renders step timings for the log: "install binary=3ms, start=1.204s".
func stepTimes(ts []stepTime) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Name + "=" + t.Took.Round(time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

// record renders one record line.
func recordLine(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// appendRecord appends a line to the record file, creating its directory
// (0700) and the file (0600) when needed. The line travels base64-encoded,
// so the undo commands it holds are never part of the command's own text.
func appendRecord(file, line string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(line + "\n"))
	// A subshell, so the umask does not reach the commands after it in a
	// batch (a start would hand it to the member's process).
	return "( umask 077 && " + sshx.Command("mkdir", "-p", "--", path.Dir(file)) + " && printf %s " + enc + " | base64 -d >> " + sshx.Quote(file) + " )"
}

// readRecord returns the steps of an unfinished record on the host; nil
// when there is none or it has ended.
func readRecord(ctx context.Context, h Host, file string) (hdr recordHeader, steps []hostStep, err error) {
	out, err := run(ctx, h, "if [ -f "+sshx.Quote(file)+" ]; then cat -- "+sshx.Quote(file)+"; fi")
	if err != nil || strings.TrimSpace(out) == "" {
		return hdr, nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		return hdr, nil, fmt.Errorf("record %s: %w", file, err)
	}
	for _, l := range lines[1:] {
		var end recordEnd
		if json.Unmarshal([]byte(l), &end) == nil && end.End != "" {
			return hdr, nil, nil
		}
		var s hostStep
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			return hdr, nil, fmt.Errorf("record %s: %w", file, err)
		}
		steps = append(steps, s)
	}
	return hdr, steps, nil
}

// closeRecord ends a record and keeps it under a name of its own, so the
// next change starts a new one and the history stays on the host.
func closeRecord(file, end string, at time.Time) string {
	kept := strings.TrimSuffix(file, ".jsonl") + "-" + at.UTC().Format("20060102T150405Z") + ".jsonl"
	return appendRecord(file, recordLine(recordEnd{End: end, At: at.UTC().Format(time.RFC3339)})) + " && " + sshx.Command("mv", "-f", "--", file, kept)
}

// undoScript undoes steps in reverse, each even when an earlier undo
// failed, and fails if any did.
func undoScript(steps []hostStep) string {
	var b strings.Builder
	b.WriteString("rc=0\n")
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Undo == "" {
			continue
		}
		fmt.Fprintf(&b, "{ %s\n} || { echo %s >&2; rc=1; }\n", steps[i].Undo, sshx.Quote("undo of "+steps[i].Name+" failed"))
	}
	b.WriteString("exit $rc")
	return b.String()
}
