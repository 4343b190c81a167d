# Import an existing cluster by one or more of its client URLs, comma-separated.
# The members, their hosts and versions are read from the cluster.
terraform import etcd_cluster_version.main "https://10.0.0.11:2379,https://10.0.0.12:2379"
