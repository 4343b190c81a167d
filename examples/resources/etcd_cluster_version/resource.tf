# The etcd version of a running 3-member cluster. Changing `version` and
# applying rolls every member to it, one at a time; `terraform plan` shows
# each step in `rollout` first.
resource "etcd_cluster_version" "main" {
  version = "3.4.34" # was "3.5.21"

  members = {
    s1 = { host = "10.0.0.11", client_url = "https://10.0.0.11:2379" }
    s2 = { host = "10.0.0.12", client_url = "https://10.0.0.12:2379" }
    s3 = { host = "10.0.0.13", client_url = "https://10.0.0.13:2379" }
  }

  # The binary each member's unit starts, and the files its settings live
  # in, are learned from the hosts at plan time (binary.path and
  # service.config_file are optional, and refused when they disagree).
  binary = {
    # A file on the machine running Terraform, uploaded to every host. Or an
    # http(s) URL each host downloads; a release .tar.gz is unpacked. With a
    # URL, set sha256 to the sha256sum of the etcd binary itself.
    source = "/srv/etcd/v3.4.34/etcd"
  }

  # The snapshot taken before the rollout is saved in ./etcd-snapshots on the
  # machine running Terraform. When that is a CI runner that does not last,
  # keep a verified copy on a host that does, over the provider's SSH settings.
  snapshot = {
    copy_to = { host = "backup1.example.net", directory = "/var/backups/etcd" }
  }

  # Optional; the defaults are timeout = "5m", stable_for = "5s", member_pause = "0s".
  health = {
    stable_for   = "30s"
    member_pause = "2m" # etcd's guide: wait 2 minutes per member with more than 50 MB of v2 data
  }
}

output "member_versions" {
  value = etcd_cluster_version.main.member_versions
}
