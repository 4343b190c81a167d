package etcdconf

import (
	"path/filepath"
	"strings"
)

// Format is the kind of file a member's settings live in.
type Format int

const (
	FormatEnv  Format = iota // ETCD_FOO_BAR=value lines, as read by systemd's EnvironmentFile or a shell
	FormatYAML               // etcd's --config-file YAML
)

func (f Format) String() string {
	if f == FormatYAML {
		return "yaml"
	}
	return "env"
}

// FormatOf tells the format from the file name, the way the service is
// expected to use it: etcd only reads YAML through --config-file, and
// --config-file needs a YAML file, so anything not named .yml/.yaml is taken
// for an env file. Names mislead (Pigsty's YAML is etcd.conf), so prefer
// DetectFormat when the content is at hand.
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yml", ".yaml":
		return FormatYAML
	}
	return FormatEnv
}

// ChangeOp is what a Change does to a setting.
type ChangeOp int

const (
	// Drop removes a setting the target version does not know. It matters
	// because etcd only warns about unknown ETCD_* variables and silently
	// ignores unknown YAML keys, so a left-over setting would quietly stop
	// having its effect.
	Drop ChangeOp = iota + 1
	// Rename moves a setting to the name the target version reads; Value,
	// when set, replaces the value too.
	Rename
	// Pin writes down a value the source version used by default and the
	// target version does not, so behaviour stays the same: 3.5's defaults
	// on a downgrade, 3.4's on an upgrade (defaultDiffs in tables.go).
	Pin
	// Add writes a setting the change itself needs.
	Add
	// Remove takes out a setting that only served the source version's
	// side of the change (next-cluster-version-compatible).
	Remove
	// Set replaces a value the target version refuses or needs different;
	// also written when the refused value was the source's default
	// (logger=capnslog on an upgrade), so the plan names the change.
	Set
)

func (op ChangeOp) String() string {
	switch op {
	case Drop:
		return "drop"
	case Rename:
		return "rename"
	case Pin:
		return "pin"
	case Add:
		return "add"
	case Remove:
		return "remove"
	case Set:
		return "set"
	}
	return "unknown"
}

// Change is one edit Translate made. Key is in flag form
// ("socket-reuse-port"), except for settings that exist only in the config
// file, which are named by their YAML path
// ("peer-transport-security.allowed-cn").
type Change struct {
	Op     ChangeOp
	Key    string
	NewKey string // Rename: the new name
	Value  string // Pin, Add, Set: the value written; Rename: the new value, if it changed
	Old    string // Set: the value replaced
	Note   string // short remark for the plan, e.g. "3.5 default"; may be empty
	Reason string // why, in a sentence, with where the rule comes from
}

// String is the compact form used in plans and logs.
func (c Change) String() string {
	var s string
	switch c.Op {
	case Drop, Remove:
		s = "-" + c.Key
	case Rename:
		s = c.Key + "→" + c.NewKey
		if c.Value != "" {
			s += "=" + c.Value
		}
	case Pin, Add:
		s = "+" + c.Key
		if c.Value != "true" || c.Op == Pin {
			s += "=" + c.Value
		}
	case Set:
		old := c.Old
		if old == "" {
			old = `""`
		}
		s = c.Key + "=" + old + "→" + c.Value
	default:
		s = "?" + c.Key
	}
	switch {
	case c.Op == Pin:
		s += " (pinned: " + c.Note + ")"
	case c.Note != "":
		s += " (" + c.Note + ")"
	}
	return s
}

// Summarize joins changes for one plan line.
func Summarize(changes []Change) string {
	if len(changes) == 0 {
		return "no changes"
	}
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}
