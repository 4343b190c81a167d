# Adopt an existing cluster with an import block (Terraform 1.5+, OpenTofu):
# the id is one or more of its client URLs, comma-separated. The members,
# their hosts and versions are read from the cluster; `terraform plan` shows
# the import, and with `version` and `members` written to match it changes
# nothing.
import {
  to = etcd_cluster_version.main
  id = "https://10.0.0.11:2379,https://10.0.0.12:2379"
}
