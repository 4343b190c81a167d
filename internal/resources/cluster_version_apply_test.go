package resources_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

func allMembers(sb *testhosts.Sandbox, version string) knownvalue.Check {
	m := map[string]knownvalue.Check{}
	for _, h := range sb.Hosts {
		m[h.Name] = knownvalue.StringExact(version)
	}
	return knownvalue.MapExact(m)
}

// runningVersion asks the member's own binary on disk, as the host sees it.
func checkHostFiles(t *testing.T, sb *testhosts.Sandbox, running string, kept ...string) {
	t.Helper()
	for _, h := range sb.Hosts {
		out, err := h.Exec(context.Background(), "/usr/local/bin/etcd --version | head -n 1")
		if err != nil || !strings.Contains(out, "etcd Version: "+running) {
			t.Errorf("%s: /usr/local/bin/etcd --version = %q (%v), want %s", h.Name, out, err, running)
		}
		for _, v := range kept {
			if _, err := os.Stat(h.Path("/usr/local/bin/etcd." + v)); err != nil {
				t.Errorf("%s: kept binary for %s: %v", h.Name, v, err)
			}
		}
	}
}

// snapshotVerifies recomputes the snapshot file's digest and mode.
func snapshotVerifies(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs := s.RootModule().Resources[res].Primary.Attributes
		path, want := attrs["last_snapshot.path"], attrs["last_snapshot.sha256"]
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("snapshot file: %w", err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return fmt.Errorf("snapshot %s has sha256 %s, state says %s", path, got, want)
		}
		// etcd's trailer: the last 32 bytes are the sha256 of the rest.
		inner := sha256.Sum256(data[:len(data)-32])
		if string(inner[:]) != string(data[len(data)-32:]) {
			return fmt.Errorf("snapshot %s: etcd's own sha256 trailer does not match", path)
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		if st.Mode().Perm() != 0o600 {
			return fmt.Errorf("snapshot %s has mode %v, want 0600", path, st.Mode().Perm())
		}
		if fmt.Sprint(len(data)) != attrs["last_snapshot.size_bytes"] {
			return fmt.Errorf("snapshot size %d, state says %s", len(data), attrs["last_snapshot.size_bytes"])
		}
		return nil
	}
}

// A patch downgrade and back, with a client writing the whole time: every
// member ends on the target, binaries are kept, the snapshot verifies, and
// no acknowledged write is lost.
func TestAccClusterVersion_patchDownAndUp(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	const older = "3.5.16"
	bin35, binOld := etcdBinary(t, v35), etcdBinary(t, older)
	snapDir := t.TempDir()
	snap := fmt.Sprintf(`snapshot = { directory = %q }`, snapDir)
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, bin35, snap)},
			{
				Config: versionConfig(sb, older, binOld, snap),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(older)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_snapshot").AtMapKey("path"),
						knownvalue.StringRegexp(regexp.MustCompile(`^`+regexp.QuoteMeta(snapDir)+`/[0-9a-f]+-rev\d+-\d{8}T\d{6}Z\.db$`))),
				},
				Check: resource.ComposeTestCheckFunc(snapshotVerifies(t), func(*terraform.State) error {
					checkHostFiles(t, sb, older, v35, older)
					return nil
				}),
			},
			{
				Config: versionConfig(sb, v35, bin35, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(v35)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v35)),
				},
				Check: resource.ComposeTestCheckFunc(snapshotVerifies(t), func(*terraform.State) error {
					checkHostFiles(t, sb, v35, v35, older)
					return nil
				}),
			},
		},
	})
	report := writer.Stop()
	t.Logf("client during two rollouts: %s", report)
	writer.Verify(t)
}
