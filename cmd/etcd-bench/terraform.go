package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// buildProvider builds the provider from this checkout into dir/bin and
// writes dir/terraformrc, which points Terraform at it through dev_overrides,
// as cmd/etcd-demo does.
func buildProvider(ctx context.Context, dir string) (rc string, err error) {
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(bin, "terraform-provider-etcd"), "github.com/etcd-rollout/terraform-provider-etcd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the provider: %w\n%s", err, out)
	}
	rc = filepath.Join(dir, "terraformrc")
	body := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"etcd-rollout/etcd\" = %q\n  }\n  direct {}\n}\n", bin)
	return rc, os.WriteFile(rc, []byte(body), 0o644)
}

// tfConfig is one Terraform working directory: one etcd_cluster_version per
// cluster, the version a variable so a version change needs no new file.
type tfConfig struct {
	Dir            string
	Clusters       []*testhosts.Sandbox
	PrivateKeyFile string // authorised on every cluster's hosts
	KnownHostsFile string // every cluster's host keys
	TargetBinary   string
	StableFor      time.Duration
}

func (c tfConfig) write() error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `terraform {
  required_providers {
    etcd = { source = "etcd-rollout/etcd" }
  }
}

variable "etcd_version" { type = string }

provider "etcd" {
  ssh = {
    private_key      = file(%q)
    known_hosts_file = %q
  }
}
`, c.PrivateKeyFile, c.KnownHostsFile)
	for i, sb := range c.Clusters {
		fmt.Fprintf(&b, "\nresource \"etcd_cluster_version\" \"c%d\" {\n  version = var.etcd_version\n\n  members = {\n", i)
		for _, h := range sb.Hosts {
			fmt.Fprintf(&b, "    %s = { host = %q, client_url = %q }\n", h.Name, h.Addr, h.ClientURL)
		}
		fmt.Fprintf(&b, "  }\n\n  binary = {\n    path   = %q\n    source = %q\n  }\n\n  health = { stable_for = %q }\n}\n",
			testhosts.EtcdPath, c.TargetBinary, c.StableFor.String())
	}
	return os.WriteFile(filepath.Join(c.Dir, "main.tf"), []byte(b.String()), 0o644)
}

// terraform runs the Terraform CLI in dir and keeps its output in
// dir/<name>.out. extraEnv adds to a clean environment (no TF_LOG from the
// caller, no version check over the network).
func (b *bench) terraform(ctx context.Context, dir, name string, extraEnv []string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.tf, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "CHECKPOINT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TF_CLI_CONFIG_FILE="+b.rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	cmd.Env = append(cmd.Env, extraEnv...)
	// An interrupted bench interrupts terraform like Ctrl-C, so the provider
	// finishes the member it is on instead of leaving it stopped.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	_ = os.WriteFile(filepath.Join(dir, name+".out"), out.Bytes(), 0o644)
	if err != nil {
		return took, fmt.Errorf("terraform %s in %s: %w\n%s", strings.Join(args, " "), dir, err, sshx.LastLines(out.String(), 25))
	}
	return took, nil
}

// providerLog is what the provider's INFO log says about one apply.
type providerLog struct {
	StopToHealthy map[string]time.Duration // by member: stop → first passing gate check
	StopToStable  map[string]time.Duration // by member: stop → gate passed, stable_for included
	Gate          map[string]time.Duration // by member: gate_duration
	Member        map[string]time.Duration // by member: begin → gate passed
	Steps         map[string]time.Duration // plan (ModifyPlan, summed), snapshot, stage, engine
	Stops         []memberStop             // when each member was stopped
	// Phases sums each member's phases over all members: prepare (while
	// it serves), stop (the stop command), swap (binary and config after
	// the stop), start (the start command), each as timed on the host
	// ("host steps done"), and gate (start returned → gate passed).
	Phases map[string]time.Duration
	// Through etcd's downgrade API: validate + enable → in effect (the
	// "downgrade in effect" duration); the last "member healthy on target"
	// → "verified"; and whether verify ended the job with a cancel.
	DowngradeWait, EndWait time.Duration
	JobEndedByProvider     bool
}

type memberStop struct {
	member string
	at     time.Time
}

var (
	logFieldRE = regexp.MustCompile(`([A-Za-z_@][A-Za-z0-9_.@]*)=("(?:[^"\\]|\\.)*"|\S*)`)
)

// hostStepPhase is the phase a host step belongs to.
func hostStepPhase(step string) string {
	switch step {
	case "stop", "start":
		return step
	case "install binary", "repoint binary link", "write config", "write unit":
		return "swap"
	}
	return "prepare"
}

// parseProviderLog reads TF_LOG_PROVIDER=INFO output (hclog's key=value
// format) for the engine's step durations.
func parseProviderLog(path string) (providerLog, error) {
	pl := providerLog{StopToHealthy: map[string]time.Duration{}, StopToStable: map[string]time.Duration{}, Gate: map[string]time.Duration{}, Member: map[string]time.Duration{}, Steps: map[string]time.Duration{}}
	data, err := os.ReadFile(path)
	if err != nil {
		return pl, err
	}
	pl.Phases = map[string]time.Duration{}
	var lastHealthy, verified time.Time
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "[INFO]") {
			continue
		}
		at, _ := time.Parse("2006-01-02T15:04:05.000Z07:00", strings.Fields(line)[0])
		i := strings.Index(line, "provider.terraform-provider-etcd:")
		if i < 0 {
			continue
		}
		rest := line[i+len("provider.terraform-provider-etcd:"):]
		// "message: key=value key=value ...", the fields in any order.
		msg, fieldsText, _ := strings.Cut(rest, ": ")
		msg = strings.TrimSpace(msg)
		fields := map[string]string{}
		for _, m := range logFieldRE.FindAllStringSubmatch(fieldsText, -1) {
			fields[m[1]] = strings.Trim(m[2], `"`)
		}
		dur := func(k string) time.Duration {
			d, _ := time.ParseDuration(fields[k])
			return d
		}
		if msg == "host steps done" {
			for _, part := range strings.Split(fields["steps"], ", ") {
				name, took, ok := strings.Cut(part, "=")
				d, err := time.ParseDuration(took)
				if !ok || err != nil {
					continue
				}
				pl.Phases[hostStepPhase(name)] += d
			}
		}
		if fields["gate_duration"] != "" {
			pl.Phases["gate"] += dur("gate_duration")
		}
		switch {
		case msg == "stopping member":
			if !at.IsZero() {
				pl.Stops = append(pl.Stops, memberStop{member: fields["member"], at: at})
			}
		case msg == "downgrade in effect":
			pl.DowngradeWait = dur("duration")
		case strings.HasPrefix(msg, "downgrade job ended by the provider"):
			pl.JobEndedByProvider = true
		case msg == "verified":
			verified = at
		case fields["stop_to_healthy"] != "":
			m := fields["member"]
			if at.After(lastHealthy) {
				lastHealthy = at
			}
			pl.StopToHealthy[m] = dur("stop_to_healthy")
			// Older providers logged only stop_to_healthy, stable_for included.
			pl.StopToStable[m] = dur("stop_to_healthy")
			if fields["stop_to_stable"] != "" {
				pl.StopToStable[m] = dur("stop_to_stable")
			}
			pl.Gate[m] = dur("gate_duration")
			pl.Member[m] = dur("duration")
		case msg == "planned rollout":
			pl.Steps["plan"] += dur("duration")
		case fields["step"] == "snapshot":
			pl.Steps["snapshot"] = dur("duration")
		case fields["step"] == "stage":
			pl.Steps["stage"] = dur("duration")
		case fields["step"] == "done":
			pl.Steps["engine"] = dur("duration")
		}
	}
	if len(pl.StopToHealthy) == 0 {
		return pl, fmt.Errorf("%s has no stop_to_healthy lines", path)
	}
	if !lastHealthy.IsZero() && verified.After(lastHealthy) {
		pl.EndWait = verified.Sub(lastHealthy)
	}
	return pl, nil
}

// modifyPlanDurations returns the duration of every "planned rollout" line.
func modifyPlanDurations(path string) ([]time.Duration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []time.Duration
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "provider.terraform-provider-etcd: planned rollout:") {
			continue
		}
		for _, m := range logFieldRE.FindAllStringSubmatch(line, -1) {
			if m[1] == "duration" {
				if d, err := time.ParseDuration(strings.Trim(m[2], `"`)); err == nil {
					out = append(out, d)
				}
			}
		}
	}
	return out, nil
}

// sshAccepted counts the SSH logins every host's sshd has accepted so far.
func sshAccepted(sbs ...*testhosts.Sandbox) int {
	n := 0
	for _, sb := range sbs {
		for _, h := range sb.Hosts {
			b, _ := os.ReadFile(h.SSHDLog())
			n += bytes.Count(b, []byte("Accepted publickey"))
		}
	}
	return n
}
