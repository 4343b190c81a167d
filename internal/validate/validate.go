// Package validate holds the schema validators that
// terraform-plugin-framework-validators does not offer. Each error says what
// to write instead.
package validate

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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
		resp.Diagnostics.AddAttributeError(req.Path, summary, detail)
	}
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
		return "Invalid duration", fmt.Sprintf("%q is not a duration. Write a Go duration such as \"0s\", \"10s\" or \"2m\".", s), false
	})
}
