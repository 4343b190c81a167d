package functions_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// The functions need no cluster and no provider configuration: the
// configurations call them in outputs, the way a module would.

func TestAccFunctions_versionTransition(t *testing.T) {
	requireFunctionsCLI(t)
	// The expected result; allowed and message are CheckTransition's.
	transition := func(from, to, kind, method string) knownvalue.Check {
		f := mustVersion(t, from)
		message := ""
		if _, err := etcdconf.CheckTransition(f, mustVersion(t, to)); err != nil {
			message = err.Error()
		}
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"allowed":         knownvalue.Bool(message == ""),
			"kind":            knownvalue.StringExact(kind),
			"method":          knownvalue.StringExact(method),
			"message":         knownvalue.StringExact(message),
			"allowed_targets": knownvalue.StringExact(etcdconf.AllowedTargets(f)),
		})
	}
	_, refusal := etcdconf.CheckTransition(mustVersion(t, "3.5.21"), mustVersion(t, "3.7.3"))
	_, parseErr := etcdconf.ParseVersion("v3.5.21")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config: `
output "same" {
  value = provider::etcd::version_transition("3.6.16", "3.6.16")
}
output "patch" {
  value = provider::etcd::version_transition("3.5.21", "3.5.35")
}
output "upgrade" {
  value = provider::etcd::version_transition("3.5.26", "3.6.16")
}
output "downgrade_34" {
  value = provider::etcd::version_transition("3.5.21", "3.4.34")
}
output "downgrade_api" {
  value = provider::etcd::version_transition("3.7.3", "3.6.11")
}
output "refused" {
  value = provider::etcd::version_transition("3.5.21", "3.7.3")
}
output "refused_below_minimum" {
  value = provider::etcd::version_transition("3.6.16", "3.5.21")
}
output "refused_message" {
  value = provider::etcd::version_transition("3.5.21", "3.7.3").message
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("same", transition("3.6.16", "3.6.16", "none", "none")),
					statecheck.ExpectKnownOutputValue("patch", transition("3.5.21", "3.5.35", "patch", "rolling")),
					statecheck.ExpectKnownOutputValue("upgrade", transition("3.5.26", "3.6.16", "upgrade", "rolling")),
					statecheck.ExpectKnownOutputValue("downgrade_34", transition("3.5.21", "3.4.34", "downgrade", "rolling")),
					statecheck.ExpectKnownOutputValue("downgrade_api", transition("3.7.3", "3.6.11", "downgrade", "downgrade-api")),
					statecheck.ExpectKnownOutputValue("refused", transition("3.5.21", "3.7.3", "upgrade", "none")),
					statecheck.ExpectKnownOutputValue("refused_below_minimum", transition("3.6.16", "3.5.21", "downgrade", "none")),
				},
				Check: resource.TestCheckOutput("refused_message", refusal.Error()),
			},
			{
				// The use it is for: a precondition that stops the run with
				// the plan's own message.
				Config: `
locals {
  from = "3.5.21"
  to   = "3.7.3"
}
output "target" {
  value = local.to
  precondition {
    condition     = provider::etcd::version_transition(local.from, local.to).allowed
    error_message = provider::etcd::version_transition(local.from, local.to).message
  }
}
`,
				ExpectError: messageRE(refusal.Error()),
			},
			{
				Config: `
output "bad" {
  value = provider::etcd::version_transition("v3.5.21", "3.6.16")
}
`,
				ExpectError: messageRE(`"from"`, parseErr.Error()),
			},
		},
	})
}

func TestAccFunctions_versionPath(t *testing.T) {
	requireFunctionsCLI(t)
	list := func(versions ...string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(versions))
		for i, v := range versions {
			checks[i] = knownvalue.StringExact(v)
		}
		return knownvalue.ListExact(checks)
	}
	_, refusal := etcdconf.CheckTransition(mustVersion(t, "3.7.3"), mustVersion(t, "3.5.21"))
	_, parseErr := etcdconf.ParseVersion("3.7")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config: `
output "up" {
  value = provider::etcd::version_path("3.5.21", "3.7.3")
}
output "up_from_34" {
  value = provider::etcd::version_path("3.4.23", "3.6.16")
}
output "down" {
  value = provider::etcd::version_path("3.7.3", "3.5.26")
}
output "down_to_34" {
  value = provider::etcd::version_path("3.7.3", "3.4.34")
}
output "one_step" {
  value = provider::etcd::version_path("3.6.16", "3.7.3")
}
output "same" {
  value = provider::etcd::version_path("3.6.16", "3.6.16")
}
output "first" {
  value = provider::etcd::version_path("3.5.21", "3.7.3")[0]
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("up", list("3.5.26", "3.6.11", "3.7.3")),
					statecheck.ExpectKnownOutputValue("up_from_34", list("3.5.26", "3.6.16")),
					statecheck.ExpectKnownOutputValue("down", list("3.6.11", "3.5.26")),
					statecheck.ExpectKnownOutputValue("down_to_34", list("3.6.11", "3.5.26", "3.4.34")),
					statecheck.ExpectKnownOutputValue("one_step", list("3.7.3")),
					statecheck.ExpectKnownOutputValue("same", list()),
				},
				Check: resource.TestCheckOutput("first", "3.5.26"),
			},
			{
				Config: `
output "impossible" {
  value = provider::etcd::version_path("3.7.3", "3.5.21")
}
`,
				ExpectError: messageRE(refusal.Error()),
			},
			{
				Config: `
output "bad" {
  value = provider::etcd::version_path("3.6.16", "3.7")
}
`,
				ExpectError: messageRE(`"to"`, parseErr.Error()),
			},
		},
	})
}

// messageRE matches the given texts in order, however the CLI wraps its
// lines.
func messageRE(texts ...string) *regexp.Regexp {
	parts := make([]string, len(texts))
	for i, text := range texts {
		words := strings.Fields(text)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(strings.Join(parts, `(?s:.*)`))
}

// requireFunctionsCLI skips without TF_ACC, like every acceptance test, and
// otherwise fails unless TF_ACC_TERRAFORM_PATH is a CLI with provider-defined
// functions: Terraform 1.8 or later, OpenTofu 1.7 or later. It does not skip
// on an older CLI, so that a run that proves nothing cannot pass.
func requireFunctionsCLI(t *testing.T) {
	t.Helper()
	acctest.PreCheck(t)
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	cmd := exec.Command(cli, "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s version: %v", cli, err)
	}
	name, version, major, minor, ok := cliVersion(string(out))
	if !ok {
		t.Fatalf("%s version printed %q, which names neither Terraform nor OpenTofu", cli, out)
	}
	want := map[string][2]int{"Terraform": {1, 8}, "OpenTofu": {1, 7}}[name]
	if major < want[0] || (major == want[0] && minor < want[1]) {
		t.Fatalf("provider-defined functions need Terraform 1.8 or later, or OpenTofu 1.7 or later, but TF_ACC_TERRAFORM_PATH=%s is %s %s: "+
			"set TF_ACC_TERRAFORM_PATH to a newer CLI to run these tests", cli, name, version)
	}
}

// cliVersionRE finds the version line, which OpenTofu can print after a
// warning about the CLI configuration.
var cliVersionRE = regexp.MustCompile(`(?m)^(Terraform|OpenTofu) v((\d+)\.(\d+)\.\S+)`)

func cliVersion(out string) (name, version string, major, minor int, ok bool) {
	m := cliVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", "", 0, 0, false
	}
	major, _ = strconv.Atoi(m[3])
	minor, _ = strconv.Atoi(m[4])
	return m[1], m[2], major, minor, true
}

func TestCLIVersion(t *testing.T) {
	for _, tc := range []struct {
		out, name, version string
		major, minor       int
	}{
		{"Terraform v1.8.5\non linux_amd64\n", "Terraform", "1.8.5", 1, 8},
		{"Terraform v1.10.0-rc1\non linux_amd64\n", "Terraform", "1.10.0-rc1", 1, 10},
		{"OpenTofu v1.12.6\non linux_amd64\n", "OpenTofu", "1.12.6", 1, 12},
		{"\nWarning: Unable to open CLI configuration file\n\nThe CLI configuration file at \"/root/.terraformrc\" does not exist.\nOpenTofu v1.7.0\non linux_amd64\n", "OpenTofu", "1.7.0", 1, 7},
	} {
		name, version, major, minor, ok := cliVersion(tc.out)
		if !ok || name != tc.name || version != tc.version || major != tc.major || minor != tc.minor {
			t.Errorf("cliVersion(%q) = %s %s (%d.%d) %v", tc.out, name, version, major, minor, ok)
		}
	}
	if _, _, _, _, ok := cliVersion("something else"); ok {
		t.Error("cliVersion accepted a line that names no CLI")
	}
}

func mustVersion(t *testing.T, s string) etcdconf.Version {
	t.Helper()
	v, err := etcdconf.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
