package resources_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// cliWorkdir is a Terraform working directory run with the real CLI and
// the provider binary built from this checkout, as operators run it.
type cliWorkdir struct {
	t    *testing.T
	dir  string
	tf   string
	env  []string
	sb   *testhosts.Sandbox
	snap string
	// extra is more configuration written beside the resource: other
	// resources of the root module.
	extra string
	// health, when set, replaces the resource's health settings.
	health string
}

func newCLIWorkdir(t *testing.T, sb *testhosts.Sandbox) *cliWorkdir {
	dir := t.TempDir()
	rc := acctest.BuildProvider(t, dir)
	return &cliWorkdir{t: t, dir: dir, tf: os.Getenv("TF_ACC_TERRAFORM_PATH"), sb: sb, snap: t.TempDir(),
		env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1")}
}

func (w *cliWorkdir) write(version, binary string) {
	cfg := `terraform {
  required_providers {
    etcd = { source = "etcd-rollout/etcd" }
  }
}
` + versionConfig(w.sb, version, binary, `snapshot = { directory = "`+w.snap+`" }`) + w.extra
	if w.health != "" {
		cfg = strings.Replace(cfg, `health = { stable_for = "1s" }`, w.health, 1)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(cfg), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// adopt writes the configuration for version and applies it: the
// resource then records a cluster that already runs version.
func (w *cliWorkdir) adopt(version string) {
	w.t.Helper()
	w.write(version, etcdBinary(w.t, version))
	if code, out := w.run("apply", "-auto-approve"); code != 0 {
		w.t.Fatalf("adopt: exit %d\n%s", code, out)
	}
}

func (w *cliWorkdir) command(args ...string) *exec.Cmd {
	cmd := exec.Command(w.tf, append(args, "-no-color")...)
	cmd.Dir, cmd.Env = w.dir, w.env
	return cmd
}

func (w *cliWorkdir) run(args ...string) (int, string) {
	out, err := w.command(args...).CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return 0, string(out)
}

// stateMemberVersions reads member_versions from the state file.
func (w *cliWorkdir) stateMemberVersions() map[string]string {
	out, err := w.command("show", "-json").Output()
	if err != nil {
		w.t.Fatalf("terraform show: %v", err)
	}
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Values struct {
						MemberVersions map[string]string `json:"member_versions"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Values.RootModule.Resources) == 0 {
		w.t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	return doc.Values.RootModule.Resources[0].Values.MemberVersions
}

// SIGINT to terraform apply while a member is stopped: the apply stops at
// that member, not after it; the provider starts and gates that member
// before it returns, and state shows the truth.
func TestAccFault_sigintMidMember(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	w := newCLIWorkdir(t, sb)
	w.adopt(v35)
	writer := acctest.StartWriter(t, sb.ClientURLs(), 4)
	w.write(older, etcdBinary(t, older))

	events := watchEtcd(t, sb)
	cmd := w.command("apply", "-auto-approve")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var interrupted *testhosts.Host
	var downAtSignal bool // the member's etcd was gone just before and just after the signal
	timeout := time.After(3 * time.Minute)
wait:
	for {
		select {
		case ev := <-events:
			if ev.stopped {
				interrupted = ev.host
				before := livePID(ev.host)
				_ = cmd.Process.Signal(syscall.SIGINT)
				downAtSignal = before == 0 && livePID(ev.host) == 0
				break wait
			}
		case <-timeout:
			_ = cmd.Process.Kill()
			t.Fatalf("no member stopped within 3 minutes:\n%s", out.String())
		}
	}
	err := cmd.Wait()
	// The output without the service log the error ends with: etcd's own
	// lines there may say anything, "context canceled" included.
	shown := out.String()
	if i := strings.Index(shown, "Last lines of the service log"); i >= 0 {
		shown = shown[:i]
	}
	t.Logf("terraform apply after SIGINT while %s was stopped: %v\n%s", interrupted.Name, err, sshx.LastLines(shown, 40))
	var exit *exec.ExitError
	o.assert("mid-member", downAtSignal, "%s's etcd was running again when SIGINT was sent", interrupted.Name)
	o.assert("mid-member", errors.As(err, &exit) && exit.ExitCode() != 0, "terraform apply after SIGINT: %v, want a non-zero exit", err)
	// Terraform got the signal, and the provider's error, a cancellation,
	// names the member that was down.
	mustMatch := func(key, what string, re *regexp.Regexp) {
		o.assert(key, re.MatchString(shown), "the output does not show %s (%s):\n%s", what, re, sshx.LastLines(shown, 40))
	}
	mustMatch("mid-member", "that Terraform was interrupted", words("Interrupt received."))
	mustMatch("mid-member", "the apply stopped at "+interrupted.Name+" because it was cancelled",
		regexp.MustCompile(`(?s)Rollout stopped at member `+regexp.QuoteMeta(interrupted.Name)+` \([^)]+\).*cancel`))
	// Before returning, the provider started the member (put back, or on
	// the target) and saw it pass its health gate.
	name := regexp.QuoteMeta(interrupted.Name)
	mustMatch("gated-before-return", "that "+interrupted.Name+" passed its gate", regexp.MustCompile(`(?s)Member\s+`+name+`\s+was\s+put\s+back\s.*?passed\s+its\s+health\s+gate|`+
		`cancelled\s+after\s+`+name+`\s+reached\s+\S+\s+and\s+passed\s+its\s+gate`))
	for _, h := range sb.Hosts {
		o.assert("gated-before-return", h.EtcdRunning(), "%s is not running after the interrupted apply returned", h.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o.check("gated-before-return", sb.WaitHealthy(ctx))
	// State is true: each member's recorded version is what it runs.
	recorded := w.stateMemberVersions()
	for _, h := range sb.Hosts {
		live, err := h.EtcdVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		o.assert("state-true", recorded[h.Name] == live, "state says %s runs %q, it runs %s", h.Name, recorded[h.Name], live)
	}
	// And the next apply finishes the job.
	code, resumed := w.run("apply", "-auto-approve")
	if !o.assert("next-apply-finishes", code == 0, "resumed apply: exit %d\n%s", code, resumed) {
		t.FailNow()
	}
	for name, v := range w.stateMemberVersions() {
		o.assert("next-apply-finishes", v == older, "%s on %s after the resumed apply", name, v)
	}
	t.Logf("client: %s", writer.Stop())
	writer.Verify(t)
}

// A host key changes between plan and apply: the saved plan's apply is
// refused, showing the new key's fingerprint, before anything changes.
func TestAccFault_hostKeyChangedBetweenPlanAndApply(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35, older := testhosts.DefaultEtcdVersion, "3.5.16"
	w := newCLIWorkdir(t, sb)
	w.adopt(v35)
	w.write(older, etcdBinary(t, older))
	if code, out := w.run("plan", "-out=change.tfplan"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	pids := map[string]int{}
	for _, h := range sb.Hosts {
		pids[h.Name] = livePID(h)
	}
	// s2 gets a new host key, as after a reinstall or an impersonation.
	h := sb.Host("s2")
	key := filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key")
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(key + ".pub")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	fp, err := exec.Command("ssh-keygen", "-l", "-f", key+".pub").Output()
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := strings.Fields(string(fp))[1]
	if err := h.StopSSHD(); err != nil {
		t.Fatal(err)
	}
	if err := h.StartSSHD(); err != nil {
		t.Fatal(err)
	}
	code, out := w.run("apply", "change.tfplan")
	if !o.assert("refused-with-fingerprint", code != 0, "apply with a changed host key succeeded:\n%s", out) {
		t.FailNow()
	}
	flat := strings.Join(strings.Fields(out), " ")
	o.assert("refused-with-fingerprint", strings.Contains(flat, fingerprint), "the error does not show the new fingerprint %s:\n%s", fingerprint, out)
	o.assert("refused-with-fingerprint", strings.Contains(strings.ToLower(flat), "changed"), "the error does not say the host key changed:\n%s", out)
	for _, h := range sb.Hosts {
		pid := livePID(h)
		o.assert("no-member-touched", pid == pids[h.Name], "%s was restarted (pid %d → %d) although the apply was refused", h.Name, pids[h.Name], pid)
	}
}
