package resources_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
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

// snapshot.copy_to: bad values are refused at plan time, naming the
// attribute; a patch change copies the snapshot to one of the sandbox hosts
// over SSH, where it has mode 0600 and the sha256 state records, and
// last_snapshot.copy and the plan's snapshot step name it.
func TestAccClusterVersion_snapshotCopy(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	const patch = "3.5.16"
	bin35, binPatch := etcdBinary(t, v35), etcdBinary(t, patch)
	backup := sb.Hosts[0]
	// Under /opt, which each sandbox host overlays, so the copy stays inside
	// the host; the directory does not exist yet.
	const copyDir = "/opt/etcd-backups/ci runs"
	snapDir := t.TempDir()
	snapshot := func(copyTo string) string {
		return fmt.Sprintf("snapshot = {\n    directory = %q\n    copy_to   = %s\n  }", snapDir, copyTo)
	}
	good := snapshot(fmt.Sprintf(`{ host = %q, directory = %q }`, backup.Addr, copyDir))

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, bin35, good)},
			{
				Config:      versionConfig(sb, patch, binPatch, snapshot(fmt.Sprintf(`{ host = %q, directory = "backups/etcd" }`, backup.Addr))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Relative\s+snapshot\s+copy\s+directory.*snapshot\.copy_to\.directory\s+is\s+a\s+path\s+on\s+snapshot\.copy_to\.host\s+and\s+must\s+start\s+with\s+"/"`),
			},
			{
				Config:      versionConfig(sb, patch, binPatch, snapshot(fmt.Sprintf(`{ host = "backup@%s", directory = %q }`, backup.Addr, copyDir))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid\s+snapshot\s+copy\s+host.*names\s+a\s+user.*ssh\.user`),
			},
			{
				Config:      versionConfig(sb, patch, binPatch, snapshot(fmt.Sprintf(`{ host = %q, directory = %q, ssh_port = 0 }`, backup.Addr, copyDir))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Invalid\s+port.*snapshot\.copy_to\.ssh_port`),
			},
			{
				Config: versionConfig(sb, patch, binPatch, good),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListPartial(map[int]knownvalue.Check{
						1: knownvalue.StringExact(fmt.Sprintf("snapshot: from the leader to %s/, sha256 verified, mode 0600, before any member stops; copy to %s:%s/ over SSH, sha256 verified, mode 0600", snapDir, backup.Addr, copyDir)),
					})),
					plancheck.ExpectUnknownValue(res, tfjsonpath.New("last_snapshot")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, patch)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("last_snapshot").AtMapKey("copy"),
						knownvalue.StringRegexp(regexp.MustCompile(`^`+regexp.QuoteMeta(backup.Addr+":"+copyDir+"/")+`[0-9a-f]+-rev\d+-\d{8}T\d{6}Z\.db$`))),
				},
				Check: resource.ComposeTestCheckFunc(snapshotVerifies(t), copyVerifies(backup, copyDir)),
			},
		},
	})
}

// copyVerifies checks the copy last_snapshot.copy names, on the host, as
// the host sees it: same name, size and sha256 as the local snapshot, mode
// 0600, in a directory created 0700.
func copyVerifies(h *testhosts.Host, dir string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs := s.RootModule().Resources[res].Primary.Attributes
		local := attrs["last_snapshot.path"]
		remote := path.Join(dir, filepath.Base(local))
		if want := h.Addr + ":" + remote; attrs["last_snapshot.copy"] != want {
			return fmt.Errorf("last_snapshot.copy = %q, want %q", attrs["last_snapshot.copy"], want)
		}
		ctx := context.Background()
		fi, err := h.Stat(ctx, remote)
		if err != nil {
			return fmt.Errorf("the copy on %s: %w", h.Name, err)
		}
		if fi.Mode.Perm() != 0o600 || !fi.Mode.IsRegular() {
			return fmt.Errorf("the copy %s has mode %v, want a regular file with 0600", remote, fi.Mode)
		}
		if fi.SHA256 != attrs["last_snapshot.sha256"] {
			return fmt.Errorf("the copy %s has sha256 %s, last_snapshot.sha256 is %s", remote, fi.SHA256, attrs["last_snapshot.sha256"])
		}
		if st, err := os.Stat(local); err != nil || st.Size() != fi.Size {
			return fmt.Errorf("the copy %s has %d bytes, the local snapshot %s: %w", remote, fi.Size, local, err)
		}
		di, err := h.Stat(ctx, dir)
		if err != nil {
			return err
		}
		if !di.Mode.IsDir() || di.Mode.Perm() != 0o700 {
			return fmt.Errorf("the copy's directory %s has mode %v, want a directory with 0700", dir, di.Mode)
		}
		return nil
	}
}
