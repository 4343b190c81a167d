// Package providerdata carries what the provider's Configure produced to the
// resources and data sources: SSH and etcd client settings, and the SSH pool
// they share for the life of one Terraform operation.
package providerdata

import (
	"sync"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdx"
	"github.com/etcd-rollout/terraform-provider-etcd/internal/sshx"
)

// Data is the provider's configured state.
type Data struct {
	SSH  sshx.Config
	Etcd etcdx.Config // without endpoints: each resource names its own

	once    sync.Once
	pool    *sshx.Pool
	poolErr error
}

// Pool returns the SSH pool shared by every resource in this provider
// process, so that a plan of many clusters reuses one connection per host.
func (d *Data) Pool() (*sshx.Pool, error) {
	d.once.Do(func() { d.pool, d.poolErr = sshx.NewPool(d.SSH) })
	return d.pool, d.poolErr
}

// EtcdClient returns a client for the given endpoints with the provider's
// TLS and auth settings.
func (d *Data) EtcdClient(endpoints []string) (*etcdx.Client, error) {
	cfg := d.Etcd
	cfg.Endpoints = endpoints
	return etcdx.New(cfg)
}
