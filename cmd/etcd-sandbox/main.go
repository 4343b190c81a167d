// Command etcd-sandbox starts, inspects and stops a testhosts sandbox that
// outlives the command: SSH hosts on 127.0.N.x and an etcd cluster on them,
// for `make demo` and for trying the provider by hand. Run it as root.
//
//	etcd-sandbox up -dir DIR [-members 3] [-version 3.5.21] [-block 100] [-format env|yaml] [-no-etcd]
//	etcd-sandbox status -dir DIR
//	etcd-sandbox down -dir DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/testhosts"
)

const usage = `usage:
  etcd-sandbox up -dir DIR [-members 3] [-version 3.5.21] [-block N] [-format env|yaml] [-no-etcd]
  etcd-sandbox status -dir DIR
  etcd-sandbox down -dir DIR
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-sandbox:", err)
	}
	os.Exit(code)
}

// run returns the exit code: 0 ok, 1 unhealthy (status) or failed, 2 usage.
func run(ctx context.Context, args []string, out io.Writer) (int, error) {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2, nil
	}
	fs := flag.NewFlagSet("etcd-sandbox "+args[0], flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	dir := fs.String("dir", "", "sandbox directory (required)")
	var opts testhosts.Options
	if args[0] == "up" {
		fs.IntVar(&opts.Members, "members", 3, "number of hosts / etcd members")
		fs.StringVar(&opts.EtcdVersion, "version", testhosts.DefaultEtcdVersion, "etcd version")
		fs.IntVar(&opts.Block, "block", 0, "use 127.0.N.0/24 (1-254); 0 picks a free one in 10-99")
		fs.StringVar(&opts.ConfigFormat, "format", "env", "member config: env (/etc/etcd/etcd.env) or yaml (/etc/etcd/etcd.yml)")
		fs.BoolVar(&opts.NoEtcd, "no-etcd", false, "hosts only, no etcd")
	}
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *dir == "" {
		return 2, errors.New("-dir is required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	switch args[0] {
	case "up":
		opts.Dir = *dir
		return up(ctx, opts, out)
	case "down":
		return down(*dir, out)
	case "status":
		return status(ctx, *dir, out)
	default:
		fmt.Fprint(os.Stderr, usage)
		return 2, fmt.Errorf("unknown command %q", args[0])
	}
}

func up(ctx context.Context, opts testhosts.Options, out io.Writer) (int, error) {
	// A second `up` in the same directory replaces the first, so `make demo`
	// can simply be run again.
	if old, err := testhosts.Load(opts.Dir); err == nil {
		fmt.Fprintf(out, "stopping the sandbox already in %s\n", old.Dir)
		if err := old.Close(); err != nil {
			return 1, err
		}
	}
	opts.Detached = true
	began := time.Now()
	s, err := testhosts.Start(ctx, opts)
	if err != nil {
		return 1, err
	}
	what := "hosts only, no etcd"
	if s.EtcdVersion != "" {
		what = fmt.Sprintf("etcd %s, config %s", s.EtcdVersion, s.ConfigFile())
	}
	fmt.Fprintf(out, "sandbox up in %s: 127.0.%d.0/24, %s, ready in %v\n\n", s.Dir, s.Block, what, time.Since(began).Round(time.Millisecond))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tSSH\tCLIENT URL\tHOST KEY")
	for _, h := range s.Hosts {
		fmt.Fprintf(tw, "%s\troot@%s:22\t%s\t%s\n", h.Name, h.Addr, h.ClientURL, h.HostKeyFingerprint)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nclient URLs:  %s\n", strings.Join(s.ClientURLs(), ","))
	fmt.Fprintf(out, "private key:  %s\n", s.PrivateKeyFile)
	fmt.Fprintf(out, "known_hosts:  %s\n", s.KnownHostsFile)
	fmt.Fprintf(out, "try:          ssh -i %s -o UserKnownHostsFile=%s root@%s systemctl status etcd\n", s.PrivateKeyFile, s.KnownHostsFile, s.Hosts[0].Addr)
	fmt.Fprintf(out, "stop:         etcd-sandbox down -dir %s\n", s.Dir)
	return 0, nil
}

func down(dir string, out io.Writer) (int, error) {
	s, err := testhosts.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "no sandbox in %s\n", dir)
		return 0, nil
	}
	if err != nil {
		return 1, err
	}
	if err := s.Close(); err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "sandbox in %s stopped\n", s.Dir)
	return 0, nil
}

func status(ctx context.Context, dir string, out io.Writer) (int, error) {
	s, err := testhosts.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(out, "no sandbox in %s\n", dir)
		return 1, nil
	}
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "sandbox in %s: 127.0.%d.0/24", s.Dir, s.Block)
	if s.EtcdVersion != "" {
		fmt.Fprintf(out, ", started with etcd %s, config %s", s.EtcdVersion, s.ConfigFile())
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tADDRESS\tSSHD\tETCD\tVERSION\tHEALTH")
	code := 0
	for _, h := range s.Hosts {
		sshd, etcd, version, health := "up", "inactive", "-", "-"
		if !h.SSHDRunning() {
			sshd, code = "down", 1
		}
		if h.EtcdRunning() {
			etcd = "active"
			if v, err := h.EtcdVersion(ctx); err == nil {
				version = v
			}
			health = "healthy"
			if err := h.Health(ctx); err != nil {
				health, code = err.Error(), 1
			}
		} else if s.EtcdVersion != "" {
			code = 1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Addr, sshd, etcd, version, health)
	}
	tw.Flush()
	return code, nil
}
