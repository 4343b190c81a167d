output "member_versions" {
  description = "The version each member runs, keyed by member name, as last read."
  value       = etcd_cluster_version.this.member_versions
}

output "cluster_version" {
  description = "The cluster version etcd reports, for example \"3.4.0\"."
  value       = etcd_cluster_version.this.cluster_version
}

output "rollout" {
  description = "The steps of the planned or last applied rollout, one per line."
  value       = etcd_cluster_version.this.rollout
}

output "last_snapshot" {
  description = "The snapshot taken before the last rollout: path, sha256, size_bytes and revision."
  value       = etcd_cluster_version.this.last_snapshot
}
