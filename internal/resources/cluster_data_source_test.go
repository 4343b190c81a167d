package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

func dataSourceConfig(sb *testhosts.Sandbox) string {
	return acctest.ProviderConfig(sb) + fmt.Sprintf(`
data "etcd_cluster" "test" {
  endpoints = %s
}
`, acctest.Endpoints(sb))
}

func memberPath(name, attr string) tfjsonpath.Path {
	return tfjsonpath.New("members").AtMapKey(name).AtMapKey(attr)
}

// Reads a real 3-member cluster, then stops one member for real and reads
// it again: the stopped member is reported unhealthy, not as an error.
func TestAccClusterDataSource_readAndMemberDown(t *testing.T) {
	for _, version := range []string{testhosts.DefaultEtcdVersion, "3.4.23"} {
		t.Run(version, func(t *testing.T) {
			sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: version})
			healthy := make([]statecheck.StateCheck, 0, 12)
			for _, h := range sb.Hosts {
				healthy = append(healthy,
					statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "healthy"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "version"), knownvalue.StringExact(version)),
					statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "client_urls"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(h.ClientURL)})),
					statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "is_learner"), knownvalue.Bool(false)),
				)
			}
			// Members before 3.6 cannot say whether a downgrade runs.
			healthy = append(healthy,
				statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath("s1", "storage_version"), knownvalue.Null()),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("downgrade_in_progress"), knownvalue.Null()),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("members"), knownvalue.MapSizeExact(3)),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("cluster_version"), knownvalue.StringExact(version[:3]+".0")),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]+$`))),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("leader"), knownvalue.StringRegexp(regexp.MustCompile(`^s[123]$`))),
			)
			down := sb.Hosts[2]
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.Factories,
				Steps: []resource.TestStep{
					{
						Config:            dataSourceConfig(sb),
						ConfigStateChecks: healthy,
					},
					{
						PreConfig: func() {
							if err := down.StopEtcd(context.Background()); err != nil {
								t.Fatalf("stopping %s: %v", down.Name, err)
							}
						},
						Config: dataSourceConfig(sb),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(down.Name, "healthy"), knownvalue.Bool(false)),
							statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(down.Name, "version"), knownvalue.Null()),
							statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(down.Name, "db_size"), knownvalue.Null()),
							statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(sb.Hosts[0].Name, "healthy"), knownvalue.Bool(true)),
							statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("members"), knownvalue.MapSizeExact(3)),
						},
					},
				},
			})
		})
	}
}

// With every member stopped, the read fails and lists what it tried.
func TestAccClusterDataSource_noEndpoint(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{Members: 1})
	if err := sb.Hosts[0].StopEtcd(context.Background()); err != nil {
		t.Fatal(err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{{
			Config:      dataSourceConfig(sb),
			ExpectError: regexp.MustCompile(`(?s)no etcd endpoint\s+answered.*` + regexp.QuoteMeta(sb.Hosts[0].ClientURL)),
		}},
	})
}

// On etcd 3.6 every member reports its storage version and the downgrade
// job it knows of. A real downgrade job is enabled with etcdctl, as an
// operator starts one, read, and cancelled.
func TestAccClusterDataSource_storageAndDowngrade(t *testing.T) {
	const v36 = "3.6.5"
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: v36})
	ds := "data.etcd_cluster.test"
	each := func(attr string, want knownvalue.Check) []statecheck.StateCheck {
		var out []statecheck.StateCheck
		for _, h := range sb.Hosts {
			out = append(out, statecheck.ExpectKnownValue(ds, memberPath(h.Name, attr), want))
		}
		return out
	}
	idle := append(each("storage_version", knownvalue.StringExact("3.6.0")),
		append(each("downgrade_target_version", knownvalue.Null()),
			statecheck.ExpectKnownValue(ds, tfjsonpath.New("downgrade_in_progress"), knownvalue.Bool(false)),
			statecheck.ExpectKnownValue(ds, tfjsonpath.New("downgrade_target_version"), knownvalue.Null()))...)
	downgrading := append(each("downgrade_target_version", knownvalue.StringExact("3.5.0")),
		statecheck.ExpectKnownValue(ds, tfjsonpath.New("downgrade_in_progress"), knownvalue.Bool(true)),
		statecheck.ExpectKnownValue(ds, tfjsonpath.New("downgrade_target_version"), knownvalue.StringExact("3.5.0")))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: dataSourceConfig(sb), ConfigStateChecks: idle},
			{
				PreConfig: func() {
					etcdctlEach(t, sb, 3, []string{"downgrade", "enable", "3.5"})
					waitFor(t, time.Minute, func() error { return downgradeSeenByAll(sb, true) })
				},
				Config:            dataSourceConfig(sb),
				ConfigStateChecks: downgrading,
			},
			{
				PreConfig: func() {
					etcdctlEach(t, sb, 3, []string{"downgrade", "cancel"})
					waitFor(t, time.Minute, func() error { return downgradeSeenByAll(sb, false) })
				},
				Config:            dataSourceConfig(sb),
				ConfigStateChecks: append(each("downgrade_target_version", knownvalue.Null()), statecheck.ExpectKnownValue(ds, tfjsonpath.New("downgrade_in_progress"), knownvalue.Bool(false))),
			},
		},
	})
}

// downgradeSeenByAll checks that every member reports the downgrade job as
// enabled (or not): each applies the change when raft brings it.
func downgradeSeenByAll(sb *testhosts.Sandbox, enabled bool) error {
	c, err := etcdx.New(etcdx.Config{Endpoints: sb.ClientURLs()})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	view, err := c.Observe(context.Background())
	if err != nil {
		return err
	}
	for _, m := range view.Members {
		if !m.DowngradeKnown || m.DowngradeEnabled != enabled {
			return fmt.Errorf("%s reports downgrade enabled=%v (known %v)", m.Name, m.DowngradeEnabled, m.DowngradeKnown)
		}
	}
	return nil
}

func waitFor(t *testing.T, d time.Duration, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("not within %s: %v", d, err)
}
