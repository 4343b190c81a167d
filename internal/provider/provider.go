// Package provider implements the etcd provider: its schema, and Configure,
// which turns the configuration into SSH and etcd client settings.
package provider

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/functions"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/providerdata"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/resources"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/validate"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/etcd-rollout/etcd"

// Defaults for the ssh block, exported so docs and tests share them.
const (
	DefaultSSHUser        = "root"
	DefaultSSHPort        = 22
	DefaultKnownHostsFile = "~/.ssh/known_hosts"
)

var (
	_ provider.Provider                   = (*etcdProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*etcdProvider)(nil)
	_ provider.ProviderWithFunctions      = (*etcdProvider)(nil)
)

type etcdProvider struct{ version string }

// New returns the provider factory used by providerserver.Serve and tests.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &etcdProvider{version: version} }
}

type providerModel struct {
	SSH      *sshModel    `tfsdk:"ssh"`
	TLS      *tlsModel    `tfsdk:"tls"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
}

type sshModel struct {
	User                  types.String  `tfsdk:"user"`
	Port                  types.Int64   `tfsdk:"port"`
	PrivateKey            types.String  `tfsdk:"private_key"`
	PrivateKeyPassphrase  types.String  `tfsdk:"private_key_passphrase"`
	Agent                 types.Bool    `tfsdk:"agent"`
	KnownHostsFile        types.String  `tfsdk:"known_hosts_file"`
	InsecureIgnoreHostKey types.Bool    `tfsdk:"insecure_ignore_host_key"`
	Sudo                  types.Bool    `tfsdk:"sudo"`
	ConnectTimeout        types.String  `tfsdk:"connect_timeout"`
	Bastion               *bastionModel `tfsdk:"bastion"`
}

type bastionModel struct {
	Host                 types.String `tfsdk:"host"`
	Port                 types.Int64  `tfsdk:"port"`
	User                 types.String `tfsdk:"user"`
	PrivateKey           types.String `tfsdk:"private_key"`
	PrivateKeyPassphrase types.String `tfsdk:"private_key_passphrase"`
}

type tlsModel struct {
	CACert types.String `tfsdk:"ca_cert"`
	Cert   types.String `tfsdk:"cert"`
	Key    types.String `tfsdk:"key"`
}

func (p *etcdProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "etcd"
	resp.Version = p.version
}

func (p *etcdProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	portValidators := []validator.Int64{validate.Port(fmt.Sprintf("the default, %d", DefaultSSHPort))}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Rolls etcd clusters from one version to another over SSH — patch changes, the 3.4 → 3.5 upgrade, and the 3.5 → 3.4 downgrade — one member at a time, with a snapshot first and health gates between members.",
		Attributes: map[string]schema.Attribute{
			"ssh": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "How `etcd_cluster_version` reaches the etcd hosts over SSH, to read config files and replace binaries; the `etcd_cluster` data source does not use it. Host keys are always verified. Every setting has a default except the credentials: set `private_key`, `agent = true`, or both.",
				Attributes: map[string]schema.Attribute{
					"user": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: fmt.Sprintf("Remote user. Defaults to `%s`. Use a non-root user together with `sudo = true`.", DefaultSSHUser),
						Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"port": schema.Int64Attribute{
						Optional:            true,
						MarkdownDescription: fmt.Sprintf("SSH port of every host. Defaults to `%d`. A member's `ssh_port` overrides it for that host.", DefaultSSHPort),
						Validators:          portValidators,
					},
					"private_key": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Private key contents (PEM or OpenSSH format), for example `file(\"~/.ssh/id_ed25519\")`. Set this, `agent = true`, or both.",
					},
					"private_key_passphrase": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Passphrase of an encrypted `private_key`. Set it only when the key is encrypted; no default.",
					},
					"agent": schema.BoolAttribute{
						Optional:            true,
						MarkdownDescription: "Authenticate with the keys of the running ssh-agent (`SSH_AUTH_SOCK`). Defaults to `false`.",
					},
					"known_hosts_file": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: fmt.Sprintf("known_hosts file that every host key (bastion included) is verified against. Defaults to `%s`. Set it when the hosts' keys are kept elsewhere, for example `/etc/ssh/ssh_known_hosts`. Hashed and `[host]:port` entries are understood.", DefaultKnownHostsFile),
						Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"insecure_ignore_host_key": schema.BoolAttribute{
						Optional:            true,
						MarkdownDescription: "Skip host key verification. Defaults to `false`. Only for throw-away test hosts: it makes every connection open to interception, and the provider warns each time it is used.",
					},
					"sudo": schema.BoolAttribute{
						Optional:            true,
						MarkdownDescription: "Run remote commands through `sudo -n` (passwordless sudo is required). Defaults to `false`. Set it when `user` is not root.",
					},
					"connect_timeout": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "How long to wait for one SSH connection, as a Go duration. Defaults to `15s`. Raise it for slow links or a slow bastion.",
						Validators:          []validator.String{validate.Duration()},
					},
					"bastion": schema.SingleNestedAttribute{
						Optional:            true,
						MarkdownDescription: "A jump host that every connection goes through. Its host key is verified against the same `known_hosts_file`. Defaults to none: hosts are reached directly. Set it when the etcd hosts are only reachable through a bastion.",
						Attributes: map[string]schema.Attribute{
							"host": schema.StringAttribute{
								Required:            true,
								MarkdownDescription: "Bastion address (name or IP).",
								Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
							},
							"port": schema.Int64Attribute{
								Optional:            true,
								MarkdownDescription: "Bastion SSH port. Defaults to `22`.",
								Validators:          portValidators,
							},
							"user": schema.StringAttribute{
								Optional:            true,
								MarkdownDescription: "Bastion user. Defaults to `ssh.user`.",
							},
							"private_key": schema.StringAttribute{
								Optional:            true,
								Sensitive:           true,
								MarkdownDescription: "Bastion private key contents. Defaults to `ssh.private_key`.",
							},
							"private_key_passphrase": schema.StringAttribute{
								Optional:            true,
								Sensitive:           true,
								MarkdownDescription: "Passphrase of the bastion's `private_key`.",
							},
						},
					},
				},
			},
			"tls": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "TLS settings for etcd client connections to `https://` client URLs: PEM contents, not paths. Defaults to none: server certificates are verified against the system roots and no client certificate is sent. Set it when the members' certificates come from a private CA, or the cluster requires client certificates (`client-cert-auth`).",
				Attributes: map[string]schema.Attribute{
					"ca_cert": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "CA certificate(s) that signed the certificates the members serve on their client URLs. Defaults to the system roots; set it for a private CA.",
					},
					"cert": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Client certificate, for clusters with `client-cert-auth`. Set together with `key`.",
					},
					"key": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Private key of `cert`, PEM. Set together with `cert`.",
					},
				},
			},
			"username": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "etcd user, for clusters with auth enabled. Set together with `password`. Defaults to none: requests are not authenticated. A 3.5 → 3.4 downgrade refuses clusters with auth enabled.",
			},
			"password": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Password of `username`. Set together with `username`.",
			},
		},
	}
}

// ValidateConfig rejects what can be known to be wrong before any connection:
// it runs at validate and plan time.
func (p *etcdProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if s := cfg.SSH; s != nil {
		keyKnown := !s.PrivateKey.IsUnknown() && !s.Agent.IsUnknown()
		if keyKnown && s.PrivateKey.IsNull() && !s.Agent.ValueBool() {
			resp.Diagnostics.AddAttributeError(path.Root("ssh"), "No SSH credentials",
				"Set ssh.private_key (for example file(\"~/.ssh/id_ed25519\")), or ssh.agent = true to use the running ssh-agent.")
		}
		// A null passphrase is known too: most keys have none.
		if known(s.PrivateKey) && !s.PrivateKeyPassphrase.IsUnknown() {
			if _, err := sshx.ParsePrivateKey([]byte(s.PrivateKey.ValueString()), []byte(s.PrivateKeyPassphrase.ValueString())); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("private_key"), "Invalid SSH private key", "ssh.private_key: "+err.Error())
			}
		}
		if s.PrivateKeyPassphrase.ValueString() != "" && s.PrivateKey.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("private_key_passphrase"), "Passphrase without a key",
				"ssh.private_key_passphrase only applies to ssh.private_key; set the key, or remove the passphrase.")
		}
		if s.InsecureIgnoreHostKey.ValueBool() && !s.KnownHostsFile.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("insecure_ignore_host_key"), "Conflicting host key settings",
				"ssh.known_hosts_file and ssh.insecure_ignore_host_key = true contradict each other. Remove insecure_ignore_host_key to verify host keys against the file.")
		}
		if b := s.Bastion; b != nil && known(b.PrivateKey) && !b.PrivateKeyPassphrase.IsUnknown() {
			if _, err := sshx.ParsePrivateKey([]byte(b.PrivateKey.ValueString()), []byte(b.PrivateKeyPassphrase.ValueString())); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("bastion").AtName("private_key"), "Invalid bastion private key", "ssh.bastion.private_key: "+err.Error())
			}
		}
	}
	if t := cfg.TLS; t != nil && !t.Cert.IsUnknown() && !t.Key.IsUnknown() && t.Cert.IsNull() != t.Key.IsNull() {
		if t.Key.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("tls").AtName("cert"), "Client certificate without key",
				"tls.cert is set but tls.key is not. Set tls.key to the certificate's private key (PEM contents, for example file(\"etcd-client-key.pem\")), or remove tls.cert to connect without a client certificate.")
		} else {
			resp.Diagnostics.AddAttributeError(path.Root("tls").AtName("key"), "Client key without certificate",
				"tls.key is set but tls.cert is not. Set tls.cert to the client certificate of that key (PEM contents, for example file(\"etcd-client.pem\")), or remove tls.key.")
		}
	} else if t := cfg.TLS; t != nil && !t.Cert.IsUnknown() && !t.Key.IsUnknown() && !t.CACert.IsUnknown() {
		if _, err := etcdx.TLSConfig([]byte(t.CACert.ValueString()), []byte(t.Cert.ValueString()), []byte(t.Key.ValueString())); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tls"), "Invalid TLS settings", err.Error())
		}
	}
	if !cfg.Username.IsUnknown() && !cfg.Password.IsUnknown() && cfg.Username.IsNull() != cfg.Password.IsNull() {
		if cfg.Password.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("username"), "Incomplete etcd credentials",
				"username is set but password is not. Set password as well (for example password = var.etcd_password), or remove username for a cluster without auth.")
		} else {
			resp.Diagnostics.AddAttributeError(path.Root("password"), "Incomplete etcd credentials",
				"password is set but username is not. Set username as well (for example username = \"root\"), or remove password for a cluster without auth.")
		}
	}
}

func known(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

func (p *etcdProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, "private_key", "private_key_passphrase", "password", "key")

	data := &providerdata.Data{}
	data.SSH = sshx.Config{
		User:           DefaultSSHUser,
		Port:           DefaultSSHPort,
		KnownHostsFile: DefaultKnownHostsFile,
	}
	if s := cfg.SSH; s != nil {
		if !s.User.IsNull() {
			data.SSH.User = s.User.ValueString()
		}
		if !s.Port.IsNull() {
			data.SSH.Port = int(s.Port.ValueInt64())
		}
		if !s.KnownHostsFile.IsNull() {
			data.SSH.KnownHostsFile = s.KnownHostsFile.ValueString()
		}
		data.SSH.PrivateKey = []byte(s.PrivateKey.ValueString())
		data.SSH.Passphrase = []byte(s.PrivateKeyPassphrase.ValueString())
		data.SSH.Agent = s.Agent.ValueBool()
		data.SSH.Sudo = s.Sudo.ValueBool()
		data.SSH.InsecureIgnoreHostKey = s.InsecureIgnoreHostKey.ValueBool()
		if d := s.ConnectTimeout.ValueString(); d != "" {
			data.SSH.ConnectTimeout, _ = time.ParseDuration(d) // validated by the schema
		}
		if b := s.Bastion; b != nil {
			bastion := &sshx.Bastion{
				Host:       b.Host.ValueString(),
				Port:       DefaultSSHPort,
				User:       data.SSH.User,
				PrivateKey: data.SSH.PrivateKey,
				Passphrase: data.SSH.Passphrase,
			}
			if !b.Port.IsNull() {
				bastion.Port = int(b.Port.ValueInt64())
			}
			if !b.User.IsNull() {
				bastion.User = b.User.ValueString()
			}
			if !b.PrivateKey.IsNull() {
				bastion.PrivateKey = []byte(b.PrivateKey.ValueString())
				bastion.Passphrase = []byte(b.PrivateKeyPassphrase.ValueString())
			}
			data.SSH.Bastion = bastion
		}
	}
	if data.SSH.Agent && os.Getenv("SSH_AUTH_SOCK") == "" {
		resp.Diagnostics.AddAttributeError(path.Root("ssh").AtName("agent"), "No ssh-agent",
			"ssh.agent = true, but SSH_AUTH_SOCK is not set in Terraform's environment. Start an agent (eval $(ssh-agent); ssh-add), or set ssh.private_key.")
	}
	if data.SSH.InsecureIgnoreHostKey {
		resp.Diagnostics.AddAttributeWarning(path.Root("ssh").AtName("insecure_ignore_host_key"), "SSH host keys are not verified",
			"ssh.insecure_ignore_host_key = true: connections to the etcd hosts can be intercepted. Add the hosts to a known_hosts file (ssh-keyscan, checked out of band) and remove this setting.")
	}
	if t := cfg.TLS; t != nil {
		data.Etcd.CACert = []byte(t.CACert.ValueString())
		data.Etcd.Cert = []byte(t.Cert.ValueString())
		data.Etcd.Key = []byte(t.Key.ValueString())
	}
	data.Etcd.Username = cfg.Username.ValueString()
	data.Etcd.Password = cfg.Password.ValueString()
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Debug(ctx, "configured etcd provider", map[string]any{
		"ssh_user": data.SSH.User, "ssh_port": data.SSH.Port, "known_hosts_file": data.SSH.KnownHostsFile,
		"agent": data.SSH.Agent, "sudo": data.SSH.Sudo, "bastion": data.SSH.Bastion != nil,
		"tls": cfg.TLS != nil, "auth": data.Etcd.Username != "",
	})
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *etcdProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{resources.NewClusterVersionResource}
}

func (p *etcdProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{resources.NewClusterDataSource}
}

// Functions are the provider-defined functions (Terraform 1.8+, OpenTofu
// 1.7+), which need no provider configuration.
func (p *etcdProvider) Functions(context.Context) []func() function.Function {
	return functions.All()
}
