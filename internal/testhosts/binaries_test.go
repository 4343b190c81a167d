package testhosts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheDir(t *testing.T) {
	t.Setenv("ETCD_TF_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/x")
	if got := CacheDir(); got != "/x/terraform-provider-etcd" {
		t.Errorf("with XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("ETCD_TF_CACHE", "/c")
	if got := CacheDir(); got != "/c" {
		t.Errorf("with ETCD_TF_CACHE: %s", got)
	}
}

func TestEtcdBinaryLookup(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("ETCD_TF_CACHE", cache)
	t.Setenv(EnvEtcdBinary34, "")

	writeExe := func(path, script string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeExe(filepath.Join(cache, "etcd/3.5.21/etcd"), "#!/bin/sh\n")
	writeExe(filepath.Join(cache, "etcd/3.5.21/etcdctl"), "#!/bin/sh\n")

	if got, err := EtcdBinary("3.5.21"); err != nil || got != filepath.Join(cache, "etcd/3.5.21/etcd") {
		t.Errorf("cached: %s, %v", got, err)
	}
	if got, err := EtcdctlBinary("3.5.21"); err != nil || got != filepath.Join(cache, "etcd/3.5.21/etcdctl") {
		t.Errorf("cached etcdctl: %s, %v", got, err)
	}
	for _, tc := range []struct{ version, wantErr string }{
		{"3.5", "exact x.y.z"},
		{"3.5.20", "scripts/prereqs.sh"},
		{"3.4.23", "scripts/prereqs.sh"},
		{"3.4.34", EnvEtcdBinary34 + "="},
	} {
		if _, err := EtcdBinary(tc.version); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("EtcdBinary(%s): %v, want an error with %q", tc.version, err, tc.wantErr)
		}
	}

	fake := filepath.Join(t.TempDir(), "etcd")
	writeExe(fake, "#!/bin/sh\necho 'etcd Version: 3.4.34'\necho 'Git SHA: x'\n")
	t.Setenv(EnvEtcdBinary34, fake)
	if got, err := EtcdBinary("3.4.34"); err != nil || got != fake {
		t.Errorf("from %s: %s, %v", EnvEtcdBinary34, got, err)
	}
	if _, err := EtcdBinary("3.4.33"); err == nil || !strings.Contains(err.Error(), "is etcd 3.4.34, not 3.4.33") {
		t.Errorf("mismatched %s: %v", EnvEtcdBinary34, err)
	}
	if _, err := EtcdctlBinary("3.4.34"); err == nil || !strings.Contains(err.Error(), "beside") {
		t.Errorf("etcdctl missing beside %s: %v", EnvEtcdBinary34, err)
	}
	writeExe(filepath.Join(filepath.Dir(fake), "etcdctl"), "#!/bin/sh\n")
	if got, err := EtcdctlBinary("3.4.34"); err != nil || got != filepath.Join(filepath.Dir(fake), "etcdctl") {
		t.Errorf("etcdctl beside %s: %s, %v", EnvEtcdBinary34, got, err)
	}

	if _, err := TerraformBinary(); err == nil || !strings.Contains(err.Error(), "scripts/prereqs.sh") {
		t.Errorf("TerraformBinary with an empty cache: %v", err)
	}
}

func TestConfigRendering(t *testing.T) {
	hosts := []*Host{
		{Name: "s1", ClientURL: "http://127.0.9.1:2379", PeerURL: "http://127.0.9.1:2380"},
		{Name: "s2", ClientURL: "http://127.0.9.2:2379", PeerURL: "http://127.0.9.2:2380"},
	}
	s := memberSettings(hosts[1], hosts, "tok", map[string]string{
		"ETCD_INITIAL_CLUSTER_STATE":     "existing",
		"ETCD_EXPERIMENTAL_FOO":          "a b",
		"ETCD_ENABLE_PPROF":              "true",
		"ETCD_QUOTA_BACKEND_BYTES":       "8589934592",
		"ETCD_AUTO_COMPACTION_RETENTION": "1h",
	})
	env := string(envFile("s2", s))
	for _, line := range []string{
		"\nETCD_NAME=s2\n",
		"\nETCD_INITIAL_CLUSTER=s1=http://127.0.9.1:2380,s2=http://127.0.9.2:2380\n",
		"\nETCD_INITIAL_CLUSTER_STATE=existing\n",
		"\nETCD_EXPERIMENTAL_FOO=\"a b\"\n",
	} {
		if !strings.Contains(env, line) {
			t.Errorf("env file lacks %q:\n%s", line, env)
		}
	}
	if strings.Count(env, "ETCD_INITIAL_CLUSTER_STATE") != 1 {
		t.Errorf("ExtraEnv did not replace the default:\n%s", env)
	}
	yml := string(yamlFile("s2", s))
	for _, line := range []string{
		"\nname: \"s2\"\n",
		"\ninitial-cluster-state: \"existing\"\n",
		"\nenable-pprof: true\n",
		"\nquota-backend-bytes: 8589934592\n",
		"\nauto-compaction-retention: \"1h\"\n",
		"\nexperimental-foo: \"a b\"\n",
	} {
		if !strings.Contains(yml, line) {
			t.Errorf("yaml lacks %q:\n%s", line, yml)
		}
	}
}
