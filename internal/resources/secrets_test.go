package resources_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
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
	"golang.org/x/crypto/ssh"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// secrets are what must never leave the provider: an encrypted SSH key, its
// passphrase, and the etcd password.
type secrets struct {
	keyFile    string
	keyWindows map[string]bool // every 40-character run of the key's base64 body
	passphrase string
	password   string
}

func newSecrets(t *testing.T, sb *testhosts.Sandbox) *secrets {
	t.Helper()
	s := &secrets{passphrase: "pp-" + randomHex(t), password: "etcdpw-" + randomHex(t)}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "secrets-test", []byte(s.passphrase))
	if err != nil {
		t.Fatal(err)
	}
	s.keyFile = filepath.Join(t.TempDir(), "id_ed25519_encrypted")
	if err := os.WriteFile(s.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AuthorizeKey(sshPub); err != nil {
		t.Fatal(err)
	}
	// The PEM body, as it would show if leaked, whether line by line or
	// joined: each 64-character line holds many of its 40-character runs.
	body := base64.StdEncoding.EncodeToString(block.Bytes)
	s.keyWindows = map[string]bool{}
	for i := 0; i+40 <= len(body); i++ {
		s.keyWindows[body[i:i+40]] = true
	}
	// The checks must catch each secret, or a clean result proves nothing.
	for name, leaked := range map[string]string{
		"key":        "log: " + string(pem.EncodeToMemory(block)),
		"key body":   fmt.Sprintf("%q", body[len(body)/2:]),
		"password":   `{"password":"` + s.password + `"}`,
		"passphrase": "passphrase=" + s.passphrase,
	} {
		if s.leaks("probe", leaked) == nil {
			t.Fatalf("the leak check misses the %s", name)
		}
	}
	return s
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// leaks names every secret found in text, where.
func (s *secrets) leaks(where, text string) error {
	var found []string
	if strings.Contains(text, s.passphrase) {
		found = append(found, "the SSH key's passphrase")
	}
	if strings.Contains(text, s.password) {
		found = append(found, "the etcd password")
	}
	if strings.Contains(text, "OPENSSH PRIVATE KEY") {
		found = append(found, "a PEM private key header")
	}
	for i := 0; i+40 <= len(text); i++ {
		if s.keyWindows[text[i:i+40]] {
			found = append(found, fmt.Sprintf("40 characters of the SSH private key (at offset %d)", i))
			break
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%s contains %s", where, strings.Join(found, ", "))
	}
	return nil
}

// The provider block of this test: the encrypted key by file(), the
// passphrase and the password by sensitive variables, set through TF_VAR_*
// as an operator's pipeline would, so the configuration holds no secret
// and the test harness's own trace of it cannot be mistaken for a leak.
func secretsProvider(keyFile, sshAttrs string) string {
	return fmt.Sprintf(`
variable "ssh_passphrase" {
  type      = string
  sensitive = true
}
variable "etcd_password" {
  type      = string
  sensitive = true
}

provider "etcd" {
  ssh = {
    private_key            = file(%q)
    private_key_passphrase = var.ssh_passphrase
    %s
  }
  username = "root"
  password = var.etcd_password
}
`, keyFile, sshAttrs)
}

func (s *secrets) config(sb *testhosts.Sandbox, version, source string, extra ...string) string {
	provider := secretsProvider(s.keyFile, fmt.Sprintf("known_hosts_file = %q", sb.KnownHostsFile))
	return strings.Replace(versionConfig(sb, version, source, extra...), acctest.ProviderConfig(sb), provider, 1)
}

// enableAuthPassword is enableAuth with a password of the test's choosing.
// The password never shows in a failure message.
func enableAuthPassword(t *testing.T, sb *testhosts.Sandbox, password string) {
	t.Helper()
	etcdctlEach(t, sb, 3,
		[]string{"user", "add", "root", "--new-user-password=" + password},
		[]string{"user", "grant-role", "root", "root"},
		[]string{"auth", "enable"})
}

// etcdctlEach runs etcdctl against the sandbox once per argument list, in
// order; a failure names the first shown arguments only.
func etcdctlEach(t *testing.T, sb *testhosts.Sandbox, shown int, cmds ...[]string) {
	t.Helper()
	etcdctl, err := testhosts.EtcdctlBinary(sb.EtcdVersion)
	if err != nil {
		t.Fatal(err)
	}
	ep := "--endpoints=" + strings.Join(sb.ClientURLs(), ",")
	for _, args := range cmds {
		out, err := exec.Command(etcdctl, append([]string{ep}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %v: %v\n%s", args[:min(shown, len(args))], err, out)
		}
	}
}

// Secrets stay secret through a real upgrade and a patch rollout, traced at
// TRACE: not in Terraform's log or the provider's, not in state, not in a
// diagnostic. Files holding cluster data are 0600. Skipping host key checks
// works and warns.
func TestAccSecrets_notLogged(t *testing.T) {
	// 3.4.23 with a 3.4 spelling, so the upgrade rewrites the config file
	// and leaves a backup whose mode can be checked.
	sb := acctest.Sandbox(t, testhosts.Options{EtcdVersion: "3.4.23", ExtraEnv: map[string]string{
		"ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE": "map",
	}})
	bin34, bin35, binOld := etcdBinary(t, "3.4.23"), etcdBinary(t, testhosts.DefaultEtcdVersion), etcdBinary(t, "3.5.16")
	sec := newSecrets(t, sb)
	enableAuthPassword(t, sb, sec.password)

	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "terraform.log")
	workDirs := t.TempDir()
	// Terraform's own log (TF_ACC_LOG_PATH, through terraform-exec) and the
	// in-process provider's (the test sink reads TF_LOG, TF_LOG_PATH and
	// TF_ACC_LOG_PATH) both go to logFile; a TF_LOG_PATH_MASK from outside
	// would send them elsewhere.
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH", logFile)
	t.Setenv("TF_ACC_LOG_PATH", logFile)
	t.Setenv("TF_LOG_PATH_MASK", "")
	t.Setenv("TF_ACC_TEMP_DIR", workDirs) // where the working directories, and their terraform.tfstate, live
	t.Setenv("TF_VAR_ssh_passphrase", sec.passphrase)
	t.Setenv("TF_VAR_etcd_password", sec.password)

	snapDir := filepath.Join(t.TempDir(), "snapshots") // the provider creates it
	snap := fmt.Sprintf(`snapshot = { directory = %q }`, snapDir)
	statesSeen := 0
	noSecretsInState := func(s *terraform.State) error {
		for name, r := range s.RootModule().Resources {
			for k, v := range r.Primary.Attributes {
				if err := sec.leaks(fmt.Sprintf("state attribute %s.%s", name, k), v); err != nil {
					return err
				}
			}
		}
		// The state file itself, in the step's working directory.
		return filepath.WalkDir(workDirs, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "terraform.tfstate") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			statesSeen++
			return sec.leaks(path, string(data))
		})
	}
	modes := func(*terraform.State) error {
		if st, err := os.Stat(snapDir); err != nil {
			return err
		} else if st.Mode().Perm() != 0o700 {
			return fmt.Errorf("snapshot directory %s has mode %v, want 0700", snapDir, st.Mode().Perm())
		}
		for _, h := range sb.Hosts {
			// The backup is an exact copy: no more readable than the file
			// it copies (same mode, owner and group).
			out, err := h.Exec(t.Context(), "stat -c '%a %U %G' /etc/etcd/etcd.env.3.4.23 /etc/etcd/etcd.env")
			if err != nil {
				return err
			}
			if l := strings.Split(strings.TrimSpace(out), "\n"); len(l) != 2 || l[0] != l[1] {
				return fmt.Errorf("%s: config backup and config: %q, want the same mode, owner and group", h.Name, l)
			}
		}
		return nil
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				Config: sec.config(sb, "3.4.23", bin34, snap),
				Check:  noSecretsInState,
			},
			{
				Config: sec.config(sb, "3.5.16", binOld, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, "3.5.16")),
				},
				Check: resource.ComposeTestCheckFunc(noSecretsInState, snapshotVerifies(t), modes),
			},
			{
				Config: sec.config(sb, testhosts.DefaultEtcdVersion, bin35, snap),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, testhosts.DefaultEtcdVersion)),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("version"), knownvalue.StringExact(testhosts.DefaultEtcdVersion)),
				},
				Check: resource.ComposeTestCheckFunc(noSecretsInState, snapshotVerifies(t)),
			},
		},
	})
	if t.Failed() {
		return
	}
	if statesSeen == 0 {
		t.Errorf("no terraform.tfstate found under %s: the raw state was not checked", workDirs)
	}
	snaps, _ := filepath.Glob(filepath.Join(snapDir, "*.db"))
	if len(snaps) != 2 {
		t.Errorf("snapshots: %v, want one per rollout", snaps)
	}
	for _, p := range snaps {
		if st, err := os.Stat(p); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != 0o600 {
			t.Errorf("snapshot %s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}

	logData, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logData)
	t.Logf("%s: %d bytes of TRACE log, %d lines naming ApplyResourceChange, %d provider progress lines (replacing member)",
		logFile, len(log), strings.Count(log, "ApplyResourceChange"), strings.Count(log, "replacing member"))
	// The log must really hold the CLI's trace and the provider's own
	// messages, or its being clean proves nothing.
	for _, want := range []string{"ApplyResourceChange", "replacing member", "snapshot saved", "rewriting config", "configured etcd provider"} {
		if !strings.Contains(log, want) {
			t.Errorf("the TRACE log lacks %q", want)
		}
	}
	if err := sec.leaks("the TRACE log "+logFile, log); err != nil {
		t.Error(err)
	}

	checkSecretsCLI(t, sb, sec, binOld)
}

// checkSecretsCLI runs the real CLI against the built provider, as the
// warning for insecure_ignore_host_key is only visible in its output: a
// plan that skips host key checks works and warns, and a plan with a wrong
// password fails without echoing either password.
func checkSecretsCLI(t *testing.T, sb *testhosts.Sandbox, sec *secrets, binOld string) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	work := t.TempDir()
	rc := acctest.BuildProvider(t, work)
	cliLog := filepath.Join(work, "cli.log")
	provider := secretsProvider(sec.keyFile, "insecure_ignore_host_key = true")
	cfg := strings.Replace(versionConfig(sb, "3.5.16", binOld), acctest.ProviderConfig(sb), provider, 1)
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(`terraform {
  required_providers {
    etcd = { source = "etcd-rollout/etcd" }
  }
}
`+cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	terraform := func(password string, args ...string) (int, string) {
		cmd := exec.Command(tf, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1",
			"TF_LOG=TRACE", "TF_LOG_PATH="+cliLog, "TF_VAR_etcd_password="+password)
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

	// Host keys unchecked: the plan reaches every host (the rollout names
	// each member's config) and warns.
	code, out := terraform(sec.password, "plan", "-no-color")
	if code != 0 {
		t.Fatalf("plan with insecure_ignore_host_key exited %d:\n%s", code, out)
	}
	for _, want := range []string{"Warning: SSH host keys are not verified", "insecure_ignore_host_key = true", "member s1 (" + sb.Host("s1").Addr + "): patch"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if err := sec.leaks("the plan output", out); err != nil {
		t.Error(err)
	}
	t.Logf("plan with insecure_ignore_host_key = true: exit 0, %q shown", "Warning: SSH host keys are not verified")

	// A wrong password: the error says authentication failed, and shows
	// neither password.
	wrong := "wrongpw-" + randomHex(t)
	code, out = terraform(wrong, "plan", "-no-color")
	if code == 0 {
		t.Fatalf("plan with a wrong etcd password succeeded:\n%s", out)
	}
	if !words("authentication failed").MatchString(out) {
		t.Errorf("the error does not say authentication failed:\n%s", out)
	}
	if strings.Contains(out, wrong) {
		t.Errorf("the error shows the wrong password:\n%s", out)
	}
	if err := sec.leaks("the failed plan's output", out); err != nil {
		t.Error(err)
	}
	t.Logf("plan with a wrong password: exit %d:\n%s", code, diagnostics(out))

	logData, err := os.ReadFile(cliLog)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logData)
	if !strings.Contains(log, "provider.terraform-provider-etcd") || !strings.Contains(log, "planned rollout") {
		t.Errorf("%s lacks the provider process's log lines", cliLog)
	}
	if strings.Contains(log, wrong) {
		t.Errorf("%s contains the wrong password", cliLog)
	}
	if err := sec.leaks("the CLI's TRACE log", log); err != nil {
		t.Error(err)
	}
}

// diagnostics is the Error and Warning blocks of terraform's output.
func diagnostics(out string) string {
	var keep []string
	in := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Error: ") || strings.HasPrefix(line, "Warning: ") {
			in = true
		}
		if in {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
