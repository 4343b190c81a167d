package resources_test

import (
	"os"
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

// The mission: a real rolling 3.5 → 3.4 downgrade and back, with clients
// writing throughout. It needs etcd 3.4.32 or later, which no registry here
// serves, so it runs only when ETCD_BINARY_3_4 names such a binary.
func TestAccClusterVersion_downgradeTo34AndBack(t *testing.T) {
	bin34 := os.Getenv(testhosts.EnvEtcdBinary34)
	if bin34 == "" {
		t.Skip("the real 3.5 → 3.4 downgrade needs etcd 3.4.32+: set ETCD_BINARY_3_4 to such a binary to run it (no package registry here serves one)")
	}
	v34, err := acctest.BinaryVersion(bin34)
	if err != nil {
		t.Fatal(err)
	}
	sb := acctest.Sandbox(t, testhosts.Options{ExtraEnv: map[string]string{
		"ETCD_SOCKET_REUSE_PORT":                      "true",
		"ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL": "10ms",
		"ETCD_BACKEND_BBOLT_FREELIST_TYPE":            "map",
	}})
	v35 := testhosts.DefaultEtcdVersion
	bin35 := etcdBinary(t, v35)
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	var watch *acctest.LeaderWatch

	envLines := func(h *testhosts.Host) []string {
		b, err := os.ReadFile(h.Path("/etc/etcd/etcd.env"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	has := func(lines []string, prefix string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, prefix) })
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, bin35, snap)},
			{
				PreConfig: func() { watch = acctest.WatchLeaders(t, sb.ClientURLs()) },
				Config:    versionConfig(sb, v34, bin34, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v34)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v34)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.4.0")),
				},
				Check: func(*terraform.State) error {
					watch.Check(t)
					for _, h := range sb.Hosts {
						lines := envLines(h)
						for _, gone := range []string{"ETCD_SOCKET_REUSE_PORT", "ETCD_EXPERIMENTAL_COMPACTION_SLEEP_INTERVAL", "ETCD_BACKEND_BBOLT_FREELIST_TYPE"} {
							if has(lines, gone+"=") {
								t.Errorf("%s: %s still set after the downgrade", h.Name, gone)
							}
						}
						for _, want := range []string{"ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE=true", "ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=map", "ETCD_LOGGER=zap", "ETCD_PRE_VOTE=true"} {
							if !slices.Contains(lines, want) {
								t.Errorf("%s: %s missing after the downgrade:\n%s", h.Name, want, strings.Join(lines, "\n"))
							}
						}
					}
					return nil
				},
			},
			{
				// The rollback, back up to 3.5 with the same resource.
				Config: versionConfig(sb, v35, bin35, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v35)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
				},
				Check: func(*terraform.State) error {
					for _, h := range sb.Hosts {
						if lines := envLines(h); has(lines, "ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE") {
							t.Errorf("%s: next-cluster-version-compatible kept after the upgrade", h.Name)
						}
					}
					return nil
				},
			},
		},
	})
	report := writer.Stop()
	t.Logf("client through the downgrade and the rollback: %s", report)
	writer.Verify(t)
}
