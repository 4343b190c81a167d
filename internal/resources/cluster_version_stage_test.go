package resources_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// serveRelease serves etcd's binary as a release would: a .tar.gz holding
// etcd-v<version>-linux-amd64/etcd, on a loopback address the hosts reach.
func serveRelease(t *testing.T, version, binary string) (url, sum string) {
	t.Helper()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	dir := t.TempDir()
	f, err := os.Create(dir + "/release.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	name := fmt.Sprintf("etcd-v%s-linux-amd64/etcd", version)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return fmt.Sprintf("http://%s/release.tar.gz", ln.Addr()), hex.EncodeToString(s[:])
}

// Staging failures stop the apply before any member stops: a binary whose
// --version is not the target, and a download whose sha256 does not match.
// Then the same release with the right digest rolls out.
func TestAccClusterVersion_staging(t *testing.T) {
	o := faultOutcomes(t)
	sb := acctest.Sandbox(t, testhosts.Options{})
	v35 := testhosts.DefaultEtcdVersion
	const older = "3.5.16"
	bin35, binOld := etcdBinary(t, v35), etcdBinary(t, older)
	url, sum := serveRelease(t, older, binOld)
	snap := `snapshot = { directory = "` + t.TempDir() + `" }`
	withSHA := func(cfg, sha string) string {
		return strings.Replace(cfg, `source = `, `sha256 = "`+sha+`"`+"\n    source = ", 1)
	}

	pids := map[string]string{}
	recordPIDs := func() {
		for _, h := range sb.Hosts {
			pids[h.Name] = readPID(t, h)
		}
	}
	untouched := func() {
		for _, h := range sb.Hosts {
			got := readPID(t, h)
			o.assert("stops-at-staging", got == pids[h.Name], "%s was restarted (pid %s → %s) although staging failed", h.Name, pids[h.Name], got)
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{Config: versionConfig(sb, v35, bin35, snap)},
			{
				// The 3.5.16 binary offered as 3.5.15.
				PreConfig:   recordPIDs,
				Config:      versionConfig(sb, "3.5.15", binOld, snap),
				ExpectError: o.expectError("stops-at-staging", regexp.MustCompile(`(?s)Rollout stopped at member s\d \(stage\).*reports\s+version\s+"3\.5\.16",\s+want\s+3\.5\.15.*Nothing\s+was\s+changed`)),
			},
			{
				PreConfig:   untouched,
				Config:      withSHA(versionConfig(sb, older, url, snap), strings.Repeat("0", 64)),
				ExpectError: o.expectError("stops-at-staging", regexp.MustCompile(`(?s)\(stage\).*has\s+sha256\s+`+sum+`\s+after\s+transfer,\s+want\s+0{64}`)),
			},
			{
				PreConfig: untouched,
				Config:    withSHA(versionConfig(sb, older, url, snap), sum),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("member_versions"), allMembers(sb, older)),
				},
			},
		},
	})
}

func readPID(t *testing.T, h *testhosts.Host) string {
	t.Helper()
	b, err := os.ReadFile(h.Path("/var/lib/etcd/etcd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
