package resources_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// minimalConfig is what an operator writes after importing: version and
// members, the attributes Read can see.
func minimalConfig(sb *testhosts.Sandbox, version string) string {
	return acctest.ProviderConfig(sb) + fmt.Sprintf(`
resource "etcd_cluster_version" "test" {
  version = %q
  members = %s
}
`, version, acctest.Members(sb))
}

// Import by client URLs discovers the members, through an import block
// (the plan shows a no-op import, as examples/resources/etcd_cluster_version/
// import-by-string-id.tf does it) and through `terraform import`; a plan with
// matching configuration afterwards is empty.
func TestAccClusterVersion_import(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	importID := sb.Hosts[0].ClientURL + "," + sb.Hosts[1].ClientURL
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				// An import block: the framework appends
				// import { to = etcd_cluster_version.test, id = importID }
				// and fails unless the plan imports it with no change.
				Config:          minimalConfig(sb, v35),
				ResourceName:    res,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   importID,
			},
			{
				Config:             minimalConfig(sb, v35),
				ResourceName:       res,
				ImportState:        true,
				ImportStateId:      importID,
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d resources, want 1", len(states))
					}
					attrs := states[0].Attributes
					if attrs["version"] != v35 {
						return fmt.Errorf("version = %q, want %q", attrs["version"], v35)
					}
					for _, h := range sb.Hosts {
						if got := attrs["members."+h.Name+".client_url"]; got != h.ClientURL {
							return fmt.Errorf("members.%s.client_url = %q, want %q", h.Name, got, h.ClientURL)
						}
						if got := attrs["members."+h.Name+".host"]; got != h.Addr {
							return fmt.Errorf("members.%s.host = %q, want %q", h.Name, got, h.Addr)
						}
						if got := attrs["member_versions."+h.Name]; got != v35 {
							return fmt.Errorf("member_versions.%s = %q, want %q", h.Name, got, v35)
						}
					}
					return nil
				},
			},
			{
				Config:   minimalConfig(sb, v35),
				PlanOnly: true, // fails if the plan is not empty
			},
			{
				Config: minimalConfig(sb, v35),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("cluster_version"), knownvalue.StringExact("3.5.0")),
				},
			},
		},
	})
}

// The drift alarm operators run: `terraform plan -detailed-exitcode` exits
// 0 while the cluster matches and 2 once a member was changed by hand. This
// runs the real CLI against the provider binary, as a scheduled job would.
func TestAccClusterVersion_detailedExitcode(t *testing.T) {
	sb := acctest.Sandbox(t, testhosts.Options{})
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	work := t.TempDir()
	rc := acctest.BuildProvider(t, work)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(`terraform {
  required_providers {
    etcd = { source = "etcd-rollout/etcd" }
  }
}
`+minimalConfig(sb, testhosts.DefaultEtcdVersion)), 0o644); err != nil {
		t.Fatal(err)
	}
	terraform := func(args ...string) (int, string) {
		cmd := exec.Command(tf, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatalf("terraform %v: %v", args, err)
		}
		return 0, string(out)
	}
	if code, out := terraform("apply", "-auto-approve", "-no-color"); code != 0 {
		t.Fatalf("adopting apply exited %d:\n%s", code, out)
	}
	if code, out := terraform("plan", "-detailed-exitcode", "-no-color"); code != 0 {
		t.Fatalf("plan of a matching cluster exited %d, want 0:\n%s", code, out)
	}
	swapBinary(t, sb, sb.Host("s2"), "3.5.16")
	code, out := terraform("plan", "-detailed-exitcode", "-no-color")
	if code != 2 {
		t.Fatalf("plan after drift exited %d, want 2:\n%s", code, out)
	}
	if want := `"mixed: s1=` + testhosts.DefaultEtcdVersion + ` s2=3.5.16 s3=` + testhosts.DefaultEtcdVersion + `"`; !strings.Contains(out, want) {
		t.Errorf("the drift plan does not show the mix %s:\n%s", want, out)
	}
}
