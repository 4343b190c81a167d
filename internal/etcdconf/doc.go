// Package etcdconf holds the rules for changing the etcd version of a member:
// which version changes are allowed, and how a member's settings must be
// rewritten so that the target version starts with the same behaviour.
//
// It is pure Go with no Terraform types. The rules are tables (tables.go)
// written from etcd's own flag lists; Translate applies them to an ETCD_* env
// file or an etcd YAML config file by editing lines, so that everything it
// does not have to change (comments, order, unknown keys, quoting) stays
// byte for byte the same. TranslateArgs and TranslateCommandLine apply the
// same tables to settings given as flags (a unit's ExecStart=, Debian's
// DAEMON_ARGS), and DetectFormat tells an env file from a YAML file by
// content.
package etcdconf
