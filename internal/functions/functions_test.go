package functions

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/etcd-rollout/terraform-provider-etcd/internal/etcdconf"
)

// run calls f the way the framework does, with two string arguments.
func run(t *testing.T, f function.Function, from, to string) *function.RunResponse {
	t.Helper()
	ctx := context.Background()
	var def function.DefinitionResponse
	f.Definition(ctx, function.DefinitionRequest{}, &def)
	resp := &function.RunResponse{Result: function.NewResultData(unknownOf(def.Definition.Return.GetType()))}
	f.Run(ctx, function.RunRequest{Arguments: function.NewArgumentsData([]attr.Value{types.StringValue(from), types.StringValue(to)})}, resp)
	return resp
}

func unknownOf(typ attr.Type) attr.Value {
	switch typ := typ.(type) {
	case types.ObjectType:
		return types.ObjectUnknown(typ.AttrTypes)
	case types.ListType:
		return types.ListUnknown(typ.ElemType)
	}
	panic("unexpected return type")
}

func mustVersion(t *testing.T, s string) etcdconf.Version {
	t.Helper()
	v, err := etcdconf.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDefinitions(t *testing.T) {
	ctx := context.Background()
	names := map[string]bool{}
	for _, newFunc := range All() {
		f := newFunc()
		var meta function.MetadataResponse
		f.Metadata(ctx, function.MetadataRequest{}, &meta)
		if meta.Name == "" || names[meta.Name] {
			t.Errorf("function name %q is empty or not unique", meta.Name)
		}
		names[meta.Name] = true
		var def function.DefinitionResponse
		f.Definition(ctx, function.DefinitionRequest{}, &def)
		d := def.Definition
		if d.Summary == "" || d.Description == "" || d.MarkdownDescription == "" {
			t.Errorf("%s: summary, description and markdown description must all be set", meta.Name)
		}
		for _, p := range d.Parameters {
			if p.GetDescription() == "" || p.GetMarkdownDescription() == "" {
				t.Errorf("%s: parameter %s has no description", meta.Name, p.GetName())
			}
		}
		var valid function.DefinitionValidateResponse
		d.ValidateImplementation(ctx, function.DefinitionValidateRequest{FuncName: meta.Name}, &valid)
		for _, diag := range valid.Diagnostics {
			t.Errorf("%s: %s: %s", meta.Name, diag.Summary(), diag.Detail())
		}
	}
	if got, want := slices.Sorted(maps.Keys(names)), []string{"version_path", "version_transition"}; !slices.Equal(got, want) {
		t.Errorf("functions %v, want %v", got, want)
	}
}

func TestVersionTransition(t *testing.T) {
	for _, tc := range []struct {
		from, to     string
		allowed      bool
		kind, method string
	}{
		{"3.5.21", "3.5.21", true, "none", "none"},
		{"3.5.21", "3.5.35", true, "patch", "rolling"},
		{"3.7.3", "3.7.1", true, "patch", "rolling"},
		{"3.4.23", "3.5.0", true, "upgrade", "rolling"},
		{"3.5.26", "3.6.0", true, "upgrade", "rolling"},
		{"3.6.11", "3.7.3", true, "upgrade", "rolling"},
		{"3.5.21", "3.4.34", true, "downgrade", "rolling"},
		{"3.6.0", "3.5.26", true, "downgrade", "downgrade-api"},
		{"3.7.3", "3.6.11", true, "downgrade", "downgrade-api"},
		// Refused: the kind still says which way, nothing would run.
		{"3.5.21", "3.6.5", false, "upgrade", "none"},
		{"3.5.21", "3.7.3", false, "upgrade", "none"},
		{"3.5.21", "3.4.23", false, "downgrade", "none"},
		{"3.7.3", "3.5.21", false, "downgrade", "none"},
		{"3.3.27", "3.4.34", false, "upgrade", "none"},
		{"3.7.3", "4.0.0", false, "upgrade", "none"},
	} {
		from, to := mustVersion(t, tc.from), mustVersion(t, tc.to)
		resp := run(t, NewVersionTransition(), tc.from, tc.to)
		if resp.Error != nil {
			t.Errorf("version_transition(%s, %s): %v", tc.from, tc.to, resp.Error)
			continue
		}
		message := ""
		if _, err := etcdconf.CheckTransition(from, to); err != nil {
			message = err.Error()
		}
		want := types.ObjectValueMust(transitionAttributeTypes, map[string]attr.Value{
			"allowed":         types.BoolValue(tc.allowed),
			"kind":            types.StringValue(tc.kind),
			"method":          types.StringValue(tc.method),
			"message":         types.StringValue(message),
			"allowed_targets": types.StringValue(etcdconf.AllowedTargets(from)),
		})
		if got := resp.Result.Value(); !got.Equal(want) {
			t.Errorf("version_transition(%s, %s)\n got: %v\nwant: %v", tc.from, tc.to, got, want)
		}
		if (message == "") != tc.allowed {
			t.Errorf("version_transition(%s, %s): allowed = %v, but CheckTransition says %q", tc.from, tc.to, tc.allowed, message)
		}
	}
}

// TestTransitionKind: for every allowed change the kind is CheckTransition's
// path, and a refused one is never called none or patch.
func TestTransitionKind(t *testing.T) {
	all := []string{"2.3.8", "3.3.27", "3.4.23", "3.4.34", "3.5.0", "3.5.21", "3.5.26", "3.5.35", "3.6.0", "3.6.11", "3.6.16", "3.7.0", "3.7.3", "3.8.0"}
	for _, a := range all {
		for _, b := range all {
			from, to := mustVersion(t, a), mustVersion(t, b)
			r := transition(from, to)
			path, err := etcdconf.CheckTransition(from, to)
			switch {
			case err == nil && (!r.Allowed || r.Kind != path.String() || r.Message != ""):
				t.Errorf("%s → %s: %+v, want the allowed %v", a, b, r, path)
			case err != nil && (r.Allowed || r.Kind == "none" || r.Kind == "patch" || r.Method != "none" || r.Message != err.Error()):
				t.Errorf("%s → %s: %+v, want refused with %q", a, b, r, err)
			}
		}
	}
}

func TestVersionPath(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{"3.5.21", "3.5.21", []string{}},
		{"3.5.21", "3.5.35", []string{"3.5.35"}},
		{"3.5.21", "3.7.3", []string{"3.5.26", "3.6.11", "3.7.3"}},
		{"3.4.23", "3.6.16", []string{"3.5.26", "3.6.16"}},
		{"3.7.3", "3.5.26", []string{"3.6.11", "3.5.26"}},
		{"3.7.3", "3.4.34", []string{"3.6.11", "3.5.26", "3.4.34"}},
		{"3.6.0", "3.7.0", []string{"3.6.11", "3.7.0"}},
	} {
		resp := run(t, NewVersionPath(), tc.from, tc.to)
		if resp.Error != nil {
			t.Errorf("version_path(%s, %s): %v", tc.from, tc.to, resp.Error)
			continue
		}
		elems := make([]attr.Value, len(tc.want))
		for i, s := range tc.want {
			elems[i] = types.StringValue(s)
		}
		want := types.ListValueMust(types.StringType, elems)
		if got := resp.Result.Value(); !got.Equal(want) {
			t.Errorf("version_path(%s, %s) = %v, want %v", tc.from, tc.to, got, want)
		}
	}
}

func TestVersionPathRefused(t *testing.T) {
	for _, tc := range [][2]string{{"3.7.3", "3.5.21"}, {"3.5.21", "3.4.23"}, {"3.3.27", "3.4.34"}, {"3.7.3", "3.8.0"}} {
		resp := run(t, NewVersionPath(), tc[0], tc[1])
		_, want := etcdconf.CheckTransition(mustVersion(t, tc[0]), mustVersion(t, tc[1]))
		if want == nil {
			t.Fatalf("CheckTransition(%s, %s) allows it", tc[0], tc[1])
		}
		if !resp.Error.Equal(function.NewFuncError(want.Error())) {
			t.Errorf("version_path(%s, %s) error\n got: %v\nwant: %v", tc[0], tc[1], resp.Error, want)
		}
	}
}

// TestParseErrors: a version that does not parse is an error of its own
// argument, with ParseVersion's message, in both functions.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		arg      int64
		bad      string
	}{
		{"v3.5.21", "3.6.16", 0, "v3.5.21"},
		{"3.5.21", "3.6", 1, "3.6"},
		{"3.5.21", "3.6.16-rc.1", 1, "3.6.16-rc.1"},
		{"latest", "3.6", 0, "latest"}, // both wrong: the first is named
	} {
		_, err := etcdconf.ParseVersion(tc.bad)
		if err == nil {
			t.Fatalf("ParseVersion(%q) parses", tc.bad)
		}
		want := function.NewArgumentFuncError(tc.arg, err.Error())
		for _, f := range All() {
			if resp := run(t, f(), tc.from, tc.to); !resp.Error.Equal(want) {
				t.Errorf("(%q, %q): error %+v, want %+v", tc.from, tc.to, resp.Error, want)
			}
		}
	}
}
