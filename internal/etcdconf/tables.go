package etcdconf

// The translation tables, written from etcd's own flag lists.
//
// A setting has up to three spellings: the flag as registered with fs.*Var in
// etcdmain/config.go, the ETCD_* variable etcd derives from it
// (pkg/flags.SetFlagsFromEnv: upper case, "-" → "_"), and the key of
// embed.Config's json tag that etcd's --config-file YAML is read into.
//
// Sources, cited per entry as:
//
//	[S35]   etcd 3.5.21 source, go.etcd.io/etcd/server/v3@v3.5.21 from the Go
//	        module cache: etcdmain/config.go (flags), embed/config.go (YAML
//	        keys, defaults in NewConfig), embed/config_logging.go.
//	[B3423] the etcd 3.4.23 binary from Debian's etcd-server package:
//	        `etcd --help`, plus every flag of [S35] and of its help probed as
//	        `etcd --<flag>= --version` ("flag provided but not defined" means
//	        absent), plus its config-file keys read from the binary's struct
//	        tags (strings | grep json:). 3.5.21 was probed the same way.
//	[G]     the downgrade guide's flag diff (`etcd -h` of 3.5.14 vs 3.4.33),
//	        /work/shared/etcd-downgrade-3.5-to-3.4.md.
//	[D]     design.md, "Transitions and their rules".
//
// testdata/flags-3.5.21.txt and testdata/flags-3.4.23.txt are the probed flag
// lists; TestTablesCoverFlagDiff checks that every flag in one and not the
// other is accounted for below.
//
// No 3.4.32+ binary is available here, so what 3.4.24–3.4.3x added is
// taken from [G] (a 3.5.14 flag missing from its list is in 3.4.33) and the
// backport pull requests named in backportedTo34. Their source (etcd-io/etcd
// tags v3.4.32–v3.4.45) was read for defaultDiffs: embed.NewConfig and the
// flag defaults there differ from 3.4.23's only by the URL field names,
// next-cluster-version-compatible and the TLS version flags.

// setting names one etcd setting.
type setting struct {
	flag string // flag name; "" when only the config file has the setting
	yaml string // config-file key, "parent.child" when nested; "" when only a flag has it
	note string // short remark shown in the plan, optional
	why  string // full reason, shown with the change
}

// name is how a Change refers to the setting.
func (s setting) name() string {
	if s.flag != "" {
		return s.flag
	}
	return s.yaml
}

// key is the setting's name inside a file of format f, "" when it cannot be
// written there.
func (s setting) key(f Format) string {
	if f == FormatYAML {
		return s.yaml
	}
	return s.flag
}

func same(flag, why string) setting { return setting{flag: flag, yaml: flag, why: why} }

const (
	why35only      = "3.4 does not have this setting (3.5-only); 3.4 would only warn about it or silently ignore it"
	why35onlyGuide = why35only + "; listed in etcd's downgrade guide"
)

// only35 are the settings of 3.5.21 that 3.4.32+ does not read. A downgrade
// drops them.
var only35 = []setting{
	// [S35] fs.BoolVar(..., "socket-reuse-port"); YAML socket-options.reuse-port (transport.SocketOpts); [B3423] absent; [G].
	{flag: "socket-reuse-port", yaml: "socket-options.reuse-port", why: why35onlyGuide},
	// [S35] fs.BoolVar(..., "socket-reuse-address"); YAML socket-options.reuse-address; [B3423] absent; [G].
	{flag: "socket-reuse-address", yaml: "socket-options.reuse-address", why: why35onlyGuide},
	// [S35] fs.DurationVar(&rafthttp.ConnReadTimeout, "raft-read-timeout"): a package variable, no embed.Config field, so no YAML key; [B3423] absent; [G].
	{flag: "raft-read-timeout", why: why35onlyGuide},
	// [S35] fs.DurationVar(&rafthttp.ConnWriteTimeout, "raft-write-timeout"); no YAML key; [B3423] absent; [G].
	{flag: "raft-write-timeout", why: why35onlyGuide},
	// [S35] fs.Var(cfg.cf.v2deprecation, "v2-deprecation"); YAML v2-deprecation; [B3423] absent; [G].
	same("v2-deprecation", why35onlyGuide),
	// [S35] fs.StringVar(&cfg.ec.ClientTLSInfo.ClientCertFile, "client-cert-file"); YAML client-transport-security.client-cert-file; [B3423] absent; [G].
	{flag: "client-cert-file", yaml: "client-transport-security.client-cert-file", why: why35onlyGuide},
	// [S35] fs.StringVar(&cfg.ec.ClientTLSInfo.ClientKeyFile, "client-key-file"); YAML client-transport-security.client-key-file; [B3423] absent; [G].
	{flag: "client-key-file", yaml: "client-transport-security.client-key-file", why: why35onlyGuide},
	// [S35] fs.StringVar(&cfg.ec.PeerTLSInfo.ClientCertFile, "peer-client-cert-file"); YAML peer-transport-security.client-cert-file; [B3423] absent; [G].
	{flag: "peer-client-cert-file", yaml: "peer-transport-security.client-cert-file", why: why35onlyGuide},
	// [S35] fs.StringVar(&cfg.ec.PeerTLSInfo.ClientKeyFile, "peer-client-key-file"); YAML peer-transport-security.client-key-file; [B3423] absent; [G].
	{flag: "peer-client-key-file", yaml: "peer-transport-security.client-key-file", why: why35onlyGuide},
	// [S35] fs.UintVar(&cfg.ec.SelfSignedCertValidity, "self-signed-cert-validity"); [B3423] absent; [G].
	same("self-signed-cert-validity", why35onlyGuide),
	// [S35] fs.BoolVar(&cfg.ec.EnableLogRotation, "enable-log-rotation"); [B3423] absent; [G].
	same("enable-log-rotation", why35onlyGuide),
	// [S35] fs.StringVar(&cfg.ec.LogRotationConfigJSON, "log-rotation-config-json"); [B3423] absent; [G].
	same("log-rotation-config-json", why35onlyGuide),
	// [S35] fs.BoolVar(..., "experimental-enable-distributed-tracing"); [B3423] absent; [G].
	same("experimental-enable-distributed-tracing", why35onlyGuide),
	// [S35] fs.StringVar(..., "experimental-distributed-tracing-address"); [B3423] absent; [G].
	same("experimental-distributed-tracing-address", why35onlyGuide),
	// [S35] fs.StringVar(..., "experimental-distributed-tracing-service-name"); [B3423] absent; [G].
	same("experimental-distributed-tracing-service-name", why35onlyGuide),
	// [S35] fs.StringVar(..., "experimental-distributed-tracing-instance-id"); [B3423] absent; [G].
	same("experimental-distributed-tracing-instance-id", why35onlyGuide),
	// [S35] fs.IntVar(..., "experimental-distributed-tracing-sampling-rate"); [B3423] absent; [G].
	same("experimental-distributed-tracing-sampling-rate", why35onlyGuide),
	// [S35] fs.BoolVar(..., "experimental-compact-hash-check-enabled"); [B3423] absent; [G].
	same("experimental-compact-hash-check-enabled", why35onlyGuide),
	// [S35] fs.DurationVar(..., "experimental-compact-hash-check-time"); [B3423] absent; [G].
	same("experimental-compact-hash-check-time", why35onlyGuide),
	// [S35] fs.DurationVar(..., "experimental-downgrade-check-time"); [B3423] absent; [G].
	same("experimental-downgrade-check-time", why35onlyGuide),
	// [S35] fs.BoolVar(..., "experimental-memory-mlock"); [B3423] absent; [G].
	same("experimental-memory-mlock", why35onlyGuide),
	// [S35] fs.BoolVar(..., "experimental-txn-mode-write-with-shared-buffer"); [B3423] absent; [G].
	same("experimental-txn-mode-write-with-shared-buffer", why35onlyGuide),
	// [S35] fs.UintVar(..., "experimental-bootstrap-defrag-threshold-megabytes"); [B3423] absent; [G].
	same("experimental-bootstrap-defrag-threshold-megabytes", why35onlyGuide),
	// [S35] fs.BoolVar(..., "experimental-stop-grpc-service-on-defrag"); [B3423] absent; [G].
	same("experimental-stop-grpc-service-on-defrag", why35onlyGuide),
	// [S35] fs.DurationVar(..., "experimental-compaction-sleep-interval"); [B3423] absent; [D]. Not in [G]:
	// it reached 3.5 after 3.5.14 (etcd PR #18514), so the guide's 3.5.14-based diff could not list it.
	same("experimental-compaction-sleep-interval", why35only),
	// [S35] fs.Uint64Var(..., "experimental-snapshot-catchup-entries"), but embed.Config's YAML key is
	// spelled "experimental-snapshot-catch-up-entries"; [B3423] absent; [D]. Not in [G]: 3.5 leaves it out of --help.
	{flag: "experimental-snapshot-catchup-entries", yaml: "experimental-snapshot-catch-up-entries", why: why35only},

	// Config-file-only differences. [S35] embed/config.go securityConfig has
	// allowed-cn and allowed-hostname (read from the file since 3.5.14, etcd
	// PR #18063, a 3.5-only backport); [B3423] has neither struct tag, so 3.4
	// reads these checks from flags only, and flags and ETCD_* variables are
	// ignored when --config-file is used. 3.4 would therefore run without
	// the check; the note says so in the plan.
	{yaml: "client-transport-security.allowed-cn", note: "not in 3.4's config file: client CN check off",
		why: "3.4 does not read allowed-cn from the config file, so the client certificate CN check is not enforced on 3.4"},
	{yaml: "client-transport-security.allowed-hostname", note: "not in 3.4's config file: client hostname check off",
		why: "3.4 does not read allowed-hostname from the config file, so the client certificate hostname check is not enforced on 3.4"},
	{yaml: "peer-transport-security.allowed-cn", note: "not in 3.4's config file: peer CN check off",
		why: "3.4 does not read allowed-cn from the config file, so the peer certificate CN check is not enforced on 3.4"},
	{yaml: "peer-transport-security.allowed-hostname", note: "not in 3.4's config file: peer hostname check off",
		why: "3.4 does not read allowed-hostname from the config file, so the peer certificate hostname check is not enforced on 3.4"},
}

// backportedTo34 are registered in 3.5.21 and not in 3.4.23 but exist in
// every allowed downgrade target (>= 3.4.32), so a downgrade keeps them.
// Evidence: they are in 3.5.14's --help yet missing from [G]'s list of flags
// "not available in 3.4" (3.4.33), and their 3.4 backports date from 2023,
// a year before 3.4.32: TLS 1.3 flags, etcd issue #15437 / PR #15486;
// listen-client-http-urls, PR #15446 (labelled release/v3.4).
var backportedTo34 = []string{
	"listen-client-http-urls", // [S35] fs.Var(..., "listen-client-http-urls"); [B3423] absent
	"tls-min-version",         // [S35] fs.StringVar(&cfg.ec.TlsMinVersion, "tls-min-version"); [B3423] absent
	"tls-max-version",         // [S35] fs.StringVar(&cfg.ec.TlsMaxVersion, "tls-max-version"); [B3423] absent
}

// freelist is the one setting whose name differs: 3.4 has only
// --experimental-backend-bbolt-freelist-type ([B3423] help and struct tag),
// 3.5 has only --backend-bbolt-freelist-type ([S35] fs.StringVar(
// &cfg.ec.BackendFreelistType, "backend-bbolt-freelist-type"); json tag
// backend-bbolt-freelist-type). 3.5.21 does not keep the old name as an
// alias: no flag, no json tag. Checked with the 3.5.21 binary, the old name
// as ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE only logs "unrecognized
// environment variable", and as a YAML key it is silently ignored, so an
// upgrade has to rename it back. [G] "same flag with different names".
var freelist = struct{ v35, v34 setting }{
	v35: same("backend-bbolt-freelist-type", "3.4 calls this setting experimental-backend-bbolt-freelist-type"),
	v34: same("experimental-backend-bbolt-freelist-type", "3.5 calls this setting backend-bbolt-freelist-type and ignores the old name"),
}

// defaultDiff is a setting whose effective default differs between 3.4
// and 3.5 for one way of configuring etcd. A member whose settings do not
// mention it runs with the source version's default; after the change it
// would silently run with the target's. So each direction writes down the
// value the member ran with before (a Pin), and names it in the plan.
//
// The defaults differ per mechanism because etcd builds its configuration
// in two ways: with flags and ETCD_* variables it starts from
// embed.NewConfig() and then lets every fs.*Var default overwrite it (a flag
// always has a value), while with --config-file it unmarshals the YAML onto
// a bare embed.NewConfig() and never looks at the flag defaults. Where a flag
// default is a literal instead of cfg.ec.X, the two disagree.
//
// Every entry is measured: testdata/defaults/<version>-<mechanism>.json
// holds what the real binaries ran with (recorded by TestRecordDefaults),
// TestDefaultDiffsCoverRecordedDefaults fails on any difference between
// 3.4.23 and 3.5.21 this table does not handle, and TestDefaultPinsOnRealEtcd
// starts both binaries on translated YAML files to see the pins work.
type defaultDiff struct {
	setting
	formats  []Format // where the defaults differ; FormatEnv also stands for flags
	v34, v35 string   // the effective defaults of 3.4 and 3.5
	// refused34 says why 3.5 cannot run with 3.4's default; then the upgrade
	// writes 3.5's value and names it as a set, not a pin. Empty when the
	// 3.4 default can be pinned.
	refused34 string
}

func (dd defaultDiff) in(f Format) bool {
	for _, x := range dd.formats {
		if x == f {
			return true
		}
	}
	return false
}

var bothFormats = []Format{FormatEnv, FormatYAML}

var defaultDiffs = []defaultDiff{
	// Flags: [S35] etcdmain/config.go fs.StringVar(&cfg.ec.Logger, "logger", "zap", ...);
	// 3.4.23 etcdmain/config.go:228 fs.StringVar(&cfg.ec.Logger, "logger", "capnslog", ...).
	// YAML: [S35] embed/config.go:515 NewConfig Logger: "zap"; 3.4.23 embed/config.go:442 Logger: "capnslog".
	// Measured: 3.4.23 writes capnslog lines ("I | etcdmain: ...") with flags and with a YAML file,
	// 3.5.21 zap JSON with both. [G] "same flag different defaults".
	{setting: setting{flag: "logger", yaml: "logger",
		why: "3.5 logs with zap by default and 3.4 with capnslog; pinning zap keeps the log format"},
		formats: bothFormats, v34: "capnslog", v35: "zap",
		refused34: "3.5 refuses to start with logger=capnslog (embed/config_logging.go: \"--logger=capnslog is removed in v3.5\"), so the member's log format changes from capnslog to zap; the value is written so that the plan says so"},
	// Flags: [S35] fs.BoolVar(&cfg.ec.PreVote, "pre-vote", cfg.ec.PreVote) with [S35] NewConfig PreVote: true
	// (embed/config.go:511); 3.4.23 etcdmain/config.go:191 the same with embed/config.go:438
	// "PreVote: false, // TODO: enable by default in v3.5". The same field serves YAML, so both differ.
	// Measured: "pre-vote" in the "starting an etcd server" log line, false on 3.4.23 and true on 3.5.21,
	// with flags and with YAML.
	{setting: setting{flag: "pre-vote", yaml: "pre-vote",
		why: "3.5 runs raft pre-vote by default and 3.4 does not; pinning it keeps election behaviour"},
		formats: bothFormats, v34: "false", v35: "true"},
	// YAML only. 3.4.23 etcdmain/config.go:253 fs.BoolVar(&cfg.ec.EnableGRPCGateway,
	// "enable-grpc-gateway", true, ...) is a literal true, but 3.4.23 embed/config.go NewConfig
	// (lines 397-448) does not set EnableGRPCGateway, so a config file leaves it false. [S35]
	// NewConfig EnableGRPCGateway: true (embed/config.go:520), and the 3.5 flag defaults to it
	// (etcdmain/config.go:300). Measured: POST /v3/kv/range answers 404 on 3.4.23 with a YAML
	// file and 200 with flags; 200 on 3.5.21 with either. The same holds for 3.4.32-3.4.45,
	// whose NewConfig differs from 3.4.23's only in the URL field names.
	{setting: setting{flag: "enable-grpc-gateway", yaml: "enable-grpc-gateway",
		why: "3.4 reads a config file onto embed.NewConfig(), which leaves the gRPC gateway off (the flag's default of on does not apply to config files), while 3.5 turns it on; without the pin the HTTP/JSON API (POST /v3/kv/range, ...) answers 404 on 3.4 where it answered on 3.5, or appears on 3.5 where 3.4 did not serve it"},
		formats: []Format{FormatYAML}, v34: "false", v35: "true"},
}

// nextClusterVersionCompatible lets a 3.4.32+ member start on 3.5 data and
// join a 3.5 cluster (etcd PRs #17330, #17665; guide step 4). It is not a
// 3.5 flag ([S35]: not registered, no json tag; the 3.5.21 binary reports
// ETCD_NEXT_CLUSTER_VERSION_COMPATIBLE as "unrecognized environment
// variable"), so an upgrade removes it. The YAML key is the same.
var nextClusterVersionCompatible = same("next-cluster-version-compatible",
	"a 3.4 member needs it to start on 3.5 data and join the 3.5 cluster (downgrade guide, step 4)")

// only34 are 3.4 settings that 3.5.21 does not register ([S35]; [B3423]
// help lists them under "TO BE DEPRECATED"). An upgrade drops them; debug
// may become log-level (see upgrade).
var (
	// [B3423] --debug, json tag debug. Its help says "Use '--log-level=debug'
	// instead". With logger=zap, 3.4.23 ignores it for the log level (tested:
	// "Deprecated '--debug' flag is set to true with inconsistent
	// '--log-level=info' flag", no debug lines).
	debugSetting = same("debug", "3.5 removed --debug; --log-level=debug replaces it")
	// [B3423] --log-package-levels, json tag log-package-levels; a capnslog
	// feature, and 3.5 has no capnslog.
	logPackageLevels = same("log-package-levels", "3.5 removed --log-package-levels together with capnslog")
	// [B3423] registered (not in --help), json tag log-output. Tested with
	// 3.4.23: log-output=stdout still logs to stderr with either logger, so
	// dropping it changes nothing.
	logOutput = same("log-output", "3.5 removed the deprecated --log-output, and 3.4 did not act on it either; log-outputs is the setting")
	// [S35] embed/config_logging.go: `case "capnslog": return fmt.Errorf("--logger=capnslog is removed in v3.5")`.
	loggerSetting = same("logger", "3.5 refuses to start with logger=capnslog")
	// [S35] fs.StringVar(&cfg.ec.LogLevel, "log-level", ...); [B3423] --log-level.
	logLevel = same("log-level", "")
)
