// Package testhosts runs throwaway "hosts" for the provider's acceptance
// tests, `make demo` and `make bench`: one real OpenSSH sshd per loopback
// address 127.0.N.i, each in its own mount namespace, and optionally a real
// etcd cluster on them, run by a systemctl stand-in from a real unit file.
// The provider reaches them exactly as it reaches real machines: SSH on port
// 22 as root or as a sudo user, host keys checked, the default service
// commands.
//
// In its namespace each host has its own /etc, /usr/bin,
// /usr/lib/systemd/system, /opt, /var/lib/dpkg and /home (overlays on the
// machine's, so users, sudoers, unit files and packages of its own never
// touch the machine), its own /run (a tmpfs), and /etc/etcd, /var/lib/etcd
// and /usr/local/bin bound to plain per-host folders. Options.Shape lays
// etcd out as an installer would (kubespray, rpm, debian, ...), with the real
// owners and modes.
//
// Everything needs root: mount namespaces, overlay and bind mounts, port 22.
//
// In a test:
//
//	sb := testhosts.ForTest(t, testhosts.Options{EtcdVersion: "3.5.21"})
//	// ssh: user root, private_key = string(sb.PrivateKeyPEM),
//	//      known_hosts_file = sb.KnownHostsFile
//	// members: h.Name => { host = h.Addr, client_url = h.ClientURL } for h in sb.Hosts
//	// binary.source: testhosts.EtcdBinary("3.5.16")
//	sb.Hosts[1].StopSSHD()                          // fault: host unreachable
//	sb.Hosts[2].Exec(ctx, "kill -STOP $(cat /var/lib/etcd/etcd.pid)") // fault: anything, as root on the host
//
// ForTest skips the test, saying why and how to fix it, when the machine
// lacks root, sshd, sudo or the cached binaries (scripts/prereqs.sh), and
// fails it instead when TF_ACC is set; it closes the sandbox when the test
// ends.
package testhosts

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultEtcdVersion is the cluster version when Options.EtcdVersion is "".
const DefaultEtcdVersion = "3.5.21"

const (
	sshdPath = "/usr/sbin/sshd"
	sudoPath = "/usr/bin/sudo"
)

// Options configure Start. The zero value is a 3-member etcd 3.5.21 cluster
// with an env-file config on a free address block in a temp dir.
type Options struct {
	Members      int    // default 3
	EtcdVersion  string // default DefaultEtcdVersion; ignored with NoEtcd
	ConfigFormat string // "env" (default): ETCD_* lines in EnvFile; "yaml": YAMLFile, and EnvFile only sets ETCD_CONFIG_FILE
	NoEtcd       bool   // hosts only: no etcd binaries installed, nothing started (the config is still written)
	Block        int    // 1-254 uses 127.0.<Block>.0/24; 0 picks a free block in 127.0.10-99
	Dir          string // "" = a new temp dir, removed by Close

	// ExtraEnv adds ETCD_* settings to every member's config, or replaces
	// the defaults of the same name. In the yaml format ETCD_FOO_BAR is
	// written as foo-bar.
	ExtraEnv map[string]string

	// TLS serves both client and peer URLs over https with certificates
	// from a CA made for this sandbox, and requires a certificate from that
	// CA of every client (client-cert-auth) and every peer. Clients use
	// Sandbox.ClientCertPEM/ClientKeyPEM and trust CACertPEM.
	TLS bool

	// Detached lets the sandbox outlive this process (etcd-sandbox up): the
	// block lock is also held by the hosts' processes, so no one else takes
	// the block until Load(Dir).Close() stops them.
	Detached bool

	// Shape lays etcd out on every host as an installer would, with a real
	// unit file and the owners and modes that installer leaves:
	//
	//	shape      binary                                   unit file (User=)                               config
	//	""         /usr/local/bin/etcd                      /etc/systemd/system/etcd.service (none)         /etc/etcd/etcd.env root:root 0644 (or ConfigFormat yaml)
	//	kubespray  /usr/local/bin/etcd                      /etc/systemd/system/etcd.service (root)         /etc/etcd.env root:root 0640
	//	rpm        /usr/bin/etcd                            /usr/lib/systemd/system/etcd.service (etcd)     /etc/etcd/etcd.conf root:etcd 0640 (EnvironmentFile=-)
	//	debian     /usr/bin/etcd, dpkg's (etcd-server)      /lib/systemd/system/etcd.service (etcd)         /etc/default/etcd root:root 0644, ExecStart=/usr/bin/etcd $DAEMON_ARGS
	//	percona    /usr/bin/etcd                            /etc/systemd/system/etcd.service (etcd)         /etc/etcd/etcd.conf.yaml etcd:etcd 0640 (--config-file)
	//	hardway    /usr/local/bin/etcd                      /etc/systemd/system/etcd.service (none)         none: every setting in ExecStart
	//	symlink    /usr/local/bin/etcd -> /opt/etcd-<v>/etcd /etc/systemd/system/etcd.service (etcd)        /etc/etcd/etcd.env etcd:etcd 0640
	//
	// Binaries are root:root 0755; the data dir belongs to the unit's user.
	Shape string

	// UnitType is the unit's Type=: "notify" (default; start returns once
	// etcd serves clients), "simple" (start returns at the fork) or "exec".
	UnitType string

	// ConfigSymlink makes the config file a symlink to the real file in a
	// directory of its own, e.g. /etc/etcd/etcd.env ->
	// /etc/etcd/etcd.env.d/etcd.env (Sandbox.ConfigTarget).
	ConfigSymlink bool

	// DaemonArgs is the DAEMON_ARGS of the debian shape's /etc/default/etcd:
	// flags its unit passes to etcd ($DAEMON_ARGS, split at whitespace).
	DaemonArgs string

	// SudoPolicy is the sudoers rule of the "deploy" user (Sandbox.SudoUser):
	// "" allows everything without a password (NOPASSWD); "password" asks
	// for Sandbox.SudoPassword; "requiretty" is NOPASSWD but refuses to run
	// without a terminal.
	SudoPolicy string
}

// Sandbox is a set of hosts, and usually an etcd cluster on them.
type Sandbox struct {
	Dir            string
	Hosts          []*Host
	KnownHostsFile string // "127.0.N.i ssh-ed25519 AAAA..." for every host
	PrivateKeyFile string // OpenSSH ed25519 key authorised for root on every host
	PrivateKeyPEM  []byte

	Block        int    // hosts are 127.0.<Block>.1..n
	EtcdVersion  string // the version the cluster was started with; "" with NoEtcd
	ConfigFormat string // "env", "yaml" or "flags" (hardway: settings in ExecStart)

	// The hosts' layout (see Options.Shape), as paths on a host.
	Shape        string
	BinaryPath   string // the etcd the unit runs, e.g. /usr/bin/etcd
	UnitFile     string // e.g. /lib/systemd/system/etcd.service
	UnitType     string // the unit's Type=
	RunUser      string // the user etcd runs as: the unit's User=, or root
	ConfigTarget string // with Options.ConfigSymlink, the file ConfigFile() links to

	// SudoUser ("deploy") logs in with PrivateKeyFile like root and may run
	// anything through the real sudo, per SudoPolicy; SudoPassword is its
	// password with SudoPolicy "password".
	SudoUser     string
	SudoPolicy   string
	SudoPassword string

	// With Options.TLS: the CA that signed every member's certificates, and
	// a client certificate with CN root (ClientCertName) that the members
	// accept. Files are on this machine's file system, under Dir/pki.
	TLS            bool
	CACertFile     string
	ClientCertFile string
	ClientKeyFile  string // mode 0600
	CACertPEM      []byte
	ClientCertPEM  []byte
	ClientKeyPEM   []byte

	tempDir bool
	lock    *os.File // the block's lock; nil when Load()ed

	mu     sync.Mutex // guards the hosts' process records and closed
	closed bool

	tlsHTTPOnce sync.Once // builds tlsHTTP, the health checks' client with Options.TLS
	tlsHTTP     *http.Client
	tlsHTTPErr  error
}

// Start creates the hosts and, unless opts.NoEtcd, a healthy etcd cluster of
// opts.EtcdVersion started by each host's `systemctl start etcd`. On error
// everything already started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := Prerequisites(opts); err != nil {
		return nil, err
	}
	var tools map[string]string
	if !opts.NoEtcd {
		if tools, err = etcdTools(opts.EtcdVersion); err != nil {
			return nil, err
		}
	}

	sh := shapes[opts.Shape]
	s := &Sandbox{
		EtcdVersion: opts.EtcdVersion, ConfigFormat: opts.ConfigFormat,
		Shape: opts.Shape, BinaryPath: sh.binary, UnitFile: sh.unitFile, UnitType: opts.UnitType, RunUser: sh.runAs(),
		SudoUser: SudoUser, SudoPolicy: opts.SudoPolicy,
	}
	if opts.ConfigSymlink {
		s.ConfigTarget = configTarget(s.ConfigFile())
	}
	if opts.SudoPolicy == "password" {
		if s.SudoPassword, err = randomPassword(); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	if s.Block, s.lock, err = allocateBlock(ctx, opts.Block, opts.Members); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		if s.Dir, err = os.MkdirTemp("", "etcd-sandbox-"); err != nil {
			return nil, err
		}
		s.tempDir = true
	} else if s.Dir, err = prepareDir(opts.Dir); err != nil {
		return nil, err
	}

	// Overlay mount options separate paths with ',' and ':'.
	if strings.ContainsAny(s.Dir, ",:\\ \t\n") {
		return nil, fmt.Errorf("testhosts: sandbox directory %q: overlay mounts cannot name a path with ',', ':', '\\' or white space; choose another Dir", s.Dir)
	}
	// The bind mount of /var/lib/etcd needs a directory to cover. On the
	// machine itself it stays empty; only the hosts' namespaces see content
	// there. (/etc/etcd is in each host's own /etc.)
	if err := os.MkdirAll("/var/lib/etcd", 0o755); err != nil {
		return nil, err
	}

	if err := s.writeClientKey(); err != nil {
		return nil, err
	}
	scheme := "http://"
	var ca *certAuthority
	if opts.TLS {
		scheme = "https://"
		if ca, err = s.writeClientTLS(); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= opts.Members; i++ {
		addr := fmt.Sprintf("127.0.%d.%d", s.Block, i)
		h := &Host{
			Name:      fmt.Sprintf("s%d", i),
			Addr:      addr,
			Root:      filepath.Join(s.Dir, "hosts", fmt.Sprintf("s%d", i)),
			ClientURL: scheme + addr + ":2379",
			PeerURL:   scheme + addr + ":2380",
			sb:        s,
		}
		if err := h.writeFiles(opts, tools); err != nil {
			return nil, err
		}
		if ca != nil {
			if err := h.writeTLS(ca); err != nil {
				return nil, fmt.Errorf("%s: certificates: %w", h.Name, err)
			}
		}
		s.Hosts = append(s.Hosts, h)
	}
	// Configs name every member, so they are written once all hosts exist.
	for _, h := range s.Hosts {
		if err := h.writeEtcdConfig(opts, fmt.Sprintf("testhosts-%d", s.Block)); err != nil {
			return nil, err
		}
	}
	if err := s.writeKnownHosts(); err != nil {
		return nil, err
	}

	var holderLock *os.File
	if opts.Detached {
		holderLock = s.lock
	}
	if err := s.eachHost(func(h *Host) error {
		if err := h.startNamespace(ctx, holderLock); err != nil {
			return err
		}
		return h.startSSHD(ctx)
	}); err != nil {
		return nil, err
	}

	if !opts.NoEtcd {
		// All members at once: none can finish starting without a quorum.
		if err := s.eachHost(func(h *Host) error { return h.StartEtcd(ctx) }); err != nil {
			return nil, err
		}
		if err := s.WaitHealthy(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Members == 0 {
		o.Members = 3
	}
	if o.Members < 1 || o.Members > 254 {
		return o, fmt.Errorf("testhosts: Members %d: want 1-254", o.Members)
	}
	if o.NoEtcd {
		o.EtcdVersion = ""
	} else if o.EtcdVersion == "" {
		o.EtcdVersion = DefaultEtcdVersion
	}
	sh, ok := shapes[o.Shape]
	if !ok {
		return o, fmt.Errorf("testhosts: Shape %q: want one of %q", o.Shape, Shapes)
	}
	switch {
	case o.Shape == ShapeDefault && (o.ConfigFormat == "" || o.ConfigFormat == "env" || o.ConfigFormat == "yaml"):
		if o.ConfigFormat == "" {
			o.ConfigFormat = "env"
		}
	case o.Shape == ShapeDefault:
		return o, fmt.Errorf("testhosts: ConfigFormat %q: want env or yaml", o.ConfigFormat)
	case o.ConfigFormat == "" || o.ConfigFormat == sh.format:
		o.ConfigFormat = sh.format
	default:
		return o, fmt.Errorf("testhosts: ConfigFormat %q: the %s shape's config is %s", o.ConfigFormat, o.Shape, sh.format)
	}
	switch o.UnitType {
	case "":
		o.UnitType = "notify"
	case "notify", "simple", "exec":
	default:
		return o, fmt.Errorf("testhosts: UnitType %q: want notify, simple or exec", o.UnitType)
	}
	switch o.SudoPolicy {
	case "", "password", "requiretty":
	default:
		return o, fmt.Errorf("testhosts: SudoPolicy %q: want \"\", password or requiretty", o.SudoPolicy)
	}
	if o.ConfigSymlink && sh.format == "flags" {
		return o, fmt.Errorf("testhosts: ConfigSymlink: the %s shape has no config file", o.Shape)
	}
	if o.DaemonArgs != "" && o.Shape != ShapeDebian {
		return o, errors.New("testhosts: DaemonArgs: only the debian shape has DAEMON_ARGS")
	}
	if o.Block < 0 || o.Block > 254 {
		return o, fmt.Errorf("testhosts: Block %d: want 1-254, or 0 for a free one", o.Block)
	}
	for k := range o.ExtraEnv {
		if !envKeyRE.MatchString(k) {
			return o, fmt.Errorf("testhosts: ExtraEnv key %q: want ETCD_[A-Z0-9_]+", k)
		}
	}
	return o, nil
}

// Prerequisites reports what keeps Start from working on this machine, and
// how to fix it; nil if nothing does.
func Prerequisites(opts Options) error {
	if os.Geteuid() != 0 {
		return errors.New("testhosts needs root (mount namespaces, bind mounts, sshd on port 22): run the tests as root")
	}
	if !isExecutable(sshdPath) {
		return fmt.Errorf("%s not found: install openssh-server (scripts/prereqs.sh does)", sshdPath)
	}
	for _, tool := range []string{"unshare", "nsenter", "setsid", "setpriv", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install util-linux (scripts/prereqs.sh does)", tool)
		}
	}
	for _, tool := range []string{"useradd", "groupadd", "chpasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: install passwd (scripts/prereqs.sh does)", tool)
		}
	}
	// Every host has a sudo user; its sudo is the machine's, setuid root.
	if fi, err := os.Stat(sudoPath); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		return fmt.Errorf("%s not found or not setuid: install sudo (scripts/prereqs.sh does)", sudoPath)
	}
	if sh := shapes[opts.Shape]; strings.HasPrefix(sh.unitFile, "/usr/lib/") || strings.HasPrefix(sh.unitFile, "/lib/") {
		if fi, err := os.Stat("/usr/lib/systemd/system"); err != nil || !fi.IsDir() {
			return fmt.Errorf("the %s shape's unit goes to /usr/lib/systemd/system, which this machine lacks (install systemd)", opts.Shape)
		}
	}
	if wildcardSSHListener() {
		return errors.New("something listens on port 22 of every address (a system sshd?), so the hosts' sshd cannot bind 127.0.N.i:22: " +
			"stop it, e.g. `systemctl disable --now ssh` (scripts/prereqs.sh does)")
	}
	if !opts.NoEtcd {
		v := opts.EtcdVersion
		if v == "" {
			v = DefaultEtcdVersion
		}
		if _, err := EtcdBinary(v); err != nil {
			return err
		}
	}
	return nil
}

// prepareDir makes dir ready for a new sandbox. A sandbox recorded there that
// still runs is an error; a dead one is cleared away.
func prepareDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if old, err := Load(dir); err == nil {
		if old.Running() {
			return "", fmt.Errorf("a sandbox is running in %s: stop it first (etcd-sandbox down -dir %s)", dir, dir)
		}
		if err := old.Close(); err != nil {
			return "", err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "hosts")); err == nil {
		return "", fmt.Errorf("%s/hosts exists but no sandbox.json: not a sandbox directory, choose another", dir)
	}
	return dir, nil
}

func (s *Sandbox) writeClientKey() error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "testhosts")
	if err != nil {
		return err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	s.PrivateKeyPEM = pem.EncodeToMemory(block)
	s.PrivateKeyFile = filepath.Join(s.Dir, "id_ed25519")
	if err := os.WriteFile(s.PrivateKeyFile, s.PrivateKeyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(s.authorizedKeysFile(), ssh.MarshalAuthorizedKey(sshPub), 0o600)
}

func (s *Sandbox) authorizedKeysFile() string { return s.PrivateKeyFile + ".pub" }

// AuthorizeKey lets pub log in as root on every host, besides the sandbox's
// own key, e.g. an encrypted key a test made. sshd reads the file at every
// login, so running hosts accept the key at once.
func (s *Sandbox) AuthorizeKey(pub ssh.PublicKey) error {
	f, err := os.OpenFile(s.authorizedKeysFile(), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(ssh.MarshalAuthorizedKey(pub)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Sandbox) writeKnownHosts() error {
	var b bytes.Buffer
	for _, h := range s.Hosts {
		fmt.Fprintf(&b, "%s %s", h.Addr, ssh.MarshalAuthorizedKey(h.HostKey))
	}
	s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
	return os.WriteFile(s.KnownHostsFile, b.Bytes(), 0o644)
}

// eachHost runs f for every host in parallel.
func (s *Sandbox) eachHost(f func(*Host) error) error {
	errs := make([]error, len(s.Hosts))
	var wg sync.WaitGroup
	for i, h := range s.Hosts {
		wg.Go(func() { errs[i] = f(h) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ClientURLs returns every member's client URL, in host order.
func (s *Sandbox) ClientURLs() []string {
	urls := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		urls[i] = h.ClientURL
	}
	return urls
}

// Host returns the host named name (s1, s2, ...), or nil.
func (s *Sandbox) Host(name string) *Host {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// ConfigFile is the member config path the provider's service.config_file
// should name: the shape's config file (EnvFile, or YAMLFile in the yaml
// format, for the default shape), "" for the hardway shape, whose settings
// are all in the unit's ExecStart.
func (s *Sandbox) ConfigFile() string {
	if s.Shape == ShapeDefault && s.ConfigFormat == "yaml" {
		return YAMLFile
	}
	return shapes[s.Shape].configFile
}

// SSHClientConfig is a client config for root on every host, with host keys
// checked against KnownHostsFile.
func (s *Sandbox) SSHClientConfig() (*ssh.ClientConfig, error) {
	signer, err := ssh.ParsePrivateKey(s.PrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	hostKeys, err := knownhosts.New(s.KnownHostsFile)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
	}, nil
}

// InstallEtcd installs version's etcd, and its etcdctl and etcdutl where
// they exist, on every host where the shape keeps them: BinaryPath and its
// directory, or for the symlink shape /opt/etcd-<version>/ with the links
// in /usr/local/bin pointed there. Running members are not restarted.
func (s *Sandbox) InstallEtcd(ctx context.Context, version string) error {
	tools, err := etcdTools(version)
	if err != nil {
		return err
	}
	return s.eachHost(func(h *Host) error { return h.installEtcdLive(ctx, s.Shape, version, tools) })
}

// etcdTools maps tool name to path for version; etcd is required, etcdctl
// and etcdutl are taken when present (3.4 has no etcdutl).
func etcdTools(version string) (map[string]string, error) {
	server, err := EtcdBinary(version)
	if err != nil {
		return nil, err
	}
	tools := map[string]string{"etcd": server}
	if p, err := EtcdctlBinary(version); err == nil {
		tools["etcdctl"] = p
	}
	if p := filepath.Join(filepath.Dir(server), "etcdutl"); isExecutable(p) {
		tools["etcdutl"] = p
	}
	return tools, nil
}

// WaitHealthy waits until every member answers /health with true.
func (s *Sandbox) WaitHealthy(ctx context.Context) error {
	last := make([]error, len(s.Hosts))
	err := poll(ctx, 100*time.Millisecond, func() bool {
		var wg sync.WaitGroup
		for i, h := range s.Hosts {
			wg.Go(func() { last[i] = h.Health(ctx) })
		}
		wg.Wait()
		return errors.Join(last...) == nil
	})
	if err == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "etcd cluster not healthy: %v", err)
	for i, h := range s.Hosts {
		if last[i] != nil {
			fmt.Fprintf(&b, "\n%v; last lines of %s:\n%s", last[i], EtcdLog, h.LogTail(8))
		}
	}
	return errors.New(b.String())
}

// Running reports whether any process of the sandbox is still alive.
func (s *Sandbox) Running() bool {
	for _, h := range s.Hosts {
		if h.holderProc().alive() || h.SSHDRunning() {
			return true
		}
		if _, ok := pidFromFile(h.etcdPidFile(), "etcd"); ok {
			return true
		}
	}
	return false
}

// Close stops every process of every host (etcd, sshd, sessions, the
// namespace), releases the address block and removes the temp dir, or in a
// caller's Dir the files Start created. It is safe to call more than once.
func (s *Sandbox) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.close(ctx)
}

func (s *Sandbox) close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	// The block's record goes first, while the block is still locked (by
	// this process, or by a detached sandbox's hosts): removed after, it
	// could be the record of whoever takes the block next.
	if s.Block > 0 {
		if st, err := readState(blockStatePath(s.Block)); err == nil && st.Dir == s.Dir {
			os.Remove(blockStatePath(s.Block))
		}
	}
	err := s.eachHost(func(h *Host) error { return h.kill(ctx) })
	if s.lock != nil {
		s.lock.Close()
	}
	if s.Dir == "" {
		return err
	}
	if s.tempDir {
		return errors.Join(err, os.RemoveAll(s.Dir))
	}
	// A stale record (reclaimed after a crash) may name a directory where a
	// newer sandbox now lives; its files are not this sandbox's to remove.
	if cur, rerr := readState(filepath.Join(s.Dir, "sandbox.json")); rerr == nil && cur.Block != s.Block {
		return err
	}
	for _, name := range []string{"hosts", "pki", "known_hosts", "id_ed25519", "id_ed25519.pub", "sandbox.json"} {
		if rerr := os.RemoveAll(filepath.Join(s.Dir, name)); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// state is sandbox.json: what Load needs to find and stop a sandbox that
// another process started.
type state struct {
	Dir            string      `json:"dir"`
	TempDir        bool        `json:"temp_dir"`
	Block          int         `json:"block"`
	EtcdVersion    string      `json:"etcd_version,omitempty"`
	ConfigFormat   string      `json:"config_format"`
	Shape          string      `json:"shape,omitempty"`
	BinaryPath     string      `json:"binary_path,omitempty"`
	UnitFile       string      `json:"unit_file,omitempty"`
	UnitType       string      `json:"unit_type,omitempty"`
	RunUser        string      `json:"run_user,omitempty"`
	ConfigTarget   string      `json:"config_target,omitempty"`
	SudoUser       string      `json:"sudo_user,omitempty"`
	SudoPolicy     string      `json:"sudo_policy,omitempty"`
	SudoPassword   string      `json:"sudo_password,omitempty"` // a throwaway sandbox's, like its private key file
	KnownHostsFile string      `json:"known_hosts_file"`
	PrivateKeyFile string      `json:"private_key_file"`
	TLS            bool        `json:"tls,omitempty"`
	CACertFile     string      `json:"ca_cert_file,omitempty"`
	ClientCertFile string      `json:"client_cert_file,omitempty"`
	ClientKeyFile  string      `json:"client_key_file,omitempty"`
	Hosts          []hostState `json:"hosts"`
}

type hostState struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Root      string `json:"root"`
	ClientURL string `json:"client_url"`
	PeerURL   string `json:"peer_url"`
	HostKey   string `json:"host_key"` // authorized_keys format
	MountNS   string `json:"mount_ns,omitempty"`
	Holder    proc   `json:"holder"` // `unshare -m ... sleep infinity`, which keeps the namespace
	SSHD      proc   `json:"sshd"`
}

// save records the sandbox in Dir/sandbox.json and, for reclaiming after a
// crash, in the block's state file. The caller holds s.mu.
func (s *Sandbox) save() error {
	st := state{
		Dir: s.Dir, TempDir: s.tempDir, Block: s.Block,
		EtcdVersion: s.EtcdVersion, ConfigFormat: s.ConfigFormat,
		Shape: s.Shape, BinaryPath: s.BinaryPath, UnitFile: s.UnitFile, UnitType: s.UnitType, RunUser: s.RunUser,
		ConfigTarget: s.ConfigTarget, SudoUser: s.SudoUser, SudoPolicy: s.SudoPolicy, SudoPassword: s.SudoPassword,
		KnownHostsFile: s.KnownHostsFile, PrivateKeyFile: s.PrivateKeyFile,
		TLS: s.TLS, CACertFile: s.CACertFile, ClientCertFile: s.ClientCertFile, ClientKeyFile: s.ClientKeyFile,
	}
	for _, h := range s.Hosts {
		st.Hosts = append(st.Hosts, hostState{
			Name: h.Name, Addr: h.Addr, Root: h.Root, ClientURL: h.ClientURL, PeerURL: h.PeerURL,
			HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.HostKey))),
			MountNS: h.ns, Holder: h.holder, SSHD: h.sshd,
		})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return errors.Join(
		writeFileAtomic(filepath.Join(s.Dir, "sandbox.json"), b, 0o644),
		writeFileAtomic(blockStatePath(s.Block), b, 0o644),
	)
}

// Load returns the sandbox recorded in dir/sandbox.json by a Start in any
// process, e.g. to stop what `etcd-sandbox up` left running.
func Load(dir string) (*Sandbox, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(filepath.Join(dir, "sandbox.json"))
	if err != nil {
		return nil, err
	}
	return fromState(st)
}

func fromState(st *state) (*Sandbox, error) {
	s := &Sandbox{
		Dir: st.Dir, tempDir: st.TempDir, Block: st.Block,
		EtcdVersion: st.EtcdVersion, ConfigFormat: st.ConfigFormat,
		Shape: st.Shape, BinaryPath: st.BinaryPath, UnitFile: st.UnitFile, UnitType: st.UnitType, RunUser: st.RunUser,
		ConfigTarget: st.ConfigTarget, SudoUser: st.SudoUser, SudoPolicy: st.SudoPolicy, SudoPassword: st.SudoPassword,
		KnownHostsFile: st.KnownHostsFile, PrivateKeyFile: st.PrivateKeyFile,
		TLS: st.TLS, CACertFile: st.CACertFile, ClientCertFile: st.ClientCertFile, ClientKeyFile: st.ClientKeyFile,
	}
	if st.PrivateKeyFile != "" {
		// Missing only if a crash came early; Close must still work then.
		s.PrivateKeyPEM, _ = os.ReadFile(st.PrivateKeyFile)
	}
	if st.TLS {
		// Likewise; health checks then fail with the reason.
		_ = s.loadClientTLS()
	}
	for _, hs := range st.Hosts {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hs.HostKey))
		if err != nil {
			return nil, fmt.Errorf("%s: host %s: host key: %w", st.Dir, hs.Name, err)
		}
		s.Hosts = append(s.Hosts, &Host{
			Name: hs.Name, Addr: hs.Addr, Root: hs.Root, ClientURL: hs.ClientURL, PeerURL: hs.PeerURL,
			HostKey: key, HostKeyFingerprint: ssh.FingerprintSHA256(key),
			sb: s, ns: hs.MountNS, holder: hs.Holder, sshd: hs.SSHD,
		})
	}
	return s, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// copyExecutable copies src to dst through a temp file and a rename, so a
// running binary at dst is replaced, never written into.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp-testhosts"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
