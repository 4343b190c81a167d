//go:build generate

// Package tools pins the documentation generator. It is a module of its own
// so that tfplugindocs and its dependencies never reach the provider's
// go.mod. `make generate` runs `go generate ./...` here, which sets the
// "generate" build tag; with the cached Terraform on PATH, tfplugindocs reads
// the provider's schema without downloading anything.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

// Format the examples, which the docs include.
//go:generate terraform fmt -recursive ../examples/

// Render docs/ from the schema, templates/ and examples/. `make docs-check`
// also runs `tfplugindocs validate` on the result.
//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name etcd
