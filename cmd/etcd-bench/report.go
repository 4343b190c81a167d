package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// targets evaluates the goals on the measurements; path is the rollout
// path they are judged on (the 3.5 patch downgrade), on fresh 3-member
// clusters, for every unit behaviour and client mix measured.
func targets(res *Results, path string) []Target {
	var ts []Target
	add := func(name, goal string, value float64, measured, met bool, note string) {
		ts = append(ts, Target{Name: name, Goal: goal, Value: round3(value), Measured: measured, Met: measured && met, Note: note})
	}
	runs := func(method, unit, clients string) []Rollout {
		var out []Rollout
		for _, r := range res.Rollouts {
			if !r.Failed() && r.Method == method && r.Path == path && r.Members == 3 && r.DataMiB == 0 && r.UnitOr() == unit && r.ClientsOr() == clients {
				out = append(out, r)
			}
		}
		return out
	}
	walls := func(rs []Rollout) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, r.WallS)
		}
		return out
	}
	perMember := func(rs []Rollout) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, values(r.StopToHealthyS)...)
		}
		return out
	}
	ratio := func(a, b []float64) (float64, bool) {
		if len(a) == 0 || len(b) == 0 || median(b) == 0 {
			return 0, false
		}
		return median(a) / median(b), true
	}
	for _, unit := range []string{"notify", "simple"} {
		for _, clients := range []string{"writers", "kubernetes"} {
			p, m, f := runs("provider", unit, clients), runs("manual", unit, clients), runs("floor", unit, clients)
			if len(p)+len(m)+len(f) == 0 {
				continue
			}
			mix := clients + ", " + unit
			r, ok := ratio(walls(p), walls(m))
			add("provider ÷ scripted guide, 3 members, "+mix, "≤ 0.9", r, ok, r <= 0.9, fmt.Sprintf("medians %.2fs ÷ %.2fs", median(walls(p)), median(walls(m))))
			r, ok = ratio(walls(p), walls(f))
			add("provider ÷ floor, 3 members, "+mix, "≤ 1.25", r, ok, r <= 1.25, fmt.Sprintf("medians %.2fs ÷ %.2fs; guide ÷ floor %.2f", median(walls(p)), median(walls(f)), orZero(ratio(walls(m), walls(f)))))
			r, ok = ratio(perMember(p), perMember(f))
			add("per-member stop-to-healthy, provider ÷ floor, "+mix, "≤ 1.15", r, ok, r <= 1.15, fmt.Sprintf("medians %.2fs ÷ %.2fs", median(perMember(p)), median(perMember(f))))
		}
	}

	// Every run's writes were read back, failed or not, and every watch
	// stream checked: a rollout that fails must not lose writes either.
	lost, missed, leases, provRuns, unverified := 0, 0, 0, 0, 0
	failed := map[string]int{}
	var unexplained int
	for _, r := range res.Rollouts {
		if r.Method != "provider" && r.Method != "manual" {
			continue
		}
		if r.Path == path && r.Members == 3 && !r.Failed() {
			failed[r.Method] += r.Writes.Failed
			for _, w := range r.FailedWrites {
				if strings.TrimSpace(w.Err) == "" {
					unexplained++
				}
			}
		}
		if r.Method != "provider" {
			continue
		}
		provRuns++
		lost += r.Writes.Lost
		if r.Watch != nil {
			missed += r.Watch.Missed
		}
		if r.Leases != nil {
			leases += r.Leases.Lost
		}
		if r.VerifyError != "" {
			unverified++
		}
	}
	note := fmt.Sprintf("over %d provider rollouts, failed ones included: %d writes lost, %d watch events missed, %d leases lost", provRuns, lost, missed, leases)
	if unverified > 0 {
		note += fmt.Sprintf("; the writes of %d could not be read back", unverified)
	}
	add("acknowledged writes lost; watch events missed; leases lost (provider)", "0", float64(lost+missed+leases), provRuns > 0, lost+missed+leases == 0 && unverified == 0, note)
	add("failed writes, provider vs scripted guide, 3 members", "≤ the guide's, each with its error", float64(failed["provider"]), len(runs("manual", "notify", "writers")) > 0,
		failed["provider"] <= failed["manual"] && unexplained == 0,
		fmt.Sprintf("provider %d, guide %d, over every unit and client mix; %d without an error", failed["provider"], failed["manual"], unexplained))

	plan := func(clusters int, change bool) []float64 {
		var out []float64
		for _, p := range res.Plans {
			if p.Clusters == clusters && p.Change == change {
				out = append(out, p.WallS)
			}
		}
		return out
	}
	maxClusters := 0
	for _, p := range res.Plans {
		maxClusters = max(maxClusters, p.Clusters)
	}
	one, many := plan(1, true), plan(maxClusters, true)
	pr := 0.0
	if len(one) > 0 && len(many) > 0 {
		pr = median(many) / median(one)
	}
	nc1, ncN := plan(1, false), plan(maxClusters, false)
	ncr := 0.0
	if len(nc1) > 0 && len(ncN) > 0 {
		ncr = median(ncN) / median(nc1)
	}
	add(fmt.Sprintf("plan, %d clusters ÷ 1 cluster", maxClusters), "≤ 2.0", pr, len(one) > 0 && len(many) > 0 && maxClusters > 1, pr <= 2.0,
		fmt.Sprintf("with a version change, %.2fs ÷ %.2fs; without: %.2f", median(many), median(one), ncr))

	sr := 0.0
	measured := false
	note = ""
	if res.Snapshot != nil {
		var p, e []float64
		for _, r := range res.Snapshot.Runs {
			if r.Method == "provider" {
				p = append(p, r.MBps)
			} else {
				e = append(e, r.MBps)
			}
		}
		if len(p) > 0 && len(e) > 0 {
			measured = true
			sr = median(p) / median(e)
			note = fmt.Sprintf("%.0f ÷ %.0f MB/s, %.0f MiB database", median(p), median(e), float64(res.Snapshot.DBBytes)/(1<<20))
		}
	}
	add("snapshot MB/s, provider ÷ etcdctl", "≥ 0.9", sr, measured, sr >= 0.9, note)
	return ts
}

func orZero(v float64, _ bool) float64 { return v }

func printTables(res *Results) {
	printTablesTo(os.Stdout, res)
}

func printTablesTo(out io.Writer, res *Results) {
	st := res.Settings
	if len(res.Summary) > 0 {
		fmt.Fprintf(out, "\nRollout: median of %d run(s); stability wait %s for both; manual polls every %s; writer: %d clients\n", st.Runs, st.StableFor, st.ManualPoll, st.Writers)
		fmt.Fprintln(out, "timings and failed writes: completed runs only; lost writes: every run, failed or not")
		fmt.Fprintln(out, "clients: writers, or kubernetes (writers, watch streams on every member, leases); unit: notify (start returns at ready) or simple (at once);")
		fmt.Fprintln(out, "data: MiB the cluster held; etcd stop: SIGTERM → closed, from etcd's own log; watch missed / leases lost: must be 0")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "path\tmembers\tclients\tunit\tdata\tmethod\truns ok\tfailed runs\twall s\tstop→healthy med/max s\tetcd stop s\tsnapshot s\toverhead s\tSSH logins\twrites ok\tfailed\tlost\tp99 ms\tlongest gap ms\twatch missed\twatch gap ms\tleases lost\t")
		for _, s := range res.Summary {
			lost := fmt.Sprint(s.Lost)
			if s.Unverified > 0 {
				lost += fmt.Sprintf(" (%d unverified)", s.Unverified)
			}
			watch, wgap, leases := "-", "-", "-"
			if s.WatchStreams > 0 {
				watch, wgap, leases = fmt.Sprint(s.WatchMissed), fmt.Sprintf("%.0f", s.WatchLongestGapMs), fmt.Sprint(s.LeasesLost)
			}
			head := fmt.Sprintf("%s\t%d\t%s\t%s\t%d\t%s\t%d\t%d", s.Path, s.Members, s.Clients, s.Unit, s.DataMiB, s.Method, s.Runs, s.FailedRuns)
			if s.Runs == 0 {
				fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t%s\t-\t-\t%s\t-\t%s\t\n", head, lost, watch, leases)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%s\t%.0f\t%d\t%d\t%s\t%.1f\t%.0f\t%s\t%s\t%s\t\n",
				head, fmtS(s.WallS), fmtS(s.StopToHealthyS), fmtS(s.StopToHealthyMx), fmtS(s.EtcdStopS), fmtS(s.SnapshotS), fmtS(s.OverheadS),
				s.SSHConnections, ackedMedian(res, s), s.Failed, lost, s.P99Ms, s.LongestGapMs, watch, wgap, leases)
		}
		tw.Flush()
		printRuns(out, res)

		fmt.Fprintln(out, "\nProvider time by step (median s, from its INFO log). plan: ModifyPlan, twice per apply; terraform: the rest outside the engine;")
		fmt.Fprintln(out, "per member, averaged: stop command, swap (binary, config, start command; one SSH command, timed on the host), gate (start returned → healthy)")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		steps := []string{"plan", "snapshot", "stage", "members", "engine", "terraform", "member_stop", "member_swap", "member_start", "member_gate"}
		fmt.Fprintf(tw, "path\tmembers\tclients\tunit\tdata\t%s\t\n", strings.ReplaceAll(strings.Join(steps, "\t"), "member_", "member "))
		for _, s := range res.Summary {
			if s.Method != "provider" || s.Runs == 0 {
				continue
			}
			row := []string{s.Path, fmt.Sprint(s.Members), s.Clients, s.Unit, fmt.Sprint(s.DataMiB)}
			for _, st := range steps {
				var xs []float64
				for _, r := range res.Rollouts {
					if !r.Failed() && s.has(r) {
						xs = append(xs, r.Steps[st])
					}
				}
				row = append(row, fmtS(median(xs)))
			}
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		tw.Flush()
		printDowngradeAPI(out, res)
	}

	if len(res.Plans) > 0 {
		fmt.Fprintf(out, "\nPlan: terraform plan, median of %d run(s); SSH logins counted on the sshd side\n", st.Runs)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "clusters\tversion change\twall s\tSSH logins\tModifyPlan max s\tModifyPlan sum s\t")
		type key struct {
			c  int
			ch bool
		}
		groups := map[key][]PlanRun{}
		var keys []key
		for _, p := range res.Plans {
			k := key{p.Clusters, p.Change}
			if _, ok := groups[k]; !ok {
				keys = append(keys, k)
			}
			groups[k] = append(groups[k], p)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].c != keys[j].c {
				return keys[i].c < keys[j].c
			}
			return !keys[i].ch && keys[j].ch
		})
		for _, k := range keys {
			var w, s, mpMax, mpSum []float64
			for _, p := range groups[k] {
				w = append(w, p.WallS)
				s = append(s, float64(p.SSHConnections))
				mpMax = append(mpMax, p.ModifyPlanMaxS)
				mpSum = append(mpSum, p.ModifyPlanSumS)
			}
			mp := "-\t-"
			if k.ch {
				mp = fmtS(median(mpMax)) + "\t" + fmtS(median(mpSum))
			}
			fmt.Fprintf(tw, "%d\t%v\t%s\t%.0f\t%s\t\n", k.c, k.ch, fmtS(median(w)), median(s), mp)
		}
		tw.Flush()
	}

	if res.Snapshot != nil && len(res.Snapshot.Runs) > 0 {
		fmt.Fprintf(out, "\nSnapshot: %.0f MiB database (filled in %.0fs), median of %d run(s)\n", float64(res.Snapshot.DBBytes)/(1<<20), res.Snapshot.FillS, st.Runs)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "method\tseconds\tMB/s\t")
		for _, method := range []string{"provider", "etcdctl"} {
			var s, r []float64
			for _, run := range res.Snapshot.Runs {
				if run.Method == method {
					s = append(s, run.Seconds)
					r = append(r, run.MBps)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t\n", method, fmtS(median(s)), median(r))
		}
		tw.Flush()
	}

	fmt.Fprintln(out, "\nTargets")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tgoal\tmeasured\t\tnote")
	for _, t := range res.Targets {
		verdict, value := "MISSED", fmt.Sprintf("%.2f", t.Value)
		switch {
		case !t.Measured:
			verdict, value = "not measured", "-"
		case t.Met:
			verdict = "met"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Goal, value, verdict, t.Note)
	}
	tw.Flush()
}

func ackedMedian(res *Results, s RolloutSummary) int {
	var xs []float64
	for _, r := range res.Rollouts {
		if !r.Failed() && s.has(r) {
			xs = append(xs, float64(r.Writes.Acked))
		}
	}
	return int(median(xs))
}

// printDowngradeAPI breaks down the rollouts through etcd's downgrade API:
// the API's waits apart from the member restarts.
func printDowngradeAPI(out io.Writer, res *Results) {
	type row struct {
		wall, api, restarts, end, other []float64
		cancelled                       int
	}
	rows := map[RolloutSummary]*row{}
	for _, s := range res.Summary {
		k := RolloutSummary{Method: s.Method, Path: s.Path, Members: s.Members}
		for _, r := range res.Rollouts {
			if r.Failed() || r.Downgrade == nil || !s.has(r) {
				continue
			}
			if rows[k] == nil {
				rows[k] = &row{}
			}
			w := rows[k]
			w.wall = append(w.wall, r.WallS)
			w.api = append(w.api, r.Downgrade.WaitS)
			w.restarts = append(w.restarts, r.RestartS)
			w.end = append(w.end, r.Downgrade.EndWaitS)
			w.other = append(w.other, r.WallS-r.Downgrade.WaitS-r.RestartS-r.Downgrade.EndWaitS)
			if r.Downgrade.JobEndedByCancel {
				w.cancelled++
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(out, "\nDowngrade API (median s). API wait: validate + enable → every member's /version at the target's cluster and storage version;")
	fmt.Fprintln(out, "restarts: the members' stop→stable, summed; end wait: last member healthy → the end confirmed (provider: verify, no job left;")
	fmt.Fprintln(out, "manual: every /version on the target's cluster version); other: the rest (snapshot, staging, copies, leadership, Terraform)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tmembers\tmethod\twall s\tAPI wait s\trestarts s\tend wait s\tother s\tjob ended by a cancel\t")
	for _, s := range res.Summary {
		w := rows[RolloutSummary{Method: s.Method, Path: s.Path, Members: s.Members}]
		if w == nil {
			continue
		}
		cancel := "-"
		if s.Method == "provider" {
			cancel = fmt.Sprintf("%d of %d", w.cancelled, len(w.wall))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Path, s.Members, s.Method, fmtS(median(w.wall)), fmtS(median(w.api)),
			fmtS(median(w.restarts)), fmtS(median(w.end)), fmtS(median(w.other)), cancel)
	}
	tw.Flush()
}

// printRuns lists every rollout run, failed or not: its result, and its
// writes, which were read back either way.
func printRuns(out io.Writer, res *Results) {
	if len(res.Rollouts) == 0 {
		return
	}
	fmt.Fprintln(out, "\nRollout runs. wall s: the command's time, to its failure for a failed run; lost: acknowledged writes missing when read back (?: could not be read back)")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tmembers\tclients\tunit\tdata\tmethod\trun\tresult\twall s\twrites ok\tfailed\tlost\trevision backwards\twatch missed")
	for _, r := range res.Rollouts {
		wall := "-"
		if r.WallS > 0 {
			wall = fmtS(r.WallS)
		}
		lost, back := fmt.Sprint(r.Writes.Lost), fmt.Sprint(r.Writes.RevisionBackwards)
		if r.VerifyError != "" {
			lost, back = "?", "?"
		}
		missed := "-"
		if r.Watch != nil {
			missed = fmt.Sprint(r.Watch.Missed)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n",
			r.Path, r.Members, r.ClientsOr(), r.UnitOr(), r.DataMiB, r.Method, r.Run, r.Result(), wall, r.Writes.Acked, r.Writes.Failed, lost, back, missed)
	}
	tw.Flush()
}
