package resources_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"golang.org/x/crypto/ssh"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// badInput is one configuration that plan must refuse, and the error it
// must get: attribute-level, with a detail that says what to write instead.
type badInput struct {
	name string // what is wrong, in a few words
	attr string // the attribute the error points at, as written in HCL
	// in holds top-level attributes of the resource (of the provider when
	// provider is set), one per unindented line, that replace the defaults
	// of the same name or are added. @TOKENS@ stand for sandbox values.
	in       string
	provider bool
	summary  string // the diagnostic's summary
	instead  string // the words of the detail that say what to write instead
}

// badInputs are checked against a real cluster by TestAccBadInput, and
// rendered into testdata/bad-inputs.md.
var badInputs = []badInput{
	// version
	{name: "version without a patch number", attr: "version", in: `version = "3.5"`,
		summary: "Invalid etcd version", instead: `write the exact release including the patch number, such as "3.5.0"`},
	{name: "version with a leading v", attr: "version", in: `version = "v3.4.34"`,
		summary: "Invalid etcd version", instead: `write "3.4.34", without the leading "v"`},
	{name: "pre-release version", attr: "version", in: `version = "3.4.34-rc.1"`,
		summary: "Invalid etcd version", instead: `pre-release and build suffixes ("-rc.1") are not supported; write a final release such as "3.4.34"`},
	{name: "version `latest`", attr: "version", in: `version = "latest"`,
		summary: "Invalid etcd version", instead: `write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
	{name: "empty version", attr: "version", in: `version = ""`,
		summary: "Invalid etcd version", instead: `write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
	{name: "skips a minor version down (3.5 → 3.3)", attr: "version", in: `version = "3.3.27"`,
		summary: "Version change not allowed", instead: `it skips a minor version; etcd changes one minor version at a time; from @RUNNING@ the allowed targets are: any 3.5.x patch release, 3.4.x with x >= 32 (downgrade), or any 3.6.x release (upgrade, once every member runs 3.5.26 or later)`},
	{name: "skips a minor version up (3.5 → 3.7)", attr: "version", in: `version = "3.7.0"`,
		summary: "Version change not allowed", instead: `it skips a minor version; etcd changes one minor version at a time: change version to 3.5.26 or later and apply, then to 3.6.11 or later and apply, then to 3.7.0; from @RUNNING@ the allowed targets are: any 3.5.x patch release, 3.4.x with x >= 32 (downgrade), or any 3.6.x release (upgrade, once every member runs 3.5.26 or later)`},
	{name: "3.6 from a 3.5 release before 3.5.26", attr: "version", in: `version = "3.6.16"`,
		summary: "Version change not allowed", instead: `the upgrade to 3.6 needs every member on 3.5.26 or later first`},
	{name: "3.4 target older than 3.4.32", attr: "version", in: `version = "3.4.23"`,
		summary: "Version change not allowed", instead: `a downgrade to 3.4 needs 3.4.32 or later`},

	// members
	{name: "no members", attr: "members", in: `members = {}`,
		summary: "No members", instead: "List every member of the cluster, keyed by its etcd name (as `etcdctl member list` shows it)"},
	{name: "two members with the same client_url", attr: `members["s2"]`, in: `members = {
  @S1@
  s2 = { host = "@S2_HOST@", client_url = "@S1_URL@" }
  @S3@
}`,
		summary: "Duplicate client_url", instead: `members["s1"] and members["s2"] both have client_url = "@S1_URL@". Each member has its own client URL: write the one that member advertises (` + "`etcdctl member list`" + ` shows them)`},
	{name: "client_url without a scheme", attr: `members["s1"].client_url`, in: `members = {
  s1 = { host = "@S1_HOST@", client_url = "@S1_HOST@:2379" }
  @S2@
  @S3@
}`,
		summary: "Invalid client URL", instead: `Write it as the member advertises it, for example "https://10.0.0.11:2379"`},
	{name: "client_url with a path", attr: `members["s1"].client_url`, in: `members = {
  s1 = { host = "@S1_HOST@", client_url = "@S1_URL@/v3" }
  @S2@
  @S3@
}`,
		summary: "Invalid client URL", instead: `has a path; write just scheme, host and port, for example "@S1_URL@"`},
	{name: "client_url the member does not advertise", attr: `members["s2"]`, in: `members = {
  @S1@
  s2 = { host = "@S2_HOST@", client_url = "http://@S2_HOST@:2999" }
  @S3@
}`,
		summary: "Wrong client URL", instead: `but the member advertises @S2_URL@. Use one of those, so that health gates talk to the member being changed`},
	{name: "a member that is not in the cluster", attr: `members["s9"]`, in: `members = {
  @S1@
  @S2@
  @S3@
  s9 = { host = "@S9_HOST@", client_url = "http://@S9_HOST@:2379" }
}`,
		summary: "Member not in the cluster", instead: "Use the names that `etcdctl member list` shows"},
	{name: "a member of the cluster left out", attr: "members", in: `members = {
  @S1@
  @S2@
}`,
		summary: "Member missing from configuration", instead: `Add it, for example s3 = { host = "@S3_HOST@", client_url = "@S3_URL@" }, so the rollout covers every member`},
	{name: "ssh_port 0", attr: `members["s1"].ssh_port`, in: `members = {
  s1 = { host = "@S1_HOST@", client_url = "@S1_URL@", ssh_port = 0 }
  @S2@
  @S3@
}`,
		summary: "Invalid port", instead: "Write the port sshd listens on, from 1 to 65535 (usually 22), or leave the attribute out to use the provider's ssh.port"},
	{name: "ssh_port 70000", attr: `members["s1"].ssh_port`, in: `members = {
  s1 = { host = "@S1_HOST@", client_url = "@S1_URL@", ssh_port = 70000 }
  @S2@
  @S3@
}`,
		summary: "Invalid port", instead: "Write the port sshd listens on, from 1 to 65535 (usually 22), or leave the attribute out to use the provider's ssh.port"},

	// binary and service
	{name: "relative binary.path", attr: "binary.path", in: `binary = {
  path = "usr/local/bin/etcd"
  source = "@BIN@"
}`,
		summary: "Relative remote path", instead: `binary.path is a path on the etcd hosts and must start with "/", for example "/usr/local/bin/etcd"`},
	{name: "relative service.config_file", attr: "service.config_file", in: `service = {
  config_file = "etc/etcd/etcd.env"
}`,
		summary: "Relative remote path", instead: `service.config_file is a path on the etcd hosts and must start with "/", for example "/etc/etcd/etcd.env"`},
	{name: "binary.source that does not exist", attr: "binary.source", in: `version = "3.5.16"
binary = {
  path = "/usr/local/bin/etcd"
  source = "/nonexistent/etcd-3.5.16"
}`,
		summary: "Binary source not readable", instead: "binary.source must be the etcd 3.5.16 binary on the machine running Terraform, or an http(s) URL the hosts can download"},
	{name: "sha256 that is not hex", attr: "binary.sha256", in: `binary = {
  path = "/usr/local/bin/etcd"
  source = "@BIN@"
  sha256 = "see-release-notes"
}`,
		summary: "Invalid sha256", instead: "Write the 64 lower-case hex digits that `sha256sum <file>` prints"},
	{name: "sha256 of the wrong length (a SHA-1)", attr: "binary.sha256", in: `binary = {
  path = "/usr/local/bin/etcd"
  source = "@BIN@"
  sha256 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
}`,
		summary: "Invalid sha256", instead: "has 40 hex digits (the length of a SHA-1 sum); a sha256 has 64. Write the 64 lower-case hex digits that `sha256sum <file>` prints"},
	{name: "upper-case sha256", attr: "binary.sha256", in: `binary = {
  path = "/usr/local/bin/etcd"
  source = "@BIN@"
  sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
}`,
		summary: "Invalid sha256", instead: `write it in lower case, as sha256sum prints it: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`},
	{name: "a whole sha256sum line", attr: "binary.sha256", in: `binary = {
  path = "/usr/local/bin/etcd"
  source = "@BIN@"
  sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  etcd"
}`,
		summary: "Invalid sha256", instead: `write only the digest, without the file name: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`},

	// durations
	{name: "health.timeout without a unit", attr: "health.timeout", in: `health = { timeout = "5" }`,
		summary: "Invalid duration", instead: `A unit is required: for seconds write "5s"`},
	{name: "negative health.timeout", attr: "health.timeout", in: `health = { timeout = "-1s" }`,
		summary: "Invalid duration", instead: `"-1s" is not a positive duration. Write a Go duration such as "30s", "5m" or "1h30m"`},
	{name: "health.timeout in words", attr: "health.timeout", in: `health = { timeout = "soon" }`,
		summary: "Invalid duration", instead: `"soon" is not a positive duration. Write a Go duration such as "30s", "5m" or "1h30m"`},
	{name: "health.stable_for not a duration", attr: "health.stable_for", in: `health = { stable_for = "abc" }`,
		summary: "Invalid duration", instead: `"abc" is not a duration. Write a Go duration such as "0s", "10s" or "2m"`},
	{name: "timeouts.update without a unit", attr: "timeouts.update", in: `timeouts = { update = "90" }`,
		summary: "Invalid duration", instead: `A unit is required: for seconds write "90s"`},
	{name: "negative timeouts.create", attr: "timeouts.create", in: `timeouts = { create = "-5m" }`,
		summary: "Invalid duration", instead: `"-5m" is not a positive duration. Write a Go duration such as "30s", "5m" or "1h30m"`},

	// provider
	{name: "insecure_ignore_host_key with known_hosts_file", attr: "ssh.insecure_ignore_host_key", provider: true, in: `ssh = {
  private_key = @KEY@
  known_hosts_file = "@KNOWN_HOSTS@"
  insecure_ignore_host_key = true
}`,
		summary: "Conflicting host key settings", instead: "Remove insecure_ignore_host_key to verify host keys against the file"},
	{name: "passphrase without a key", attr: "ssh.private_key_passphrase", provider: true, in: `ssh = {
  agent = true
  private_key_passphrase = "correct horse"
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "Passphrase without a key", instead: "set the key, or remove the passphrase"},
	{name: "no key and no agent", attr: "ssh", provider: true, in: `ssh = {
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "No SSH credentials", instead: `Set ssh.private_key (for example file("~/.ssh/id_ed25519")), or ssh.agent = true to use the running ssh-agent`},
	{name: "private_key is a path", attr: "ssh.private_key", provider: true, in: `ssh = {
  private_key = "~/.ssh/id_ed25519"
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "Invalid SSH private key", instead: `this looks like a file path, not a private key: pass the key's contents, e.g. file("~/.ssh/id_ed25519")`},
	{name: "private_key is the public key", attr: "ssh.private_key", provider: true, in: `ssh = {
  private_key = @PUB_KEY@
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "Invalid SSH private key", instead: "this is a public key (the .pub file); the private key is needed"},
	{name: "private_key is not a key", attr: "ssh.private_key", provider: true, in: `ssh = {
  private_key = "not a key"
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "Invalid SSH private key", instead: `no PEM block or OpenSSH private key was found (pass the key's contents, e.g. file("~/.ssh/id_ed25519"), not its path)`},
	{name: "agent = true without an agent running", attr: "ssh.agent", provider: true, in: `ssh = {
  agent = true
  known_hosts_file = "@KNOWN_HOSTS@"
}`,
		summary: "No ssh-agent", instead: "Start an agent (eval $(ssh-agent); ssh-add), or set ssh.private_key"},
	{name: "ssh.port 0", attr: "ssh.port", provider: true, in: `ssh = {
  private_key = @KEY@
  known_hosts_file = "@KNOWN_HOSTS@"
  port = 0
}`,
		summary: "Invalid port", instead: "Write the port sshd listens on, from 1 to 65535 (usually 22), or leave the attribute out to use the default, 22"},
	{name: "ssh.connect_timeout without a unit", attr: "ssh.connect_timeout", provider: true, in: `ssh = {
  private_key = @KEY@
  known_hosts_file = "@KNOWN_HOSTS@"
  connect_timeout = "10"
}`,
		summary: "Invalid duration", instead: `A unit is required: for seconds write "10s"`},
	{name: "tls.cert without tls.key", attr: "tls.cert", provider: true, in: `tls = {
  cert = @CLIENT_CERT@
}`,
		summary: "Client certificate without key", instead: `Set tls.key to the certificate's private key (PEM contents, for example file("etcd-client-key.pem")), or remove tls.cert`},
	{name: "username without password", attr: "username", provider: true, in: `username = "root"`,
		summary: "Incomplete etcd credentials", instead: "Set password as well (for example password = var.etcd_password), or remove username for a cluster without auth"},
	{name: "password without username", attr: "password", provider: true, in: `password = "rootpw"`,
		summary: "Incomplete etcd credentials", instead: `Set username as well (for example username = "root"), or remove password for a cluster without auth`},
}

// Defaults that each row's attributes replace: a valid configuration for
// the sandbox that changes nothing.
const (
	badInputProviderDefaults = `ssh = {
  private_key = @KEY@
  known_hosts_file = "@KNOWN_HOSTS@"
}`
	badInputResourceDefaults = `version = "@RUNNING@"
members = {
  @S1@
  @S2@
  @S3@
}
binary = {
  path = "/usr/local/bin/etcd"
  source = "@BIN@"
}`
)

// docTokens are what the table shows for the sandbox's values.
var docTokens = map[string]string{
	"@RUNNING@":     testhosts.DefaultEtcdVersion,
	"@S1@":          "s1 = {…}",
	"@S2@":          "s2 = {…}",
	"@S3@":          "s3 = {…}",
	"@S1_HOST@":     "10.0.0.11",
	"@S2_HOST@":     "10.0.0.12",
	"@S3_HOST@":     "10.0.0.13",
	"@S9_HOST@":     "10.0.0.19",
	"@S1_URL@":      "http://10.0.0.11:2379",
	"@S2_URL@":      "http://10.0.0.12:2379",
	"@S3_URL@":      "http://10.0.0.13:2379",
	"@BIN@":         "/srv/etcd/v3.5.16/etcd",
	"@KEY@":         `file("~/.ssh/id_ed25519")`,
	"@PUB_KEY@":     `file("~/.ssh/id_ed25519.pub")`,
	"@KNOWN_HOSTS@": "~/.ssh/known_hosts",
	"@CLIENT_CERT@": `file("etcd-client.pem")`,
}

var tokenPattern = regexp.MustCompile(`@[A-Z0-9_]+@`)

func expand(s string, tokens map[string]string) string {
	return tokenPattern.ReplaceAllStringFunc(s, func(tok string) string {
		v, ok := tokens[tok]
		if !ok {
			panic("bad_input_test: unknown token " + tok)
		}
		return v
	})
}

// hclAttr is one top-level attribute of a fragment, with its lines.
type hclAttr struct{ name, text string }

// splitAttrs splits a fragment at its unindented lines.
func splitAttrs(fragment string) []hclAttr {
	var out []hclAttr
	for _, line := range strings.Split(fragment, "\n") {
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '}' {
			name, _, _ := strings.Cut(line, " ")
			out = append(out, hclAttr{name: name, text: line})
			continue
		}
		out[len(out)-1].text += "\n" + line
	}
	return out
}

// merge replaces the defaults' attributes by the row's, keeping their order.
func merge(defaults, row string) []hclAttr {
	attrs := splitAttrs(defaults)
	for _, a := range splitAttrs(row) {
		replaced := false
		for i := range attrs {
			if attrs[i].name == a.name {
				attrs[i], replaced = a, true
			}
		}
		if !replaced {
			attrs = append(attrs, a)
		}
	}
	return attrs
}

func block(header string, attrs []hclAttr) string {
	var b strings.Builder
	b.WriteString(header + " {\n")
	for _, a := range attrs {
		b.WriteString("  " + strings.ReplaceAll(a.text, "\n", "\n  ") + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// config renders the row as a whole configuration, every attribute on a
// line of its own, so the snippet line Terraform shows is the attribute's.
func (r badInput) config(tokens map[string]string) string {
	var prov, res string
	if r.provider {
		prov = r.in
	} else {
		res = r.in
	}
	return expand(block(`provider "etcd"`, merge(badInputProviderDefaults, prov))+"\n"+
		block(`resource "etcd_cluster_version" "test"`, merge(badInputResourceDefaults, res)), tokens)
}

// pointed reports whether Terraform's snippet shows attr itself. Terraform
// 1.5 finds top-level attributes and the elements of top-level maps in the
// configuration, but not attributes nested in an object: for those it shows
// the block's first line, so the detail must name the attribute instead.
func pointed(attr string) bool { return !strings.Contains(attr, ".") }

// leaf is the attribute name Terraform's snippet line shows for attr:
// version → version, members["s9"] → s9.
func leaf(attr string) string {
	last := attr[strings.LastIndex(attr, ".")+1:]
	if i := strings.Index(last, `["`); i >= 0 {
		return strings.TrimSuffix(last[i+2:], `"]`)
	}
	return last
}

// inOneDiagnostic matches text up to the next diagnostic, never across it:
// in Terraform's plain output every diagnostic starts with "\nError:".
const inOneDiagnostic = `(?:[^\n]|\n+(?:[^E\n]|E[^r\n]))*?\s*`

// expectError matches the row's diagnostic as Terraform prints it: the
// summary; "with" the resource or provider; the source line, which shows
// the attribute when Terraform can point at it; then the detail, which names
// the attribute when Terraform cannot, and says what to write instead.
func (r badInput) expectError(tokens map[string]string) *regexp.Regexp {
	with, in := `etcd_cluster_version\.test`, `resource "etcd_cluster_version" "test"`
	if r.provider {
		with, in = `provider\["[^"\n]*/etcd"\]`, `provider "etcd"`
	}
	instead := phrase(expand(r.instead, tokens))
	source := `\s*\d+:[^\n]*\n`
	detail := inOneDiagnostic + instead
	if pointed(r.attr) {
		source = `\s*\d+:[^\n]*\b` + regexp.QuoteMeta(leaf(r.attr)) + `\s*=[^\n]*\n`
	} else if !strings.Contains(expand(r.instead, tokens), r.attr) {
		name := regexp.QuoteMeta(r.attr)
		detail = `(?:` + inOneDiagnostic + name + inOneDiagnostic + instead + `|` + inOneDiagnostic + instead + inOneDiagnostic + name + `)`
	}
	return regexp.MustCompile(`(?s)Error: ` + regexp.QuoteMeta(expand(r.summary, tokens)) +
		`\s+with ` + with + `,\s+on [^\n]+ line \d+, in ` + regexp.QuoteMeta(in) + `:\n` + source + detail)
}

// phrase is words() without its flags, to go inside a larger pattern.
func phrase(s string) string { return strings.TrimPrefix(words(s).String(), `(?s)`) }

// Every row is a plan that must fail with an attribute-level error that
// says what to write instead. One real cluster serves all rows; nothing is
// applied. The rows are also the table in testdata/bad-inputs.md.
func TestAccBadInput(t *testing.T) {
	const doc = "testdata/bad-inputs.md"
	update := os.Getenv("UPDATE_SAFETY_DOCS") != ""
	t.Setenv("SSH_AUTH_SOCK", "") // for the row without an agent; the others use a key
	if !update {
		checkBadInputDoc(t, doc)
	}

	sb := acctest.Sandbox(t, testhosts.Options{})
	tokens := sandboxTokens(t, sb)
	var steps []resource.TestStep
	for _, r := range badInputs {
		steps = append(steps, resource.TestStep{
			Config:      r.config(tokens),
			PlanOnly:    true,
			ExpectError: r.expectError(tokens),
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps:                    steps,
	})

	if update && !t.Failed() {
		if err := os.WriteFile(doc, renderBadInputDoc(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d rows", doc, len(badInputs))
	}
}

func sandboxTokens(t *testing.T, sb *testhosts.Sandbox) map[string]string {
	t.Helper()
	dir := t.TempDir()
	signer, err := ssh.ParsePrivateKey(sb.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "id.pub")
	cert := filepath.Join(dir, "client.pem")
	for file, content := range map[string][]byte{
		pub:  ssh.MarshalAuthorizedKey(signer.PublicKey()),
		cert: []byte("-----BEGIN CERTIFICATE-----\nnot checked: the key is missing\n-----END CERTIFICATE-----\n"),
	} {
		if err := os.WriteFile(file, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{
		"@RUNNING@":     sb.EtcdVersion,
		"@S9_HOST@":     "127.0.0.99",
		"@BIN@":         etcdBinary(t, "3.5.16"),
		"@KEY@":         fmt.Sprintf("file(%q)", sb.PrivateKeyFile),
		"@PUB_KEY@":     fmt.Sprintf("file(%q)", pub),
		"@KNOWN_HOSTS@": sb.KnownHostsFile,
		"@CLIENT_CERT@": fmt.Sprintf("file(%q)", cert),
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		h := sb.Host(name)
		up := strings.ToUpper(name)
		tokens["@"+up+"@"] = fmt.Sprintf("%s = { host = %q, client_url = %q }", name, h.Addr, h.ClientURL)
		tokens["@"+up+"_HOST@"] = h.Addr
		tokens["@"+up+"_URL@"] = h.ClientURL
	}
	return tokens
}

func checkBadInputDoc(t *testing.T, doc string) {
	t.Helper()
	committed, err := os.ReadFile(doc)
	if err != nil {
		t.Errorf("%v: generate it with UPDATE_SAFETY_DOCS=1 TF_ACC=1 go test -run '^TestAccBadInput$' ./internal/resources", err)
		return
	}
	if want := renderBadInputDoc(); !bytes.Equal(committed, want) {
		t.Errorf("%s is not what the rows of bad_input_test.go render; regenerate it with UPDATE_SAFETY_DOCS=1 TF_ACC=1 go test -run '^TestAccBadInput$' ./internal/resources\n--- want\n%s", doc, want)
	}
}

// renderBadInputDoc renders the rows as a Markdown table.
func renderBadInputDoc() []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated by TestAccBadInput in internal/resources/bad_input_test.go. Do not edit: change the rows there and run\n")
	b.WriteString("     UPDATE_SAFETY_DOCS=1 TF_ACC=1 go test -run '^TestAccBadInput$' ./internal/resources -->\n\n")
	b.WriteString("# Inputs refused at plan time\n\n")
	b.WriteString("`terraform plan` refuses each of these inputs before anything changes. The error points at the attribute, ")
	b.WriteString("and its detail says what to write instead (the last column quotes it). ")
	b.WriteString("*live* marks errors found by comparing the configuration with the running cluster; the others come from validation, before any connection. ")
	b.WriteString("Terraform 1.5 can show the source line of a top-level attribute or of a `members` entry; for an attribute nested in an object, such as `binary.path` or `ssh.port`, it shows the first line of the block, so the detail starts with the attribute's name. ")
	fmt.Fprintf(&b, "An acceptance test plans every row against a real cluster running etcd %s, whose members are s1, s2 and s3; `s1 = {…}` stands for that member's correct entry.\n\n", testhosts.DefaultEtcdVersion)
	b.WriteString("| Case | Input | Attribute | Error | What to write instead |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, r := range badInputs {
		var cfg []string
		for _, a := range splitAttrs(expand(r.in, docTokens)) {
			cfg = append(cfg, code(oneLine(a.text)))
		}
		attr := code(r.attr)
		if r.provider {
			attr = "provider " + attr
		}
		name := r.name
		if r.live() {
			name += " (*live*)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(name), strings.Join(cfg, "<br>"), attr, cell(r.summary), cell(expand(r.instead, docTokens)))
	}
	return b.Bytes()
}

// live reports whether the row's error comes from the cluster rather than
// from validation: the summaries the planner uses.
func (r badInput) live() bool {
	switch r.summary {
	case "Version change not allowed", "Wrong client URL", "Member not in the cluster", "Member missing from configuration", "Binary source not readable":
		return true
	}
	return false
}

// oneLine writes an HCL fragment on one line, with commas between the
// attributes of an object.
func oneLine(text string) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case i == 0:
		case strings.HasSuffix(b.String(), "{") || strings.HasPrefix(line, "}"):
			b.WriteString(" ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(line)
	}
	return b.String()
}

func code(s string) string { return "`" + strings.ReplaceAll(s, "|", `\|`) + "`" }
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// The rows must stay distinct and well formed, or the table and the test
// would drift apart silently.
func TestBadInputRows(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range badInputs {
		if seen[r.name] {
			t.Errorf("two rows named %q", r.name)
		}
		seen[r.name] = true
		if r.attr == "" || r.summary == "" || r.instead == "" {
			t.Errorf("%s: attr, summary and instead are required", r.name)
		}
		top := leaf(r.attr)
		if i := strings.IndexAny(r.attr, `.[`); i >= 0 {
			top = r.attr[:i]
		}
		found := false
		for _, a := range splitAttrs(r.in) {
			found = found || a.name == top
		}
		if !found {
			t.Errorf("%s: the input does not set %s", r.name, top)
		}
	}
	if len(badInputs) < 25 {
		t.Errorf("%d rows; the table promises at least 25", len(badInputs))
	}
}
