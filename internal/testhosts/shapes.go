package testhosts

import (
	"fmt"
	"os"
	"path"
	"strings"
)

// Host shapes (Options.Shape): the etcd installs operators run, each with the
// unit file, paths, owners and modes its installer leaves behind.
const (
	ShapeDefault   = ""          // testhosts' own: /usr/local/bin/etcd, /etc/etcd/etcd.env (or .yml), run as root
	ShapeKubespray = "kubespray" // kubespray's etcd_deployment_type=host
	ShapeRPM       = "rpm"       // Fedora/RHEL's etcd package (PGDG, Patroni setups)
	ShapeDebian    = "debian"    // Debian's etcd-server package, owned by dpkg
	ShapePercona   = "percona"   // Percona's Patroni guide: a YAML config file
	ShapeHardway   = "hardway"   // Kubernetes the Hard Way: every setting in ExecStart
	ShapeSymlink   = "symlink"   // versioned install roles: /usr/local/bin/etcd -> /opt/etcd-<version>/etcd
)

// Shapes lists every shape, default first.
var Shapes = []string{ShapeDefault, ShapeKubespray, ShapeRPM, ShapeDebian, ShapePercona, ShapeHardway, ShapeSymlink}

// Where units live: packages install into the distribution's unit directory,
// everything else into /etc.
const (
	etcUnit    = "/etc/systemd/system/etcd.service"
	debianUnit = "/lib/systemd/system/etcd.service"
	rpmUnit    = "/usr/lib/systemd/system/etcd.service"
)

// Users every host has besides root.
const (
	etcdUser = "etcd"   // the service user packages create (a system user)
	SudoUser = "deploy" // a login user with sudo, as operators connect
)

// shape is one row of the table in Options.Shape's comment.
type shape struct {
	binary      string      // ExecStart's binary
	toolDir     string      // where etcdctl and etcdutl go
	unitFile    string      // the unit file
	configFile  string      // "" when every setting is in ExecStart
	format      string      // "env", "yaml" or "flags" (in ExecStart)
	configOwner string      // user:group of the config file
	configMode  os.FileMode // mode of the config file
	runUser     string      // the unit's User=, "" for none (root)
	unit        string      // the unit text: %[1]s is Type=, %[2]s ExecStart's settings (hardway)
}

var shapes = map[string]shape{
	ShapeDefault: {
		binary: EtcdPath, toolDir: "/usr/local/bin", unitFile: etcUnit,
		configFile: EnvFile, format: "env", configOwner: "root:root", configMode: 0o644,
		// TimeoutStopSec=10s: what testhosts has always given etcd to stop.
		// TimeoutStartSec=30s, as hand-written units often shorten it: a
		// member that never becomes ready fails its start in 30 s, not 90.
		unit: `# etcd member (written by testhosts)
[Unit]
Description=etcd key-value store
After=network.target

[Service]
Type=%[1]s
EnvironmentFile=/etc/etcd/etcd.env
ExecStart=/usr/local/bin/etcd
TimeoutStartSec=30s
TimeoutStopSec=10s

[Install]
WantedBy=multi-user.target
`,
	},
	ShapeKubespray: {
		binary: EtcdPath, toolDir: "/usr/local/bin", unitFile: etcUnit,
		configFile: "/etc/etcd.env", format: "env", configOwner: "root:root", configMode: 0o640,
		runUser: "root",
		unit: `[Unit]
Description=etcd
After=network.target

[Service]
Type=%[1]s
User=root
EnvironmentFile=/etc/etcd.env
ExecStart=/usr/local/bin/etcd
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
`,
	},
	ShapeRPM: {
		binary: "/usr/bin/etcd", toolDir: "/usr/bin", unitFile: rpmUnit,
		configFile: "/etc/etcd/etcd.conf", format: "env", configOwner: "root:etcd", configMode: 0o640,
		runUser: etcdUser,
		unit: `[Unit]
Description=Etcd Server
After=network.target
After=network-online.target
Wants=network-online.target

[Service]
Type=%[1]s
WorkingDirectory=/var/lib/etcd/
EnvironmentFile=-/etc/etcd/etcd.conf
User=etcd
ExecStart=/usr/bin/etcd
Restart=on-failure
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`,
	},
	ShapeDebian: {
		binary: "/usr/bin/etcd", toolDir: "/usr/bin", unitFile: debianUnit,
		configFile: "/etc/default/etcd", format: "env", configOwner: "root:root", configMode: 0o644,
		runUser: etcdUser,
		unit: `[Unit]
Description=etcd - highly-available key value store
Documentation=https://etcd.io/docs
Documentation=man:etcd
After=network.target
Wants=network-online.target

[Service]
Environment=DAEMON_ARGS=
Environment=ETCD_NAME=%%H
Environment=ETCD_DATA_DIR=/var/lib/etcd/default
EnvironmentFile=-/etc/default/%%p
Type=%[1]s
User=etcd
PermissionsStartOnly=true
#ExecStart=/bin/sh -c "GOMAXPROCS=$(nproc) /usr/bin/etcd $DAEMON_ARGS"
ExecStart=/usr/bin/etcd $DAEMON_ARGS
Restart=on-abnormal
#RestartSec=10s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
Alias=etcd2.service
`,
	},
	ShapePercona: {
		binary: "/usr/bin/etcd", toolDir: "/usr/bin", unitFile: etcUnit,
		configFile: "/etc/etcd/etcd.conf.yaml", format: "yaml", configOwner: "etcd:etcd", configMode: 0o640,
		runUser: etcdUser,
		unit: `[Unit]
After=network.target
Description=etcd - highly-available key value store

[Service]
LimitNOFILE=65536
Restart=on-failure
Type=%[1]s
ExecStart=/usr/bin/etcd --config-file /etc/etcd/etcd.conf.yaml
User=etcd

[Install]
WantedBy=multi-user.target
`,
	},
	ShapeHardway: {
		binary: EtcdPath, toolDir: "/usr/local/bin", unitFile: etcUnit, format: "flags",
		unit: `[Unit]
Description=etcd
Documentation=https://github.com/etcd-io/etcd

[Service]
Type=%[1]s
ExecStart=/usr/local/bin/etcd%[2]s
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
`,
	},
	ShapeSymlink: {
		binary: EtcdPath, toolDir: "/usr/local/bin", unitFile: etcUnit,
		configFile: EnvFile, format: "env", configOwner: "etcd:etcd", configMode: 0o640,
		runUser: etcdUser,
		unit: `[Unit]
Description=etcd
After=network-online.target
Wants=network-online.target

[Service]
Type=%[1]s
User=etcd
Group=etcd
EnvironmentFile=/etc/etcd/etcd.env
ExecStart=/usr/local/bin/etcd
Restart=on-failure
RestartSec=5s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`,
	},
}

// runAs is the user etcd runs as: the unit's User=, or root without one.
func (sh shape) runAs() string {
	if sh.runUser == "" {
		return "root"
	}
	return sh.runUser
}

// optDir is where the symlink shape unpacks version's binaries.
func optDir(version string) string { return "/opt/etcd-" + version }

// unitText renders the shape's unit for the member's settings.
func (sh shape) unitText(unitType string, s []setting) string {
	var flags string
	if sh.format == "flags" {
		flags = execStartFlags(s)
	}
	return fmt.Sprintf(sh.unit, unitType, flags)
}

// execStartFlags renders settings as ExecStart arguments, one per
// continuation line as the Hard Way writes them: ETCD_FOO_BAR=v becomes
// --foo-bar v, booleans --foo-bar=true (Go's flag package takes no separate
// value for them).
func execStartFlags(s []setting) string {
	var b strings.Builder
	for _, kv := range s {
		flag := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(kv.key, "ETCD_")), "_", "-")
		if kv.value == "true" || kv.value == "false" {
			fmt.Fprintf(&b, " \\\n  %s=%s", flag, kv.value)
		} else {
			fmt.Fprintf(&b, " \\\n  %s %s", flag, unitWord(kv.value))
		}
	}
	return b.String()
}

// unitWord quotes v for a unit file's command line: $ and % are doubled so
// systemd substitutes nothing, and a value with spaces or quotes is put in
// double quotes.
func unitWord(v string) string {
	v = strings.NewReplacer("$", "$$", "%", "%%").Replace(v)
	if v != "" && !strings.ContainsAny(v, " \t\"'\\") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// configTarget is where Options.ConfigSymlink puts the real config file: in
// a directory of its own next to the link, as roles that keep one file per
// cluster or version do.
func configTarget(configFile string) string {
	return path.Join(configFile+".d", path.Base(configFile))
}

// dpkgStatus is the status entry that makes dpkg see etcd-server installed.
func dpkgStatus(version string) string {
	return fmt.Sprintf(`Package: etcd-server
Status: install ok installed
Priority: optional
Section: database
Installed-Size: 25000
Maintainer: Debian Go Packaging Team <team+pkg-go@tracker.debian.org>
Architecture: amd64
Source: etcd
Version: %s-1
Depends: adduser, libc6 (>= 2.34)
Conffiles:
 /etc/default/etcd newconffile
Description: highly-available key value store -- daemon
 A highly-available key value store for shared configuration and service
 discovery (installed by testhosts).
Homepage: https://etcd.io/
`, version)
}

// dpkgList is /var/lib/dpkg/info/etcd-server.list: what `dpkg -S` searches.
const dpkgList = `/.
/etc
/etc/default
/etc/default/etcd
/lib
/lib/systemd
/lib/systemd/system
/lib/systemd/system/etcd.service
/usr
/usr/bin
/usr/bin/etcd
`
