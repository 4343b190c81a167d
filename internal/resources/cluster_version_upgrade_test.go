package resources_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// The rollback path, 3.4.23 (Debian's etcd) → 3.5, with a member that cannot
// start on 3.5 for real: its env file has a 3.5-only setting with a value
// 3.5 rejects, which 3.4 ignores with a warning. The rollout stops there,
// puts that member back on 3.4.23, and leaves the leader untouched. Once the
// setting is fixed, the next apply resumes, skipping the member already done.
func TestAccClusterVersion_upgradeWithFailedMemberThenResume(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: "3.4.23", ExtraEnv: map[string]string{
		// 3.4-only spellings the upgrade must translate.
		"ETCD_LOGGER":             "capnslog",
		"ETCD_LOG_PACKAGE_LEVELS": "etcdserver=INFO",
		"ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE": "map",
	}})
	v35 := testhosts.DefaultEtcdVersion
	bin34, bin35 := etcdBinary(t, "3.4.23"), etcdBinary(t, v35)
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	ctx := context.Background()

	var first, faulty, leader *testhosts.Host
	var pids map[string]string
	pidOf := func(h *testhosts.Host) string {
		b, _ := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
		return strings.TrimSpace(string(b))
	}
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var watch *acctest.LeaderWatch

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, "3.4.23", bin34, snap)},
			{
				PreConfig: func() {
					// Followers go first by name: the second follower fails.
					leader = sb.Host(acctest.Leader(t, sb.ClientURLs()))
					var followers []*testhosts.Host
					for _, h := range sb.Hosts {
						if h != leader {
							followers = append(followers, h)
						}
					}
					first, faulty = followers[0], followers[1]
					if _, err := faulty.Exec(ctx, "echo ETCD_SOCKET_REUSE_PORT=notabool >> /etc/etcd/etcd.env"); err != nil {
						t.Fatal(err)
					}
					pids = map[string]string{leader.Name: pidOf(leader)}
					watch = acctest.WatchLeaders(t, sb.ClientURLs())
				},
				Config: versionConfig(sb, v35, bin35, snap),
				ExpectError: o.expectError("put-back", regexp.MustCompile(`(?s)Rollout stopped at member s\d \((start|gate)\).*`+
					phrase("was put back on its previous binary and config, restarted, and passed its health gate")+`.*ETCD_SOCKET_REUSE_PORT`)),
			},
			{
				// State tells the truth: the first follower is on 3.5, the
				// faulty one back on 3.4.23, the leader never touched.
				PreConfig: func() {
					watch.Check(t)
					got := pidOf(leader)
					o.assert("leader-untouched", got == pids[leader.Name], "leader %s was restarted (pid %s → %s); it must not be touched after the failure", leader.Name, pids[leader.Name], got)
					_, err := os.Stat(leader.Path("/usr/local/bin/etcd.3.4.23"))
					o.assert("leader-untouched", err != nil, "leader %s has a kept binary: it was touched", leader.Name)
					ver, err := faulty.EtcdVersion(ctx)
					o.assert("put-back", err == nil && ver == "3.4.23", "%s runs %q (%v) after being put back, want 3.4.23", faulty.Name, ver, err)
					o.check("put-back", sb.WaitHealthy(ctx))
					// Fix the cause.
					if _, err := faulty.Exec(ctx, "sed -i '/ETCD_SOCKET_REUSE_PORT/d' /etc/etcd/etcd.env"); err != nil {
						t.Fatal(err)
					}
					pids[first.Name] = pidOf(first)
				},
				Config:   versionConfig(sb, v35, bin35, snap),
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigStateChecks: nil,
			},
			{
				Config: versionConfig(sb, v35, bin35, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v35)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v35)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
				},
				Check: func(s *terraform.State) error {
					got := pidOf(first)
					o.assert("resume-skips-done", got == pids[first.Name], "%s was already on %s but was restarted by the resumed apply (pid %s → %s)", first.Name, v35, pids[first.Name], got)
					for _, h := range sb.Hosts {
						ver, err := h.EtcdVersion(ctx)
						o.assert("resume-skips-done", err == nil && ver == v35, "%s runs %q (%v) after the resumed apply, want %s", h.Name, ver, err, v35)
					}
					for _, h := range sb.Hosts {
						env, err := os.ReadFile(h.Path("/etc/etcd/etcd.env"))
						if err != nil {
							t.Fatal(err)
						}
						lines := strings.Split(string(env), "\n")
						for _, gone := range []string{"ETCD_LOGGER=capnslog", "ETCD_LOG_PACKAGE_LEVELS=", "ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=", "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE"} {
							if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, gone) }) {
								t.Errorf("%s: %s still in the env file after the upgrade:\n%s", h.Name, gone, env)
							}
						}
						if !slices.Contains(lines, "ETCD_BACKEND_BBOLT_FREELIST_TYPE=map") {
							t.Errorf("%s: freelist type not renamed for 3.5:\n%s", h.Name, env)
						}
						// The backup is an exact copy: the live file's owner and mode.
						backup, err := h.Stat(context.Background(), "/etc/etcd/etcd.env.3.4.23")
						live, err2 := h.Stat(context.Background(), "/etc/etcd/etcd.env")
						if err != nil || err2 != nil || !sameMeta(backup, live) {
							t.Errorf("%s: config backup %+v (%v) does not keep the live file's metadata %+v (%v)", h.Name, backup, err, live, err2)
						}
					}
					return nil
				},
			},
		},
	})
	report := writer.Stop()
	t.Logf("client through the failed and the resumed rollout: %s", report)
	o.subtest("no-write-lost", t, writer.Verify)
}
