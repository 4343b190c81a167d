package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Lines as TF_LOG_PROVIDER=INFO writes them: hclog puts the fields in any order.
const sampleProviderLog = `2026-11-25T14:05:31.289Z [INFO]  provider: configuring client automatic mTLS
2026-11-25T14:05:32.043Z [INFO]  provider.terraform-provider-etcd: planned rollout: @caller=x.go:239 duration=284.890484ms tf_rpc=PlanResourceChange to=3.5.16 @module=etcd pending=3 steps=8
2026-11-25T14:05:32.436Z [INFO]  provider.terraform-provider-etcd: planned rollout: tf_req_id=0feb to=3.5.16 duration=274.647471ms pending=3
2026-11-25T14:05:32.587Z [INFO]  provider.terraform-provider-etcd: snapshot saved: duration=50.508734ms revision=495 path=etcd-snapshots/a.db step=snapshot
2026-11-25T14:05:34.663Z [INFO]  provider.terraform-provider-etcd: binary staged on every host: @module=etcd duration=2.076014072s step=stage to=3.5.16
2026-11-25T14:05:35.840Z [INFO]  provider.terraform-provider-etcd: stopping member: step=stop from=3.5.21 member=s1 to=3.5.16
2026-11-25T14:05:35.100Z [INFO]  provider.terraform-provider-etcd: host steps done: member=s1 step="host steps" steps="keep binary=12ms, prepare binary=30ms, back up config=4ms"
2026-11-25T14:05:36.840Z [INFO]  provider.terraform-provider-etcd: host steps done: member=s1 step="host steps" steps="stop=1s"
2026-11-25T14:05:36.840Z [INFO]  provider.terraform-provider-etcd: installing binary: member=s1 step=install
2026-11-25T14:05:37.040Z [INFO]  provider.terraform-provider-etcd: host steps done: member=s1 step="host steps" steps="install binary=150ms, write config=50ms, start=133ms"
2026-11-25T14:05:37.673Z [INFO]  provider.terraform-provider-etcd: member healthy on target: tf_rpc=ApplyResourceChange gate_duration=500ms duration=2.991529488s from=3.5.21 member=s1 step=gate stop_to_healthy=2.977676496s stop_to_stable=3.5s
2026-11-25T14:05:38.790Z [INFO]  provider.terraform-provider-etcd: member healthy on target: @module=etcd stop_to_healthy=1.090770094s duration=1.097870838s member=s2 gate_duration=237.671379ms step=gate
2026-11-25T14:05:38.846Z [INFO]  provider.terraform-provider-etcd: moving leadership: member=s3 to_member=s1 step="move leader"
2026-11-25T14:05:44.464Z [INFO]  provider.terraform-provider-etcd: rollout finished: to=3.5.16 duration=12.020113095s step=done
`

func TestParseProviderLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provider.log")
	if err := os.WriteFile(path, []byte(sampleProviderLog), 0o644); err != nil {
		t.Fatal(err)
	}
	pl, err := parseProviderLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"s1": 2977676496, "s2": 1090770094}
	for m, d := range want {
		if pl.StopToHealthy[m] != d {
			t.Errorf("stop_to_healthy[%s] = %s, want %s", m, pl.StopToHealthy[m], d)
		}
	}
	if pl.StopToStable["s1"] != 3500*time.Millisecond || pl.StopToStable["s2"] != 1090770094 {
		t.Errorf("stop_to_stable = %v", pl.StopToStable)
	}
	if len(pl.StopToHealthy) != 2 || pl.Gate["s2"] != 237671379*time.Nanosecond || pl.Gate["s1"] != 500*time.Millisecond {
		t.Errorf("got %+v", pl)
	}
	if len(pl.Stops) != 1 || pl.Stops[0].member != "s1" || pl.Stops[0].at.Format(time.RFC3339Nano) != "2026-11-25T14:05:35.84Z" {
		t.Errorf("stops = %+v", pl.Stops)
	}
	phases := map[string]time.Duration{"prepare": 46 * time.Millisecond, "stop": time.Second, "swap": 200 * time.Millisecond,
		"start": 133 * time.Millisecond, "gate": 737671379 * time.Nanosecond}
	for k, d := range phases {
		if pl.Phases[k] != d {
			t.Errorf("phase %s = %s, want %s", k, pl.Phases[k], d)
		}
	}
	steps := map[string]time.Duration{"plan": 284890484 + 274647471, "snapshot": 50508734, "stage": 2076014072, "engine": 12020113095}
	for k, d := range steps {
		if pl.Steps[k] != d {
			t.Errorf("step %s = %s, want %s", k, pl.Steps[k], d)
		}
	}
}

func TestParseManualOutput(t *testing.T) {
	got, stable := map[string]float64{}, map[string]float64{}
	out := "member s1 host=127.0.11.1 stop_to_healthy=2.253s stop_to_stable=3.3s\nmember s2 host=127.0.11.2 stop_to_healthy=1.952s\ntotal=12.158s\n"
	if err := parseManualOutput(out, got, stable); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["s1"] != 2.253 || got["s2"] != 1.952 || stable["s1"] != 3.3 || stable["s2"] != 1.952 {
		t.Errorf("got %v, %v", got, stable)
	}
	if err := parseManualOutput("total=1s\n", map[string]float64{}, map[string]float64{}); err == nil {
		t.Error("no member lines: want an error")
	}
}

func TestParseDowngradeAPI(t *testing.T) {
	log := `2026-11-25T14:05:33.000Z [INFO]  provider.terraform-provider-etcd: downgrade enabled: step="downgrade enable" to=3.5
2026-11-25T14:05:35.100Z [INFO]  provider.terraform-provider-etcd: downgrade in effect: cluster_version=3.5.0 duration=2.25s step="downgrade wait"
2026-11-25T14:05:37.673Z [INFO]  provider.terraform-provider-etcd: member healthy on target: member=s1 stop_to_healthy=1.5s duration=2s gate_duration=300ms step=gate
2026-11-25T14:05:39.000Z [INFO]  provider.terraform-provider-etcd: member healthy on target: member=s2 stop_to_healthy=1.25s duration=2s gate_duration=300ms step=gate
2026-11-25T14:05:39.100Z [INFO]  provider.terraform-provider-etcd: downgrade job ended by the provider: every member runs the target, and the leader would end it within its 5 s check: step=verify
2026-11-25T14:05:39.250Z [INFO]  provider.terraform-provider-etcd: verified: cluster_version=3.5.0 step=verify to=3.5.35
2026-11-25T14:05:39.260Z [INFO]  provider.terraform-provider-etcd: rollout finished: to=3.5.35 duration=7s step=done
`
	path := filepath.Join(t.TempDir(), "provider.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	pl, err := parseProviderLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if pl.DowngradeWait != 2250*time.Millisecond || pl.EndWait != 250*time.Millisecond || !pl.JobEndedByProvider {
		t.Errorf("downgrade wait %s, end wait %s, ended by the provider %v", pl.DowngradeWait, pl.EndWait, pl.JobEndedByProvider)
	}

	d := parseManualDowngrade("downgrade_api_wait=2.345s\nmember s1 host=127.0.0.1 stop_to_healthy=1.2s\nend_wait=0.012s\ntotal=9s\n")
	if d == nil || d.WaitS != 2.345 || d.EndWaitS != 0.012 {
		t.Errorf("manual downgrade timings %+v", d)
	}
	if d := parseManualDowngrade("member s1 host=127.0.0.1 stop_to_healthy=1.2s\ntotal=9s\n"); d != nil {
		t.Errorf("no downgrade API: got %+v", d)
	}

	for _, c := range []struct {
		from, to string
		want     bool
	}{{"3.6.16", "3.5.35", true}, {"3.7.3", "3.6.16", true}, {"3.5.21", "3.5.16", false}, {"3.5.21", "3.4.34", false}, {"3.7.3", "3.5.35", false}} {
		if got := downgradeAPI(versionPath{From: c.from, To: c.to}); got != c.want {
			t.Errorf("downgradeAPI(%s→%s) = %v", c.from, c.to, got)
		}
	}
	if got, err := parsePaths("3.6.16->3.5.35, 3.5.21:3.5.16,3.5.21→3.4.34"); err != nil || len(got) != 3 || got[0] != "3.6.16→3.5.35" || got[1] != "3.5.21→3.5.16" {
		t.Errorf("parsePaths: %v, %v", got, err)
	}
	if _, err := parsePaths("3.6.16"); err == nil {
		t.Error("parsePaths without TO: want an error")
	}
}
