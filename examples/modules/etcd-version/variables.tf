# The validation rules repeat the provider's own checks, so that a caller's
# mistake is reported at the module call, even by `terraform validate`.

variable "etcd_version" {
  description = "The etcd release every member should run, exactly x.y.z, for example \"3.4.34\"."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.etcd_version))
    error_message = "etcd_version must be an exact etcd release, x.y.z, for example \"3.4.34\"."
  }
}

variable "members" {
  description = "Every member of the cluster, keyed by etcd member name (as `etcdctl member list` shows): the SSH host, one advertised client URL, and an optional SSH port."
  type = map(object({
    host       = string
    client_url = string
    ssh_port   = optional(number)
  }))

  validation {
    condition     = length(var.members) > 0 && alltrue([for m in values(var.members) : can(regex("^https?://[^/]+/?$", m.client_url))])
    error_message = "members must list every member, each with a client_url such as \"https://10.0.0.11:2379\" (scheme, host and port only)."
  }
}

variable "binary_source" {
  description = "The etcd binary of etcd_version: a file on the machine running Terraform, or an http(s) URL each host downloads (a release .tar.gz is unpacked). Null watches the cluster for drift without being able to change it."
  type        = string
  default     = null
}

variable "binary_sha256" {
  description = "sha256 of the etcd binary itself (not of a .tar.gz around it), checked on every host before any member stops. Null skips the check for URLs; a local file is always checked against its own digest."
  type        = string
  default     = null

  validation {
    condition     = var.binary_sha256 == null || can(regex("^[0-9a-f]{64}$", var.binary_sha256))
    error_message = "binary_sha256 must be 64 lower-case hex digits, as sha256sum prints them."
  }
}

variable "binary_path" {
  description = "Path of the etcd binary the service runs on every host. Null (the default) uses what each member's unit really starts."
  type        = string
  default     = null

  validation {
    condition     = var.binary_path == null || startswith(coalesce(var.binary_path, "/"), "/")
    error_message = "binary_path must be an absolute path on the hosts, for example \"/usr/local/bin/etcd\"."
  }
}

variable "config_file" {
  description = "etcd's settings on every host: an ETCD_* env file or a YAML config file. Rewritten on 3.4 ⇄ 3.5 changes, with every change named in the plan. Null (the default) uses what each member's unit really reads."
  type        = string
  default     = null

  validation {
    condition     = var.config_file == null || startswith(coalesce(var.config_file, "/"), "/")
    error_message = "config_file must be an absolute path on the hosts, for example \"/etc/etcd/etcd.env\"."
  }
}

variable "snapshot_directory" {
  description = "Directory on the machine running Terraform that receives the snapshot taken before every rollout."
  type        = string
  default     = "etcd-snapshots"
}

variable "health_timeout" {
  description = "How long one member may take to pass its health gate before it is put back on its previous version."
  type        = string
  default     = "5m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.health_timeout))
    error_message = "health_timeout must be a duration such as \"5m\" or \"90s\"."
  }
}

variable "stable_for" {
  description = "How long a member must stay healthy after its restart before the next member starts."
  type        = string
  default     = "5s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.stable_for))
    error_message = "stable_for must be a duration such as \"30s\" or \"1m\"."
  }
}

variable "member_pause" {
  description = "Extra wait after each member's gate; etcd's downgrade guide suggests 2m for clusters with more than 50 MB of v2 data."
  type        = string
  default     = "0s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.member_pause))
    error_message = "member_pause must be a duration such as \"0s\" or \"2m\"."
  }
}

variable "rollout_timeout" {
  description = "Upper bound for a whole rollout (the resource's create and update timeouts)."
  type        = string
  default     = "60m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", var.rollout_timeout))
    error_message = "rollout_timeout must be a duration such as \"60m\" or \"3h\"."
  }
}
