# `terraform test` (1.7+) and `tofu test` (1.8+) for this module, with a mock
# provider: no cluster, no SSH, nothing applied for real. They check the
# module's variable validations, its outputs, and that its check block
# reports a member that is unhealthy or on another version.
# Run them with `make test-modules`, or in this directory with
# `terraform test` once the provider is installed or overridden.

mock_provider "etcd" {
  mock_resource "etcd_cluster_version" {
    defaults = {
      id              = "8e9e05c52164694d"
      cluster_version = "3.5.0"
      leader          = "s1"
      member_versions = { s1 = "3.5.21", s2 = "3.5.21", s3 = "3.5.21" }
      rollout         = ["nothing to do: every member runs 3.5.21"]
    }
  }

  mock_data "etcd_cluster" {
    defaults = {
      cluster_version = "3.5.0"
      members = {
        s1 = { id = "aaaaaaaaaaaaaaa1", healthy = true, version = "3.5.21", is_leader = true, is_learner = false, client_urls = ["https://10.0.0.11:2379"], peer_urls = ["https://10.0.0.11:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s2 = { id = "aaaaaaaaaaaaaaa2", healthy = true, version = "3.5.21", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.12:2379"], peer_urls = ["https://10.0.0.12:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s3 = { id = "aaaaaaaaaaaaaaa3", healthy = true, version = "3.5.21", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.13:2379"], peer_urls = ["https://10.0.0.13:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
      }
    }
  }
}

variables {
  etcd_version = "3.5.21"
  members = {
    s1 = { host = "10.0.0.11", client_url = "https://10.0.0.11:2379" }
    s2 = { host = "10.0.0.12", client_url = "https://10.0.0.12:2379" }
    s3 = { host = "10.0.0.13", client_url = "https://10.0.0.13:2379", ssh_port = 2222 }
  }
}

run "outputs_pass_through_what_the_resource_reads" {
  assert {
    condition     = output.member_versions == tomap({ s1 = "3.5.21", s2 = "3.5.21", s3 = "3.5.21" })
    error_message = "member_versions must be the resource's member_versions"
  }
  assert {
    condition     = output.cluster_version == "3.5.0"
    error_message = "cluster_version must be the resource's cluster_version"
  }
  assert {
    condition     = output.rollout == tolist(["nothing to do: every member runs 3.5.21"])
    error_message = "rollout must be the resource's rollout"
  }
}

run "defaults_reach_the_resource" {
  command = plan

  assert {
    condition     = etcd_cluster_version.this.binary == null
    error_message = "without binary_source the resource watches only: binary must be null"
  }
  assert {
    condition     = etcd_cluster_version.this.health.timeout == "5m" && etcd_cluster_version.this.health.stable_for == "5s" && etcd_cluster_version.this.health.member_pause == "0s"
    error_message = "the health defaults must be 5m, 5s and 0s"
  }
  assert {
    condition     = etcd_cluster_version.this.snapshot.directory == "etcd-snapshots"
    error_message = "the snapshot directory defaults to etcd-snapshots"
  }
  assert {
    condition     = etcd_cluster_version.this.timeouts.update == "60m"
    error_message = "rollout_timeout defaults to 60m"
  }
}

run "binary_source_sets_the_binary" {
  variables {
    binary_source = "https://downloads.example.net/etcd/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz"
    binary_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
    binary_path   = "/usr/local/bin/etcd"
  }

  assert {
    condition     = etcd_cluster_version.this.binary.path == "/usr/local/bin/etcd" && etcd_cluster_version.this.binary.sha256 == var.binary_sha256
    error_message = "binary must carry binary_path and binary_sha256"
  }
}

run "version_must_be_exact" {
  command = plan
  variables {
    etcd_version = "3.5"
  }
  expect_failures = [var.etcd_version]
}

run "client_url_must_be_scheme_host_port" {
  command = plan
  variables {
    members = { s1 = { host = "10.0.0.11", client_url = "10.0.0.11:2379" } }
  }
  expect_failures = [var.members]
}

run "members_must_not_be_empty" {
  command = plan
  variables {
    members = {}
  }
  expect_failures = [var.members]
}

run "sha256_must_be_hex" {
  command = plan
  variables {
    binary_sha256 = "ABC"
  }
  expect_failures = [var.binary_sha256]
}

run "paths_must_be_absolute" {
  command = plan
  variables {
    binary_path = "bin/etcd"
    config_file = "etcd.env"
  }
  expect_failures = [var.binary_path, var.config_file]
}

run "durations_must_parse" {
  command = plan
  variables {
    health_timeout  = "5 minutes"
    stable_for      = "soon"
    member_pause    = "2"
    rollout_timeout = "1d"
  }
  expect_failures = [var.health_timeout, var.stable_for, var.member_pause, var.rollout_timeout]
}

run "check_reports_a_member_on_another_version" {
  command = plan

  override_data {
    target = data.etcd_cluster.live
    values = {
      cluster_version = "3.5.0"
      members = {
        s1 = { id = "aaaaaaaaaaaaaaa1", healthy = true, version = "3.5.21", is_leader = true, is_learner = false, client_urls = ["https://10.0.0.11:2379"], peer_urls = ["https://10.0.0.11:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s2 = { id = "aaaaaaaaaaaaaaa2", healthy = true, version = "3.5.16", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.12:2379"], peer_urls = ["https://10.0.0.12:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s3 = { id = "aaaaaaaaaaaaaaa3", healthy = true, version = "3.5.21", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.13:2379"], peer_urls = ["https://10.0.0.13:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
      }
    }
  }
  expect_failures = [check.etcd_members_healthy_on_version]
}

# s3 answers on the right version but fails its health check.
run "check_reports_an_unhealthy_member" {
  command = plan

  override_data {
    target = data.etcd_cluster.live
    values = {
      cluster_version = "3.5.0"
      members = {
        s1 = { id = "aaaaaaaaaaaaaaa1", healthy = true, version = "3.5.21", is_leader = true, is_learner = false, client_urls = ["https://10.0.0.11:2379"], peer_urls = ["https://10.0.0.11:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s2 = { id = "aaaaaaaaaaaaaaa2", healthy = true, version = "3.5.21", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.12:2379"], peer_urls = ["https://10.0.0.12:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
        s3 = { id = "aaaaaaaaaaaaaaa3", healthy = false, version = "3.5.21", is_leader = false, is_learner = false, client_urls = ["https://10.0.0.13:2379"], peer_urls = ["https://10.0.0.13:2380"], db_size = 20480, storage_version = null, downgrade_target_version = null }
      }
    }
  }
  expect_failures = [check.etcd_members_healthy_on_version]
}
