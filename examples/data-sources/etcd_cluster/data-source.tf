# A read-only view of a cluster: members, their versions and health, and the
# leader. It changes nothing, so it suits dashboards and scheduled checks.
data "etcd_cluster" "main" {
  # One reachable member is enough; list several so a read survives one being down.
  endpoints = [
    "https://10.0.0.11:2379",
    "https://10.0.0.12:2379",
    "https://10.0.0.13:2379",
  ]
}

# Changes only when a member changes version. Keep values that move on their
# own, such as the leader or db_size, out of outputs in a drift-alarm
# configuration: every change of theirs makes the plan non-empty.
output "etcd_member_versions" {
  value = { for name, m in data.etcd_cluster.main.members : name => m.version }
}

# Evaluated at the end of every plan and apply; a failed assertion is shown
# as a warning and recorded in the plan's "checks".
check "etcd_cluster_healthy" {
  assert {
    condition = alltrue([for m in data.etcd_cluster.main.members : m.healthy])
    error_message = format("etcd members not healthy: %s",
    join(", ", [for name, m in data.etcd_cluster.main.members : name if !m.healthy]))
  }

  assert {
    condition = alltrue([for m in data.etcd_cluster.main.members : m.version == "3.4.34"])
    error_message = format("etcd members not on 3.4.34: %s",
    join(", ", [for name, m in data.etcd_cluster.main.members : "${name}=${coalesce(m.version, "no answer")}" if m.version != "3.4.34"]))
  }
}
