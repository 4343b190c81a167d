// Command etcd-bench is `make bench`: it measures the provider against what
// operators do without it — etcd's guide followed by hand with ssh, scp and
// etcdctl (scripts/manual-rollout.sh) — side by side, on the same fresh
// sandbox clusters, in one run:
//
//   - rollout: wall time and each member's stop-to-healthy time, for 3, 5
//     and 7 members, 3.5.21 → 3.5.16 (and 3.5 → 3.4 when ETCD_BINARY_3_4 is
//     set), and for 3 members 3.6.16 → 3.5.35 through etcd's downgrade API
//     (its waits timed apart from the member restarts), with a writer
//     measuring the client impact throughout;
//   - plan: `terraform plan` with and without a version change, for one
//     cluster and for ten, with the SSH logins each cost;
//   - snapshot: the provider's snapshot step against `etcdctl snapshot save`
//     on a cluster of about 1 GiB.
//
// It prints tables and the targets (met or not), and writes
// bench/results.json and bench/chart.png. Missed targets do not fail it.
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

const (
	fromVersion  = testhosts.DefaultEtcdVersion // 3.5.21
	patchVersion = "3.5.16"
	// The downgrade through etcd's downgrade API.
	apiFromVersion = "3.6.16"
	apiToVersion   = "3.5.35"
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

	tf      string // Terraform CLI
	rc      string // TF_CLI_CONFIG_FILE with dev_overrides
	etcdctl string // the operator's etcdctl: the one of the version the clusters start on
	started time.Time
}

func main() {
	b := &bench{started: time.Now()}
	var members, minorMembers, apiMembers, paths, scenarios string
	var keep bool
	var timeout time.Duration
	flag.IntVar(&b.runs, "runs", 3, "repetitions of every measurement")
	flag.StringVar(&members, "members", "3,5,7", "cluster sizes for the rollout scenario (3.5 patch downgrade)")
	flag.StringVar(&minorMembers, "minor-members", "3", "cluster sizes for the 3.5 → 3.4 downgrade (only with ETCD_BINARY_3_4)")
	flag.StringVar(&apiMembers, "api-members", "3", "cluster sizes for the "+apiFromVersion+" → "+apiToVersion+" downgrade through etcd's downgrade API")
	flag.StringVar(&paths, "paths", "", "version paths for the rollout scenario, comma-separated FROM:TO (e.g. "+apiFromVersion+":"+apiToVersion+"; FROM->TO and FROM→TO work too); default all")
	flag.StringVar(&scenarios, "scenarios", "rollout,plan,snapshot", "which scenarios to run")
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
	for _, s := range strings.Split(scenarios, ",") {
		switch s = strings.TrimSpace(s); s {
		case "rollout", "plan", "snapshot":
			b.scenarios[s] = true
		case "":
		default:
			fatal(fmt.Errorf("-scenarios: unknown scenario %q (want rollout, plan, snapshot)", s))
		}
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
	api := versionPath{From: apiFromVersion, To: apiToVersion, Members: b.apiMembers}
	target, err := testhosts.EtcdBinary(apiToVersion)
	if err == nil {
		api.TargetBinary = target
		// The operator's etcdctl is the one of the version the cluster
		// runs: 3.5's has no `downgrade` command.
		api.Etcdctl, err = testhosts.EtcdctlBinary(apiFromVersion)
	}
	if err == nil {
		_, err = testhosts.EtcdBinary(apiFromVersion) // the sandbox starts on it
	}
	if err == nil {
		all = append(all, api)
	} else {
		missing[api.String()] = err
		notes = append(notes, fmt.Sprintf("(the %s downgrade through etcd's downgrade API is skipped: %v)", api, err))
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

	if b.scenarios["rollout"] {
		b.logf("rollout scenario")
		timeline := map[string]measured{}
		for pi, p := range paths {
			for _, n := range p.Members {
				for run := 1; run <= b.runs; run++ {
					methods := []string{"provider", "manual"}
					if (run+n)%2 == 0 {
						methods[0], methods[1] = methods[1], methods[0]
					}
					for _, method := range methods {
						if ctx.Err() != nil {
							return res, errors.Join(append(errs, ctx.Err())...)
						}
						m := b.rolloutRun(ctx, method, p, n, run)
						res.Rollouts = append(res.Rollouts, m.Rollout)
						if m.Failed() {
							b.logf("  %-8s %s %d members run %d: failed; %s", method, p, n, run, writesRead(m.Rollout))
							record(fmt.Errorf("%s rollout %s, %d members, run %d: %s", method, p, n, run, m.Error))
							continue
						}
						api := ""
						if d := m.Downgrade; d != nil {
							api = fmt.Sprintf("  downgrade API wait %.2fs, end wait %.2fs", d.WaitS, d.EndWaitS)
						}
						b.logf("  %-8s %s %d members run %d: %6.2fs%s  stop→healthy max %.2fs  writes %d ok %d failed %d lost, gap %.0fms, %d SSH logins",
							method, p, n, run, m.WallS, api, maxOf(values(m.StopToHealthyS)), m.Writes.Acked, m.Writes.Failed, m.Writes.Lost, m.Writes.LongestGapMs, m.SSHConnections)
						if _, ok := timeline[method]; !ok && pi == 0 && n == slices.Min(p.Members) {
							timeline[method] = m
						}
					}
				}
			}
		}
		res.Summary = summarize(res.Rollouts)
		res.Timeline = map[string][]Bucket{}
		res.TimelineStops = map[string][]StopEvent{}
		for method, m := range timeline {
			res.Timeline[method] = bucketize(m.samples, m.start, m.end, 100*time.Millisecond)
			res.TimelineStops[method] = m.stops
		}
	}

	if b.scenarios["plan"] {
		b.logf("plan scenario: 1 and %d clusters of 3 members", b.planClusters)
		plans, err := b.planScenario(ctx, fromVersion, patchVersion, patchBinary)
		res.Plans = plans
		record(err)
	}

	if b.scenarios["snapshot"] {
		b.logf("snapshot scenario: filling a %d-member cluster with %d MiB", b.snapshotMembers, b.snapshotMiB)
		snap, err := b.snapshotScenario(ctx, fromVersion)
		res.Snapshot = snap
		record(err)
	}

	res.Targets = targets(res, versionPath{From: fromVersion, To: patchVersion}.String())
	printTables(res)
	return res, errors.Join(errs...)
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
