// Package acctest holds what the acceptance tests share: the provider
// factories, the real Terraform CLI, sandbox clusters and HCL rendering.
package acctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/provider"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// Factories serves the provider in-process to the real Terraform CLI.
var Factories = map[string]func() (tfprotov6.ProviderServer, error){
	"etcd": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// PreCheck skips the test, saying why, unless acceptance tests are enabled
// and the Terraform CLI is available; with TF_ACC set, a missing CLI fails.
func PreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make testacc does)")
	}
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		tf, err := testhosts.TerraformBinary()
		if err != nil {
			t.Fatalf("acceptance test: no Terraform CLI (TF_ACC is set, so a missing prerequisite fails; run make prereqs): %v", err)
		}
		t.Setenv("TF_ACC_TERRAFORM_PATH", tf)
	}
}

// Sandbox starts real hosts and an etcd cluster for one test.
func Sandbox(t *testing.T, opts testhosts.Options) *testhosts.Sandbox {
	t.Helper()
	PreCheck(t)
	return testhosts.ForTest(t, opts)
}

// ProviderConfig renders a provider block that reaches sb's hosts with its
// key and known_hosts file. extra is added inside the ssh block.
func ProviderConfig(sb *testhosts.Sandbox, extra ...string) string {
	return fmt.Sprintf(`
provider "etcd" {
  ssh = {
    private_key      = file(%q)
    known_hosts_file = %q
    %s
  }
}
`, sb.PrivateKeyFile, sb.KnownHostsFile, strings.Join(extra, "\n    "))
}

// Endpoints renders sb's client URLs as an HCL list.
func Endpoints(sb *testhosts.Sandbox) string {
	quoted := make([]string, len(sb.Hosts))
	for i, h := range sb.Hosts {
		quoted[i] = fmt.Sprintf("%q", h.ClientURL)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Members renders sb's hosts as the resource's members map.
func Members(sb *testhosts.Sandbox) string {
	var b strings.Builder
	b.WriteString("{\n")
	for _, h := range sb.Hosts {
		fmt.Fprintf(&b, "    %s = { host = %q, client_url = %q }\n", h.Name, h.Addr, h.ClientURL)
	}
	b.WriteString("  }")
	return b.String()
}

// BinaryVersion runs `etcd --version` and returns the server version.
func BinaryVersion(path string) (string, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s --version printed no version", path)
}

// BuildProvider builds the provider binary into dir and writes a Terraform
// CLI config that uses it through dev_overrides; it returns that file, for
// TF_CLI_CONFIG_FILE. Tests that run the terraform CLI directly use it.
func BuildProvider(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "terraform-provider-etcd"), "github.com/etcd-rollout/terraform-provider-etcd").CombinedOutput()
	if err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "terraformrc")
	body := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"etcd-rollout/etcd\" = %q\n  }\n  direct {}\n}\n", bin)
	if err := os.WriteFile(rc, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return rc
}
