terraform {
  required_version = ">= 1.8.0" # provider-defined functions; OpenTofu: 1.7.0

  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}

# The applies that take a cluster from 3.5.21 to 3.7.3, one per element:
# ["3.5.26", "3.6.11", "3.7.3"]. 3.5.26 and 3.6.11 are the oldest releases
# the next step allows; any later 3.5 or 3.6 patch release works as well.
output "etcd_upgrade_path" {
  value = provider::etcd::version_path("3.5.21", "3.7.3")
}

# Downgrades go one minor at a time too: ["3.6.11", "3.5.26"].
output "etcd_downgrade_path" {
  value = provider::etcd::version_path("3.7.3", "3.5.26")
}

# The version to set at the next apply, on the way from what the cluster
# runs now to var.etcd_version.
variable "etcd_version" {
  type    = string
  default = "3.7.3"
}

data "etcd_cluster" "main" {
  endpoints = ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
}

locals {
  # one() fails while the members run different releases, as they do when a
  # rollout stopped half way: finish or roll back that rollout first.
  etcd_running = one(distinct([for m in values(data.etcd_cluster.main.members) : m.version if m.version != null]))
}

output "etcd_next_version" {
  # version_path is [] when the cluster already runs var.etcd_version.
  value = concat(provider::etcd::version_path(local.etcd_running, var.etcd_version), [var.etcd_version])[0]
}
