package testhosts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// overlaid are the machine's directories that each host sees through an
// overlay of its own: the machine's files as the lower layer, the host's
// changes in Root+dir (the upper layer). Users, sudoers, unit files, packages
// and binaries a host gets stay out of the machine's own directories.
var overlaid = []string{"/etc", "/usr/bin", "/usr/lib/systemd/system", "/opt", "/var/lib/dpkg", "/home"}

// overlayWorkDir is the overlay's scratch directory for dir: on the upper
// layer's file system, outside it, as overlayfs requires.
func (h *Host) overlayWorkDir(dir string) string { return filepath.Join(h.Root, ".overlay", dir) }

// ownership is a path whose owner and mode are set inside the host once its
// users exist (Go writes files before the host's namespace, and its users,
// exist).
type ownership struct {
	path, owner string // owner is "user:group"
	mode        os.FileMode
	recursive   bool // owner only, for a whole tree (TLS material)
}

// toolPlace is where a host keeps one etcd tool: the file, and for the
// symlink shape the link that names it.
type toolPlace struct{ name, file, link string }

func toolPlaces(shapeName, version string, tools map[string]string) []toolPlace {
	sh := shapes[shapeName]
	var places []toolPlace
	for _, name := range slices.Sorted(maps.Keys(tools)) {
		if shapeName == ShapeSymlink {
			places = append(places, toolPlace{name, path.Join(optDir(version), name), path.Join(sh.toolDir, name)})
		} else {
			places = append(places, toolPlace{name: name, file: path.Join(sh.toolDir, name)})
		}
	}
	return places
}

// installEtcd puts version's tools where the shape keeps them, before the
// host's namespace exists: the files go straight into the host's folders
// and upper layers.
func (h *Host) installEtcd(shapeName, version string, tools map[string]string) error {
	for _, p := range toolPlaces(shapeName, version, tools) {
		if err := os.MkdirAll(filepath.Dir(h.Path(p.file)), 0o755); err != nil {
			return err
		}
		if err := copyExecutable(tools[p.name], h.Path(p.file)); err != nil {
			return fmt.Errorf("%s: install %s: %w", h.Name, p.name, err)
		}
		if p.link != "" {
			if err := os.Remove(h.Path(p.link)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := os.Symlink(p.file, h.Path(p.link)); err != nil {
				return fmt.Errorf("%s: link %s: %w", h.Name, p.link, err)
			}
		}
	}
	return nil
}

// installEtcdLive is installEtcd on a running host: through its namespace,
// since files written into a mounted overlay's upper layer from outside are
// not reliably seen. Each file and link is replaced by a rename, so a running
// binary is never written into.
func (h *Host) installEtcdLive(ctx context.Context, shapeName, version string, tools map[string]string) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, p := range toolPlaces(shapeName, version, tools) {
		fmt.Fprintf(&script, "mkdir -p %s\ninstall -m 0755 %s %s\nmv -f %s %s\n",
			shellQuote(path.Dir(p.file)), shellQuote(tools[p.name]), shellQuote(p.file+".testhosts-tmp"),
			shellQuote(p.file+".testhosts-tmp"), shellQuote(p.file))
		if p.link != "" {
			fmt.Fprintf(&script, "ln -sfn %s %s\nmv -Tf %s %s\n", shellQuote(p.file), shellQuote(p.link+".testhosts-tmp"),
				shellQuote(p.link+".testhosts-tmp"), shellQuote(p.link))
		}
	}
	if out, err := h.Exec(ctx, script.String()); err != nil {
		return fmt.Errorf("install etcd %s: %w: %s", version, err, strings.TrimSpace(out))
	}
	return nil
}

// writeUnitAndConfig writes the member's unit file and config as the shape
// lays them out, and records their owners for provisioning.
func (h *Host) writeUnitAndConfig(opts Options, settings []setting) error {
	sh := shapes[opts.Shape]
	if err := writeFileMkdir(h.Path(sh.unitFile), []byte(sh.unitText(opts.UnitType, settings)), 0o644); err != nil {
		return err
	}
	configFile := h.sb.ConfigFile()
	var body []byte
	switch {
	case sh.format == "flags":
		// The unit has it all.
	case opts.Shape == ShapeDefault && opts.ConfigFormat == "yaml":
		body = yamlFile(h.Name, settings)
		env := fmt.Sprintf("# etcd member %s (written by testhosts): settings are in the config file\nETCD_CONFIG_FILE=%s\n", h.Name, YAMLFile)
		if err := os.WriteFile(h.Path(EnvFile), []byte(env), 0o644); err != nil {
			return err
		}
	case sh.format == "yaml":
		body = yamlFile(h.Name, settings)
	default:
		body = envFile(h.Name, settings)
		if opts.Shape == ShapeDebian {
			body = fmt.Appendf(body, "# Flags for the unit's ExecStart=/usr/bin/etcd $DAEMON_ARGS\nDAEMON_ARGS=%s\n", envQuoted(opts.DaemonArgs))
		}
	}
	if body != nil {
		file := configFile
		if opts.ConfigSymlink {
			file = configTarget(configFile)
			if err := os.Symlink(file, h.Path(configFile)); err != nil {
				return err
			}
		}
		if err := writeFileMkdir(h.Path(file), body, sh.configMode); err != nil {
			return err
		}
		h.owners = append(h.owners, ownership{path: file, owner: sh.configOwner, mode: sh.configMode})
	}

	if user := sh.runAs(); user != "root" {
		// etcd cannot create its data dir in root's /var/lib/etcd.
		if err := os.MkdirAll(h.Path(DataDir), 0o700); err != nil {
			return err
		}
		h.owners = append(h.owners, ownership{path: DataDir, owner: user + ":" + user, mode: 0o700})
		if opts.TLS {
			h.owners = append(h.owners, ownership{path: TLSDir, owner: user + ":" + user, recursive: true})
		}
	}
	if opts.Shape == ShapeDebian {
		// dpkg -S searches the .list files of the packages the status file
		// has installed; provisioning appends the status entry.
		if err := writeFileMkdir(h.Path("/var/lib/dpkg/info/etcd-server.list"), []byte(dpkgList), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeSudoers gives the sudo user its rule. sudo refuses sudoers files that
// are not root's and 0440 (or stricter).
func (h *Host) writeSudoers(policy string) error {
	rule := SudoUser + " ALL=(ALL) NOPASSWD: ALL\n"
	switch policy {
	case "password":
		rule = SudoUser + " ALL=(ALL) ALL\n"
	case "requiretty":
		rule = "Defaults:" + SudoUser + " requiretty\n" + rule
	}
	body := "# written by testhosts (Options.SudoPolicy " + fmt.Sprintf("%q", policy) + ")\n" + rule
	p := h.Path("/etc/sudoers.d/" + SudoUser)
	if err := writeFileMkdir(p, []byte(body), 0o440); err != nil {
		return err
	}
	return os.Chmod(p, 0o440) // whatever the umask
}

// provisionScript creates the host's users with the real tools, in its own
// /etc, and sets what needs them: owners, the sudo user's password, dpkg's
// record of etcd-server. Arguments: the sudo password ("" for none), the
// dpkg status entry ("" for none).
func (h *Host) provisionScript() string {
	var b strings.Builder
	b.WriteString(`set -e
# The service user, as packages create it: a system user without a home.
groupadd --system etcd
useradd --system --gid etcd --home-dir /var/lib/etcd --no-create-home --shell /usr/sbin/nologin --no-log-init --comment 'etcd user' etcd
# The login user, on the first uid and gid from 2001 the machine does not use.
id=2001
while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do id=$((id + 1)); done
groupadd --gid "$id" deploy
useradd --uid "$id" --gid deploy --create-home --shell /bin/bash --no-log-init deploy
if [ -n "$1" ]; then
	printf 'deploy:%s\n' "$1" | chpasswd
else
	# useradd locks the password ("!"), and an sshd without PAM refuses
	# key logins to locked accounts; "*" only means no password works.
	usermod --password '*' deploy
fi
if [ -n "$2" ]; then printf '\n%s\n' "$2" >>/var/lib/dpkg/status; fi
`)
	for _, o := range h.owners {
		if o.recursive {
			fmt.Fprintf(&b, "chown -R %s %s\n", shellQuote(o.owner), shellQuote(o.path))
			continue
		}
		fmt.Fprintf(&b, "chown %s %s\nchmod %04o %s\n", shellQuote(o.owner), shellQuote(o.path), o.mode.Perm(), shellQuote(o.path))
	}
	return b.String()
}

func writeFileMkdir(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}

// envQuoted double-quotes v for an EnvironmentFile line.
func envQuoted(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(v) + `"`
}

// shellQuote quotes s as one word for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
