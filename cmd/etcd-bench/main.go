// Command etcd-bench is `make bench`: it measures the provider against what
// operators do without it — etcd's guide followed by hand with ssh, scp and
// etcdctl (scripts/manual-rollout.sh) — and against the physical floor (per
// member only stop, swap, start and the same gate, run on the host: see
// floor.go), side by side, on the same fresh sandbox clusters, in one run:
//
//   - rollout: wall time, each member's stop-to-healthy time and etcd's own
//     stop (from its log), for 3 members (-members for more), 3.5.35 →
//     3.5.21, on hosts whose unit is Type=notify and Type=simple, with
//     writers alone and with a Kubernetes-like client mix (watch streams on
//     every member, leases kept alive); 3.5.35 → 3.6.16 and back through
//     etcd's downgrade API (its waits timed apart from the member
//     restarts); 3.5 → 3.4 when ETCD_BINARY_3_4 is set;
//   - data: the same rollouts on a cluster holding about 1 GiB;
//   - plan: `terraform plan` with and without a version change, for one
//     cluster and for ten, with the SSH logins each cost;
//   - snapshot: the provider's snapshot step against `etcdctl snapshot save`
//     on a cluster of about 1 GiB.
//
// Every acknowledged write is read back and every watch stream checked for
// the events it owed. It prints tables and the targets (met or not), and
// writes bench/results.json and bench/chart.png. Missed targets do not fail
// it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// Three etcd builds cover every default path: the patch downgrade
// 3.5.35 → 3.5.21, the minor upgrade 3.5.35 → 3.6.16 (3.6 wants 3.5.26+)
// and the downgrade back through etcd's downgrade API, 3.6.16 → 3.5.35.
const (
	fromVersion  = "3.5.35"
	patchVersion = testhosts.DefaultEtcdVersion // 3.5.21
	// The downgrade through etcd's downgrade API, and the upgrade back.
	apiFromVersion = "3.6.16"
	apiToVersion   = fromVersion
)

type bench struct {
	runs            int
	members         []int
	minorMembers    []int
	apiMembers      []int
	paths           []string // -paths: the version paths to measure; nil for all
	scenarios       map[string]bool
	out, work       string
	script          string
	stableFor       time.Duration
	manualPoll      time.Duration
	writers         int
	planClusters    int
	snapshotMiB     int
	snapshotMembers int
	units           []string // -units: the hosts' unit behaviours
	clientMixes     []string // -clients: the client mixes
	methods         []string // -methods
	streams         int      // -streams: watch streams per member in the kubernetes mix
	dataMiB         int      // -data-mib: the data-size scenario's fill

	tf      string // Terraform CLI
	rc      string // TF_CLI_CONFIG_FILE with dev_overrides
	etcdctl string // the operator's etcdctl: the one of the version the clusters start on
	started time.Time
}

func main() {
	b := &bench{started: time.Now()}
	var members, minorMembers, apiMembers, paths, scenarios, units, clients, methods string
	var keep bool
	var timeout time.Duration
	flag.IntVar(&b.runs, "runs", 3, "repetitions of every measurement")
	flag.StringVar(&members, "members", "3", "cluster sizes for the rollout scenario (the 3.5 patch downgrade), e.g. 3,5,7")
	flag.StringVar(&minorMembers, "minor-members", "3", "cluster sizes for the 3.5 → 3.4 downgrade (only with ETCD_BINARY_3_4)")
	flag.StringVar(&apiMembers, "api-members", "3", "cluster sizes for the "+fromVersion+" → "+apiFromVersion+" upgrade and the "+apiFromVersion+" → "+apiToVersion+" downgrade through etcd's downgrade API")
	flag.StringVar(&paths, "paths", "", "version paths for the rollout scenario, comma-separated FROM:TO (e.g. "+apiFromVersion+":"+apiToVersion+"; FROM->TO and FROM→TO work too); default all")
	flag.StringVar(&scenarios, "scenarios", "rollout,data,plan,snapshot", "which scenarios to run: rollout, data (rollouts on a cluster of -data-mib), plan, snapshot")
	flag.StringVar(&units, "units", "notify,simple", "the hosts' unit behaviours for the 3-member patch rollouts: notify (start returns once etcd serves), simple (start returns at once); other sizes and paths run on notify")
	flag.StringVar(&clients, "clients", "writers,kubernetes", "client mixes for the 3-member patch rollouts: writers (the writers only), kubernetes (the writers, -streams watch streams on every member, leases kept alive); other sizes and paths run with writers")
	flag.StringVar(&methods, "methods", "provider,manual,floor", "methods to measure: provider, manual (etcd's guide by script), floor (stop, swap, start and gate on the host, nothing else)")
	flag.IntVar(&b.streams, "streams", 100, "watch streams per member in the kubernetes client mix")
	flag.IntVar(&b.dataMiB, "data-mib", 1024, "how much the data scenario's 3-member cluster holds, in MiB")
	flag.StringVar(&b.out, "out", "bench", "where results.json and chart.png go")
	flag.StringVar(&b.work, "work", "", "working directory for Terraform configurations, logs and snapshots (default: a temp dir, removed unless -keep)")
	flag.BoolVar(&keep, "keep", false, "keep the working directory")
	flag.StringVar(&b.script, "script", "scripts/manual-rollout.sh", "the manual procedure")
	flag.DurationVar(&b.stableFor, "stable-for", 0, "stability wait after each member, for both methods (the provider's health.stable_for, the script's --stable-for)")
	flag.DurationVar(&b.manualPoll, "manual-poll", 100*time.Millisecond, "how often the manual script polls `etcdctl endpoint health` (the provider's gates poll every 100ms)")
	flag.IntVar(&b.writers, "writers", 4, "concurrent writer clients during each rollout")
	flag.IntVar(&b.planClusters, "plan-clusters", 10, "clusters of 3 members in the large plan")
	flag.IntVar(&b.snapshotMiB, "snapshot-mib", 1024, "how much to write into the snapshot cluster, in MiB")
	flag.IntVar(&b.snapshotMembers, "snapshot-members", 1, "members of the snapshot cluster (the snapshot streams from one member whatever the size)")
	flag.DurationVar(&timeout, "timeout", 40*time.Minute, "give up after this long")
	redraw := flag.String("redraw", "", "measure nothing: read this results.json, print its tables and draw -out/chart.png again")
	flag.Parse()
	if *redraw != "" {
		if err := redrawFrom(*redraw, b.out); err != nil {
			fatal(err)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var err error
	if b.members, err = parseInts(members); err != nil {
		fatal(fmt.Errorf("-members: %w", err))
	}
	if b.minorMembers, err = parseInts(minorMembers); err != nil {
		fatal(fmt.Errorf("-minor-members: %w", err))
	}
	if b.apiMembers, err = parseInts(apiMembers); err != nil {
		fatal(fmt.Errorf("-api-members: %w", err))
	}
	if b.paths, err = parsePaths(paths); err != nil {
		fatal(fmt.Errorf("-paths: %w", err))
	}
	b.scenarios = map[string]bool{}
	sc, err := parseWords("-scenarios", scenarios, "rollout", "data", "plan", "snapshot")
	if err != nil {
		fatal(err)
	}
	for _, s := range sc {
		b.scenarios[s] = true
	}
	if b.units, err = parseWords("-units", units, "notify", "simple"); err != nil {
		fatal(err)
	}
	if b.clientMixes, err = parseWords("-clients", clients, "writers", "kubernetes"); err != nil {
		fatal(err)
	}
	if b.methods, err = parseWords("-methods", methods, "provider", "manual", "floor"); err != nil {
		fatal(err)
	}
	if b.runs < 1 {
		fatal(errors.New("-runs must be at least 1"))
	}
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "etcd-bench-"); err != nil {
			fatal(err)
		}
		if !keep {
			defer os.RemoveAll(b.work)
		}
	} else if b.work, err = filepath.Abs(b.work); err != nil {
		fatal(err)
	}
	if b.script, err = filepath.Abs(b.script); err != nil {
		fatal(err)
	}

	res, err := b.run(ctx)
	if res != nil {
		if serr := res.save(b.out); serr != nil {
			err = errors.Join(err, serr)
		} else {
			fmt.Printf("\nwrote %s\n", filepath.Join(b.out, "results.json"))
		}
		if cerr := drawChart(filepath.Join(b.out, "chart.png"), res); cerr != nil {
			err = errors.Join(err, fmt.Errorf("chart: %w", cerr))
		} else {
			fmt.Printf("wrote %s\n", filepath.Join(b.out, "chart.png"))
		}
	}
	if keep {
		fmt.Printf("working directory kept: %s\n", b.work)
	}
	fmt.Printf("bench took %s\n", time.Since(b.started).Round(time.Second))
	if err != nil {
		fatal(err)
	}
}

func redrawFrom(path, out string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	printTables(&res)
	chart := filepath.Join(out, "chart.png")
	if err := drawChart(chart, &res); err != nil {
		return err
	}
	fmt.Printf("\nwrote %s\n", chart)
	return nil
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "etcd-bench: %v\n", err)
	os.Exit(1)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// parseWords reads a comma-separated list of words from allowed.
func parseWords(flagName, s string, allowed ...string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); {
		case f == "":
		case slices.Contains(allowed, f):
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		default:
			return nil, fmt.Errorf("%s: unknown %q (want %s)", flagName, f, strings.Join(allowed, ", "))
		}
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a member count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parsePaths reads -paths: FROM:TO, FROM->TO or FROM→TO, comma-separated,
// into versionPath.String()'s form.
func parsePaths(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		from, to, ok := strings.Cut(strings.NewReplacer("->", "→", ":", "→").Replace(f), "→")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("%q is not FROM:TO", f)
		}
		out = append(out, versionPath{From: from, To: to}.String())
	}
	return out, nil
}

// rolloutPaths are the version paths the rollout scenario measures: every
// one whose binaries are at hand, or those -paths names (then a missing
// binary is an error).
func (b *bench) rolloutPaths(patchBinary string) ([]versionPath, []string, error) {
	all := []versionPath{{From: fromVersion, To: patchVersion, TargetBinary: patchBinary, Etcdctl: b.etcdctl, Members: b.members}}
	var notes []string
	missing := map[string]error{}
	if p := os.Getenv(testhosts.EnvEtcdBinary34); p != "" {
		v, err := etcdVersion(p)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", testhosts.EnvEtcdBinary34, err)
		}
		all = append(all, versionPath{From: fromVersion, To: v, TargetBinary: p, Etcdctl: b.etcdctl, Members: b.minorMembers})
	} else {
		notes = append(notes, fmt.Sprintf("(set %s to a 3.4.32+ etcd binary to also measure the 3.5 → 3.4 downgrade)", testhosts.EnvEtcdBinary34))
	}
	// The minor upgrade and the downgrade back through etcd's downgrade
	// API. The operator's etcdctl is the one of the version the cluster
	// runs: 3.5's has no `downgrade` command.
	for _, p := range []versionPath{
		{From: fromVersion, To: apiFromVersion, Members: b.apiMembers},
		{From: apiFromVersion, To: apiToVersion, Members: b.apiMembers},
	} {
		target, err := testhosts.EtcdBinary(p.To)
		if err == nil {
			p.TargetBinary = target
			p.Etcdctl, err = testhosts.EtcdctlBinary(p.From)
		}
		if err == nil {
			_, err = testhosts.EtcdBinary(p.From) // the sandbox starts on it
		}
		if err == nil {
			all = append(all, p)
		} else {
			missing[p.String()] = err
			notes = append(notes, fmt.Sprintf("(the %s path is skipped: %v)", p, err))
		}
	}
	if b.paths == nil {
		return all, notes, nil
	}
	var chosen []versionPath
	for _, want := range b.paths {
		if err, ok := missing[want]; ok {
			return nil, nil, fmt.Errorf("-paths %s: %w", want, err)
		}
		i := slices.IndexFunc(all, func(p versionPath) bool { return p.String() == want })
		if i < 0 {
			var names []string
			for _, p := range all {
				names = append(names, p.String())
			}
			return nil, nil, fmt.Errorf("-paths: no path %s (there are: %s)", want, strings.Join(names, ", "))
		}
		if !slices.ContainsFunc(chosen, func(p versionPath) bool { return p.String() == want }) {
			chosen = append(chosen, all[i])
		}
	}
	return chosen, nil, nil
}

// run measures every chosen scenario. A failed measurement is recorded and
// the rest go on; the error says what failed.
func (b *bench) run(ctx context.Context) (*Results, error) {
	if err := testhosts.Prerequisites(testhosts.Options{}); err != nil {
		return nil, err
	}
	var err error
	if b.tf, err = testhosts.TerraformBinary(); err != nil {
		return nil, err
	}
	if b.etcdctl, err = testhosts.EtcdctlBinary(fromVersion); err != nil {
		return nil, err
	}
	patchBinary, err := testhosts.EtcdBinary(patchVersion)
	if err != nil {
		return nil, err
	}
	paths, notes, err := b.rolloutPaths(patchBinary)
	if err != nil {
		return nil, err
	}

	res := &Results{
		Generated: time.Now().UTC().Format(time.RFC3339),
		Machine:   Machine{CPUs: runtime.NumCPU(), Load1: load1(), GoVersion: runtime.Version(), Terraform: testhosts.TerraformVersion},
		Settings: Settings{Runs: b.runs, Members: b.members, StableFor: b.stableFor.String(), ManualPoll: b.manualPoll.String(),
			Writers: b.writers, PlanClusters: b.planClusters, SnapshotMiB: b.snapshotMiB, SnapshotMembers: b.snapshotMembers},
	}
	for _, p := range paths {
		res.Settings.Paths = append(res.Settings.Paths, p.String())
	}
	fmt.Printf("etcd-bench: %d run(s) each; stability wait %s for both methods; the manual script polls every %s; %d writer clients\n",
		b.runs, b.stableFor, b.manualPoll, b.writers)
	if b.scenarios["rollout"] {
		for _, n := range notes {
			fmt.Println(n)
		}
	}
	b.logf("building the provider")
	if b.rc, err = buildProvider(ctx, b.work); err != nil {
		return nil, err
	}

	var errs []error
	record := func(err error) {
		if err != nil {
			errs = append(errs, err)
			res.Errors = append(res.Errors, err.Error())
			b.logf("  FAILED: %v", err)
		}
	}

	timeline := map[string]measured{}
	measure := func(spec runSpec) measured {
		m := b.rolloutRun(ctx, spec)
		res.Rollouts = append(res.Rollouts, m.Rollout)
		if m.Failed() {
			b.logf("  %-8s %s: failed; %s", spec.method, spec, writesRead(m.Rollout))
			record(fmt.Errorf("%s rollout %s: %s", spec.method, spec, m.Error))
			return m
		}
		b.logf("  %-8s %s: %s", spec.method, spec, runLine(m.Rollout))
		return m
	}
	if b.scenarios["rollout"] {
		b.logf("rollout scenario")
		for pi, p := range paths {
			for _, n := range p.Members {
				// The unit behaviours and client mixes multiply only the
				// first path's smallest cluster.
				units, mixes := []string{"notify"}, []string{"writers"}
				if pi == 0 && n == slices.Min(p.Members) {
					units, mixes = b.units, b.clientMixes
				}
				for _, unit := range units {
					for _, clients := range mixes {
						for run := 1; run <= b.runs; run++ {
							for _, method := range b.methodOrder(p, run+n) {
								if ctx.Err() != nil {
									return res, errors.Join(append(errs, ctx.Err())...)
								}
								m := measure(runSpec{method: method, path: p, members: n, run: run, unit: unit, clients: clients})
								if _, ok := timeline[method]; !ok && !m.Failed() && pi == 0 && n == slices.Min(p.Members) && unit == "notify" && clients == "writers" {
									timeline[method] = m
								}
							}
						}
					}
				}
			}
		}
		res.Timeline = map[string][]Bucket{}
		res.TimelineStops = map[string][]StopEvent{}
		for method, m := range timeline {
			res.Timeline[method] = bucketize(m.samples, m.start, m.end, 100*time.Millisecond)
			res.TimelineStops[method] = m.stops
		}
	}

	if b.scenarios["data"] && len(paths) > 0 {
		b.logf("data scenario: a 3-member cluster holding %d MiB", b.dataMiB)
		// The snapshot scenario measures on this cluster when it holds as
		// much, rather than filling one of its own.
		var after func(*testhosts.Sandbox, float64) error
		if b.scenarios["snapshot"] && b.snapshotMiB == b.dataMiB {
			after = func(sb *testhosts.Sandbox, fillS float64) error {
				b.logf("snapshot scenario: on the data scenario's cluster")
				res.Snapshot = &SnapshotResult{FillS: fillS}
				res.Settings.SnapshotMembers = len(sb.Hosts)
				return b.snapshotRuns(ctx, sb, res.Snapshot)
			}
		}
		record(b.dataScenario(ctx, paths[0], measure, after))
	}
	res.Summary = summarize(res.Rollouts)

	if b.scenarios["plan"] {
		b.logf("plan scenario: 1 and %d clusters of 3 members", b.planClusters)
		plans, err := b.planScenario(ctx, fromVersion, patchVersion, patchBinary)
		res.Plans = plans
		record(err)
	}

	if b.scenarios["snapshot"] && res.Snapshot == nil {
		b.logf("snapshot scenario: filling a %d-member cluster with %d MiB", b.snapshotMembers, b.snapshotMiB)
		snap, err := b.snapshotScenario(ctx, fromVersion)
		res.Snapshot = snap
		record(err)
	}

	res.Targets = targets(res, versionPath{From: fromVersion, To: patchVersion}.String())
	printTables(res)
	return res, errors.Join(errs...)
}

// methodOrder is the methods measured on path p, their order turning with
// turn so that none always goes first. The floor measures only rolling
// paths: through etcd's downgrade API the waits are etcd's own.
func (b *bench) methodOrder(p versionPath, turn int) []string {
	var out []string
	for _, m := range b.methods {
		if m != "floor" || !downgradeAPI(p) {
			out = append(out, m)
		}
	}
	if len(out) > 0 {
		k := turn % len(out)
		out = append(out[k:], out[:k]...)
	}
	return out
}

// runLine is a completed run's progress line.
func runLine(r Rollout) string {
	api := ""
	if d := r.Downgrade; d != nil {
		api = fmt.Sprintf("  downgrade API wait %.2fs, end wait %.2fs", d.WaitS, d.EndWaitS)
	}
	line := fmt.Sprintf("%6.2fs%s  stop→healthy max %.2fs  etcd's own stop max %.2fs  writes %d ok %d failed %d lost, gap %.0fms, %d SSH logins",
		r.WallS, api, maxOf(values(r.StopToHealthyS)), maxOf(values(r.EtcdStopS)), r.Writes.Acked, r.Writes.Failed, r.Writes.Lost, r.Writes.LongestGapMs, r.SSHConnections)
	if w := r.Watch; w != nil {
		line += fmt.Sprintf("; %d watch streams, %d events, %d missed, gap %.0fms", w.Streams, w.Events, w.Missed, w.LongestGapMs)
	}
	if l := r.Leases; l != nil {
		line += fmt.Sprintf("; %d leases, %d lost", l.Leases, l.Lost)
	}
	return line
}

// writesRead says what reading a run's writes back found.
func writesRead(r Rollout) string {
	if r.VerifyError != "" {
		return fmt.Sprintf("writes %d ok %d failed, not read back: %s", r.Writes.Acked, r.Writes.Failed, r.VerifyError)
	}
	return fmt.Sprintf("writes %d ok %d failed %d lost, revision backwards %d times", r.Writes.Acked, r.Writes.Failed, r.Writes.Lost, r.Writes.RevisionBackwards)
}

func values(m map[string]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func etcdVersion(bin string) (string, error) {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s --version printed no version", bin)
}

func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}
