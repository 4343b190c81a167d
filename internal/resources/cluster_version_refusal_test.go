package resources_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// words matches phrases across Terraform's line wrapping of diagnostics.
func words(s string) *regexp.Regexp {
	parts := strings.Fields(s)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, `\s+`))
}

// Every refusal the plan makes, each against the real cluster, each with its
// own error. All of them are plan-time: nothing is applied.
func TestAccClusterVersion_refusals(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	patch := etcdBinary(t, "3.5.16")
	src34, v34 := binary34(t)

	// members config with one extra, or one missing.
	extra := strings.Replace(acctest.Members(sb), "{\n", "{\n    s9 = { host = \"127.0.0.99\", client_url = \"http://127.0.0.99:2379\" }\n", 1)
	missing := acctest.Members(sb)
	missing = regexp.MustCompile(`(?m)^\s*s3 = .*\n`).ReplaceAllString(missing, "")

	withMembers := func(members string) string {
		return strings.Replace(versionConfig(sb, v35, patch), acctest.Members(sb), members, 1)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, patch)}, // adopt
			{
				Config:      versionConfig(sb, "3.4.23", patch),
				PlanOnly:    true,
				ExpectError: words("3.4.32"),
			},
			{
				Config:      versionConfig(sb, "3.3.27", patch),
				PlanOnly:    true,
				ExpectError: words("Version change not allowed"),
			},
			{
				Config:      versionConfig(sb, "3.6.5", patch),
				PlanOnly:    true,
				ExpectError: words("Version change not allowed"),
			},
			{
				Config:      withMembers(extra),
				PlanOnly:    true,
				ExpectError: words(`members has "s9", but the cluster has no member of that name`),
			},
			{
				Config:      withMembers(missing),
				PlanOnly:    true,
				ExpectError: words(`The cluster has a member "s3"`),
			},
			{
				Config:      strings.Replace(versionConfig(sb, "3.5.16", patch), sb.Host("s2").ClientURL, "http://"+sb.Host("s2").Addr+":2999", 1),
				PlanOnly:    true,
				ExpectError: words(`members["s2"].client_url is`),
			},
			{
				// The unit reads /etc/etcd/etcd.env: a config_file that says
				// otherwise is refused, naming both.
				Config:      versionConfig(sb, v34, src34, `service = { config_file = "/etc/etcd/missing.env" }`),
				PlanOnly:    true,
				ExpectError: words(`service.config_file is "/etc/etcd/missing.env", but etcd takes its settings from /etc/etcd/etcd.env`),
			},
			{
				// A copy-paste slip: s2 mapped to s1's host. Replacing s2
				// would stop s1.
				Config:      strings.Replace(versionConfig(sb, "3.5.16", patch), `host = "`+sb.Host("s2").Addr+`"`, `host = "`+sb.Host("s1").Addr+`"`, 1),
				PlanOnly:    true,
				ExpectError: words(`runs as member "s1", not "s2". Check members["s2"].host`),
			},
			{
				Config:      versionConfig(sb, "3.5.16", "/nonexistent/etcd-3.5.16"),
				PlanOnly:    true,
				ExpectError: words("Binary source not readable"),
			},
			{
				Config:      strings.Replace(versionConfig(sb, "3.5.16", patch), `source = `, `sha256 = "`+strings.Repeat("ab", 32)+`"`+"\n    source = ", 1),
				PlanOnly:    true,
				ExpectError: words("Binary checksum mismatch"),
			},
			{
				// A member that is down is not refused at plan time (see
				// TestAccClusterVersion_memberDown): plans keep working
				// during an incident, and apply refuses.
				PreConfig:   func() { enableAuth(t, sb) },
				Config:      versionConfig(sb, v34, src34),
				PlanOnly:    true,
				ExpectError: words("etcd cannot be downgraded from 3.5 to 3.4 while auth is enabled"),
			},
		},
	})
}

// enableAuth turns auth on the way an operator would, with etcdctl.
func enableAuth(t *testing.T, sb *testhosts.Sandbox) { enableAuthPassword(t, sb, "rootpw") }

// An unknown host key is refused, showing the key's fingerprint.
func TestAccClusterVersion_unknownHostKey(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	patch := etcdBinary(t, "3.5.16")
	// known_hosts that knows only s1: s2 and s3 are unknown hosts.
	known, err := os.ReadFile(sb.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	partial := t.TempDir() + "/known_hosts"
	if err := os.WriteFile(partial, []byte(strings.SplitAfter(string(known), "\n")[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(versionConfig(sb, "3.5.16", patch), fmt.Sprintf("%q", sb.KnownHostsFile), fmt.Sprintf("%q", partial), 1)
	cfgAdopt := strings.Replace(versionConfig(sb, testhosts.DefaultEtcdVersion, patch), fmt.Sprintf("%q", sb.KnownHostsFile), fmt.Sprintf("%q", partial), 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: cfgAdopt},
			{
				Config:      cfg,
				PlanOnly:    true,
				ExpectError: words(sb.Host("s2").HostKeyFingerprint),
			},
		},
	})
}
