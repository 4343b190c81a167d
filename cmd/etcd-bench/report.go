package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// targets evaluates the goals on the measurements; path is the
// rollout path they are judged on (the 3.5 patch downgrade).
func targets(res *Results, path string) []Target {
	var ts []Target
	add := func(name, goal string, value float64, measured, met bool, note string) {
		ts = append(ts, Target{Name: name, Goal: goal, Value: round3(value), Measured: measured, Met: measured && met, Note: note})
	}
	walls := func(method string, members int) []float64 {
		var out []float64
		for _, r := range res.Rollouts {
			if !r.Failed() && r.Method == method && r.Path == path && (members == 0 || r.Members == members) {
				out = append(out, r.WallS)
			}
		}
		return out
	}
	pw, mw := walls("provider", 3), walls("manual", 3)
	ratio := 0.0
	if len(pw) > 0 && len(mw) > 0 {
		ratio = median(pw) / median(mw)
	}
	add("provider rollout wall time ÷ manual, 3 members", "≤ 0.7", ratio, len(pw) > 0 && len(mw) > 0, ratio <= 0.7,
		fmt.Sprintf("medians %.2fs ÷ %.2fs", median(pw), median(mw)))

	var sth []float64
	failed, provRuns := 0, 0
	var pgap, mgap []float64
	for _, r := range res.Rollouts {
		if r.Failed() {
			continue
		}
		if r.Method == "provider" {
			provRuns++
			failed += r.Writes.Failed
			if r.Path == path {
				sth = append(sth, values(r.StopToHealthyS)...)
				pgap = append(pgap, r.Writes.LongestGapMs)
			}
		} else if r.Path == path {
			mgap = append(mgap, r.Writes.LongestGapMs)
		}
	}
	add("per-member stop-to-healthy, provider", "≤ 1.5 s", median(sth), len(sth) > 0, median(sth) <= 1.5,
		fmt.Sprintf("median of %d members; max %.2fs", len(sth), maxOf(sth)))
	add("failed writes during a provider rollout", "0", float64(failed), provRuns > 0, failed == 0,
		fmt.Sprintf("total over %d completed provider rollouts", provRuns))
	// Every run's writes were read back, failed or not: a rollout that
	// fails must not lose writes either.
	lost, lostRuns, lostFailed, unverified := 0, 0, 0, 0
	for _, r := range res.Rollouts {
		if r.Method != "provider" {
			continue
		}
		lostRuns++
		lost += r.Writes.Lost
		if r.Failed() {
			lostFailed++
		}
		if r.VerifyError != "" {
			unverified++
		}
	}
	lostNote := fmt.Sprintf("total over %d provider rollouts, %d of them failed", lostRuns, lostFailed)
	if unverified > 0 {
		lostNote += fmt.Sprintf("; the writes of %d could not be read back", unverified)
	}
	add("acknowledged writes lost, provider (design rule)", "0", float64(lost), lostRuns > 0, lost == 0 && unverified == 0, lostNote)
	gr := 0.0
	if len(pgap) > 0 && len(mgap) > 0 && median(mgap) > 0 {
		gr = median(pgap) / median(mgap)
	}
	add("longest write gap, provider ÷ manual", "≤ 1.0", gr, len(pgap) > 0 && len(mgap) > 0, gr <= 1.0,
		fmt.Sprintf("medians %.0fms ÷ %.0fms", median(pgap), median(mgap)))

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
	note := ""
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

func printTables(res *Results) {
	printTablesTo(os.Stdout, res)
}

func printTablesTo(out io.Writer, res *Results) {
	st := res.Settings
	if len(res.Summary) > 0 {
		fmt.Fprintf(out, "\nRollout: median of %d run(s); stability wait %s for both; manual polls every %s; writer: %d clients\n", st.Runs, st.StableFor, st.ManualPoll, st.Writers)
		fmt.Fprintln(out, "timings and failed writes: completed runs only; lost writes: every run, failed or not")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "path\tmembers\tmethod\truns ok\tfailed runs\twall s\tstop→healthy med/max s\toverhead s\tSSH logins\twrites ok\tfailed\tlost\tp50 ms\tp99 ms\tmax ms\tlongest gap ms\t")
		for _, s := range res.Summary {
			lost := fmt.Sprint(s.Lost)
			if s.Unverified > 0 {
				lost += fmt.Sprintf(" (%d unverified)", s.Unverified)
			}
			if s.Runs == 0 {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t-\t-\t-\t-\t-\t-\t%s\t-\t-\t-\t-\t\n", s.Path, s.Members, s.Method, s.Runs, s.FailedRuns, lost)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t%s/%s\t%s\t%.0f\t%d\t%d\t%s\t%.1f\t%.1f\t%.0f\t%.0f\t\n",
				s.Path, s.Members, s.Method, s.Runs, s.FailedRuns, fmtS(s.WallS), fmtS(s.StopToHealthyS), fmtS(s.StopToHealthyMx), fmtS(s.OverheadS),
				s.SSHConnections, ackedMedian(res, s), s.Failed, lost, s.P50Ms, s.P99Ms, s.MaxMs, s.LongestGapMs)
		}
		tw.Flush()
		printRuns(out, res)

		fmt.Fprintln(out, "\nProvider time by step (median s, from its INFO log). plan: ModifyPlan, twice per apply; terraform: the rest outside the engine;")
		fmt.Fprintln(out, "per member, averaged: stop command, install (binary, config), start command, gate (start returned → healthy)")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		steps := []string{"plan", "snapshot", "stage", "members", "engine", "terraform", "member_stop", "member_install", "member_start", "member_gate"}
		fmt.Fprintf(tw, "path\tmembers\t%s\t\n", strings.ReplaceAll(strings.Join(steps, "\t"), "member_", "member "))
		for _, s := range res.Summary {
			if s.Method != "provider" || s.Runs == 0 {
				continue
			}
			row := []string{s.Path, fmt.Sprint(s.Members)}
			for _, st := range steps {
				var xs []float64
				for _, r := range res.Rollouts {
					if !r.Failed() && r.Method == "provider" && r.Path == s.Path && r.Members == s.Members {
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
		if !r.Failed() && r.Method == s.Method && r.Path == s.Path && r.Members == s.Members {
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
			if r.Failed() || r.Downgrade == nil || r.Method != s.Method || r.Path != s.Path || r.Members != s.Members {
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
	fmt.Fprintln(tw, "path\tmembers\tmethod\trun\tresult\twall s\twrites ok\tfailed\tlost\trevision backwards")
	for _, r := range res.Rollouts {
		wall := "-"
		if r.WallS > 0 {
			wall = fmtS(r.WallS)
		}
		lost, back := fmt.Sprint(r.Writes.Lost), fmt.Sprint(r.Writes.RevisionBackwards)
		if r.VerifyError != "" {
			lost, back = "?", "?"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n",
			r.Path, r.Members, r.Method, r.Run, r.Result(), wall, r.Writes.Acked, r.Writes.Failed, lost, back)
	}
	tw.Flush()
}
