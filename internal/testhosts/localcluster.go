package testhosts

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// LocalCluster is etcd members run as child processes of the test, one on
// each of the loopback addresses it was started with, each with its own
// data directory and log: for tests of the client side that need a real
// etcd but no host around it.
type LocalCluster struct {
	bin     string
	Members []*LocalMember
}

// LocalMember is one member of a LocalCluster.
type LocalMember struct {
	Name, ClientURL, LogPath string
	peer, dir                string
	args                     []string
	cmd                      *exec.Cmd
	done                     chan struct{}
}

// freePort returns a port free on host now.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartLocalCluster starts etcd bin as one member on each of hosts
// (loopback addresses, e.g. 127.0.3.1), waits until every member is
// healthy, and kills what still runs when the test ends, showing each
// member's last log lines if it failed.
func StartLocalCluster(t *testing.T, bin string, hosts ...string) *LocalCluster {
	t.Helper()
	c := &LocalCluster{bin: bin}
	dir := t.TempDir()
	var initial []string
	for i, host := range hosts {
		m := &LocalMember{
			Name:      fmt.Sprintf("s%d", i+1),
			ClientURL: fmt.Sprintf("http://%s:%d", host, freePort(t, host)),
			peer:      fmt.Sprintf("http://%s:%d", host, freePort(t, host)),
		}
		m.dir = filepath.Join(dir, m.Name)
		m.LogPath = filepath.Join(dir, m.Name+".log")
		initial = append(initial, m.Name+"="+m.peer)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "local-" + filepath.Base(dir),
		}
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			if m.cmd != nil && !m.exited() {
				_ = m.cmd.Process.Kill()
				<-m.done
			}
			if t.Failed() {
				t.Logf("%s: last lines of its log:\n%s", m.Name, TailFile(m.LogPath, 15))
			}
		}
	})
	for i := range c.Members {
		c.Launch(t, i)
	}
	for i := range c.Members {
		c.WaitHealthy(t, i)
	}
	return c
}

// Endpoints are the members' client URLs.
func (c *LocalCluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

func (m *LocalMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Launch starts member i on its data directory and returns at once.
func (c *LocalCluster) Launch(t *testing.T, i int) {
	t.Helper()
	m := c.Members[i]
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(c.bin, m.args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + m.dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.done) }()
}

// Start restarts member i on its data directory and waits until it is
// healthy.
func (c *LocalCluster) Start(t *testing.T, i int) {
	t.Helper()
	c.Launch(t, i)
	c.WaitHealthy(t, i)
}

// Stop sends member i SIGTERM and returns how long it took to exit.
func (c *LocalCluster) Stop(t *testing.T, i int) time.Duration {
	t.Helper()
	m := c.Members[i]
	began := time.Now()
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
		return time.Since(began)
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
		t.Fatalf("%s did not exit within 20s of SIGTERM", m.Name)
		return 0
	}
}

// Kill sends member i SIGKILL and waits for it to exit.
func (c *LocalCluster) Kill(t *testing.T, i int) {
	t.Helper()
	m := c.Members[i]
	if err := m.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-m.done
}

// WaitHealthy waits up to 30 s for member i's /health to answer 200.
func (c *LocalCluster) WaitHealthy(t *testing.T, i int) {
	t.Helper()
	m := c.Members[i]
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if r, err := hc.Get(m.ClientURL + "/health"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-m.done:
			t.Fatalf("%s exited before it was healthy", m.Name)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s not healthy within 30s", m.Name)
}

// WatchStreams is how many gRPC watch streams member i holds, from its
// etcd_debugging_mvcc_watch_stream_total gauge.
func (c *LocalCluster) WatchStreams(t *testing.T, i int) int {
	t.Helper()
	m := c.Members[i]
	hc := &http.Client{Timeout: 2 * time.Second}
	r, err := hc.Get(m.ClientURL + "/metrics")
	if err != nil {
		t.Fatalf("%s metrics: %v", m.Name, err)
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_debugging_mvcc_watch_stream_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s metrics: %q: %v", m.Name, sc.Text(), err)
			}
			return int(f)
		}
	}
	t.Fatalf("%s metrics: no etcd_debugging_mvcc_watch_stream_total", m.Name)
	return 0
}
