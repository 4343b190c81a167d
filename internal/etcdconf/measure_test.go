package etcdconf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

// Measuring what a real etcd runs with. A member is started from a minimal
// configuration (name, data dir, one client and one peer URL on loopback,
// initial-cluster), either as ETCD_* variables ("env", which etcd reads as
// flags) or as a --config-file YAML ("yaml"), and its effective settings are
// read back from:
//   - its log: the format tells the logger (zap writes JSON, capnslog
//     "I | pkg: ..."), and zap's "starting an etcd server" line lists the
//     server configuration. 3.4 logs with capnslog by default, so for 3.4
//     the fields come from a second start with logger=zap added; the
//     logger itself is recorded from the first;
//   - probes of the client URL: POST /v3/kv/range {"key":"Zm9v"} answers
//     200 with the gRPC gateway on and 404 without it; GET /debug/pprof/
//     200 with enable-pprof; GET /v2/keys 200 with enable-v2.

// observation is what one version ran with for one mechanism; the files in
// testdata/defaults hold one each.
type observation struct {
	Etcd      string `json:"etcd"`
	Mechanism string `json:"mechanism"` // "env" (ETCD_* variables, read as flags) or "yaml"
	// How: where the fields came from, for the reader.
	How string `json:"how"`
	// Settings are by setting name (the flag), in the form a file writes
	// them; logged fields keep etcd's log names.
	Settings map[string]string `json:"settings"`
}

// notSettings are logged fields that describe the run, not a default.
var notSettings = map[string]bool{
	"level": true, "ts": true, "caller": true, "msg": true,
	"etcd-version": true, "git-sha": true, "go-version": true, "go-os": true, "go-arch": true,
	"max-cpu-set": true, "max-cpu-available": true, "member-initialized": true,
	"name": true, "data-dir": true, "wal-dir": true, "wal-dir-dedicated": true, "member-dir": true,
	"initial-advertise-peer-urls": true, "listen-peer-urls": true, "advertise-client-urls": true,
	"listen-client-urls": true, "listen-metrics-urls": true, "initial-cluster": true,
}

// member is a minimal single-member configuration on free loopback ports.
type member struct {
	dir          string
	client, peer string // URLs
}

func newMember(t *testing.T) member {
	t.Helper()
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	return member{dir: t.TempDir(), client: fmt.Sprintf("http://127.0.0.1:%d", port()), peer: fmt.Sprintf("http://127.0.0.1:%d", port())}
}

// config is the member's minimal configuration in format f.
func (m member) config(f Format) []byte {
	kv := [][2]string{
		{"name", "m1"}, {"data-dir", filepath.Join(m.dir, "data")},
		{"listen-client-urls", m.client}, {"advertise-client-urls", m.client},
		{"listen-peer-urls", m.peer}, {"initial-advertise-peer-urls", m.peer},
		{"initial-cluster", "m1=" + m.peer},
	}
	var b strings.Builder
	for _, p := range kv {
		if f == FormatYAML {
			fmt.Fprintf(&b, "%s: %s\n", p[0], p[1])
		} else {
			fmt.Fprintf(&b, "%s=%s\n", envName(p[0]), p[1])
		}
	}
	return []byte(b.String())
}

// appendSetting adds key=value to a file of format f.
func appendSetting(f Format, content []byte, key, value string) []byte {
	if f == FormatYAML {
		return append(append([]byte(nil), content...), key+": "+value+"\n"...)
	}
	return append(append([]byte(nil), content...), envName(key)+"="+value+"\n"...)
}

// run starts etcd on the settings in content, probes it, stops it, and
// returns what it saw. The data dir is removed first, so every run starts a
// new single-member cluster.
func (m member) run(t *testing.T, bin string, f Format, content []byte) (settings map[string]string, log string) {
	t.Helper()
	data := filepath.Join(m.dir, "data")
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + m.dir}
	if f == FormatYAML {
		p := filepath.Join(m.dir, "etcd.conf.yml")
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd.Args = append(cmd.Args, "--config-file", p)
	} else {
		d, err := parse(FormatEnv, content)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range d.entries {
			cmd.Env = append(cmd.Env, envName(e.key)+"="+e.value)
		}
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// etcd exits non-zero on SIGTERM; only its end matters.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}

	client := &http.Client{Timeout: 2 * time.Second}
	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if r, err := client.Get(m.client + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				ready = true
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("%s exited before it was healthy:\n%s", bin, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !ready {
		stop()
		t.Fatalf("%s not healthy within 30s:\n%s", bin, out.String())
	}
	status := func(method, path, body string) int {
		req, _ := http.NewRequest(method, m.client+path, strings.NewReader(body))
		r, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	onOff := func(code int) string {
		switch code {
		case 200:
			return "true"
		case 404:
			return "false"
		}
		return fmt.Sprintf("HTTP %d", code)
	}
	settings = map[string]string{
		"enable-grpc-gateway": onOff(status("POST", "/v3/kv/range", `{"key":"Zm9v"}`)),
		"enable-pprof":        onOff(status("GET", "/debug/pprof/", "")),
		"enable-v2":           onOff(status("GET", "/v2/keys", "")),
	}
	stop()
	log = out.String()
	// 3.4 reports the ETCD_* variables it reads through capnslog before the
	// configured logger exists, so one JSON log line is what tells zap.
	settings["logger"] = "capnslog"
	if zapLines(log) > 0 {
		settings["logger"] = "zap"
	}
	for k, v := range startFields(log) {
		settings[k] = v
	}
	return settings, log
}

func zapLines(log string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["level"] != nil && m["msg"] != nil {
			n++
		}
	}
	return n
}

// startFields are the fields of zap's "starting an etcd server" line, as
// strings, without those that describe the run.
func startFields(log string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != "starting an etcd server" {
			continue
		}
		for k, v := range m {
			if notSettings[k] {
				continue
			}
			switch x := v.(type) {
			case []any:
				var parts []string
				for _, p := range x {
					parts = append(parts, fmt.Sprint(p))
				}
				out[k] = strings.Join(parts, ",")
			case float64:
				out[k] = fmt.Sprintf("%.0f", x)
			default:
				out[k] = fmt.Sprint(x)
			}
		}
	}
	return out
}

func mechanism(f Format) string {
	if f == FormatYAML {
		return "yaml"
	}
	return "env"
}

// binaryOrSkip finds a cached etcd binary: a test that needs one fails
// under TF_ACC (CI, where scripts/prereqs.sh has run) and is skipped
// elsewhere, saying why.
func binaryOrSkip(t *testing.T, version string) string {
	t.Helper()
	bin, err := testhosts.EtcdBinary(version)
	if err != nil {
		if os.Getenv("TF_ACC") != "" {
			t.Fatalf("etcd %s is needed: %v", version, err)
		}
		t.Skipf("etcd %s not available (%v); run scripts/prereqs.sh, or set TF_ACC=1 to make this a failure", version, err)
	}
	return bin
}

const defaultsDir = "testdata/defaults"

func defaultsFile(version string, f Format) string {
	return filepath.Join(defaultsDir, version+"-"+mechanism(f)+".json")
}

func readObservation(t *testing.T, version string, f Format) observation {
	t.Helper()
	b, err := os.ReadFile(defaultsFile(version, f))
	if err != nil {
		t.Fatal(err)
	}
	var o observation
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// differing lists the settings both observations have with different
// values.
func differing(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// syncBuffer is a bytes.Buffer etcd's stdout and stderr may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
