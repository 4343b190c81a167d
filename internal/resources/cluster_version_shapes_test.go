package resources_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/acctest"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// shapeConfig is a configuration that names neither binary.path nor
// service.config_file: the provider learns both from each member's unit.
func shapeConfig(sb *testhosts.Sandbox, version, source string, extra ...string) string {
	return acctest.ProviderConfig(sb) + fmt.Sprintf(`
resource "etcd_cluster_version" "test" {
  version = %q
  members = %s
  binary  = {
    source = %q
    %s
  }
  health = { stable_for = "1s", timeout = "40s" }
  snapshot = { directory = %q }
}
`, version, acctest.Members(sb), source, strings.Join(extra, "\n    "), sb.Dir+"/snapshots")
}

// hostFiles is what a rollout must keep of a host's files: owner, group,
// mode, symlinks and content, by path.
func hostFiles(t *testing.T, sb *testhosts.Sandbox, h *testhosts.Host, paths ...string) map[string]testhosts.FileInfo {
	t.Helper()
	out := map[string]testhosts.FileInfo{}
	for _, p := range paths {
		if p == "" {
			continue
		}
		fi, err := h.Stat(context.Background(), p)
		if err != nil {
			t.Fatalf("%s: stat %s: %v", h.Name, p, err)
		}
		out[p] = fi
	}
	return out
}

func sameMeta(a, b testhosts.FileInfo) bool {
	return a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID && a.IsSymlink == b.IsSymlink && a.LinkTarget == b.LinkTarget
}

// TestAccClusterVersion_hostShapes runs a minor-version rollout (3.4.23 →
// 3.5, the upgrade and rollback path every CI run can take) and a put-back
// on each way operators install etcd, with neither binary.path nor
// service.config_file set. On every shape:
//   - the plan names the files that hold the settings it changes;
//   - a member that cannot start on 3.5 is put back, and its files are as
//     they were: owner, group, mode, symlinks and content (stat before and
//     after);
//   - after the fix the rollout finishes; rewritten files keep owner, group
//     and mode, a symlinked binary is a symlink to the new version, and the
//     backups are exact copies.
func TestAccClusterVersion_hostShapes(t *testing.T) {
	for _, tc := range []struct {
		name    string // subtest; the shape when empty
		shape   string
		opts    testhosts.Options
		extra   []string // more binary settings
		planned string   // a phrase the plan must show
	}{
		{shape: testhosts.ShapeKubespray, planned: "config /etc/etcd.env: "},
		{shape: testhosts.ShapeRPM, planned: "config /etc/etcd/etcd.conf: "},
		{shape: testhosts.ShapeDebian, extra: []string{"replace_packaged = true"}, planned: "config /etc/default/etcd: "},
		{shape: testhosts.ShapePercona, planned: "config /etc/etcd/etcd.conf.yaml: "},
		{shape: testhosts.ShapeSymlink, opts: testhosts.Options{ConfigSymlink: true}, planned: "point the link /usr/local/bin/etcd at /opt/etcd-3.5.21/etcd"},
		{shape: testhosts.ShapeHardway, planned: "unit /etc/systemd/system/etcd.service ExecStart=: "},
		// A unit whose start returns at once (Type=simple): the gate, not
		// systemctl, tells when the member is ready.
		{name: "simple-unit", opts: testhosts.Options{UnitType: "simple"}, planned: "config /etc/etcd/etcd.env: "},
	} {
		name := tc.name
		if name == "" {
			name = tc.shape
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.Shape, opts.EtcdVersion = tc.shape, "3.4.23"
			sb := acctest.Sandbox(t, opts)
			ctx := context.Background()
			bin35 := etcdBinary(t, testhosts.DefaultEtcdVersion)
			paths := []string{sb.BinaryPath, sb.ConfigFile(), sb.UnitFile}
			if sb.ConfigTarget != "" {
				paths = append(paths, sb.ConfigTarget)
			}
			var faulty *testhosts.Host
			var before map[string]map[string]testhosts.FileInfo
			gateway := map[string]int{} // each member's HTTP/JSON gateway status before
			fault := func(h *testhosts.Host, on bool) {
				t.Helper()
				// A setting 3.4 ignores and 3.5 rejects: 3.5 cannot start.
				// (A YAML file takes a duration 3.4 does not know.)
				var script string
				switch {
				case sb.ConfigFile() == "" && on: // settings inline: a drop-in adds the variable
					script = "mkdir -p " + sb.UnitFile + ".d && printf '[Service]\\nEnvironment=ETCD_SOCKET_REUSE_PORT=notabool\\n' > " + sb.UnitFile + ".d/fault.conf"
				case sb.ConfigFile() == "":
					script = "rm -rf " + sb.UnitFile + ".d"
				case sb.ConfigFormat == "yaml" && on:
					script = "echo 'experimental-compaction-sleep-interval: notaduration' >> " + sb.ConfigFile()
				case sb.ConfigFormat == "yaml":
					script = "sed -i --follow-symlinks '/notaduration/d' " + sb.ConfigFile()
				case on:
					script = "echo 'ETCD_SOCKET_REUSE_PORT=notabool' >> " + sb.ConfigFile()
				default:
					script = "sed -i --follow-symlinks '/ETCD_SOCKET_REUSE_PORT=notabool/d' " + sb.ConfigFile()
				}
				if out, err := h.Exec(ctx, script); err != nil {
					t.Fatalf("%s: %v: %s", h.Name, err, out)
				}
			}
			steps := []resource.TestStep{{Config: shapeConfig(sb, "3.4.23", bin35, tc.extra...)}}
			if tc.shape == testhosts.ShapeDebian {
				// Without replace_packaged, a dpkg-owned binary is refused
				// at plan time, naming the package.
				steps = append(steps, resource.TestStep{
					Config:      shapeConfig(sb, testhosts.DefaultEtcdVersion, bin35),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)Binary owned by a package.*belongs to the package etcd-server.*binary.replace_packaged = true`),
				})
			}
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.Factories,
				Steps: append(steps, []resource.TestStep{
					{
						PreConfig: func() {
							// The first follower by name goes first: it fails.
							leader := sb.Host(acctest.Leader(t, sb.ClientURLs()))
							for _, h := range sb.Hosts {
								if h != leader {
									faulty = h
									break
								}
							}
							fault(faulty, true)
							before = map[string]map[string]testhosts.FileInfo{}
							for _, h := range sb.Hosts {
								before[h.Name] = hostFiles(t, sb, h, paths...)
								gateway[h.Name] = gatewayStatus(t, h.ClientURL)
							}
						},
						Config:      shapeConfig(sb, testhosts.DefaultEtcdVersion, bin35, tc.extra...),
						ExpectError: regexp.MustCompile(`(?s)Rollout stopped at member s\d \((start|gate)\).*was put back on its previous binary`),
					},
					{
						// Put back: every file as it was, nothing left beside them.
						PreConfig: func() {
							for _, h := range sb.Hosts {
								after := hostFiles(t, sb, h, paths...)
								for p, b := range before[h.Name] {
									if a := after[p]; !sameMeta(a, b) || a.SHA256 != b.SHA256 {
										t.Errorf("%s: %s changed by a rollout that was put back: before %+v, after %+v", h.Name, p, b, a)
									}
								}
							}
							out, _ := faulty.Exec(ctx, "ls -a "+pathDir(sb.BinaryPath)+" "+pathDir(sb.ConfigFile())+" "+pathDir(sb.UnitFile))
							for _, leftover := range []string{".new", "etcd-rollout.new", ".tmp"} {
								if strings.Contains(out, leftover) {
									t.Errorf("%s: a %s file was left after the put-back:\n%s", faulty.Name, leftover, out)
								}
							}
							if v, err := faulty.EtcdVersion(ctx); err != nil || v != "3.4.23" {
								t.Errorf("%s runs %q (%v) after the put-back, want 3.4.23", faulty.Name, v, err)
							}
							fault(faulty, false)
							before[faulty.Name] = hostFiles(t, sb, faulty, paths...)
						},
						Config:             shapeConfig(sb, testhosts.DefaultEtcdVersion, bin35, tc.extra...),
						PlanOnly:           true,
						ExpectNonEmptyPlan: true,
						Check:              resource.TestMatchResourceAttr("etcd_cluster_version.test", "rollout.#", regexp.MustCompile(`.`)),
					},
					{
						Config: shapeConfig(sb, testhosts.DefaultEtcdVersion, bin35, tc.extra...),
						Check: resource.ComposeTestCheckFunc(
							planShows(tc.planned),
							func(*terraform.State) error {
								for _, h := range sb.Hosts {
									checkShapeAfter(t, sb, h, before[h.Name])
									// Clients of the gateway see what they saw on 3.4.23.
									if got := gatewayStatus(t, h.ClientURL); got != gateway[h.Name] {
										t.Errorf("%s: POST /v3/kv/range answers %d on 3.5, %d on 3.4.23", h.Name, got, gateway[h.Name])
									}
								}
								return nil
							}),
					},
				}...),
			})
		})
	}
}

// gatewayStatus is the HTTP status of a range request through a member's
// HTTP/JSON gateway, as Patroni's etcd3 backend sends it.
func gatewayStatus(t *testing.T, clientURL string) int {
	t.Helper()
	resp, err := http.Post(clientURL+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"Zm9v"}`))
	if err != nil {
		t.Fatalf("POST %s/v3/kv/range: %v", clientURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestAccClusterVersion_yamlDowngradeKeepsGateway: etcd 3.4 serves the
// HTTP/JSON gateway to a YAML-configured member only with
// enable-grpc-gateway: true, which 3.5 did not need. After a 3.5 → 3.4
// downgrade of a YAML cluster every member still answers POST /v3/kv/range
// with 200, and the plan names the pin. Needs ETCD_BINARY_3_4 (3.4.32+).
func TestAccClusterVersion_yamlDowngradeKeepsGateway(t *testing.T) {
	if os.Getenv("ETCD_BINARY_3_4") == "" {
		t.Skip("the real 3.5 → 3.4 downgrade needs etcd 3.4.32 or later: set ETCD_BINARY_3_4 to its binary")
	}
	bin34, v34 := binary34(t)
	sb := acctest.Sandbox(t, testhosts.Options{Shape: testhosts.ShapePercona})
	bin35 := etcdBinary(t, testhosts.DefaultEtcdVersion)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.Factories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					for _, h := range sb.Hosts {
						if got := gatewayStatus(t, h.ClientURL); got != http.StatusOK {
							t.Fatalf("%s: the gateway answers %d on 3.5 before the downgrade", h.Name, got)
						}
					}
				},
				Config: shapeConfig(sb, testhosts.DefaultEtcdVersion, bin35),
			},
			{
				Config: shapeConfig(sb, v34, bin34),
				Check: resource.ComposeTestCheckFunc(
					planShows("+enable-grpc-gateway=true (pinned: 3.5 default)"),
					func(*terraform.State) error {
						for _, h := range sb.Hosts {
							if got := gatewayStatus(t, h.ClientURL); got != http.StatusOK {
								t.Errorf("%s: POST /v3/kv/range answers %d after the downgrade, want 200", h.Name, got)
							}
						}
						return nil
					}),
			},
		},
	})
}

// checkShapeAfter asserts a finished member's files against their stat
// before the rollout.
func checkShapeAfter(t *testing.T, sb *testhosts.Sandbox, h *testhosts.Host, before map[string]testhosts.FileInfo) {
	t.Helper()
	ctx := context.Background()
	if v, err := h.EtcdVersion(ctx); err != nil || v != testhosts.DefaultEtcdVersion {
		t.Errorf("%s runs %q (%v), want %s", h.Name, v, err, testhosts.DefaultEtcdVersion)
	}
	for p, b := range before {
		a, err := h.Stat(ctx, p)
		if err != nil {
			t.Errorf("%s: %s: %v", h.Name, p, err)
			continue
		}
		switch {
		case p == sb.BinaryPath && b.IsSymlink:
			// Pointed at the new version, which has the old one's metadata.
			want := strings.ReplaceAll(b.LinkTarget, "3.4.23", testhosts.DefaultEtcdVersion)
			if !a.IsSymlink || a.LinkTarget != want {
				t.Errorf("%s: %s is %+v, want a symlink to %s", h.Name, p, a, want)
			}
			oldT, err1 := h.Stat(ctx, b.LinkTarget)
			newT, err2 := h.Stat(ctx, want)
			if err1 != nil || err2 != nil || oldT.Mode != newT.Mode || oldT.UID != newT.UID || oldT.GID != newT.GID {
				t.Errorf("%s: new link target %+v (%v) does not keep the old one's metadata %+v (%v)", h.Name, newT, err2, oldT, err1)
			}
		case !sameMeta(a, b):
			t.Errorf("%s: %s metadata changed: before %+v, after %+v", h.Name, p, b, a)
		}
		if p == sb.ConfigFile() || p == sb.ConfigTarget {
			real := p
			if b.IsSymlink {
				continue // checked through its target
			}
			backup, err := h.Stat(ctx, real+".3.4.23")
			if err != nil {
				t.Errorf("%s: no backup of %s: %v", h.Name, real, err)
				continue
			}
			if !sameMeta(backup, b) || backup.SHA256 != b.SHA256 {
				t.Errorf("%s: backup of %s is not an exact copy: %+v, original %+v", h.Name, real, backup, b)
			}
		}
	}
}

// planShows checks that one of the applied rollout's steps contains phrase.
func planShows(phrase string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources["etcd_cluster_version.test"]
		if !ok {
			return fmt.Errorf("no etcd_cluster_version.test in state")
		}
		var steps []string
		for k, v := range rs.Primary.Attributes {
			if strings.HasPrefix(k, "rollout.") && k != "rollout.#" {
				if strings.Contains(v, phrase) {
					return nil
				}
				steps = append(steps, v)
			}
		}
		return fmt.Errorf("no rollout step contains %q:\n%s", phrase, strings.Join(steps, "\n"))
	}
}

func pathDir(p string) string {
	if i := strings.LastIndex(p, "/"); i > 0 {
		return p[:i]
	}
	return "/"
}
