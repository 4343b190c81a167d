package testhosts

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockDir holds one lock file and one state file per address block. It is
// machine-wide on purpose: test packages run as separate processes.
const lockDir = "/tmp/etcd-sandbox"

// Blocks handed out when Options.Block is 0. Fixed blocks (the demo, the
// benchmark) live above this range so they never collide with tests.
const (
	firstAutoBlock = 10
	lastAutoBlock  = 99
)

var errBlockBusy = errors.New("block is in use")

func blockLockPath(n int) string  { return filepath.Join(lockDir, fmt.Sprintf("block-%d.lock", n)) }
func blockStatePath(n int) string { return filepath.Join(lockDir, fmt.Sprintf("block-%d.json", n)) }

// lockBlock takes the lock of block n without waiting. The lock lives as long
// as the returned file, or any process that inherited it, stays open.
func lockBlock(n int) (*os.File, error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(blockLockPath(n), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBlockBusy
		}
		return nil, fmt.Errorf("lock %s: %w", blockLockPath(n), err)
	}
	return f, nil
}

// allocateBlock locks block want, or with want == 0 the first free block in
// the automatic range, after clearing what a crashed run left on it.
func allocateBlock(ctx context.Context, want, members int) (int, *os.File, error) {
	if want > 0 {
		f, err := lockBlock(want)
		if errors.Is(err, errBlockBusy) {
			if st, rerr := readState(blockStatePath(want)); rerr == nil {
				return 0, nil, fmt.Errorf("127.0.%d.0/24 is in use by the sandbox in %s (stop it: etcd-sandbox down -dir %s)", want, st.Dir, st.Dir)
			}
			return 0, nil, fmt.Errorf("127.0.%d.0/24 is in use by another sandbox", want)
		}
		if err != nil {
			return 0, nil, err
		}
		if err := reclaimBlock(ctx, want); err != nil {
			f.Close()
			return 0, nil, err
		}
		if err := portsFree(want, members); err != nil {
			f.Close()
			return 0, nil, err
		}
		return want, f, nil
	}

	var skipped []string
	for n := firstAutoBlock; n <= lastAutoBlock; n++ {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		f, err := lockBlock(n)
		if errors.Is(err, errBlockBusy) {
			continue
		}
		if err != nil {
			return 0, nil, err
		}
		if err := reclaimBlock(ctx, n); err != nil {
			skipped = append(skipped, err.Error())
			f.Close()
			continue
		}
		if err := portsFree(n, members); err != nil {
			skipped = append(skipped, err.Error())
			f.Close()
			continue
		}
		return n, f, nil
	}
	msg := fmt.Sprintf("no free address block in 127.0.%d-%d.0/24", firstAutoBlock, lastAutoBlock)
	if len(skipped) > 0 {
		msg += "; unusable: " + strings.Join(skipped, "; ")
	}
	return 0, nil, errors.New(msg)
}

// reclaimBlock stops and removes what a crashed run recorded for block n.
// The caller holds the block's lock, so that run is certainly over.
func reclaimBlock(ctx context.Context, n int) error {
	st, err := readState(blockStatePath(n))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		// Unreadable: nothing to act on, and it must not block the range.
		return os.Remove(blockStatePath(n))
	}
	s, err := fromState(st)
	if err != nil {
		return os.Remove(blockStatePath(n))
	}
	if err := s.close(ctx); err != nil {
		return fmt.Errorf("127.0.%d.0/24: clearing the leftovers of the sandbox in %s: %w", n, st.Dir, err)
	}
	return nil
}

// portsFree checks that nothing else listens where the block's hosts will.
// Leftovers not recorded anywhere, or a system sshd listening on every
// address, show up here rather than as a confusing failure later.
func portsFree(n, members int) error {
	for i := 1; i <= members; i++ {
		for _, port := range []string{"22", "2379", "2380"} {
			addr := net.JoinHostPort(fmt.Sprintf("127.0.%d.%d", n, i), port)
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("%s is in use", addr)
			}
			l.Close()
		}
	}
	return nil
}

// wildcardSSHListener reports whether something listens on port 22 of every
// address (a system sshd), which makes every host's sshd fail to bind. It
// reads /proc/net instead of binding a probe socket, which would race with
// parallel test processes doing the same.
func wildcardSSHListener() bool {
	for _, f := range []struct{ path, any string }{
		{"/proc/net/tcp", "00000000:0016"},
		{"/proc/net/tcp6", "00000000000000000000000000000000:0016"},
	} {
		file, err := os.Open(f.path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			// sl local_address rem_address st ...; st 0A is LISTEN.
			fields := strings.Fields(sc.Text())
			if len(fields) > 3 && fields[1] == f.any && fields[3] == "0A" {
				file.Close()
				return true
			}
		}
		file.Close()
	}
	return false
}

func readState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}
