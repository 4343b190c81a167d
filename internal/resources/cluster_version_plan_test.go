package resources_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

const res = "etcd_cluster_version.test"

// versionConfig renders the resource for sb with the given version and
// binary source, plus extra attributes.
func versionConfig(sb *testhosts.Sandbox, version, source string, extra ...string) string {
	return acctest.ProviderConfig(sb) + fmt.Sprintf(`
resource "etcd_cluster_version" "test" {
  version = %q
  members = %s
  binary = {
    path   = "/usr/local/bin/etcd"
    source = %q
  }
  health = { stable_for = "1s" }
  %s
}
`, version, acctest.Members(sb), source, strings.Join(extra, "\n  "))
}

// binary34 is the 3.4 binary a downgrade plan names. Planning only checks
// that the local file exists (and its sha256 when given); these tests never
// apply it. With ETCD_BINARY_3_4 set the real binary is used.
func binary34(t *testing.T) (path, version string) {
	if p := os.Getenv("ETCD_BINARY_3_4"); p != "" {
		v, err := acctest.BinaryVersion(p)
		if err != nil {
			t.Fatalf("ETCD_BINARY_3_4: %v", err)
		}
		return p, v
	}
	p := filepath.Join(t.TempDir(), "etcd-3.4.34")
	if err := os.WriteFile(p, []byte("placeholder: plan-only tests never upload it\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, "3.4.34"
}

func etcdBinary(t *testing.T, version string) string {
	t.Helper()
	p, err := testhosts.EtcdBinary(version)
	if err != nil {
		// A missing prerequisite is a failure: scripts/prereqs.sh builds it.
		t.Fatalf("etcd %s not available: %v", version, err)
	}
	return p
}

// Adopting a running cluster changes nothing and records what it runs; a
// version change plans the whole rollout; a member changed out of band shows
// up as drift with the mix.
func TestAccClusterVersion_adoptPlanDrift(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{ExtraEnv: map[string]string{
		// 3.5-only settings the downgrade must drop and name.
		"ETCD_SOCKET_REUSE_PORT":                      "true",
		"ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL": "10ms",
	}})
	v35 := testhosts.DefaultEtcdVersion
	patch := etcdBinary(t, "3.5.16")
	src34, v34 := binary34(t)

	memberVersions := map[string]knownvalue.Check{}
	for _, h := range sb.Hosts {
		memberVersions[h.Name] = knownvalue.StringExact(v35)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config: versionConfig(sb, v35, patch),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v35)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), knownvalue.MapExact(memberVersions)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]+$`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("leader"), knownvalue.StringRegexp(regexp.MustCompile(`^s[123]$`))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("nothing to do: all 3 members run " + v35),
					})),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_snapshot"), knownvalue.Null()),
				},
			},
			{
				// A second plan with the same configuration is empty.
				Config:   versionConfig(sb, v35, patch),
				PlanOnly: true,
			},
			{
				Config:             versionConfig(sb, v34, src34),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("preflight: 3/3 members healthy on " + v35 + ", no alarms, auth disabled, target " + v34 + " >= 3.4.32"),
						knownvalue.StringRegexp(regexp.MustCompile(`^snapshot: from the leader to etcd-snapshots/, sha256 verified, mode 0600, before any member stops$`)),
						knownvalue.StringRegexp(regexp.MustCompile(`^stage: upload .* to /usr/local/bin/etcd\.` + regexp.QuoteMeta(v34) + ` on s1, s2, s3; verify .*etcd --version. = ` + regexp.QuoteMeta(v34))),
						knownvalue.StringRegexp(regexp.MustCompile(`^order: followers first, by name; the member leading at that moment goes last`)),
						memberStep("s1", v35, v34), memberStep("s2", v35, v34), memberStep("s3", v35, v34),
						knownvalue.StringExact("verify: all members on " + v34 + ", cluster version 3.4.0"),
					})),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.4.0")),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("last_snapshot")),
				}},
			},
			{
				// Drift: s1 is changed by hand to another 3.5 release.
				PreConfig: func() {
					swapBinary(t, sb, sb.Host("s1"), "3.5.16")
				},
				Config:             versionConfig(sb, v35, patch),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.StringExact("preflight: 3/3 members healthy on s1=3.5.16 s2=" + v35 + " s3=" + v35 + ", no alarms, patch change to " + v35),
						4: knownvalue.StringRegexp(regexp.MustCompile(`^member s1 \(127\.0\.\d+\.1\): patch 3\.5\.16 → ` + regexp.QuoteMeta(v35) + `; stop; keep 3\.5\.16 binary as /usr/local/bin/etcd\.3\.5\.16; install ` + regexp.QuoteMeta(v35) + `; settings unchanged \(/etc/etcd/etcd\.env\); start; gate: `)),
						5: knownvalue.StringExact("member s2: already on " + v35 + ", skipped"),
						6: knownvalue.StringExact("member s3: already on " + v35 + ", skipped"),
					})),
				}},
			},
		},
	})
}

func memberStep(name, from, to string) knownvalue.Check {
	return knownvalue.StringRegexp(regexp.MustCompile(`^member ` + name + ` \(127\.0\.\d+\.\d\): downgrade ` + regexp.QuoteMeta(from) + ` → ` + regexp.QuoteMeta(to) +
		`; stop; keep ` + regexp.QuoteMeta(from) + ` binary as /usr/local/bin/etcd\.` + regexp.QuoteMeta(from) + `; install ` + regexp.QuoteMeta(to) +
		`; config /etc/etcd/etcd\.env: .*-socket-reuse-port \(line \d+\).*-experimental-compaction-sleep-interval \(line \d+\).*\+next-cluster-version-compatible.* \(backup /etc/etcd/etcd\.env\.` + regexp.QuoteMeta(from) + `, owner and mode kept\)` +
		`; start; gate: linearizable read, version ` + regexp.QuoteMeta(to) + `, applied index caught up with the leader, all members healthy, stable 1s \(within 5m0s\), HTTP/JSON gateway answers as before$`))
}

// swapBinary replaces a member's etcd by another release and restarts it,
// the way an operator would by hand.
func swapBinary(t *testing.T, sb *testhosts.Sandbox, h *testhosts.Host, version string) {
	t.Helper()
	bin := etcdBinary(t, version)
	ctx := context.Background()
	if err := h.StopEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Path("/usr/local/bin/etcd"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.StartEtcd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sb.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}
