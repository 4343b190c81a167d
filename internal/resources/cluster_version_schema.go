package resources

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/rollout"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/validate"
)

// Default timeouts for Create and Update. A rollout of 7 members that each
// use the whole default health.timeout twice (gate, then put back) still fits.
const (
	DefaultCreateTimeout = 60 * time.Minute
	DefaultUpdateTimeout = 60 * time.Minute
)

type clusterVersionModel struct {
	ID             types.String   `tfsdk:"id"`
	Version        types.String   `tfsdk:"version"`
	Members        types.Map      `tfsdk:"members"`
	Binary         *binaryModel   `tfsdk:"binary"`
	Service        *serviceModel  `tfsdk:"service"`
	Snapshot       *snapshotModel `tfsdk:"snapshot"`
	Health         *healthModel   `tfsdk:"health"`
	Timeouts       timeouts.Value `tfsdk:"timeouts"`
	ClusterVersion types.String   `tfsdk:"cluster_version"`
	MemberVersions types.Map      `tfsdk:"member_versions"`
	Leader         types.String   `tfsdk:"leader"`
	Rollout        types.List     `tfsdk:"rollout"`
	LastSnapshot   types.Object   `tfsdk:"last_snapshot"`
}

type memberModel struct {
	Host      types.String `tfsdk:"host"`
	ClientURL types.String `tfsdk:"client_url"`
	SSHPort   types.Int64  `tfsdk:"ssh_port"`
}

var memberAttrTypes = map[string]attr.Type{
	"host":       types.StringType,
	"client_url": types.StringType,
	"ssh_port":   types.Int64Type,
}

type binaryModel struct {
	Path   types.String `tfsdk:"path"`
	Source types.String `tfsdk:"source"`
	SHA256 types.String `tfsdk:"sha256"`
	// ReplacePackaged allows replacing a dpkg- or rpm-owned binary.
	ReplacePackaged types.Bool `tfsdk:"replace_packaged"`
}

type serviceModel struct {
	StartCommand types.String `tfsdk:"start_command"`
	StopCommand  types.String `tfsdk:"stop_command"`
	ConfigFile   types.String `tfsdk:"config_file"`
	LogCommand   types.String `tfsdk:"log_command"`
}

type snapshotModel struct {
	Directory types.String       `tfsdk:"directory"`
	CopyTo    *snapshotCopyModel `tfsdk:"copy_to"`
}

type snapshotCopyModel struct {
	Host      types.String `tfsdk:"host"`
	Directory types.String `tfsdk:"directory"`
	SSHPort   types.Int64  `tfsdk:"ssh_port"`
}

type healthModel struct {
	Timeout     types.String `tfsdk:"timeout"`
	StableFor   types.String `tfsdk:"stable_for"`
	MemberPause types.String `tfsdk:"member_pause"`
}

var lastSnapshotAttrTypes = map[string]attr.Type{
	"path":       types.StringType,
	"sha256":     types.StringType,
	"size_bytes": types.Int64Type,
	"revision":   types.Int64Type,
	"copy":       types.StringType,
}

func versionValidator() validator.String {
	return validate.New(`an exact etcd release "x.y.z"`, func(s string) (string, string, bool) {
		if _, err := etcdconf.ParseVersion(s); err != nil {
			return "Invalid etcd version", err.Error(), false
		}
		return "", "", true
	})
}

func absolutePathValidator(what, example string) validator.String {
	return validate.New("an absolute path on the etcd hosts", func(s string) (string, string, bool) {
		if len(s) == 0 || s[0] != '/' {
			return "Relative remote path", fmt.Sprintf("%q is not absolute. %s is a path on the etcd hosts and must start with \"/\", for example %q.", s, what, example), false
		}
		return "", "", true
	})
}

// membersValidators reject what no cluster can match, before any connection.
func membersValidators() []validator.Map {
	return []validator.Map{
		validate.NonEmptyMap("No members",
			"members is empty. List every member of the cluster, keyed by its etcd name (as `etcdctl member list` shows it), for example members = { s1 = { host = \"10.0.0.11\", client_url = \"https://10.0.0.11:2379\" } }."),
		validate.UniqueNested("client_url", func(u string) string { return strings.TrimRight(u, "/") },
			"Each member has its own client URL: write the one that member advertises (`etcdctl member list` shows them), so that each health gate talks to the member being changed."),
	}
}

// timeoutsAttribute is timeouts.Attributes with a validator that also
// refuses zero and negative durations, which would end an apply before its
// first step, and says what to write.
func timeoutsAttribute(ctx context.Context) schema.Attribute {
	a := timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true}).(schema.SingleNestedAttribute)
	for name, na := range a.Attributes {
		if sa, ok := na.(schema.StringAttribute); ok {
			sa.Validators = []validator.String{validate.Duration()}
			a.Attributes[name] = sa
		}
	}
	return a
}

func (r *clusterVersionResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	nonEmpty := []validator.String{stringvalidator.LengthAtLeast(1)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "The etcd version a cluster runs. Changing `version` performs a zero-downtime rolling replacement over SSH, one member at a time: " +
			"pre-flight checks, a snapshot, staging of the new binary on every host, then for each member stop, install, config translation, start and a health gate. " +
			"`terraform plan` shows every step in `rollout`. Patch changes and one minor step at a time between 3.4, 3.5, 3.6 and 3.7 are supported; " +
			"downgrades from 3.6 on go through etcd's downgrade API, which apply enables and waits on before the first member stops.\n\n" +
			"Creating the resource adopts an existing cluster; destroying it only forgets the cluster.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The etcd cluster ID, in hex.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"version": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The etcd release every member should run, exactly `x.y.z` (for example `3.4.34`). " +
					"Allowed changes: any patch release of the same minor; 3.4 → 3.5; 3.5 → 3.4 when the target is 3.4.32 or later and auth is disabled; " +
					"3.5 → 3.6 from 3.5.26 or later on every member, with no v2 API data; 3.6 → 3.5 to 3.5.26 or later; 3.6 → 3.7 from 3.6.11 or later, once no member's log holds 3.5-era entries; 3.7 → 3.6 to 3.6.11 or later. " +
					"When members disagree, state shows `mixed: s1=… s2=…`, so the next plan finishes the job.",
				Validators: []validator.String{versionValidator()},
			},
			"members": schema.MapNestedAttribute{
				Required:            true,
				MarkdownDescription: "Every member of the cluster, keyed by etcd member name (as `etcdctl member list` shows). Must match the real membership exactly: the plan refuses a member missing from the map, an entry the cluster does not have, a learner, or a client URL the member does not advertise.",
				Validators:          membersValidators(),
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "SSH address (name or IP) of the host that runs this member's etcd service.",
						Validators:          nonEmpty,
					},
					"client_url": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "One of the member's advertised client URLs, for example `https://10.0.0.11:2379`. Health gates talk to the member through it.",
						Validators:          []validator.String{clientURLValidator()},
					},
					"ssh_port": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: "SSH port of this host. Defaults to the provider's `ssh.port`.",
						Validators:          []validator.Int64{validate.Port("the provider's ssh.port")},
					},
				}},
			},
			"binary": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "The target version's binary. Required whenever a member must change. Leave it out to only watch a cluster: a plan still reports drift, with a warning, and apply refuses to change anything.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Absolute path of the binary the service runs, for example `/usr/local/bin/etcd`. Defaults to what each member's unit really starts (`ExecStart`, learned at plan time); when set, the plan refuses a member whose service starts another binary, naming both. The new binary is staged as `<path>.<version>`. A regular file is replaced by a rename and the binary the member was started from is kept as `<path>.<old version>`, with the same owner, group and mode; a symlink (`/usr/local/bin/etcd → /opt/etcd-3.5.21/etcd`) is pointed at the new version instead (`/opt/etcd-3.5.16/etcd`), and pointed back on put-back.",
						Validators:          []validator.String{absolutePathValidator("binary.path", "/usr/local/bin/etcd")},
					},
					"source": schema.StringAttribute{
						Required: true,
						MarkdownDescription: "Where the target binary comes from: a file on the machine running Terraform (uploaded over SSH), " +
							"or an `http(s)` URL that each host downloads with `curl` or `wget` (a release `.tar.gz` is unpacked with `tar` and its `etcd` taken). A file already staged on a host with the expected sha256 is not transferred again.",
						Validators: nonEmpty,
					},
					"sha256": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Expected sha256 of the etcd binary itself (64 lower-case hex digits), also when `source` is a `.tar.gz`: not the archive's checksum. Checked on every host before anything stops. Defaults to none: a local `source` is then checked against its own digest, a URL only by `etcd --version`. Set it for every URL.",
						Validators:          []validator.String{validate.SHA256()},
					},
					"replace_packaged": schema.BoolAttribute{
						Optional:            true,
						MarkdownDescription: "Allow replacing a binary that a dpkg or rpm package owns (for example Debian's `etcd-server` or the Fedora/RHEL `etcd` package). Defaults to `false`: the plan refuses such a member, because the next package upgrade silently puts the packaged version back, whatever Terraform recorded. Set it only where package upgrades of etcd are held (`apt-mark hold`, `dnf versionlock`).",
					},
				},
			},
			"service": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "How etcd is managed on the hosts. The defaults suit a systemd unit named `etcd`: the provider reads that unit and the running process at plan time to learn the binary, the settings files and the user etcd runs as. Set it for another unit name or init system.",
				Attributes: map[string]schema.Attribute{
					"start_command": schema.StringAttribute{Optional: true, Validators: nonEmpty,
						MarkdownDescription: fmt.Sprintf("Shell command that starts etcd. Defaults to `%s`.", rollout.DefaultStartCommand)},
					"stop_command": schema.StringAttribute{Optional: true, Validators: nonEmpty,
						MarkdownDescription: fmt.Sprintf("Shell command that stops etcd and returns once it has exited. Defaults to `%s`.", rollout.DefaultStopCommand)},
					"config_file": schema.StringAttribute{Optional: true,
						MarkdownDescription: "etcd's settings file: an `ETCD_*` environment file or an etcd YAML config file, told apart by content. Defaults to what each member really uses, learned at plan time from its unit and process: the file given by `--config-file` or `ETCD_CONFIG_FILE`, else the unit's `EnvironmentFile=` entries. When set, the plan refuses a member that takes its settings from elsewhere, naming both. Rewritten on minor-version changes: every change is named in the plan with its line, a symlinked file is written through its link, owner, group, mode and SELinux label are kept, and an exact copy of the previous file is kept as `<file>.<old version>`. Set it only for a service that systemd does not run.",
						Validators:          []validator.String{absolutePathValidator("service.config_file", "/etc/etcd/etcd.env")}},
					"log_command": schema.StringAttribute{Optional: true, Validators: nonEmpty,
						MarkdownDescription: fmt.Sprintf("Shell command whose output is quoted in errors when a member fails. Defaults to `%s`.", rollout.DefaultLogCommand)},
				},
			},
			"snapshot": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Where the snapshot taken before every rollout is saved, and optionally copied. See `directory` for the default.",
				Attributes: map[string]schema.Attribute{
					"directory": schema.StringAttribute{Optional: true, Validators: nonEmpty,
						MarkdownDescription: fmt.Sprintf("Directory on the machine running Terraform, relative to the working directory or absolute. Files are named `<cluster-id>-rev<revision>-<UTC time>.db`, mode 0600. Defaults to `%s`.", rollout.DefaultSnapshotDir)},
					"copy_to": schema.SingleNestedAttribute{
						Optional: true,
						MarkdownDescription: "A host that keeps a copy of each snapshot, reached over SSH with the provider's `ssh` settings (user, key, `known_hosts_file`, `sudo`, bastion), like the etcd hosts. " +
							"After the snapshot is saved in `directory`, the directory here is created if missing (mode 0700), the file is uploaded under the same name with mode 0600, and `sha256sum` on that host must match the local file; otherwise the apply stops before any member changes. " +
							"`last_snapshot.copy` records where the copy is. Defaults to no copy. Set it whenever Terraform runs on a machine that does not last, such as a CI runner, so the snapshot survives it.",
						Attributes: map[string]schema.Attribute{
							"host": schema.StringAttribute{Required: true, Validators: []validator.String{copyHostValidator()},
								MarkdownDescription: "SSH address (name or IP) of the host that keeps the copies, for example `backup1.example.net`. Required when `copy_to` is set. The SSH user comes from the provider's `ssh.user`; the host key must be in its `known_hosts_file`."},
							"directory": schema.StringAttribute{Required: true, Validators: []validator.String{copyDirectoryValidator()},
								MarkdownDescription: "Absolute directory on `host` for the copies, for example `/var/backups/etcd`. Required when `copy_to` is set. Created with mode 0700 when missing; the SSH user (or root with `ssh.sudo`) must be able to create and write it."},
							"ssh_port": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{validate.Port("the provider's ssh.port")},
								MarkdownDescription: "SSH port of `host`. Defaults to the provider's `ssh.port`. Set it when the backup host's sshd listens elsewhere."},
						},
					},
				},
			},
			"health": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "The health gate after each member: how long it may take, how long the member must stay healthy, and the pause before the next member. See each setting for its default.",
				Attributes: map[string]schema.Attribute{
					"timeout": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.Duration()},
						MarkdownDescription: fmt.Sprintf("How long one member may take to pass its gate before it is put back on its previous version. Defaults to `%s`. Raise it for members that take long to start, for example with a large database.", rollout.DefaultTimeout)},
					"stable_for": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.NonNegativeDuration()},
						MarkdownDescription: fmt.Sprintf("How long a member must stay healthy, as the last part of its gate, before the next one starts. Defaults to `%s`. Raise it in production to catch a member that fails shortly after starting.", rollout.DefaultStableFor)},
					"member_pause": schema.StringAttribute{Optional: true, Validators: []validator.String{validate.NonNegativeDuration()},
						MarkdownDescription: "Extra wait after each member's gate. Defaults to `0s`. etcd's guide suggests 2m for clusters with more than 50 MB of v2 data."},
				},
			},
			"timeouts": timeoutsAttribute(ctx),
			"cluster_version": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The cluster version from `GET <client_url>/version`, for example `3.4.0`."},
			"member_versions": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The server version each member runs, keyed by member name, from live `Status` calls."},
			"leader": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The name of the leader member when last read."},
			"rollout": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The steps of the planned (or last applied) rollout, one string per step, known at plan time: pre-flight results, snapshot, staging, order, then per member its config changes and gate. `nothing to do: …` when every member already runs `version`."},
			"last_snapshot": schema.SingleNestedAttribute{Computed: true,
				MarkdownDescription: "The snapshot taken before the last rollout; null until a rollout has run. Restore it with etcd's own tools only when the cluster has lost quorum.",
				Attributes: map[string]schema.Attribute{
					"path":       schema.StringAttribute{Computed: true, MarkdownDescription: "Path of the snapshot file."},
					"sha256":     schema.StringAttribute{Computed: true, MarkdownDescription: "sha256 of the whole file, as `sha256sum` prints it."},
					"size_bytes": schema.Int64Attribute{Computed: true, MarkdownDescription: "File size in bytes."},
					"revision":   schema.Int64Attribute{Computed: true, MarkdownDescription: "The store revision the snapshot contains at least."},
					"copy": schema.StringAttribute{Computed: true,
						MarkdownDescription: "Where `snapshot.copy_to` keeps the verified copy of this snapshot, as `host:/directory/file`; null when no copy was configured (or it failed)."},
				}},
		},
	}
}
