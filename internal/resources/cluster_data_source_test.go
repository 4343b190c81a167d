package resources_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
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
			healthy = append(healthy,
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
