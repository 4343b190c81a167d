// Package validate holds the schema validators that
// terraform-plugin-framework-validators does not offer. Each error says what
// to write instead.
package validate

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// stringCheck adapts a plain check function to a schema validator.
type stringCheck struct {
	desc  string
	check func(string) (summary, detail string, ok bool)
}

func (v stringCheck) Description(context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if summary, detail, ok := v.check(req.ConfigValue.ValueString()); !ok {
		resp.Diagnostics.AddAttributeError(req.Path, summary, namePath(req.Path, detail))
	}
}

// namePath starts detail with the attribute's path when p is nested and
// detail does not name it: Terraform points its snippet only at top-level
// attributes, and at the whole resource or provider block for nested ones.
func namePath(p path.Path, detail string) string {
	if len(p.Steps()) > 1 && !strings.Contains(detail, p.String()) {
		return p.String() + ": " + detail
	}
	return detail
}

// New returns a validator from a check function; check returns ok=false with
// a summary and a detail that says what to write instead.
func New(desc string, check func(string) (summary, detail string, ok bool)) validator.String {
	return stringCheck{desc: desc, check: check}
}

var bareNumber = regexp.MustCompile(`^[0-9]+$`)

// Duration accepts positive Go durations such as "30s", "5m" or "1h30m".
func Duration() validator.String {
	return New(`a positive Go duration such as "30s" or "5m"`, func(s string) (string, string, bool) {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return "", "", true
		}
		detail := fmt.Sprintf("%q is not a positive duration. Write a Go duration such as \"30s\", \"5m\" or \"1h30m\".", s)
		if bareNumber.MatchString(s) {
			detail += fmt.Sprintf(" A unit is required: for seconds write %q.", s+"s")
		}
		return "Invalid duration", detail, false
	})
}

// NonNegativeDuration is Duration that also accepts "0s", for pauses.
func NonNegativeDuration() validator.String {
	return New(`a Go duration such as "0s" or "30s"`, func(s string) (string, string, bool) {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return "", "", true
		}
		detail := fmt.Sprintf("%q is not a duration. Write a Go duration such as \"0s\", \"10s\" or \"2m\".", s)
		if bareNumber.MatchString(s) {
			detail += fmt.Sprintf(" A unit is required: for seconds write %q.", s+"s")
		}
		return "Invalid duration", detail, false
	})
}

// Port accepts TCP ports, 1-65535. unset says what leaving the attribute
// out means, e.g. "the default, 22".
func Port(unset string) validator.Int64 { return portCheck{unset: unset} }

type portCheck struct{ unset string }

func (v portCheck) Description(context.Context) string         { return "a TCP port, 1-65535" }
func (v portCheck) MarkdownDescription(context.Context) string { return "a TCP port, 1-65535" }

func (v portCheck) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if p := req.ConfigValue.ValueInt64(); p < 1 || p > 65535 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid port", namePath(req.Path,
			fmt.Sprintf("%d is not a TCP port. Write the port sshd listens on, from 1 to 65535 (usually 22), or leave the attribute out to use %s.", p, v.unset)))
	}
}

// NonEmptyMap rejects a map without elements, with the given summary and a
// detail that says what to write instead.
func NonEmptyMap(summary, detail string) validator.Map {
	return nonEmptyMap{summary: summary, detail: detail}
}

type nonEmptyMap struct{ summary, detail string }

func (v nonEmptyMap) Description(context.Context) string         { return "at least one element" }
func (v nonEmptyMap) MarkdownDescription(context.Context) string { return "at least one element" }

func (v nonEmptyMap) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if len(req.ConfigValue.Elements()) == 0 {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, namePath(req.Path, v.detail))
	}
}

// UniqueNested rejects a map of objects in which two elements have the same
// value of the string attribute attr, compared after key(). The error points
// at the later element (in key order), which Terraform can show, and names
// the earlier one; hint says what to write instead.
func UniqueNested(attr string, key func(string) string, hint string) validator.Map {
	return uniqueNested{attr: attr, key: key, hint: hint}
}

type uniqueNested struct {
	attr string
	key  func(string) string
	hint string
}

func (v uniqueNested) Description(context.Context) string {
	return "no two elements with the same " + v.attr
}
func (v uniqueNested) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v uniqueNested) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	elems := req.ConfigValue.Elements()
	names := make([]string, 0, len(elems))
	for name := range elems {
		names = append(names, name)
	}
	sort.Strings(names)
	first := map[string]string{}
	for _, name := range names {
		obj, ok := elems[name].(types.Object)
		if !ok {
			continue
		}
		s, ok := obj.Attributes()[v.attr].(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		k := v.key(s.ValueString())
		if prev, dup := first[k]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(name), "Duplicate "+v.attr,
				fmt.Sprintf("%s and %s both have %s = %q. %s", req.Path.AtMapKey(prev), req.Path.AtMapKey(name), v.attr, s.ValueString(), v.hint))
			continue
		}
		first[k] = name
	}
}

var (
	hexDigits    = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	notHexDigits = regexp.MustCompile(`[^0-9a-fA-F]`)
)

// SHA256 accepts a sha256 digest as sha256sum prints it: 64 lower-case hex
// digits. The error for anything else says how to turn it into one.
func SHA256() validator.String {
	const how = "Write the 64 lower-case hex digits that `sha256sum <file>` prints."
	return New("64 lower-case hex digits", func(s string) (string, string, bool) {
		const summary = "Invalid sha256"
		switch {
		case len(s) == 64 && hexDigits.MatchString(s) && s == strings.ToLower(s):
			return "", "", true
		case strings.HasPrefix(strings.ToLower(s), "sha256:"):
			return summary, fmt.Sprintf("%q has a prefix; write just the digest, without %q: %q.", s, s[:7], strings.ToLower(s[7:])), false
		case len(s) == 64 && hexDigits.MatchString(s):
			return summary, fmt.Sprintf("%q has upper-case digits; write it in lower case, as sha256sum prints it: %q.", s, strings.ToLower(s)), false
		}
		if f := strings.Fields(s); len(f) > 1 && len(f[0]) == 64 && hexDigits.MatchString(f[0]) {
			return summary, fmt.Sprintf("%q is a whole sha256sum line; write only the digest, without the file name: %q.", s, strings.ToLower(f[0])), false
		}
		if bad := notHexDigits.FindString(s); bad != "" {
			return summary, fmt.Sprintf("%q is not a hex digest: it contains %q. %s", s, bad, how), false
		}
		kind := ""
		switch len(s) {
		case 32:
			kind = " (the length of an MD5 sum)"
		case 40:
			kind = " (the length of a SHA-1 sum)"
		case 128:
			kind = " (the length of a SHA-512 sum)"
		}
		return summary, fmt.Sprintf("%q has %d hex digits%s; a sha256 has 64. %s", s, len(s), kind, how), false
	})
}
