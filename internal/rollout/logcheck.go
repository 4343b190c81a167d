package rollout

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

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

// The same reading serves 3.5 → 3.6: 3.6 removed the v2 store, refuses to
// start on a snapshot that holds v2 API data, and panics on a v2 API write
// in the log it replays. etcdutl 3.5.32's `check v2store` looks for the
// same; here it is done on every member before the first one stops.

// LogCheck says whether the target minor can start on a member's data:
// for 3.7 whether it can replay the log, for 3.6 whether the v2 store is
// empty of API data.
type LogCheck struct {
	OK  bool
	Why string
	// Unread: the log could not be read, so a snapshot would not help;
	// Why says what failed.
	Unread bool
}

// logRule is what a minor upgrade needs of every member's snapshot and log.
type logRule struct {
	from   int // the minor the members run now
	decide func(*etcdx.SnapInfo, *etcdx.WALInfo) (bool, string)
}

// logRuleFor is the rule of the upgrade to target, if it has one.
func logRuleFor(target etcdconf.Version) (logRule, bool) {
	switch {
	case target.Major == 3 && target.Minor == 7:
		return logRule{from: 6, decide: etcdx.Safe37}, true
	case target.Major == 3 && target.Minor == 6:
		return logRule{from: 5, decide: etcdx.SafeV2For36}, true
	}
	return logRule{}, false
}

// needsLogCheck reports whether the change to target starts some member on
// a minor whose rule reads the logs of members that run the one before.
func needsLogCheck(obs Observation, target etcdconf.Version) bool {
	rule, ok := logRuleFor(target)
	if !ok {
		return false
	}
	for _, m := range obs.Members {
		if v, err := etcdconf.ParseVersion(m.Version); err == nil && v.Major == 3 && v.Minor == rule.from {
			return true
		}
	}
	return false
}

// logCheckParallel is how many members' logs are read at once. A member's
// WAL segments are held in memory while they are decoded (64 MB each once
// unpacked), so a large cluster is read a few members at a time.
const logCheckParallel = 3

// checkLogs reads the snapshot and log of every member still on the
// previous minor, logCheckParallel members at a time.
func checkLogs(ctx context.Context, hosts Hosts, spec Spec, obs Observation) map[string]LogCheck {
	rule, _ := logRuleFor(spec.Target)
	out := map[string]LogCheck{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, logCheckParallel)
	for _, m := range obs.Members {
		v, err := etcdconf.ParseVersion(m.Version)
		if err != nil || v.Minor != rule.from {
			continue
		}
		ms, ok := spec.Member(m.Name)
		rt, found := obs.Runtimes[m.Name]
		switch {
		case !ok:
			continue // reported by CheckMembership
		case !found || rt.HostErr != "" || rt.Err != "":
			mu.Lock()
			out[m.Name] = LogCheck{Unread: true, Why: "its host could not be inspected, so its write-ahead log was not read"}
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			c := checkLog(ctx, hosts(ms), rt, rule.decide)
			<-slots
			mu.Lock()
			out[m.Name] = c
			mu.Unlock()
		}()
	}
	wg.Wait()
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

// checkLog reads one member's newest .snap and the WAL segments etcd would
// replay after it, and decides with decide.
func checkLog(ctx context.Context, h Host, rt Runtime, decide func(*etcdx.SnapInfo, *etcdx.WALInfo) (bool, string)) LogCheck {
	snapDir, walDir := memberDirs(rt)
	fail := func(err error) LogCheck {
		return LogCheck{Unread: true, Why: fmt.Sprintf("its write-ahead log in %s could not be read (%v)", walDir, err)}
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
	ok, why := decide(snap, &wal)
	return LogCheck{OK: ok, Why: why}
}

// logProblems refuses the upgrade while a member's data holds what the
// target minor cannot start on.
func logProblems(obs Observation, target etcdconf.Version) []Problem {
	var probs []Problem
	for _, name := range slices.Sorted(maps.Keys(obs.Logs)) {
		c := obs.Logs[name]
		switch {
		case c.OK:
			continue
		case c.Unread:
			probs = append(probs, Problem{Attribute: "members", MapKey: name, Summary: "Cannot read a member's log",
				Detail: fmt.Sprintf("Member %q: %s. Before any member starts on %s, every member's snapshot and write-ahead log are read to rule out data %s cannot start on; the rollout does not start on a check it cannot make. Fix the cause (SSH access, sudo, the member's data-dir and wal-dir settings), then plan again.", name, c.Why, target, target.MinorVersion())})
		case target.Minor == 6:
			probs = append(probs, Problem{Attribute: "version", Summary: "The v2 store holds data etcd 3.6 cannot start on",
				Detail: fmt.Sprintf("Member %q: %s.\n\netcd 3.6 removed the v2 store: it refuses to start on a snapshot with v2 data and panics on a v2 write in its log, so the rollout does not start. "+
					"Move whatever uses the v2 API (/v2/keys) to the v3 API, delete the v2 keys, turn off --enable-v2, and make every member take a new snapshot (restart it once with --snapshot-count=1, then with its usual setting); etcdutl 3.5.32's `etcdutl check v2store` on a copy of the data dir shows the same. Then plan again.", name, c.Why)})
		default:
			probs = append(probs, Problem{Attribute: "version", Summary: "etcd 3.7 cannot replay a member's log",
				Detail: fmt.Sprintf("Member %q: %s.\n\netcd %s would panic at start on this member, and with every member replaced the cluster would be lost, so the rollout does not start. "+
					"The quickest fix makes every member take a snapshot on 3.6 without a restart: `etcdctl downgrade enable 3.5`, wait until every member logs \"saved snapshot\" (a few seconds), then `etcdctl downgrade cancel 3.5` (the cluster version is 3.5 for those seconds). "+
					"Or restart each member once with --snapshot-count=1 (ETCD_SNAPSHOT_COUNT=1), then with its usual setting. Then plan again.", name, c.Why, target)})
		}
	}
	return probs
}
