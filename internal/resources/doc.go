// Package resources implements the provider's resource, etcd_cluster_version,
// and its data source, etcd_cluster. Terraform types stop here: the work is
// done by internal/rollout, internal/etcdx and internal/sshx on plain values.
package resources
