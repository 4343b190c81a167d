# Staging goes first: it has been downgraded to 3.4.34, production is still
# on 3.5.21. Same module, different members, versions and pacing.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}

provider "etcd" {
  ssh = {
    user             = "deploy"
    sudo             = true # passwordless sudo for the deploy user
    agent            = true # keys from the running ssh-agent (SSH_AUTH_SOCK)
    known_hosts_file = "~/.ssh/known_hosts"
  }
}

variable "etcd_binary_sha256" {
  description = "sha256sum of etcd-v3.4.34-linux-amd64/etcd, the binary inside the release archive (not of the archive)."
  type        = string
}

module "etcd" {
  source = "../../modules/etcd-version"

  etcd_version = "3.4.34"
  members = {
    stg-etcd-1 = { host = "stg-etcd-1.internal", client_url = "http://stg-etcd-1.internal:2379" }
    stg-etcd-2 = { host = "stg-etcd-2.internal", client_url = "http://stg-etcd-2.internal:2379" }
    stg-etcd-3 = { host = "stg-etcd-3.internal", client_url = "http://stg-etcd-3.internal:2379" }
  }

  # etcd's release archive, downloaded by each host.
  binary_source = "https://github.com/etcd-io/etcd/releases/download/v3.4.34/etcd-v3.4.34-linux-amd64.tar.gz"
  binary_sha256 = var.etcd_binary_sha256
}

output "member_versions" {
  value = module.etcd.member_versions
}

output "rollout" {
  value = module.etcd.rollout
}

output "last_snapshot" {
  value = module.etcd.last_snapshot
}
