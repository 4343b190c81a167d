package etcdconf

// The translation tables for 3.5 ⇄ 3.6 and 3.6 ⇄ 3.7, cited per entry as:
//
//	[S3535] etcd 3.5.35 source, go.etcd.io/etcd/server/v3@v3.5.35 from the
//	        Go module cache: etcdmain/config.go (flags), embed/config.go
//	        (YAML keys, NewConfig defaults).
//	[S36]   etcd 3.6.16 source, server/v3@v3.6.16: embed/config.go (AddFlags,
//	        json tags, NewConfig, experimentalFlagMigrationMap, configFromFile,
//	        SetFeatureGatesFromExperimentalFlags, Validate),
//	        etcdmain/config.go (deprecatedFlags, parse, validate),
//	        features/etcd_features.go (DefaultEtcdServerFeatureGates,
//	        ExperimentalFlagToFeatureMap), etcdserver/server.go.
//	[S37]   etcd 3.7.3 source, server/v3@v3.7.3, the same files.
//	[B]     the 3.5.35, 3.6.16 and 3.7.3 binaries probed by
//	        testdata/probe-flags.sh: testdata/flags-<version>.txt (flags,
//	        `etcd --<flag>= --version`), testdata/gates-<version>.txt
//	        (`etcd --feature-gates=<gate>=true --version`), and
//	        testdata/yaml-keys-<version>.txt (config-file keys from the
//	        source's json tags, each found in the binary).
//	[M]     testdata/defaults/<version>-<mechanism>.json, what the binaries
//	        ran with (TestRecordDefaults).
//	[N]     /work/shared/etcd-3.6-3.7.md, "Config differences".
//
// TestTablesCoverFlagDiff36 fails on any flag in one of the probed lists and
// not the other that these tables do not account for, and
// TestYAMLKeysCovered36 does the same for config-file keys.

// stabilized is an experimental setting that has a stable name from 3.6 on.
// 3.6 reads both spellings (the experimental one with a deprecation warning;
// both at once is fatal: embed.Config.Validate, "cannot set --X and --Y at
// the same time"); 3.7 only the stable one; 3.5 only the experimental one.
type stabilized struct {
	exp    setting // as 3.5 spells it; yaml "" when 3.5's config file cannot set it
	yaml36 string  // 3.6's config-file key for the experimental form, when it differs from exp.yaml
	stable setting // as 3.6 and 3.7 spell it
}

// expIn36 is the experimental spelling as 3.6 reads it.
func (s stabilized) expIn36() setting {
	e := s.exp
	if s.yaml36 != "" {
		e.yaml = s.yaml36
	}
	return e
}

const (
	whyStable36 = "3.6 gives this experimental setting a stable name and 3.7 removes the experimental one; the stable name is written now so that the member keeps it through 3.7"
	whyExp35    = "3.5 only knows this setting by its experimental name; it would warn about the stable name and ignore it (silently in a config file)"
)

// stabilized36 are [S36] embed.experimentalFlagMigrationMap (16 entries),
// each with its flags in [S36] Config.AddFlags and json tags in [S36]
// embed.Config; [B] 3.5.35 has only the experimental flags, 3.7.3 only the
// stable ones; [N] "renamed".
var stabilized36 = []stabilized{
	stab("experimental-bootstrap-defrag-threshold-megabytes", "bootstrap-defrag-threshold-megabytes"),
	stab("experimental-compaction-batch-limit", "compaction-batch-limit"),
	stab("experimental-compact-hash-check-time", "compact-hash-check-time"),
	stab("experimental-compaction-sleep-interval", "compaction-sleep-interval"),
	stab("experimental-corrupt-check-time", "corrupt-check-time"),
	stab("experimental-enable-distributed-tracing", "enable-distributed-tracing"),
	stab("experimental-distributed-tracing-address", "distributed-tracing-address"),
	stab("experimental-distributed-tracing-instance-id", "distributed-tracing-instance-id"),
	stab("experimental-distributed-tracing-sampling-rate", "distributed-tracing-sampling-rate"),
	stab("experimental-distributed-tracing-service-name", "distributed-tracing-service-name"),
	stab("experimental-downgrade-check-time", "downgrade-check-time"),
	stab("experimental-memory-mlock", "memory-mlock"),
	// [S3535] fs.BoolVar(&cfg.ec.PeerTLSInfo.SkipClientSANVerify, "experimental-peer-skip-client-san-verification"):
	// a flag only, no json tag, so 3.5's config file cannot set it. [S36] json tags
	// "experimental-peer-skip-client-san-verification" (top level, copied in
	// etcdmain parse() when set) and securityConfig "skip-client-san-verification"
	// under peer-transport-security; [S37] only the nested one.
	{exp: setting{flag: "experimental-peer-skip-client-san-verification", why: whyExp35},
		yaml36: "experimental-peer-skip-client-san-verification",
		stable: setting{flag: "peer-skip-client-san-verification", yaml: "peer-transport-security.skip-client-san-verification", why: whyStable36}},
	// The YAML key of the experimental form is spelled "catch-up" in 3.5 and
	// 3.6 ([S3535], [S36] json tag experimental-snapshot-catch-up-entries;
	// configFromFile maps it to the flag's name), while the stable key is
	// "catchup" ([S36] json:"snapshot-catchup-entries").
	{exp: setting{flag: "experimental-snapshot-catchup-entries", yaml: "experimental-snapshot-catch-up-entries", why: whyExp35},
		stable: same("snapshot-catchup-entries", whyStable36)},
	stab("experimental-warning-apply-duration", "warning-apply-duration"),
	stab("experimental-watch-progress-notify-interval", "watch-progress-notify-interval"),
}

func stab(exp, stable string) stabilized {
	return stabilized{exp: same(exp, whyExp35), stable: same(stable, whyStable36)}
}

// warningUnaryRequestDuration: [S36] registers both
// --warning-unary-request-duration and the deprecated
// --experimental-warning-unary-request-duration (embed/config.go AddFlags;
// etcdmain parseWarningUnaryRequestDuration, both set is fatal), json tags
// for both; [S37] only the stable one; [S3535] and [B] 3.5.35 neither.
var warningUnaryRequestDuration = stabilized{
	exp:    same("experimental-warning-unary-request-duration", "3.6 deprecates the experimental name and 3.7 removes it"),
	stable: same("warning-unary-request-duration", "3.5 does not have this setting (3.6+), and warns about it or ignores it; 3.5 warns about unary requests slower than its fixed 300ms"),
}

// gatedFlag is an experimental boolean setting that became a feature gate
// in 3.6: [S36] features.ExperimentalFlagToFeatureMap. 3.6 still reads the
// flag (SetFeatureGatesFromExperimentalFlags copies it to the gate; setting
// both is fatal), 3.7 only the gate ([B] 3.7.3 lacks every one of these
// flags; [S37] json tags gone). [S3535] registers each flag with a json tag
// of the same name; [N] "boolean experimental settings that became feature
// gates".
type gatedFlag struct {
	flag setting
	gate string
}

const whyGate = "3.6 turns this experimental flag into a feature gate and 3.7 removes the flag; the gate keeps its value"

var gatedFlags = []gatedFlag{
	{same("experimental-initial-corrupt-check", whyGate), "InitialCorruptCheck"},
	{same("experimental-compact-hash-check-enabled", whyGate), "CompactHashCheck"},
	{same("experimental-enable-lease-checkpoint", whyGate), "LeaseCheckpoint"},
	{same("experimental-enable-lease-checkpoint-persist", whyGate), "LeaseCheckpointPersist"},
	{same("experimental-stop-grpc-service-on-defrag", whyGate), "StopGRPCServiceOnDefrag"},
	{same("experimental-txn-mode-write-with-shared-buffer", whyGate), "TxnModeWriteWithSharedBuffer"},
}

// featureGates is the setting, [S36] fs.Var(..., ServerFeatureGateFlagName
// = "feature-gates") and configJSON `json:"feature-gates"`, a string in both
// (featuregate.Set: "Name=true,Other=false", blanks trimmed, ParseBool
// values). An unknown gate is fatal as a flag, a variable and in the config
// file ([N]; [B] "unrecognized feature gate").
var featureGates = same("feature-gates", "3.5 has no feature gates (3.6+); each gate 3.5 knows is written as its experimental flag")

// gateInfo is a gate as [S36]/[S37] DefaultEtcdServerFeatureGates define it.
type gateInfo struct {
	name    string
	alpha   bool // PreRelease Alpha (else Beta): what AllAlpha/AllBeta switch
	def     bool
	since37 bool // only 3.7 has it ([B] gates-3.6.16.txt lacks it)
}

var gates = []gateInfo{
	{name: "StopGRPCServiceOnDefrag", alpha: true},
	{name: "InitialCorruptCheck", alpha: true},
	{name: "CompactHashCheck", alpha: true},
	{name: "TxnModeWriteWithSharedBuffer", def: true},
	{name: "LeaseCheckpoint", alpha: true},
	{name: "LeaseCheckpointPersist", alpha: true},
	// [S36] "enables using the first specified and non-loopback local address
	// from initial-advertise-peer-urls as the local address when communicating
	// with a peer"; 3.5 has no such flag ([B] flags-3.5.35.txt).
	{name: "SetMemberLocalAddr", alpha: true},
	// [S37] beta, on by default: "enables lease renewal to skip waiting for the applied index".
	{name: "FastLeaseKeepAlive", def: true, since37: true},
	// [S37] alpha: "enables certain kinds of requests (e.g. LeaseRevoke) having higher priority to be applied under overload conditions".
	{name: "PriorityRequest", alpha: true, since37: true},
}

// The pkg/featuregate toggles, in 3.6 and 3.7 ([B] gates-*.txt): AllAlpha
// and AllBeta set every alpha or beta gate not named explicitly.
const (
	allAlpha = "AllAlpha"
	allBeta  = "AllBeta"
)

func gateByName(name string) (gateInfo, bool) {
	for _, g := range gates {
		if g.name == name {
			return g, true
		}
	}
	return gateInfo{}, false
}

const (
	why36only = "3.5 does not have this setting (3.6+); it would warn about it and drop it, or ignore it in a config file"
)

// only36 are the settings of 3.6.16 that 3.5.35 does not read, other than
// the stabilized names, the feature gates and warning-unary-request-
// duration. A downgrade to 3.5 drops them.
var only36 = []setting{
	// [S36] fs.StringVar(&cfg.LogFormat, "log-format", ...); json log-format; [B] 3.5.35 absent.
	// 3.5 always writes zap's JSON format.
	{flag: "log-format", yaml: "log-format", note: "3.5 logs JSON", why: why36only + "; 3.5 always logs in zap's JSON format"},
	// [S36] fs.IntVar(&cfg.MaxLearners, "max-learners", membership.DefaultMaxLearners, ...); json max-learners; [B] 3.5.35 absent.
	// 3.5's limit is fixed at 1 learner ([N] "3.6 fails to start with more learners than --max-learners (default 1)").
	{flag: "max-learners", yaml: "max-learners", why: why36only + "; 3.5 allows one learner"},
	// The v3 discovery settings: [S36] fs.*Var(&cfg.DiscoveryCfg..., "discovery-*") in AddFlags,
	// one config-file key discovery-config (v3discovery.DiscoveryConfig, nested); [B] 3.5.35 has none.
	// They only serve a new member's bootstrap; a member with a data dir never uses them.
	{flag: "discovery-endpoints", yaml: "discovery-config", why: why36only + " (v3 discovery, used only to bootstrap a new member)"},
	{flag: "discovery-token", why: why36only + " (v3 discovery)"},
	{flag: "discovery-dial-timeout", why: why36only + " (v3 discovery)"},
	{flag: "discovery-request-timeout", why: why36only + " (v3 discovery)"},
	{flag: "discovery-keepalive-time", why: why36only + " (v3 discovery)"},
	{flag: "discovery-keepalive-timeout", why: why36only + " (v3 discovery)"},
	{flag: "discovery-insecure-transport", why: why36only + " (v3 discovery)"},
	{flag: "discovery-insecure-skip-tls-verify", why: why36only + " (v3 discovery)"},
	{flag: "discovery-cert", why: why36only + " (v3 discovery)"},
	{flag: "discovery-key", why: why36only + " (v3 discovery)"},
	{flag: "discovery-cacert", why: why36only + " (v3 discovery)"},
	{flag: "discovery-user", why: why36only + " (v3 discovery)"},
	{flag: "discovery-password", why: why36only + " (v3 discovery)"},
	// Config-file only: [S36] securityConfig `json:"skip-client-san-verification,omitempty"`, under
	// client-transport-security as well as peer-transport-security; [S3535] securityConfig has no such tag.
	{yaml: "client-transport-security.skip-client-san-verification", note: "not in 3.5's config file: client SAN check on",
		why: "3.5 does not read skip-client-san-verification from the config file, so 3.5 verifies the SAN of client certificates"},
	{yaml: "peer-transport-security.skip-client-san-verification", note: "not in 3.5's config file: peer SAN check on",
		why: "3.5 does not read skip-client-san-verification from the config file (only the --experimental-peer-skip-client-san-verification flag, which a config file excludes), so 3.5 verifies the SAN of peer certificates"},
	{yaml: "experimental-peer-skip-client-san-verification", note: "not in 3.5's config file: peer SAN check on",
		why: "3.5 has no config-file key for it (only the flag, which a config file excludes), so 3.5 verifies the SAN of peer certificates"},
	// [S36] embed.Config GRPCAdditionalServerOptions []grpc.ServerOption `json:"grpc-additional-server-options"`:
	// Go values for embedding, not something a YAML file can hold; [S3535] no such tag.
	{yaml: "grpc-additional-server-options", why: why36only + " (an option for programs embedding etcd)"},
}

const whyV2Gone = "3.6 removed the v2 API and the v2 proxy"

// only35of36 are the settings of 3.5.35 that 3.6.16 does not register ([B]
// flags-3.6.16.txt; [S36] no flag, no json tag; [N] "removed"). An upgrade
// to 3.6 drops them: 3.6 would exit on the flags and drop the variables
// with a warning.
var only35of36 = []setting{
	// [S3535] fs.BoolVar(&cfg.ec.EnableV2, "enable-v2", ...); json enable-v2. 3.6 serves no v2 API;
	// the v2 store's content is checked before the upgrade ([N] "v2 store").
	{flag: "enable-v2", yaml: "enable-v2", why: whyV2Gone + "; the v2 API (/v2/keys) is no longer served"},
	// [S3535] fs.StringVar(&cfg.ec.ExperimentalEnableV2V3, "experimental-enable-v2v3", ...); json experimental-enable-v2v3.
	{flag: "experimental-enable-v2v3", yaml: "experimental-enable-v2v3", why: whyV2Gone + "; the v2 emulation on v3 storage is gone"},
	// [S3535] fs.Var(cfg.cf.proxy, "proxy", ...) and fs.UintVar(&cfg.cp.Proxy*, "proxy-*"): etcdmain's
	// config only, no json tags. A cluster member runs with proxy=off; 3.6 has no v2 proxy.
	{flag: "proxy", why: whyV2Gone + "; a cluster member runs with proxy off"},
	{flag: "proxy-dial-timeout", why: whyV2Gone},
	{flag: "proxy-failure-wait", why: whyV2Gone},
	{flag: "proxy-read-timeout", why: whyV2Gone},
	{flag: "proxy-refresh-interval", why: whyV2Gone},
	{flag: "proxy-write-timeout", why: whyV2Gone},
}

// only36of37 are 3.6.16 settings 3.7.3 does not register, other than the
// experimental ones: v2 discovery ([S36] fs.StringVar(&cfg.Durl,
// "discovery"), fs.StringVar(&cfg.Dproxy, "discovery-proxy"), json tags
// discovery and discovery-proxy; [S37] neither; [B] 3.7.3 exits on both
// although its --help still lists them; [N]). They only serve a new
// member's bootstrap: a member with a data dir never uses them.
var only36of37 = []setting{
	same("discovery", "3.7 removed v2 discovery; it is only used to bootstrap a new member, which this member is not"),
	same("discovery-proxy", "3.7 removed v2 discovery; it is only used to bootstrap a new member, which this member is not"),
}

// defaultChange is a default that differs between two adjacent minors
// (lower, higher), for the mechanisms in formats (FormatEnv also stands for
// flags). As with defaultDiff, a change pins the source version's default
// unless the target refuses it; then it writes the target's value as a Set
// and says why.
type defaultChange struct {
	setting
	formats       []Format
	lower, higher string
	// refusedLower says why the higher version cannot run with the lower
	// version's default, so that an upgrade sets higher instead of pinning.
	refusedLower string
	// onlyWith names a setting without which the default makes no
	// difference; with it empty or "0" nothing is written.
	onlyWith string
}

func (dc defaultChange) in(f Format) bool {
	for _, x := range dc.formats {
		if x == f {
			return true
		}
	}
	return false
}

// v2Deprecation: [S3535] fs.Var(cfg.cf.v2deprecation, "v2-deprecation")
// with the values not-yet, write-only, write-only-skip-check,
// write-only-drop-data and gone, default not-yet (config.V2_DEPR_DEFAULT);
// json v2-deprecation. [S36] the flag's values no longer include not-yet
// (so not-yet is fatal as a flag or variable: "invalid value"), and
// etcdmain parse() enforces write-only whatever was given unless it is
// write-only-skip-check, from flags and from the config file alike ("The
// default value is enforced, ignoring user input"). [M] 3.6.16 logs
// v2-deprecation write-only with both mechanisms; 3.5 does not log it.
var v2Deprecation = same("v2-deprecation", "")

// defaults36 are the defaults that differ between 3.5.35 and 3.6.16.
var defaults36 = []defaultChange{
	// [S3535] etcdserver.DefaultSnapshotCount = 100000; [S36] = 10000; both the flag's
	// default (cfg.SnapshotCount) and NewConfig's. [M] 100000 on 3.5.35, 10000 on 3.6.16, both mechanisms.
	{setting: same("snapshot-count", "3.6 snapshots every 10000 entries by default and 3.5 every 100000; pinning keeps memory use and snapshot frequency as they were"),
		formats: bothFormats, lower: "100000", higher: "10000"},
	// See v2Deprecation.
	{setting: setting{flag: "v2-deprecation", yaml: "v2-deprecation",
		why: "3.6 runs with v2-deprecation=write-only whatever is set (except write-only-skip-check); pinning it keeps 3.5 at the stage the member ran with"},
		formats: bothFormats, lower: "not-yet", higher: "write-only",
		refusedLower: "3.6 refuses v2-deprecation=not-yet, 3.5's default (\"invalid value\" as a flag or variable; ignored in a config file), and enforces write-only"},
	// [S3535] fs.Var(cfg.cf.fallback, "discovery-fallback") with fallbackFlagProxy the
	// default; [S36] the default is fallbackFlagExit and validate() refuses proxy ("v2 proxy is
	// deprecated, and --discovery-fallback can't be configured as \"proxy\""). A flag only (no json tag).
	// Not logged ([M]).
	{setting: setting{flag: "discovery-fallback",
		why: "3.6 defaults discovery-fallback to exit and 3.5 to proxy; pinning exit keeps 3.6's behaviour"},
		formats: []Format{FormatEnv}, lower: "proxy", higher: "exit",
		refusedLower: "3.6 refuses discovery-fallback=proxy, 3.5's default (\"v2 proxy is deprecated\"); it only applies when a new member bootstraps through discovery"},
	// Config file only. [S3535] NewConfig leaves AutoCompactionMode "" (the flag defaults to
	// "periodic", so flags are not affected); with "" an hour count in auto-compaction-retention
	// means no compaction at all (embed/etcd.go parseCompactionRetention matches neither mode and
	// returns 0). [S36] NewConfig AutoCompactionMode: DefaultAutoCompactionMode ("periodic"), and
	// Validate refuses "" ("undefined auto-compaction-mode"). [M] yaml: "" on 3.5.35, periodic on
	// 3.6.16. Without a retention neither version compacts, so only a set retention matters.
	{setting: setting{flag: "auto-compaction-mode", yaml: "auto-compaction-mode",
		why: "3.6 reads a config file without auto-compaction-mode as periodic; pinning it keeps 3.6's compaction on 3.5, where an hour count without a mode would turn compaction off"},
		formats: []Format{FormatYAML}, lower: "", higher: "periodic", onlyWith: "auto-compaction-retention",
		refusedLower: "3.5's config-file default is an empty auto-compaction-mode, which 3.6 refuses (\"undefined auto-compaction-mode\"), so periodic, 3.6's default, is written; with an hour count in auto-compaction-retention the member now compacts every that many hours, where 3.5 did not compact"},
}

// defaults37 are the defaults that differ between 3.6.16 and 3.7.3: none
// of a setting both have ([M]: only log field names differ, and 3.7's new
// FastLeaseKeepAlive gate, on by default, has no 3.6 setting to pin).
var defaults37 []defaultChange
