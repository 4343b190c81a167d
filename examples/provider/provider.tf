terraform {
  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}

provider "etcd" {
  ssh = {
    user             = "root"               # the default
    private_key      = var.ssh_private_key  # or agent = true, to use SSH_AUTH_SOCK
    known_hosts_file = "~/.ssh/known_hosts" # the default; host keys are always verified
  }

  # Only for clusters that serve https:// client URLs or have auth enabled:
  # tls = {
  #   ca_cert = file("etcd-ca.pem")
  #   cert    = file("etcd-client.pem")
  #   key     = file("etcd-client-key.pem")
  # }
  # username = "root"
  # password = var.etcd_password
}

variable "ssh_private_key" {
  description = "Private key that logs in to every etcd host, for example file(\"~/.ssh/id_ed25519\")."
  type        = string
  sensitive   = true
}
