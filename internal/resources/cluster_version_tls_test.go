package resources_test

import (
	"fmt"
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

// withProvider swaps versionConfig's provider block for one with attrs
// (tls, username, password) beside ssh.
func withProvider(sb *testhosts.Sandbox, config string, attrs ...string) string {
	return strings.Replace(config, acctest.ProviderConfig(sb), acctest.ProviderConfigWith(sb, attrs), 1)
}

// clusterAfter is the data source, read once the resource is applied.
func clusterAfter(sb *testhosts.Sandbox) string {
	return fmt.Sprintf(`
data "etcd_cluster" "test" {
  endpoints  = %s
  depends_on = [etcd_cluster_version.test]
}
`, acctest.Endpoints(sb))
}

// A cluster with TLS on both ports and client-cert-auth: the provider reads
// it with its tls settings, and a patch rollout passes every gate over TLS
// while a client holding the client certificate keeps writing.
func TestAccClusterVersion_tls(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{TLS: true})
	v35 := testhosts.DefaultEtcdVersion
	const older = "3.5.16"
	bin35, binOld := etcdBinary(t, v35), etcdBinary(t, older)
	snap := fmt.Sprintf(`snapshot = { directory = %q }`, t.TempDir())
	tlsAttr := acctest.TLSAttribute(sb)
	config := func(version, source string) string {
		return withProvider(sb, versionConfig(sb, version, source, snap), tlsAttr) + clusterAfter(sb)
	}
	dataChecks := func(version string) []statecheck.StateCheck {
		var checks []statecheck.StateCheck
		for _, h := range sb.Hosts {
			checks = append(checks,
				statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "healthy"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "version"), knownvalue.StringExact(version)),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "client_urls"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("https://" + h.Addr + ":2379")})),
				statecheck.ExpectKnownValue("data.etcd_cluster.test", memberPath(h.Name, "peer_urls"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("https://" + h.Addr + ":2380")})),
			)
		}
		return append(checks,
			statecheck.ExpectKnownValue("data.etcd_cluster.test", tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
			statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, version)),
			statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(version)),
		)
	}
	writer := acctest.StartTLSWriter(t, sb, 4)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config:            config(v35, bin35),
				ConfigStateChecks: dataChecks(v35),
			},
			{
				Config: config(older, binOld),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(res, tfjsonpath.New("rollout"), knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.StringExact("preflight: 3/3 members healthy on " + v35 + ", no alarms, patch change to " + older),
					})),
				}},
				ConfigStateChecks: dataChecks(older),
				Check: resource.ComposeTestCheckFunc(snapshotVerifies(t), func(*terraform.State) error {
					checkHostFiles(t, sb, older, v35)
					return nil
				}),
			},
		},
	})
	report := writer.Stop()
	t.Logf("client with the client certificate during the rollout: %s", report)
	writer.Verify(t)
}

// Against a TLS cluster, a provider without tls, or with the CA but without
// the client certificate, fails the plan and the data source read with the
// TLS reason, not a bare timeout.
func TestAccClusterVersion_tlsSettingsMissing(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{TLS: true})
	bin := etcdBinary(t, "3.5.16")
	caOnly := fmt.Sprintf("tls = { ca_cert = file(%q) }", sb.CACertFile)
	unknownCA := regexp.MustCompile(`(?s)no etcd endpoint\s+answered.*` + words("certificate signed by unknown authority").String()[4:])
	noClientCert := regexp.MustCompile(`(?s)no etcd endpoint\s+answered.*` + words("certificate required").String()[4:])
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config:      versionConfig(sb, "3.5.16", bin),
				PlanOnly:    true,
				ExpectError: unknownCA,
			},
			{
				Config:      dataSourceConfig(sb),
				PlanOnly:    true,
				ExpectError: unknownCA,
			},
			{
				Config:      withProvider(sb, versionConfig(sb, "3.5.16", bin), caOnly),
				PlanOnly:    true,
				ExpectError: noClientCert,
			},
		},
	})
}

// A cluster with auth enabled: the rollout authenticates for its snapshot,
// its linearizable reads and its gates; without credentials the plan says
// what is missing; and the downgrade to 3.4 is refused with the guide's
// advice.
func TestAccClusterVersion_auth(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	enableAuth(t, sb) // user root, password rootpw
	v35 := testhosts.DefaultEtcdVersion
	const older = "3.5.16"
	binOld := etcdBinary(t, older)
	src34, v34 := binary34(t)
	snap := fmt.Sprintf(`snapshot = { directory = %q }`, t.TempDir())
	creds := []string{`username = "root"`, `password = "rootpw"`}
	config := func(version, source string) string {
		return withProvider(sb, versionConfig(sb, version, source, snap), creds...)
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config: config(v35, binOld),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, v35)),
				},
			},
			{
				// Without credentials the plan says what is missing.
				Config:      versionConfig(sb, older, binOld, snap),
				PlanOnly:    true,
				ExpectError: words("Auth is enabled and the provider has no username"),
			},
			{
				// A user without the root role passes every read, but the
				// snapshot needs root: refused at plan time, naming what is
				// missing, not at the snapshot with a hint about its directory.
				PreConfig: func() { addUser(t, sb, "deploy", "deploypw", "readwrite") },
				Config:    withProvider(sb, versionConfig(sb, older, binOld, snap), `username = "deploy"`, `password = "deploypw"`),
				PlanOnly:  true,
				ExpectError: regexp.MustCompile(`(?s)Missing permission.*` + words(`user "deploy" has roles readwrite, not root`).String()[4:] +
					`.*` + words("etcdctl user grant-role deploy root").String()[4:]),
			},
			{
				Config: config(older, binOld),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(older)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				},
				Check: snapshotVerifies(t),
			},
			{
				Config:      config(v34, src34),
				PlanOnly:    true,
				ExpectError: words("etcd cannot be downgraded from 3.5 to 3.4 while auth is enabled"),
			},
			{
				Config:      config(v34, src34),
				PlanOnly:    true,
				ExpectError: words("Disable auth (etcdctl auth disable) and delete all users and roles first"),
			},
		},
	})
}

// addUser adds a user with one role that may read and write every key,
// as an operator gives an application its own user: everything but root.
func addUser(t *testing.T, sb *testhosts.Sandbox, name, password, role string) {
	t.Helper()
	etcdctlEach(t, sb, 5,
		[]string{"--user=root:rootpw", "role", "add", role},
		[]string{"--user=root:rootpw", "role", "grant-permission", role, "--prefix=true", "readwrite", ""},
		[]string{"--user=root:rootpw", "user", "add", name, "--new-user-password=" + password},
		[]string{"--user=root:rootpw", "user", "grant-role", name, role})
}
