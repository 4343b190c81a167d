package rollout

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// The 3.6 → 3.7 hazard: etcd 3.5 writes v2-format entries to the raft log
// (on every member start and cluster-version change). 3.6 replays them;
// 3.7 cannot, and panics at start ("unmarshal should never fail"). A
// member restarts from the newest snapshot record in its write-ahead log
// and replays every entry after it, so a cluster upgraded from 3.5 whose
// members have not taken a snapshot on 3.6 since is lost when every member
// is replaced by 3.7. Before such a roll, each member's log is read over
// SSH (read-only) and decoded as 3.7 would replay it (etcdx.ScanWAL).

// LogCheck says whether etcd 3.7 can replay a member's log.
type LogCheck struct {
	OK  bool
	Why string
	// Unread: the log could not be read, so a snapshot would not help;
	// Why says what failed.
	Unread bool
}

// needsLogCheck reports whether the change to target starts some member on
// 3.7 that runs 3.6 now.
func needsLogCheck(obs Observation, target etcdconf.Version) bool {
	if target.Major != 3 || target.Minor != 7 {
		return false
	}
	for _, m := range obs.Members {
		if v, err := etcdconf.ParseVersion(m.Version); err == nil && v.Major == 3 && v.Minor == 6 {
			return true
		}
	}
	return false
}

// checkLogs37 reads the log of every member on 3.6, one member at a time
// (a WAL segment is 64 MB once unpacked).
func checkLogs37(ctx context.Context, hosts Hosts, spec Spec, obs Observation) map[string]LogCheck {
	out := map[string]LogCheck{}
	for _, m := range obs.Members {
		v, err := etcdconf.ParseVersion(m.Version)
		if err != nil || v.Minor != 6 {
			continue
		}
		ms, ok := spec.Member(m.Name)
		rt, found := obs.Runtimes[m.Name]
		switch {
		case !ok:
			continue // reported by CheckMembership
		case !found || rt.HostErr != "" || rt.Err != "":
			out[m.Name] = LogCheck{Unread: true, Why: "its host could not be inspected, so its write-ahead log was not read"}
			continue
		}
		out[m.Name] = checkLog37(ctx, hosts(ms), rt)
	}
	return out
}

// memberDirs are the member's snapshot and WAL directories, from its
// data-dir and wal-dir settings. A relative path is the process's working
// directory's, read through /proc.
func memberDirs(rt Runtime) (snapDir, walDir string) {
	abs := func(p string) string {
		if strings.HasPrefix(p, "/") || rt.PID == 0 {
			return p
		}
		return path.Join("/proc", strconv.Itoa(rt.PID), "cwd", p)
	}
	data := rt.Setting("data-dir")
	if data == "" {
		name := rt.MemberName()
		if name == "" {
			name = "default"
		}
		data = name + ".etcd" // etcd's default
	}
	data = abs(data)
	walDir = path.Join(data, "member", "wal")
	if w := rt.Setting("wal-dir"); w != "" {
		walDir = abs(w)
	}
	return path.Join(data, "member", "snap"), walDir
}

// listFilesCmd lists the names in dir, one a line; a missing dir lists
// nothing.
func listFilesCmd(dir string) string {
	return "if [ -d " + sshx.Quote(dir) + " ]; then ls -1 -- " + sshx.Quote(dir) + "; fi"
}

// readFileCmd prints file compressed and in base64, so that a 64 MB WAL
// segment (mostly preallocated zeros) travels as a few hundred kilobytes.
func readFileCmd(file string) string {
	return "gzip -c -- " + sshx.Quote(file) + " | base64 -w0"
}

func readRemoteFile(ctx context.Context, h Host, file string) ([]byte, error) {
	out, err := run(ctx, h, readFileCmd(file))
	if err != nil {
		return nil, err
	}
	gz, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return io.ReadAll(zr)
}

// checkLog37 reads one member's newest .snap and the WAL segments etcd
// would replay after it, and decides with etcdx.Safe37.
func checkLog37(ctx context.Context, h Host, rt Runtime) LogCheck {
	snapDir, walDir := memberDirs(rt)
	fail := func(err error) LogCheck {
		return LogCheck{Unread: true, Why: fmt.Sprintf("its write-ahead log in %s could not be read (%v), so whether etcd 3.7 can replay it is unknown", walDir, err)}
	}
	list := func(dir string) ([]string, error) {
		out, err := run(ctx, h, listFilesCmd(dir))
		return strings.Fields(out), err
	}
	snaps, err := list(snapDir)
	if err != nil {
		return fail(err)
	}
	wals, err := list(walDir)
	if err != nil {
		return fail(err)
	}
	var snap *etcdx.SnapInfo
	var from uint64
	if name, ok := etcdx.NewestSnapName(snaps); ok {
		b, err := readRemoteFile(ctx, h, path.Join(snapDir, name))
		if err != nil {
			return fail(err)
		}
		si, err := etcdx.ParseSnapFile(b)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", name, err))
		}
		snap, from = &si, si.Index
	}
	names, err := etcdx.WALSegmentsFrom(wals, from)
	if err != nil {
		return fail(err)
	}
	var segs []etcdx.WALSegment
	for _, n := range names {
		b, err := readRemoteFile(ctx, h, path.Join(walDir, n))
		if err != nil {
			return fail(err)
		}
		segs = append(segs, etcdx.WALSegment{Name: n, Data: b})
	}
	wal, err := etcdx.ScanWAL(segs)
	if err != nil {
		return fail(err)
	}
	ok, why := etcdx.Safe37(snap, &wal)
	return LogCheck{OK: ok, Why: why}
}

// logProblems refuses a roll to 3.7 while a member's log holds entries 3.7
// cannot replay.
func logProblems(obs Observation, target etcdconf.Version) []Problem {
	var probs []Problem
	for _, name := range sortedNames(obs.Logs37) {
		c := obs.Logs37[name]
		switch {
		case c.OK:
			continue
		case c.Unread:
			probs = append(probs, Problem{Attribute: "members", MapKey: name, Summary: "Cannot check a member's log for etcd 3.7",
				Detail: fmt.Sprintf("Member %q: %s. Before any member starts on %s, every member's write-ahead log must be read to rule out the 3.5-era entries 3.7 cannot replay; the rollout does not start on a check it cannot make. Fix the cause (SSH access, sudo, the member's data-dir and wal-dir settings), then plan again.", name, c.Why, target)})
			continue
		}
		probs = append(probs, Problem{Attribute: "version", Summary: "etcd 3.7 cannot replay a member's log",
			Detail: fmt.Sprintf("Member %q: %s\n\netcd %s would panic at start on this member, and with every member replaced the cluster would be lost, so the rollout does not start. "+
				"The quickest fix makes every member take a snapshot on 3.6 without a restart: `etcdctl downgrade enable 3.5`, wait until every member logs \"saved snapshot\" (a few seconds), then `etcdctl downgrade cancel 3.5` (the cluster version is 3.5 for those seconds). "+
				"Or restart each member once with --snapshot-count=1 (ETCD_SNAPSHOT_COUNT=1), then with its usual setting. Then plan again.", name, c.Why, target)})
	}
	return probs
}

func sortedNames[V any](m map[string]V) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
