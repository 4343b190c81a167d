terraform {
  required_version = ">= 1.8.0" # provider-defined functions; OpenTofu: 1.7.0

  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}

variable "etcd_version" {
  description = "The etcd release the cluster is to be rolled to next."
  type        = string
  default     = "3.6.16"
}

data "etcd_cluster" "main" {
  endpoints = ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
}

locals {
  # One check per member that answers: mid-rollout, members run different releases.
  etcd_transitions = {
    for name, m in data.etcd_cluster.main.members :
    name => provider::etcd::version_transition(m.version, var.etcd_version) if m.version != null
  }
}

# Warns at every plan, with the message the etcd_cluster_version plan would
# give, when the cluster cannot go to var.etcd_version in one apply. In a
# precondition or a variable validation, the same condition and message stop
# the run instead.
check "etcd_version_change_allowed" {
  assert {
    condition     = alltrue([for t in values(local.etcd_transitions) : t.allowed])
    error_message = join("\n", distinct([for t in values(local.etcd_transitions) : t.message if !t.allowed]))
  }
}

# For example { s1 = "upgrade (rolling)", ... }, or "downgrade (downgrade-api)"
# for a downgrade from 3.6 or 3.7.
output "etcd_version_change" {
  value = { for name, t in local.etcd_transitions : name => "${t.kind} (${t.method})" }
}
