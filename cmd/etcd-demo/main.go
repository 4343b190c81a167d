// Command etcd-demo is `make demo`: it brings up a local 3-host sandbox
// cluster on etcd 3.5.21, writes a Terraform working directory for it, and
// runs a real terraform plan and apply of a version change — the 3.5 → 3.4
// downgrade when ETCD_BINARY_3_4 names a 3.4.32+ binary, otherwise a 3.5
// patch downgrade through the same machinery.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

const (
	startVersion = testhosts.DefaultEtcdVersion
	patchTarget  = "3.5.16"
	demoBlock    = 100
)

func main() {
	dir := flag.String("dir", ".demo", "working directory for the sandbox and the Terraform configuration")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *dir)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed: %v\n", err)
		os.Exit(1)
	}
}

func heading(format string, args ...any) {
	fmt.Printf("\n\033[1m== %s\033[0m\n", fmt.Sprintf(format, args...))
}

func run(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	tf, err := testhosts.TerraformBinary()
	if err != nil {
		return err
	}
	target, targetBin, why, err := chooseTarget()
	if err != nil {
		return err
	}

	heading("1. Sandbox: 3 hosts, each a real sshd on its own loopback address, etcd %s", startVersion)
	t0 := time.Now()
	sbDir := filepath.Join(dir, "sandbox")
	if old, err := testhosts.Load(sbDir); err == nil {
		fmt.Println("stopping the previous demo sandbox")
		_ = old.Close()
	}
	sb, err := testhosts.Start(ctx, testhosts.Options{Dir: sbDir, Block: demoBlock, EtcdVersion: startVersion, Detached: true})
	if err != nil {
		return err
	}
	for _, h := range sb.Hosts {
		fmt.Printf("  %s  ssh root@%s  client %s\n", h.Name, h.Addr, h.ClientURL)
	}
	fmt.Printf("  up in %s\n", time.Since(t0).Round(100*time.Millisecond))

	heading("2. Terraform working directory")
	work := filepath.Join(dir, "terraform")
	// A new sandbox is a new cluster: start from empty state, as a new
	// working directory would.
	for _, f := range []string{"terraform.tfstate", "terraform.tfstate.backup", "rollout.tfplan"} {
		_ = os.Remove(filepath.Join(work, f))
	}
	if err := writeWorkdir(work, sb, startVersion, targetBin); err != nil {
		return err
	}
	fmt.Printf("  %s/main.tf (provider built from this checkout, through dev_overrides)\n", work)
	if err := buildProvider(ctx, filepath.Join(dir, "bin")); err != nil {
		return err
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(dir, "terraformrc"), "TF_IN_AUTOMATION=1")

	heading("3. Adopt the running cluster (version = %q): nothing is touched", startVersion)
	if err := terraform(ctx, tf, work, env, "apply", "-auto-approve", "-no-color"); err != nil {
		return err
	}

	heading("4. Change version to %q: %s", target, why)
	if err := writeWorkdir(work, sb, target, targetBin); err != nil {
		return err
	}
	if err := terraform(ctx, tf, work, env, "plan", "-no-color", "-out=rollout.tfplan"); err != nil {
		return err
	}

	heading("5. terraform apply: the rolling replacement, one member at a time")
	t1 := time.Now()
	_ = os.Remove(filepath.Join(work, "provider.log"))
	applyEnv := append(slices.Clip(env), "TF_LOG_PROVIDER=INFO", "TF_LOG_PATH="+filepath.Join(work, "provider.log"))
	if err := terraform(ctx, tf, work, applyEnv, "apply", "-no-color", "rollout.tfplan"); err != nil {
		return err
	}
	fmt.Printf("  apply took %s; step timings from the provider's log:\n", time.Since(t1).Round(100*time.Millisecond))
	printStepLog(filepath.Join(work, "provider.log"))

	heading("6. Result")
	if err := terraform(ctx, tf, work, env, "output", "-no-color"); err != nil {
		return err
	}
	fmt.Printf("\nThe sandbox keeps running. Explore it:\n  cd %s && TF_CLI_CONFIG_FILE=%s %s plan\n  ssh -i %s -o UserKnownHostsFile=%s root@%s cat /etc/etcd/etcd.env\nStop it with: make demo-down\n",
		work, filepath.Join(dir, "terraformrc"), tf, sb.PrivateKeyFile, sb.KnownHostsFile, sb.Hosts[0].Addr)
	return nil
}

// chooseTarget picks the real downgrade when a 3.4.32+ binary is given.
func chooseTarget() (version, binary, why string, err error) {
	if p := os.Getenv("ETCD_BINARY_3_4"); p != "" {
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			return "", "", "", fmt.Errorf("ETCD_BINARY_3_4=%s does not run: %w", p, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "etcd Version: "); ok {
				return strings.TrimSpace(v), p, "the 3.5 → 3.4 downgrade, with the binary from ETCD_BINARY_3_4", nil
			}
		}
		return "", "", "", fmt.Errorf("ETCD_BINARY_3_4=%s: cannot read its version", p)
	}
	bin, err := testhosts.EtcdBinary(patchTarget)
	if err != nil {
		return "", "", "", err
	}
	return patchTarget, bin, "a 3.5 patch downgrade (set ETCD_BINARY_3_4 to a 3.4.32+ etcd binary for the 3.5 → 3.4 downgrade)", nil
}

func writeWorkdir(work string, sb *testhosts.Sandbox, version, binary string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	var members strings.Builder
	for _, h := range sb.Hosts {
		fmt.Fprintf(&members, "    %s = { host = %q, client_url = %q }\n", h.Name, h.Addr, h.ClientURL)
	}
	mainTF := fmt.Sprintf(`terraform {
  required_providers {
    etcd = { source = "etcd-rollout/etcd" }
  }
}

provider "etcd" {
  ssh = {
    private_key      = file(%q)
    known_hosts_file = %q
  }
}

resource "etcd_cluster_version" "demo" {
  version = %q

  members = {
%s  }

  binary = {
    path   = "/usr/local/bin/etcd"
    source = %q
  }

  health = { stable_for = "2s" }
}

data "etcd_cluster" "demo" {
  endpoints  = [for m in etcd_cluster_version.demo.members : m.client_url]
  depends_on = [etcd_cluster_version.demo]
}

output "member_versions" { value = etcd_cluster_version.demo.member_versions }
output "cluster_version" { value = data.etcd_cluster.demo.cluster_version }
output "leader" { value = data.etcd_cluster.demo.leader }
output "last_snapshot" { value = etcd_cluster_version.demo.last_snapshot }
`, sb.PrivateKeyFile, sb.KnownHostsFile, version, members.String(), binary)
	return os.WriteFile(filepath.Join(work, "main.tf"), []byte(mainTF), 0o644)
}

func buildProvider(ctx context.Context, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "terraform-provider-etcd"), ".")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the provider: %w", err)
	}
	rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"etcd-rollout/etcd\" = %q\n  }\n  direct {}\n}\n", bin)
	return os.WriteFile(filepath.Join(filepath.Dir(bin), "terraformrc"), []byte(rc), 0o644)
}

func terraform(ctx context.Context, tf, dir string, env []string, args ...string) error {
	fmt.Printf("$ terraform %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, tf, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// A cancelled demo interrupts terraform like Ctrl-C would, so the
	// provider can finish the member it is on.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Minute
	return cmd.Run()
}

// printStepLog shows the provider's INFO lines about steps as a short table:
// step, member, message and the durations the provider measured.
func printStepLog(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	field := regexp.MustCompile(`(\w+)=("[^"]*"|\S+)`)
	for _, line := range strings.Split(string(data), "\n") {
		i := strings.Index(line, "provider.terraform-provider-etcd:")
		if !strings.Contains(line, "[INFO]") || i < 0 || !strings.Contains(line, "step=") {
			continue
		}
		rest := line[i+len("provider.terraform-provider-etcd:"):]
		msg, kv, _ := strings.Cut(rest, ":")
		fields := map[string]string{}
		for _, m := range field.FindAllStringSubmatch(kv, -1) {
			fields[m[1]] = strings.Trim(m[2], `"`)
		}
		var timing []string
		for _, k := range []string{"duration", "stop_to_healthy", "gate_duration"} {
			if v := fields[k]; v != "" {
				timing = append(timing, strings.ReplaceAll(k, "_", " ")+" "+roundDuration(v))
			}
		}
		fmt.Printf("  %-12s %-4s %-34s %s\n", fields["step"], fields["member"], strings.TrimSpace(msg), strings.Join(timing, ", "))
	}
}

func roundDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return d.Round(10 * time.Millisecond).String()
}
