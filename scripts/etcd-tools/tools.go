//go:build tools

// Package etcdtools pins the etcd server, etcdctl and etcdutl main packages so
// scripts/prereqs.sh can build them from the Go module proxy with `go build`.
// `go install pkg@version` refuses them because their go.mod files carry
// replace directives.
package etcdtools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
