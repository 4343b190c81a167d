package etcdx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DowngradeAction is one call of etcd's downgrade API (3.6 and later; a
// 3.5 member answers it too).
type DowngradeAction int

const (
	// DowngradeValidate asks whether the cluster accepts a downgrade to the
	// target: only the cluster version minus one minor, with no job running.
	DowngradeValidate DowngradeAction = iota
	// DowngradeEnable starts the job: the leader lowers the cluster version
	// and every member migrates its storage to the target.
	DowngradeEnable
	// DowngradeCancel ends the job; the cluster version may rise again once
	// every member runs the higher minor.
	DowngradeCancel
)

func (a DowngradeAction) String() string {
	switch a {
	case DowngradeValidate:
		return "validate"
	case DowngradeEnable:
		return "enable"
	case DowngradeCancel:
		return "cancel"
	}
	return fmt.Sprintf("DowngradeAction(%d)", int(a))
}

// Downgrade sends one downgrade call for target ("3.5" or "3.5.0"; etcd
// refuses "v3.5") through any member. With auth enabled it needs the root
// role.
func (c *Client) Downgrade(ctx context.Context, action DowngradeAction, target string) error {
	cl, err := c.Cluster()
	if err != nil {
		return err
	}
	a := map[DowngradeAction]clientv3.DowngradeAction{
		DowngradeValidate: clientv3.DowngradeValidate,
		DowngradeEnable:   clientv3.DowngradeEnable,
		DowngradeCancel:   clientv3.DowngradeCancel,
	}[action]
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout*2)
	defer cancel()
	if _, err := cl.Downgrade(cctx, a, target); err != nil {
		return explainPermission(err, "downgrade "+action.String()+" "+target)
	}
	return nil
}

// IsNoDowngradeJob tells whether err is etcd's answer to a cancel when no
// downgrade job is enabled. Only a 3.5 leader answers so; 3.6 and later
// accept the cancel either way.
func IsNoDowngradeJob(err error) bool {
	return err != nil && (errors.Is(err, rpctypes.ErrNoInflightDowngrade) || strings.Contains(err.Error(), "no inflight downgrade job"))
}

// IsDowngradeInProgress tells whether err says that a downgrade job is
// already enabled.
func IsDowngradeInProgress(err error) bool {
	return err != nil && (errors.Is(err, rpctypes.ErrDowngradeInProcess) || strings.Contains(err.Error(), "downgrade job in progress"))
}
