package resources

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/providerdata"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/validate"
)

var (
	_ datasource.DataSource              = (*clusterDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*clusterDataSource)(nil)
)

// NewClusterDataSource returns the etcd_cluster data source.
func NewClusterDataSource() datasource.DataSource { return &clusterDataSource{} }

type clusterDataSource struct{ data *providerdata.Data }

type clusterDataModel struct {
	Endpoints      types.List   `tfsdk:"endpoints"`
	ID             types.String `tfsdk:"id"`
	ClusterVersion types.String `tfsdk:"cluster_version"`
	Leader         types.String `tfsdk:"leader"`
	Members        types.Map    `tfsdk:"members"`
	Downgrading    types.Bool   `tfsdk:"downgrade_in_progress"`
	DowngradeTo    types.String `tfsdk:"downgrade_target_version"`
}

type clusterMemberModel struct {
	ID         types.String `tfsdk:"id"`
	ClientURLs types.List   `tfsdk:"client_urls"`
	PeerURLs   types.List   `tfsdk:"peer_urls"`
	Version    types.String `tfsdk:"version"`
	Healthy    types.Bool   `tfsdk:"healthy"`
	IsLeader   types.Bool   `tfsdk:"is_leader"`
	IsLearner  types.Bool   `tfsdk:"is_learner"`
	DBSize     types.Int64  `tfsdk:"db_size"`
	Storage    types.String `tfsdk:"storage_version"`
	Downgrade  types.String `tfsdk:"downgrade_target_version"`
}

var clusterMemberAttrTypes = map[string]attr.Type{
	"id":                       types.StringType,
	"client_urls":              types.ListType{ElemType: types.StringType},
	"peer_urls":                types.ListType{ElemType: types.StringType},
	"version":                  types.StringType,
	"healthy":                  types.BoolType,
	"is_leader":                types.BoolType,
	"is_learner":               types.BoolType,
	"db_size":                  types.Int64Type,
	"storage_version":          types.StringType,
	"downgrade_target_version": types.StringType,
}

func (d *clusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (d *clusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an etcd cluster as it is right now: its members, their versions and health, and the leader. Use it in `check` blocks and drift alarms; it changes nothing. A member that is down is reported with `healthy = false`, not as an error.",
		Attributes: map[string]schema.Attribute{
			"endpoints": schema.ListAttribute{
				ElementType:         types.StringType,
				Required:            true,
				MarkdownDescription: "Client URLs to ask, for example `[\"https://10.0.0.11:2379\"]`. One reachable member is enough; list several so that the read survives a member being down.",
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(clientURLValidator()),
				},
			},
			"id":                       schema.StringAttribute{Computed: true, MarkdownDescription: "Cluster ID, in hex as etcdctl prints it."},
			"cluster_version":          schema.StringAttribute{Computed: true, MarkdownDescription: "Cluster version from `GET /version` (`etcdcluster`), for example `3.5.0`."},
			"leader":                   schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the leader member; null when no member reports one."},
			"downgrade_in_progress":    schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether a downgrade job is enabled (`etcdctl downgrade enable`), as members on etcd 3.6 or later report it; null when every member that answered runs 3.5 or older, which cannot say."},
			"downgrade_target_version": schema.StringAttribute{Computed: true, MarkdownDescription: "The version a downgrade in progress goes to, for example `3.5.0`; null when none is in progress or no member can say."},
			"members": schema.MapNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Members keyed by member name; a member added but never started appears as `unstarted-<id>`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":                       schema.StringAttribute{Computed: true, MarkdownDescription: "Member ID, in hex."},
					"client_urls":              schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Advertised client URLs."},
					"peer_urls":                schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Advertised peer URLs."},
					"version":                  schema.StringAttribute{Computed: true, MarkdownDescription: "Server version the member runs; null when it did not answer."},
					"healthy":                  schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the member answered its status without errors and served a linearizable read, as `etcdctl endpoint health` checks."},
					"is_leader":                schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the member is the raft leader."},
					"is_learner":               schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the member is a non-voting learner."},
					"db_size":                  schema.Int64Attribute{Computed: true, MarkdownDescription: "Backend database size in bytes; null when the member did not answer."},
					"storage_version":          schema.StringAttribute{Computed: true, MarkdownDescription: "Version of the member's data (its storage schema), for example `3.6.0`: during a downgrade it drops to the target before the lower binary can start. Null for a member on etcd 3.5 or older, which does not report it, or one that did not answer."},
					"downgrade_target_version": schema.StringAttribute{Computed: true, MarkdownDescription: "The target of the downgrade job this member knows of, for example `3.5.0`; null when it knows of none, runs 3.5 or older, or did not answer."},
				}},
			},
		},
	}
}

func (d *clusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(req.ProviderData, &resp.Diagnostics)
}

func (d *clusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var model clusterDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &model)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var endpoints []string
	resp.Diagnostics.Append(model.Endpoints.ElementsAs(ctx, &endpoints, false)...)
	if resp.Diagnostics.HasError() || d.data == nil {
		return
	}
	client, err := d.data.EtcdClient(endpoints)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoints"), "Cannot build the etcd client", err.Error())
		return
	}
	defer func() { _ = client.Close() }()

	view, err := client.Observe(ctx)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoints"), "etcd cluster unreachable",
			fmt.Sprintf("%v\n\nCheck that at least one endpoint is a running member's client URL, reachable from the machine running Terraform, and that the provider's tls, username and password settings match the cluster.", err))
		return
	}
	tflog.Debug(ctx, "read etcd cluster", map[string]any{"cluster_id": view.ClusterIDHex(), "members": len(view.Members)})

	model.ID = types.StringValue(view.ClusterIDHex())
	model.ClusterVersion = stringOrNull(view.ClusterVersion)
	model.Leader = types.StringNull()
	if l, ok := view.Leader(); ok {
		model.Leader = types.StringValue(l.Name)
	}
	model.Downgrading, model.DowngradeTo = types.BoolNull(), types.StringNull()
	if enabled, target, known := view.Downgrade(); known {
		model.Downgrading = types.BoolValue(enabled)
		if enabled {
			model.DowngradeTo = stringOrNull(target)
		}
	}
	var diags diag.Diagnostics
	model.Members, diags = membersValue(ctx, view.Members)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &model)...)
}

func membersValue(ctx context.Context, members []etcdx.Member) (types.Map, diag.Diagnostics) {
	out := map[string]clusterMemberModel{}
	var diags diag.Diagnostics
	for _, m := range members {
		name := m.Name
		if name == "" {
			// A member added but never started has no name yet.
			name = "unstarted-" + m.IDHex()
		}
		clientURLs, d := types.ListValueFrom(ctx, types.StringType, nonNil(m.ClientURLs))
		diags.Append(d...)
		peerURLs, d := types.ListValueFrom(ctx, types.StringType, nonNil(m.PeerURLs))
		diags.Append(d...)
		mm := clusterMemberModel{
			ID:         types.StringValue(m.IDHex()),
			ClientURLs: clientURLs,
			PeerURLs:   peerURLs,
			Version:    stringOrNull(m.Version),
			Healthy:    types.BoolValue(m.Healthy),
			IsLeader:   types.BoolValue(m.IsLeader),
			IsLearner:  types.BoolValue(m.IsLearner),
			DBSize:     types.Int64Null(),
			Storage:    stringOrNull(m.StorageVersion),
			Downgrade:  types.StringNull(),
		}
		if m.DowngradeEnabled {
			mm.Downgrade = stringOrNull(m.DowngradeTarget)
		}
		if m.Reachable {
			mm.DBSize = types.Int64Value(m.DBSize)
		}
		out[name] = mm
	}
	v, d := types.MapValueFrom(ctx, types.ObjectType{AttrTypes: clusterMemberAttrTypes}, out)
	diags.Append(d...)
	return v, diags
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// configureData takes the provider's configured data, reporting a clear
// error when the framework hands over something else.
func configureData(providerData any, diags *diag.Diagnostics) *providerdata.Data {
	if providerData == nil {
		return nil // the provider is not configured yet (validation)
	}
	data, ok := providerData.(*providerdata.Data)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerdata.Data, got %T; this is a bug in the provider", providerData))
		return nil
	}
	return data
}

func clientURLValidator() validator.String {
	return validate.New("an http:// or https:// client URL", func(s string) (string, string, bool) {
		if err := checkClientURL(s); err != nil {
			return "Invalid client URL", err.Error(), false
		}
		return "", "", true
	})
}

func checkClientURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimSpace(s) != s {
		return fmt.Errorf("%q is not an etcd client URL. Write it as the member advertises it, for example \"https://10.0.0.11:2379\"", s)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("%q has a path; write just scheme, host and port, for example \"%s://%s\"", s, u.Scheme, u.Host)
	}
	return nil
}
