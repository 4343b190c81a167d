resource "etcd_cluster_version" "this" {
  version = var.etcd_version
  members = var.members

  # Without a source the resource still reads the cluster and reports drift;
  # the plan warns and apply refuses until a binary is given.
  binary = var.binary_source == null ? null : {
    path   = var.binary_path
    source = var.binary_source
    sha256 = var.binary_sha256
  }

  service = {
    config_file = var.config_file
  }

  snapshot = {
    directory = var.snapshot_directory
  }

  health = {
    timeout      = var.health_timeout
    stable_for   = var.stable_for
    member_pause = var.member_pause
  }

  timeouts = {
    create = var.rollout_timeout
    update = var.rollout_timeout
  }
}

# The cluster as it is, read after the rollout when there is one. It is a
# top-level data source rather than one scoped inside the check block: a
# scoped data source is re-read at every apply, so every plan would contain
# it and `terraform plan -detailed-exitcode` would always exit 2, which would
# break drift alarms.
data "etcd_cluster" "live" {
  endpoints  = [for m in values(var.members) : m.client_url]
  depends_on = [etcd_cluster_version.this]
}

# Evaluated at the end of every plan and apply. A failed assertion is a
# warning: it does not stop the run or change the exit code (the drift
# alarms guide shows how a pipeline reads it from the plan).
check "etcd_members_healthy_on_version" {
  assert {
    condition = alltrue([for m in data.etcd_cluster.live.members : m.healthy])
    error_message = format("etcd members not healthy: %s",
    join(", ", [for name, m in data.etcd_cluster.live.members : name if !m.healthy]))
  }

  assert {
    condition = alltrue([for m in data.etcd_cluster.live.members : m.version == var.etcd_version])
    error_message = format("etcd members not on %s: %s", var.etcd_version,
    join(", ", [for name, m in data.etcd_cluster.live.members : "${name}=${coalesce(m.version, "no answer")}" if m.version != var.etcd_version]))
  }
}
