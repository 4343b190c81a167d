# Production: five members behind a bastion, TLS client certificates, the
# binary from an internal mirror, and a slower pace than staging.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}

variable "ssh_private_key" {
  description = "Private key of the etcd-admin user, on the bastion and on every etcd host."
  type        = string
  sensitive   = true
}

variable "etcd_ca_cert" {
  description = "PEM certificate of the CA that signed the members' client certificates."
  type        = string
}

variable "etcd_client_cert" {
  description = "PEM client certificate that the members accept (client-cert-auth)."
  type        = string
}

variable "etcd_client_key" {
  description = "PEM private key of etcd_client_cert."
  type        = string
  sensitive   = true
}

variable "etcd_binary_sha256" {
  description = "sha256sum of the etcd 3.5.21 binary on the mirror."
  type        = string
}

provider "etcd" {
  ssh = {
    user             = "etcd-admin"
    sudo             = true
    private_key      = var.ssh_private_key
    known_hosts_file = "/etc/ssh/ssh_known_hosts"
    bastion = {
      host = "bastion.prod.internal"
    }
  }

  tls = {
    ca_cert = var.etcd_ca_cert
    cert    = var.etcd_client_cert
    key     = var.etcd_client_key
  }
}

module "etcd" {
  source = "../../modules/etcd-version"

  etcd_version = "3.5.21"
  members = {
    etcd-a = { host = "10.20.0.11", client_url = "https://10.20.0.11:2379" }
    etcd-b = { host = "10.20.0.12", client_url = "https://10.20.0.12:2379" }
    etcd-c = { host = "10.20.0.13", client_url = "https://10.20.0.13:2379" }
    etcd-d = { host = "10.20.0.14", client_url = "https://10.20.0.14:2379" }
    etcd-e = { host = "10.20.0.15", client_url = "https://10.20.0.15:2379", ssh_port = 2222 }
  }

  # The binary itself, served by an internal mirror, with its checksum.
  binary_source = "https://mirror.prod.internal/etcd/v3.5.21/etcd"
  binary_sha256 = var.etcd_binary_sha256

  snapshot_directory = "/var/backups/etcd"
  stable_for         = "1m" # watch each member for a minute before the next one
  member_pause       = "2m" # etcd's guide: 2 minutes per member for more than 50 MB of v2 data
  health_timeout     = "10m"
  rollout_timeout    = "2h" # the plan warns if 5 members at these settings could take longer
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
