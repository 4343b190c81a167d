package resources_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// sudoConfig reaches the hosts as the non-root user with real sudo.
func sudoConfig(sb *testhosts.Sandbox, version, source string) string {
	return acctest.ProviderConfig(sb, fmt.Sprintf("user = %q", sb.SudoUser), "sudo = true") + fmt.Sprintf(`
resource "etcd_cluster_version" "test" {
  version  = %q
  members  = %s
  binary   = { source = %q }
  health   = { stable_for = "1s" }
  snapshot = { directory = %q }
}
`, version, acctest.Members(sb), source, sb.Dir+"/snapshots")
}

// TestAccClusterVersion_sudoUser: a non-root SSH user with passwordless sudo
// (the real sudo package) rolls a cluster, and the files it rewrote keep
// root's ownership. A sudo that wants a password or a terminal is refused at
// plan time, saying what to configure; nothing is touched.
func TestAccClusterVersion_sudoUser(t *testing.T) {
	t.Run("NOPASSWD", func(t *testing.T) {
		t.Parallel()
		sb := acctest.Sandbox(t, testhosts.Options{})
		bin16 := etcdBinary(t, "3.5.16")
		ctx := context.Background()
		var before testhosts.FileInfo
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.Factories,
			Steps: []resource.TestStep{
				{
					PreConfig: func() {
						var err error
						if before, err = sb.Hosts[0].Stat(ctx, sb.BinaryPath); err != nil {
							t.Fatal(err)
						}
					},
					Config: sudoConfig(sb, "3.5.16", bin16),
					Check: func(*terraform.State) error {
						for _, h := range sb.Hosts {
							if v, err := h.EtcdVersion(ctx); err != nil || v != "3.5.16" {
								t.Errorf("%s runs %q (%v), want 3.5.16", h.Name, v, err)
							}
							after, err := h.Stat(ctx, sb.BinaryPath)
							if err != nil || !sameMeta(after, before) {
								t.Errorf("%s: %s is %+v (%v) after a rollout through sudo, want the metadata of %+v", h.Name, sb.BinaryPath, after, err, before)
							}
						}
						return nil
					},
				},
			},
		})
	})
	for _, tc := range []struct{ policy, want string }{
		{"password", "sudo: a password is required. The provider runs sudo without a terminal and cannot type a password"},
		{"requiretty", "sudo: sorry, you must have a tty to run sudo. sudo is configured with requiretty"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			sb := acctest.Sandbox(t, testhosts.Options{SudoPolicy: tc.policy})
			bin16 := etcdBinary(t, "3.5.16")
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.Factories,
				Steps: []resource.TestStep{
					{Config: sudoConfig(sb, testhosts.DefaultEtcdVersion, bin16)},
					{
						Config:      sudoConfig(sb, "3.5.16", bin16),
						PlanOnly:    true,
						ExpectError: words(tc.want),
					},
				},
			})
		})
	}
}

// TestAccClusterVersion_wrapperRefused: a unit that starts etcd through a
// wrapper script is refused at plan time, naming both; the unit and the
// member are untouched.
func TestAccClusterVersion_wrapperRefused(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	bin16 := etcdBinary(t, "3.5.16")
	ctx := context.Background()
	h := sb.Hosts[1]
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: shapeConfig(sb, testhosts.DefaultEtcdVersion, bin16)},
			{
				PreConfig: func() {
					script := `printf '#!/bin/sh\nexec /usr/local/bin/etcd "$@"\n' > /usr/local/bin/etcd-wrapper && chmod 755 /usr/local/bin/etcd-wrapper &&
sed -i 's|^ExecStart=/usr/local/bin/etcd|ExecStart=/usr/local/bin/etcd-wrapper|' ` + sb.UnitFile + ` && systemctl daemon-reload && systemctl restart etcd`
					if out, err := h.Exec(ctx, script); err != nil {
						t.Fatalf("%v: %s", err, out)
					}
					if err := sb.WaitHealthy(ctx); err != nil {
						t.Fatal(err)
					}
				},
				Config:      shapeConfig(sb, "3.5.16", bin16),
				PlanOnly:    true,
				ExpectError: words("Member \"" + h.Name + "\": the unit starts /usr/local/bin/etcd-wrapper, which runs /usr/local/bin/etcd"),
			},
		},
	})
	if v, err := h.EtcdVersion(ctx); err != nil || v != testhosts.DefaultEtcdVersion {
		t.Errorf("%s runs %q (%v) after a refused plan", h.Name, v, err)
	}
	if out, _ := h.Exec(ctx, "ls /usr/local/bin"); strings.Contains(out, "etcd.3.5.16") {
		t.Errorf("%s: something was staged after a refused plan:\n%s", h.Name, out)
	}
}
