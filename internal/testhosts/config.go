package testhosts

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Paths as seen on a host (inside its mount namespace).
const (
	EnvFile  = "/etc/etcd/etcd.env" // the service's environment file
	YAMLFile = "/etc/etcd/etcd.yml" // the etcd config file in the "yaml" format
	EtcdPath = "/usr/local/bin/etcd"
	DataDir  = "/var/lib/etcd/data"
	EtcdLog  = "/var/lib/etcd/etcd.log" // etcd's output, what `journalctl -u etcd` shows
)

var envKeyRE = regexp.MustCompile(`^ETCD_[A-Z0-9_]+$`)

type setting struct{ key, value string }

// memberSettings is the ETCD_* configuration of one member of a new cluster,
// with opts.ExtraEnv applied on top (replacing or adding).
func memberSettings(h *Host, hosts []*Host, token string, extra map[string]string) []setting {
	var initial []string
	for _, o := range hosts {
		initial = append(initial, o.Name+"="+o.PeerURL)
	}
	s := []setting{
		{"ETCD_NAME", h.Name},
		{"ETCD_DATA_DIR", DataDir},
		{"ETCD_LISTEN_CLIENT_URLS", h.ClientURL},
		{"ETCD_ADVERTISE_CLIENT_URLS", h.ClientURL},
		{"ETCD_LISTEN_PEER_URLS", h.PeerURL},
		{"ETCD_INITIAL_ADVERTISE_PEER_URLS", h.PeerURL},
		{"ETCD_INITIAL_CLUSTER", strings.Join(initial, ",")},
		{"ETCD_INITIAL_CLUSTER_TOKEN", token},
		{"ETCD_INITIAL_CLUSTER_STATE", "new"},
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
next:
	for _, k := range keys {
		for i := range s {
			if s[i].key == k {
				s[i].value = extra[k]
				continue next
			}
		}
		s = append(s, setting{k, extra[k]})
	}
	return s
}

// envFile renders settings as a systemd EnvironmentFile.
func envFile(name string, s []setting) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# etcd member %s (written by testhosts; read by `systemctl start etcd`)\n", name)
	for _, kv := range s {
		fmt.Fprintf(&b, "%s=%s\n", kv.key, envValue(kv.value))
	}
	return []byte(b.String())
}

// envValue quotes a value only when systemd would otherwise split or
// mangle it.
func envValue(v string) string {
	if strings.ContainsAny(v, " \t\"'\\$#") {
		return strconv.Quote(v)
	}
	return v
}

// yamlFile renders settings as an etcd --config-file: ETCD_FOO_BAR becomes
// foo-bar, the flag name etcd's YAML keys use, except the transport
// security settings, which go into their objects (see yamlNested).
func yamlFile(name string, s []setting) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# etcd member %s (written by testhosts)\n", name)
	nested := map[string][]string{}
	for _, kv := range s {
		if at, ok := yamlNested[kv.key]; ok {
			nested[at[0]] = append(nested[at[0]], fmt.Sprintf("  %s: %s\n", at[1], yamlScalar(kv.value)))
			continue
		}
		key := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(kv.key, "ETCD_")), "_", "-")
		fmt.Fprintf(&b, "%s: %s\n", key, yamlScalar(kv.value))
	}
	for _, obj := range []string{"client-transport-security", "peer-transport-security"} {
		if lines := nested[obj]; len(lines) > 0 {
			fmt.Fprintf(&b, "%s:\n%s", obj, strings.Join(lines, ""))
		}
	}
	return []byte(b.String())
}

// yamlScalar leaves booleans and numbers bare, so etcd decodes them into its
// bool and integer fields, and quotes everything else as a string.
func yamlScalar(v string) string {
	if v == "true" || v == "false" {
		return v
	}
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXpP_") {
		return v
	}
	return strconv.Quote(v)
}

// sshdConfig is the sshd_config of one host: its own address, host key, pid
// file and the sandbox's authorized keys for root and the sudo user, nothing
// from /etc/ssh.
func sshdConfig(h *Host, authorizedKeys string) string {
	return fmt.Sprintf(`# sshd of testhosts host %[1]s, one per loopback address.
ListenAddress %[2]s:22
HostKey %[3]s
PidFile %[4]s
AuthorizedKeysFile %[5]s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files are root's and 0600, but the sandbox may live under /tmp,
# whose mode fails sshd's check of every directory above authorized_keys.
StrictModes no
# A rollout opens many sessions, and parallel tests connect in bursts.
MaxSessions 64
MaxStartups 100
# Root's PATH with /usr/local/bin first, so the systemctl and journalctl
# stand-ins there win over any real ones.
SetEnv PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
Subsystem sftp internal-sftp
PrintMotd no
# The sudo user logs in with the same keys. sshd reads authorized keys files
# as the user logging in, who cannot read root's, so the keys reach it
# through a command that sshd runs as root.
Match User %[6]s
	AuthorizedKeysFile none
	AuthorizedKeysCommand /bin/cat %[7]s
	AuthorizedKeysCommandUser root
`, h.Name, h.Addr, h.hostKeyFile(), h.sshdPidFile(), authorizedKeys, SudoUser, strings.ReplaceAll(authorizedKeys, "%", "%%"))
}
