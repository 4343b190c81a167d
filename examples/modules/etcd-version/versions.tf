# The caller configures the provider (SSH and etcd client settings); a
# reusable module only declares which provider it needs.
terraform {
  required_version = ">= 1.5.0" # check blocks

  required_providers {
    etcd = {
      source = "etcd-rollout/etcd"
    }
  }
}
