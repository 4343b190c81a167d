package resources_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// The versions of the 3.5 ⇄ 3.6 ⇄ 3.7 tests: the latest patch release of
// each minor, all built from the Go module proxy by scripts/prereqs.sh.
const (
	v35latest = "3.5.35"
	v36latest = "3.6.16"
	v37latest = "3.7.3"
)

// clusterState is what /version and each member's status say, read in the
// test, not through the provider.
type clusterState struct {
	cluster   string            // /version etcdcluster
	storage   map[string]string // member → storage version ("" on 3.5)
	downgrade map[string]bool   // member → its downgrade job enabled (3.6+)
}

func readClusterState(t *testing.T, sb *testhosts.Sandbox) clusterState {
	t.Helper()
	cli := etcdClient(t, sb)
	st := clusterState{storage: map[string]string{}, downgrade: map[string]bool{}}
	for _, h := range sb.Hosts {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cli.Status(ctx, h.ClientURL)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", h.Name, err)
		}
		st.storage[h.Name] = resp.StorageVersion
		if resp.DowngradeInfo != nil {
			st.downgrade[h.Name] = resp.DowngradeInfo.Enabled
		}
	}
	resp, err := http.Get(sb.ClientURLs()[0] + "/version")
	if err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	defer resp.Body.Close()
	var v struct {
		Cluster string `json:"etcdcluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET /version: %v", err)
	}
	st.cluster = v.Cluster
	return st
}

// checkMinor checks, outside the provider, that a rollout to version is
// done: every member runs it, /version reports its cluster version, every
// 3.6+ member's storage is on it, and no member has a downgrade job.
func checkMinor(t *testing.T, sb *testhosts.Sandbox, version string) {
	t.Helper()
	ctx := context.Background()
	for _, h := range sb.Hosts {
		if v, err := h.EtcdVersion(ctx); err != nil || v != version {
			t.Errorf("%s runs %q (%v), want %s", h.Name, v, err, version)
		}
	}
	minor := version[:strings.LastIndex(version, ".")]
	st := readClusterState(t, sb)
	if st.cluster != minor+".0" {
		t.Errorf("/version reports cluster version %q, want %s.0", st.cluster, minor)
	}
	for name, sv := range st.storage {
		if sv != "" && sv != minor+".0" {
			t.Errorf("%s: storage version %s, want %s.0", name, sv, minor)
		}
	}
	for name, on := range st.downgrade {
		if on {
			t.Errorf("%s still has a downgrade job enabled", name)
		}
	}
}

// The whole chain operators take today, one apply per step, under writers
// and a watcher: 3.5 → 3.6 → 3.7 (rolling), 3.7 → 3.6 → 3.5 (etcd's
// downgrade API, then rolling). After each apply the plan is empty (the
// framework checks) and the cluster is on the target by its own account;
// at the end every acknowledged write is readable and the watch opened
// before the first step saw each once, in order.
//
// snapshot-count is low so that each member takes a snapshot on 3.6 soon
// after the upgrade, under the writers' load: 3.7 cannot replay the 3.5-era
// entries a younger write-ahead log still holds (see
// TestAccClusterVersion_hazard37 for the cluster that has not).
func TestAccClusterVersion_minorChain(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v35latest, ExtraEnv: map[string]string{"ETCD_SNAPSHOT_COUNT": "200"}})
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var watch *acctest.LeaderWatch

	chain := []string{v35latest, v36latest, v37latest, v36latest, v35latest}
	var steps []resource.TestStep
	var began time.Time // when the step's plan and apply began
	for i, v := range chain {
		v := v
		step := resource.TestStep{
			Config: versionConfig(sb, v, etcdBinary(t, v), snap),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v)),
				statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v)),
				statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact(v[:strings.LastIndex(v, ".")]+".0")),
			},
			Check: func(*terraform.State) error {
				checkMinor(t, sb, v)
				if watch != nil {
					watch.Check(t)
				}
				// terraform plan and apply of the step, from Terraform's
				// start to the end of apply: a number, not an assertion.
				if i > 0 {
					t.Logf("%s → %s: plan and apply %s; %d writes acknowledged so far", chain[i-1], v, time.Since(began).Round(100*time.Millisecond), writer.Acked())
				}
				return nil
			},
		}
		if i > 0 {
			step.PreConfig = func() {
				// Writes flow between the steps too, so each member takes
				// snapshots on the version it runs.
				writer.WaitAcked(t, 1000, 2*time.Minute)
				watch = acctest.WatchLeaders(t, sb.ClientURLs())
				began = time.Now()
			}
		}
		steps = append(steps, step)
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.Factories, Steps: steps})
	report := writer.Stop()
	t.Logf("client through the whole chain: %s", report)
	writer.Verify(t)
}

// A member that cannot start on the lower version in the middle of a
// downgrade through the API: it is put back on 3.6, etcd's downgrade job is
// cancelled, and the cluster returns to 3.6 and is healthy. Once the cause
// is fixed the next apply does the downgrade.
//
// The fault is real: ETCD_ENABLE_V2=notabool in the member's env file. 3.6
// no longer has the setting and drops the variable with a warning; 3.5
// parses it and exits.
func TestAccClusterVersion_downgradeAPIPutBack(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v36latest})
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	ctx := context.Background()
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var faulty *testhosts.Host

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v36latest, etcdBinary(t, v36latest), snap)},
			{
				PreConfig: func() {
					// Followers go first, by name: the first one fails.
					leader := acctest.Leader(t, sb.ClientURLs())
					for _, h := range sb.Hosts {
						if h.Name != leader {
							faulty = h
							break
						}
					}
					if _, err := faulty.Exec(ctx, "echo ETCD_ENABLE_V2=notabool >> /etc/etcd/etcd.env"); err != nil {
						t.Fatal(err)
					}
				},
				Config:      versionConfig(sb, v35latest, etcdBinary(t, v35latest), snap),
				ExpectError: regexp.MustCompile(`(?s)Rollout stopped at member s\d \((start|gate)\).*put\s+back.*downgrade\s+job\s+was\s+cancelled`),
			},
			{
				PreConfig: func() {
					if err := sb.WaitHealthy(ctx); err != nil {
						t.Fatalf("cluster unhealthy after the put-back: %v", err)
					}
					// The cluster version rises again within the leader's
					// 4 s loop once the job is gone.
					deadline := time.Now().Add(30 * time.Second)
					for readClusterState(t, sb).cluster != "3.6.0" && time.Now().Before(deadline) {
						time.Sleep(200 * time.Millisecond)
					}
					checkMinor(t, sb, v36latest)
					if _, err := faulty.Exec(ctx, "sed -i '/ETCD_ENABLE_V2/d' /etc/etcd/etcd.env"); err != nil {
						t.Fatal(err)
					}
				},
				Config: versionConfig(sb, v35latest, etcdBinary(t, v35latest), snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v35latest)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
				},
				Check: func(*terraform.State) error {
					checkMinor(t, sb, v35latest)
					return nil
				},
			},
		},
	})
	t.Logf("client through the failed and the resumed downgrade: %s", writer.Stop())
	writer.Verify(t)
}

// Refusals of the 3.5 ⇄ 3.6 ⇄ 3.7 rules, each against a real cluster, each
// at plan time with nothing changed.
func TestAccClusterVersion_minorRefusals(t *testing.T) {
	t.Run("below 3.5.26 to 3.6", func(t *testing.T) {
		sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: testhosts.DefaultEtcdVersion})
		refusePlan(t, sb, v36latest, nil, `the upgrade to 3.6 needs every member on 3.5.26 or later first`, `removed members reappear on 3.6`)
	})
	t.Run("v2 store data to 3.6", func(t *testing.T) {
		sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v35latest, ExtraEnv: map[string]string{"ETCD_ENABLE_V2": "true"}})
		req, err := http.NewRequest(http.MethodPut, sb.ClientURLs()[0]+"/v2/keys/app/config", strings.NewReader("value=legacy"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("v2 PUT: %s", resp.Status)
		}
		refusePlan(t, sb, v36latest, nil, `The v2 store holds data etcd 3.6 cannot start on`, `PUT /1/app/config`)
	})
	t.Run("skipped minor and a downgrade already in progress", func(t *testing.T) {
		sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v36latest})
		refusePlan(t, sb, "3.4.23", nil, `it skips a minor version`)
		// A job someone enabled by hand after the cluster was adopted.
		refusePlan(t, sb, v35latest, func() { downgradeByHand(t, sb, "enable", "3.5") },
			`A downgrade is already in progress`, `etcdctl downgrade cancel 3.5`)
	})
}

// A downgrade job left enabled while every member runs the higher version
// (a put-back whose cancel failed, or an operator's `etcdctl downgrade
// enable`) holds the cluster version down: refresh records it in version,
// the plan shows the cancel, and apply cancels it.
func TestAccClusterVersion_jobLeftEnabled(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v36latest})
	config := versionConfig(sb, v36latest, etcdBinary(t, v36latest))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: config},
			driftStep(config, func() { downgradeByHand(t, sb, "enable", "3.5") },
				2, knownvalue.StringRegexp(regexp.MustCompile(`^downgrade API: cancel the downgrade job to 3\.5\.0 still enabled`))),
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v36latest)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.6.0")),
				},
				Check: func(*terraform.State) error {
					checkMinor(t, sb, v36latest)
					return nil
				},
			},
		},
	})
}

// refusePlan adopts the cluster on its version, runs pre (when set), then
// checks that planning target fails with every want, and that no member
// was restarted.
func refusePlan(t *testing.T, sb *testhosts.Sandbox, target string, pre func(), wants ...string) {
	t.Helper()
	pids := map[string]string{}
	for _, h := range sb.Hosts {
		b, _ := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
		pids[h.Name] = string(b)
	}
	var re []string
	for _, w := range wants {
		re = append(re, words(w).String()[4:])
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, sb.EtcdVersion, etcdBinary(t, sb.EtcdVersion))},
			{PreConfig: pre, Config: versionConfig(sb, target, etcdBinary(t, sb.EtcdVersion)), PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)` + strings.Join(re, ".*"))},
		},
	})
	for _, h := range sb.Hosts {
		b, _ := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
		if string(b) != pids[h.Name] {
			t.Errorf("%s was restarted by a refused plan", h.Name)
		}
	}
}

// The 3.6 → 3.7 hazard on the cluster where it bites: created on 3.5,
// upgraded to 3.6 and straight on to 3.7, with etcd's default
// snapshot-count, so no member has taken a snapshot on 3.6 and every
// write-ahead log still holds the 3.5-era entries 3.7 cannot replay. The
// plan to 3.7 is refused, naming each member and the first such entry,
// and nothing is stopped. The refusal's quickest fix (enable and cancel a
// downgrade, which makes every member snapshot) is then taken by hand, as
// an operator would, and the same configuration applies.
func TestAccClusterVersion_hazard37(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v35latest})
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	ctx := context.Background()
	writer := acctest.StartWriter(t, sb.ClientURLs(), 2)
	pids := map[string]string{}
	readPids := func() map[string]string {
		out := map[string]string{}
		for _, h := range sb.Hosts {
			b, _ := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
			out[h.Name] = string(b)
		}
		return out
	}
	config37 := versionConfig(sb, v37latest, etcdBinary(t, v37latest), snap)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35latest, etcdBinary(t, v35latest), snap)},
			{Config: versionConfig(sb, v36latest, etcdBinary(t, v36latest), snap)},
			{
				PreConfig: func() { pids = readPids() },
				Config:    config37,
				ExpectError: regexp.MustCompile(`(?s)etcd 3\.7 cannot replay a member's log.*` + words(`written by etcd 3.5`).String()[4:] +
					`.*` + words(`unmarshal should never fail`).String()[4:] + `.*` + words(`etcdctl downgrade enable 3.5`).String()[4:]),
			},
			{
				PreConfig: func() {
					if got := readPids(); fmt.Sprint(got) != fmt.Sprint(pids) {
						t.Errorf("a member was restarted by the refused apply: pids %v → %v", pids, got)
					}
					checkMinor(t, sb, v36latest)
					// The fix the refusal names: every member snapshots when
					// the cluster version goes down; then back up.
					downgradeByHand(t, sb, "enable", "3.5")
					waitFor(t, 30*time.Second, func() error {
						if st := readClusterState(t, sb); st.cluster != "3.5.0" || !allEqual(st.storage, "3.5.0") {
							return fmt.Errorf("cluster %s, storage %v", st.cluster, st.storage)
						}
						return nil
					})
					downgradeByHand(t, sb, "cancel", "3.5")
					waitFor(t, 30*time.Second, func() error {
						if st := readClusterState(t, sb); st.cluster != "3.6.0" {
							return fmt.Errorf("cluster %s", st.cluster)
						}
						return nil
					})
					if err := sb.WaitHealthy(ctx); err != nil {
						t.Fatal(err)
					}
				},
				Config: config37,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v37latest)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.7.0")),
				},
				Check: func(*terraform.State) error {
					checkMinor(t, sb, v37latest)
					return nil
				},
			},
		},
	})
	writer.Verify(t)
}

// Patch changes within 3.6 and within 3.7, and drift on each: a member
// changed by hand to another patch release shows in the next plan.
func TestAccClusterVersion_patches36and37(t *testing.T) {
	for _, tc := range []struct{ older, newer string }{{"3.6.5", v36latest}, {"3.7.1", v37latest}} {
		t.Run(tc.older+"→"+tc.newer, func(t *testing.T) {
			sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: tc.older})
			newer := versionConfig(sb, tc.newer, etcdBinary(t, tc.newer))
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.Factories,
				Steps: []resource.TestStep{
					{Config: versionConfig(sb, tc.older, etcdBinary(t, tc.older))},
					{
						Config: newer,
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(tc.newer)),
							statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, tc.newer)),
						},
						Check: func(*terraform.State) error {
							checkMinor(t, sb, tc.newer)
							return nil
						},
					},
					driftStep(newer, func() { swapBinary(t, sb, sb.Host("s2"), tc.older) },
						0, knownvalue.StringExact("preflight: 3/3 members healthy on s1="+tc.newer+" s2="+tc.older+" s3="+tc.newer+", no alarms, patch change to "+tc.newer)),
				},
			})
		})
	}
}

// downgradeByHand runs `etcdctl downgrade <action> <minor>` as an operator
// would, with the 3.6 etcdctl: 3.5's has no downgrade command.
func downgradeByHand(t *testing.T, sb *testhosts.Sandbox, action, minor string) {
	t.Helper()
	etcdctl, err := testhosts.EtcdctlBinary(v36latest)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(etcdctl, "--endpoints="+strings.Join(sb.ClientURLs(), ","), "downgrade", action, minor).CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl downgrade %s %s: %v\n%s", action, minor, err, out)
	}
}

// driftStep makes a change outside Terraform (pre), then expects the plan
// of config to update the resource, with step i of its rollout as want.
func driftStep(config string, pre func(), i int, want knownvalue.Check) resource.TestStep {
	return resource.TestStep{
		PreConfig:          pre,
		Config:             config,
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
		ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
			plancheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListPartial(map[int]knownvalue.Check{i: want})),
		}},
	}
}

func allEqual(m map[string]string, want string) bool {
	for _, v := range m {
		if v != want {
			return false
		}
	}
	return true
}
