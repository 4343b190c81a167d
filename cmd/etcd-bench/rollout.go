package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// versionPath is one version change the rollout scenario measures.
type versionPath struct {
	From, To     string
	TargetBinary string
	Etcdctl      string // the manual method's: the one of the version the cluster starts on
	Members      []int
}

func (p versionPath) String() string { return p.From + "→" + p.To }

// quiet is how long the writer runs before the command starts and after it
// returns, so the rollout's first and last moments are measured against a
// client already at speed.
const quiet = time.Second

// measured is one rollout's record plus its raw writes, for the timeline.
type measured struct {
	Rollout
	samples    []acctest.WriteSample
	start, end time.Time
	stops      []StopEvent
}

// runSpec is one rollout to measure.
type runSpec struct {
	method       string // provider | manual | floor
	path         versionPath
	members, run int
	unit         string // the hosts' unit Type=: notify | simple
	clients      string // writers | kubernetes
	// sb, when set, is a cluster already on path.From (the data-size
	// scenario's, filled with about dataMiB); otherwise the run starts a
	// fresh one and closes it.
	sb      *testhosts.Sandbox
	dataMiB int
}

func (s runSpec) String() string {
	out := fmt.Sprintf("%s %d members %s/%s", s.path, s.members, s.clients, s.unit)
	if s.dataMiB > 0 {
		out += fmt.Sprintf(" %d MiB", s.dataMiB)
	}
	return fmt.Sprintf("%s run %d", out, s.run)
}

// rolloutRun measures one method on a cluster: a new sandbox on p.From
// (or spec.sb), the client mix through the whole command, the command
// timed, then every acknowledged write read back, every watch stream
// checked for the events it owed, and every member's version checked.
func (b *bench) rolloutRun(ctx context.Context, spec runSpec) (m measured) {
	method, p, members, run := spec.method, spec.path, spec.members, spec.run
	m.Method, m.Path, m.Members, m.Run = method, p.String(), members, run
	m.Unit, m.Clients, m.DataMiB = spec.unit, spec.clients, spec.dataMiB
	fail := func(err error) measured {
		m.Error = err.Error()
		return m
	}
	sb := spec.sb
	if sb == nil {
		var err error
		sb, err = testhosts.Start(ctx, testhosts.Options{Members: members, EtcdVersion: p.From, UnitType: spec.unit})
		if err != nil {
			return fail(fmt.Errorf("starting the sandbox: %w", err))
		}
		defer sb.Close()
	}
	dir := filepath.Join(b.work, fmt.Sprintf("rollout-%s-%s-%dm-%s-%s-%dmib-run%d-%s", p.From, p.To, members, spec.unit, spec.clients, spec.dataMiB, run, method))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}

	// Each method's own preparation, not timed.
	var command func() (time.Duration, error)
	logPath := filepath.Join(dir, "provider.log")
	var stdout bytes.Buffer
	var floor floorResult
	switch method {
	case "provider":
		cfg := tfConfig{Dir: dir, Clusters: []*testhosts.Sandbox{sb}, PrivateKeyFile: sb.PrivateKeyFile,
			KnownHostsFile: sb.KnownHostsFile, TargetBinary: p.TargetBinary, StableFor: b.stableFor}
		if err := cfg.write(); err != nil {
			return fail(err)
		}
		if _, err := b.terraform(ctx, dir, "adopt", nil, "apply", "-auto-approve", "-input=false", "-no-color", "-var", "etcd_version="+p.From); err != nil {
			return fail(fmt.Errorf("adopting the cluster: %w", err))
		}
		command = func() (time.Duration, error) {
			return b.terraform(ctx, dir, "apply", []string{"TF_LOG_PROVIDER=INFO", "TF_LOG_PATH=" + logPath},
				"apply", "-auto-approve", "-input=false", "-no-color", "-var", "etcd_version="+p.To)
		}
	case "manual":
		args := []string{b.script,
			"--key", sb.PrivateKeyFile, "--known-hosts", sb.KnownHostsFile,
			"--binary", p.TargetBinary, "--etcdctl", p.Etcdctl,
			"--endpoints", strings.Join(sb.ClientURLs(), ","),
			"--binary-path", sb.BinaryPath, "--config-file", sb.ConfigFile(),
			"--snapshot-dir", filepath.Join(dir, "snapshots"),
			"--stable-for", fmt.Sprint(b.stableFor.Seconds()), "--poll", fmt.Sprint(b.manualPoll.Seconds()),
		}
		for _, h := range sb.Hosts {
			args = append(args, h.Addr)
		}
		command = func() (time.Duration, error) {
			cmd := exec.CommandContext(ctx, "bash", args...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			_ = os.WriteFile(filepath.Join(dir, "manual.out"), append(stdout.Bytes(), stderr.Bytes()...), 0o644)
			if err != nil {
				return took, fmt.Errorf("manual-rollout.sh: %w\n%s", err, sshx.LastLines(stderr.String(), 20))
			}
			return took, nil
		}
	case "floor":
		command = func() (time.Duration, error) {
			start := time.Now()
			var err error
			floor, err = floorRollout(ctx, sb, p.TargetBinary, p.To, start)
			return time.Since(start), err
		}
	}

	sshBefore := sshAccepted(sb)
	w, err := acctest.StartLoadWriter(sb.ClientURLs(), b.writers)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = w.Close() }()
	var mix *acctest.ClientMix
	if spec.clients == "kubernetes" {
		if mix, err = acctest.StartClientMix(sb.ClientURLs(), w.Prefix(), acctest.MixOptions{StreamsPerMember: b.streams}); err != nil {
			return fail(fmt.Errorf("starting the client mix: %w", err))
		}
		defer func() { _ = mix.Close() }()
	}
	// From here on the run's writes are read back whatever happens to the
	// command: a failed run is checked for lost writes like any other.
	m.start = time.Now()
	m.end = m.start
	cmdErr := sleep(ctx, quiet)
	if cmdErr == nil {
		m.start = time.Now()
		var wall time.Duration
		wall, cmdErr = command()
		m.end = m.start.Add(wall)
		m.WallS = secs(wall)
		_ = sleep(ctx, quiet)
	}
	runErr := m.finishWrites(ctx, w, cmdErr)
	if mix != nil {
		mix.Stop()
		r := mix.Report(m.samples, m.start, m.end)
		m.Watch = &WatchStats{Streams: r.Streams, ProgressNotify: r.ProgressNotifyStreams, Events: r.Events, Missed: r.Missed,
			LongestGapMs: ms(r.LongestGap), StreamErrors: r.StreamErrors, Errors: r.Errors}
		m.Leases = &LeaseStats{Leases: r.Leases, Lost: r.LeasesLost, LongestGapMs: ms(r.LongestKeepAliveGap)}
	}
	m.SSHConnections = sshAccepted(sb) - sshBefore
	m.EtcdStopS = etcdStops(sb, m.start)
	if runErr != nil {
		return fail(runErr)
	}
	for _, h := range sb.Hosts {
		v, err := h.EtcdVersion(ctx)
		if err != nil {
			return fail(fmt.Errorf("after the %s rollout: %w", method, err))
		}
		if v != p.To {
			return fail(fmt.Errorf("after the %s rollout %s runs %s, want %s", method, h.Name, v, p.To))
		}
	}

	m.StopToHealthyS, m.StopToStableS = map[string]float64{}, map[string]float64{}
	switch method {
	case "provider":
		pl, err := parseProviderLog(logPath)
		if err != nil {
			return fail(err)
		}
		var gates, memberTime time.Duration
		for name, d := range pl.StopToHealthy {
			m.StopToHealthyS[name] = secs(d)
			m.StopToStableS[name] = secs(pl.StopToStable[name])
			gates += pl.Gate[name]
			memberTime += pl.Member[name]
		}
		m.Steps = map[string]float64{}
		for k, d := range pl.Steps {
			m.Steps[k] = secs(d)
		}
		m.Steps["gates"] = secs(gates)
		for k, d := range pl.Phases {
			m.Steps["member_"+k] = secs(d / time.Duration(members))
		}
		m.Steps["members"] = secs(memberTime)
		m.SnapshotS = m.Steps["snapshot"]
		m.Steps["terraform"] = secs(m.end.Sub(m.start) - pl.Steps["engine"] - pl.Steps["plan"])
		if pl.DowngradeWait > 0 {
			m.Steps["downgrade_api"] = secs(pl.DowngradeWait)
			m.Downgrade = &DowngradeTiming{WaitS: secs(pl.DowngradeWait), EndWaitS: secs(pl.EndWait), JobEndedByCancel: pl.JobEndedByProvider}
		}
		for _, st := range pl.Stops {
			m.stops = append(m.stops, StopEvent{T: secs(st.at.Sub(m.start)), Member: st.member})
		}
	case "manual":
		if err := parseManualOutput(stdout.String(), m.StopToHealthyS, m.StopToStableS); err != nil {
			return fail(err)
		}
		m.Downgrade = parseManualDowngrade(stdout.String())
		m.stops, m.SnapshotS = manualStops(filepath.Join(dir, "manual.out"))
	case "floor":
		m.StopToHealthyS, m.StopToStableS = floor.stopToHealthy, floor.stopToHealthy
		m.stops = floor.stops
	}
	if len(m.StopToHealthyS) != members {
		return fail(fmt.Errorf("%d stop_to_healthy timings for %d members", len(m.StopToHealthyS), members))
	}
	if api := downgradeAPI(p); method != "floor" && api != (m.Downgrade != nil) {
		return fail(fmt.Errorf("%s %s: downgrade API timings %v, want them: %v", method, p, m.Downgrade != nil, api))
	}
	m.MemberStops = m.stops
	for _, s := range m.samples {
		if !s.OK && !s.Start.Before(m.start) && !s.Start.After(m.end) {
			m.FailedWrites = append(m.FailedWrites, FailedWrite{T: secs(s.Start.Sub(m.start)), LatencyMs: ms(s.Latency), Err: s.Err})
		}
	}
	var restart float64
	for _, v := range m.StopToStableS {
		restart += v
	}
	m.RestartS = round3(restart)
	m.OverheadS = round3(m.WallS - restart)
	return m
}

// verifyTimeout bounds reading a run's acknowledged writes back.
const verifyTimeout = time.Minute

// runWriter is what finishWrites needs of the writer.
type runWriter interface {
	Stop() []acctest.WriteSample
	Verify(ctx context.Context) (lost, revisionBackwards int, err error)
}

// finishWrites ends the run's writes, sums them up over the command's time
// and reads every acknowledged one back, recording how many were lost and
// how often a client's revision went backwards, or why they could not be
// read. It does so whether the command failed (cmdErr) or not, and even
// while the bench is being cancelled, within verifyTimeout: every run's
// writes are checked. It returns the run's error: cmdErr, a failed read, or
// both.
func (m *measured) finishWrites(ctx context.Context, w runWriter, cmdErr error) error {
	m.samples = w.Stop()
	m.Writes = writeStats(acctest.SummarizeWrites(m.samples, m.start, m.end))
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
	defer cancel()
	lost, back, err := w.Verify(vctx)
	if err != nil {
		m.VerifyError = err.Error()
		if cmdErr != nil {
			return fmt.Errorf("%w; and its writes could not be read back: %w", cmdErr, err)
		}
		return fmt.Errorf("reading back the writes: %w", err)
	}
	m.Writes.Lost, m.Writes.RevisionBackwards = lost, back
	return cmdErr
}

var manualFieldRE = regexp.MustCompile(`(stop_to_healthy|stop_to_stable)=([0-9.]+)s`)

// parseManualOutput reads the script's per-member lines,
// "member s1 host=... stop_to_healthy=1.234s stop_to_stable=1.234s".
func parseManualOutput(out string, healthy, stable map[string]float64) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "member" {
			continue
		}
		for _, m := range manualFieldRE.FindAllStringSubmatch(sc.Text(), -1) {
			v, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				return fmt.Errorf("manual-rollout.sh: %q: %w", sc.Text(), err)
			}
			if m[1] == "stop_to_healthy" {
				healthy[f[1]] = round3(v)
			} else {
				stable[f[1]] = round3(v)
			}
		}
	}
	if len(healthy) == 0 {
		return fmt.Errorf("manual-rollout.sh printed no member timings:\n%s", out)
	}
	for name, v := range healthy {
		if _, ok := stable[name]; !ok {
			stable[name] = v
		}
	}
	return nil
}

// downgradeAPI says whether a path goes through etcd's downgrade API, by
// the provider's own rule (etcdconf.UsesDowngradeAPI).
func downgradeAPI(p versionPath) bool {
	from, err := etcdconf.ParseVersion(p.From)
	if err != nil {
		return false
	}
	to, err := etcdconf.ParseVersion(p.To)
	return err == nil && etcdconf.UsesDowngradeAPI(from, to)
}

var manualDowngradeRE = regexp.MustCompile(`(?m)^(downgrade_api_wait|end_wait)=([0-9.]+)s$`)

// parseManualDowngrade reads the script's downgrade API timings,
// "downgrade_api_wait=2.345s" and "end_wait=0.012s"; nil without them.
func parseManualDowngrade(out string) *DowngradeTiming {
	var d *DowngradeTiming
	for _, m := range manualDowngradeRE.FindAllStringSubmatch(out, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		if d == nil {
			d = &DowngradeTiming{}
		}
		if m[1] == "downgrade_api_wait" {
			d.WaitS = round3(v)
		} else {
			d.EndWaitS = round3(v)
		}
	}
	return d
}

var manualLineRE = regexp.MustCompile(`^\[\s*([0-9.]+)s\] (\S+):? `)

// manualStops reads when the script stopped each member from its progress
// lines, "[  1.708s] s1: stop, swap the binary, ...", and how long its
// snapshot took: from "[  0.120s] snapshot: ..." to its next line.
func manualStops(path string) (stops []StopEvent, snapshotS float64) {
	data, _ := os.ReadFile(path)
	snapAt := -1.0
	for _, line := range strings.Split(string(data), "\n") {
		m := manualLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		if snapAt >= 0 && snapshotS == 0 {
			snapshotS = round3(t - snapAt)
		}
		switch {
		case m[2] == "snapshot:" || m[2] == "snapshot":
			snapAt = t
		case strings.HasPrefix(line[len(m[0]):], "stop, "):
			stops = append(stops, StopEvent{T: t, Member: strings.TrimSuffix(m[2], ":")})
		}
	}
	return stops, snapshotS
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
