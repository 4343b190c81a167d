//go:build tools

// Package opentofutools pins OpenTofu, built from the Go module proxy by
// scripts/prereqs.sh to validate the examples and smoke-test the provider
// with OpenTofu. It is a module of its own so that OpenTofu's dependencies
// never reach the provider's go.mod.
package opentofutools

import (
	_ "github.com/opentofu/opentofu/cmd/tofu"
)
