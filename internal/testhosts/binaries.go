package testhosts

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TerraformVersion is the Terraform CLI that scripts/prereqs.sh builds.
const TerraformVersion = "1.5.7"

// EnvEtcdBinary34 names the env var that points at an etcd 3.4.32+ binary.
// No registry serves those releases, so a person has to supply one.
const EnvEtcdBinary34 = "ETCD_BINARY_3_4"

const prereqsHint = "run scripts/prereqs.sh (as root) to build the cached binaries"

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)

// CacheDir is where scripts/prereqs.sh leaves its binaries: $ETCD_TF_CACHE,
// else $XDG_CACHE_HOME/terraform-provider-etcd, else
// ~/.cache/terraform-provider-etcd. It must match the script's rule.
func CacheDir() string {
	if d := os.Getenv("ETCD_TF_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "terraform-provider-etcd")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "terraform-provider-etcd")
}

// EtcdBinary returns the etcd server binary of exactly version.
//
// The cache holds 3.5.16, 3.5.21, 3.5.35, 3.6.5, 3.6.16, 3.7.1, 3.7.3 and
// 3.4.23. For 3.4.32 and later,
// which no registry serves, $ETCD_BINARY_3_4 is used when its --version
// matches.
func EtcdBinary(version string) (string, error) {
	return toolBinary(version, "etcd")
}

// EtcdctlBinary returns the etcdctl of exactly version. For a version taken
// from $ETCD_BINARY_3_4 it is the etcdctl next to that binary.
func EtcdctlBinary(version string) (string, error) {
	return toolBinary(version, "etcdctl")
}

// TerraformBinary returns the cached Terraform 1.5.7 CLI.
func TerraformBinary() (string, error) {
	p := filepath.Join(CacheDir(), "terraform", TerraformVersion, "terraform")
	if !isExecutable(p) {
		return "", fmt.Errorf("terraform %s not found at %s: %s", TerraformVersion, p, prereqsHint)
	}
	return p, nil
}

func toolBinary(version, tool string) (string, error) {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("etcd version %q: want an exact x.y.z version", version)
	}
	cached := filepath.Join(CacheDir(), "etcd", version, tool)
	if isExecutable(cached) {
		return cached, nil
	}
	patch, _ := strconv.Atoi(m[3])
	if m[1] != "3" || m[2] != "4" || patch < 32 {
		return "", fmt.Errorf("%s %s not found at %s: %s (it builds 3.5.16 3.5.21 3.5.35 3.6.5 3.6.16 3.7.1 3.7.3 and unpacks 3.4.23; "+
			"for other 3.5/3.6/3.7 releases run it with ETCD_VERSIONS=\"%s\")", tool, version, cached, prereqsHint, version)
	}

	// 3.4.32+ only comes from a binary a person downloaded.
	server := os.Getenv(EnvEtcdBinary34)
	if server == "" {
		return "", fmt.Errorf("etcd %s is not served by any package registry, so it is not in the cache: "+
			"download the etcd v%s release and set %s=/path/to/etcd-v%s-linux-amd64/etcd", version, version, EnvEtcdBinary34, version)
	}
	got, err := binaryVersion(server)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", EnvEtcdBinary34, server, err)
	}
	if got != version {
		return "", fmt.Errorf("%s=%s is etcd %s, not %s: point it at an etcd %s binary", EnvEtcdBinary34, server, got, version, version)
	}
	p := server
	if tool != "etcd" {
		p = filepath.Join(filepath.Dir(server), tool)
		if !isExecutable(p) {
			return "", fmt.Errorf("%s %s not found at %s (looked beside %s=%s)", tool, version, p, EnvEtcdBinary34, server)
		}
	}
	return p, nil
}

// binaryVersion runs `etcd --version` and returns the server version from its
// first line, "etcd Version: 3.4.34".
func binaryVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	line, _, _ := bufio.NewReader(bytes.NewReader(out)).ReadLine()
	v, ok := strings.CutPrefix(string(line), "etcd Version: ")
	if !ok {
		return "", fmt.Errorf("%s --version: unexpected output %q", path, line)
	}
	return strings.TrimSpace(v), nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
