package etcdconf

import (
	"errors"
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
	}{
		{"3.4.34", Version{3, 4, 34}},
		{"3.5.21", Version{3, 5, 21}},
		{"3.4.0", Version{3, 4, 0}},
		{"0.0.0", Version{0, 0, 0}},
		{"3.6.10", Version{3, 6, 10}},
		{"10.20.30", Version{10, 20, 30}},
	} {
		got, err := ParseVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("ParseVersion(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"3.5", `invalid version "3.5": write the exact release including the patch number, such as "3.5.0" (major.minor.patch)`},
		{"v3.4.34", `invalid version "v3.4.34": write "3.4.34", without the leading "v"`},
		{"V3.4.34", `invalid version "V3.4.34": write "3.4.34", without the leading "V"`},
		{"3.4.34-rc.1", `invalid version "3.4.34-rc.1": pre-release and build suffixes ("-rc.1") are not supported; write a final release such as "3.4.34"`},
		{"v3.5.0+build.7", `invalid version "v3.5.0+build.7": pre-release and build suffixes ("+build.7") are not supported; write a final release such as "3.5.0"`},
		{"latest", `invalid version "latest": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
		{"", `invalid version "": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
		{"3", `invalid version "3": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
		{"3.4.x", `invalid version "3.4.x": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
		{" 3.4.34\n", `invalid version " 3.4.34\n": write "3.4.34", without surrounding spaces`},
		{"03.4.01", `invalid version "03.4.01": write "3.4.1", without leading zeros`},
		{" v3.4.34", `invalid version " v3.4.34": write "3.4.34", without surrounding spaces and without the leading "v"`},
		{"3.4.34.1", `invalid version "3.4.34.1": etcd releases have three numbers; write major.minor.patch, such as "3.4.34"`},
		{"3..4", `invalid version "3..4": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
		{"3.4.9999999999", `invalid version "3.4.9999999999": write the exact release the cluster should run, such as "3.4.34" (major.minor.patch)`},
	} {
		_, err := ParseVersion(tc.in)
		if err == nil {
			t.Errorf("ParseVersion(%q): no error", tc.in)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseVersion(%q) error\n got: %s\nwant: %s", tc.in, err, tc.want)
		}
	}
}

func TestVersionMethods(t *testing.T) {
	v := Version{3, 4, 34}
	if got := v.MinorVersion(); got != "3.4" {
		t.Errorf("MinorVersion = %q", got)
	}
	if got := v.ClusterVersion(); got != "3.4.0" {
		t.Errorf("ClusterVersion = %q", got)
	}
	if got := (Version{3, 5, 21}).ClusterVersion(); got != "3.5.0" {
		t.Errorf("ClusterVersion = %q", got)
	}
	for _, tc := range []struct {
		a, b Version
		want int
	}{
		{Version{3, 4, 34}, Version{3, 4, 34}, 0},
		{Version{3, 4, 34}, Version{3, 5, 0}, -1},
		{Version{3, 5, 0}, Version{3, 4, 34}, 1},
		{Version{3, 4, 9}, Version{3, 4, 10}, -1},
		{Version{4, 0, 0}, Version{3, 99, 99}, 1},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if MinDowngradeTarget != (Version{3, 4, 32}) {
		t.Errorf("MinDowngradeTarget = %v", MinDowngradeTarget)
	}
}

func TestCheckTransition(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     Path
		api      bool
	}{
		{"3.5.21", "3.5.21", PathNone, false},
		{"3.5.21", "3.5.16", PathPatch, false},
		{"3.5.16", "3.5.21", PathPatch, false},
		{"3.4.23", "3.4.34", PathPatch, false},
		{"3.6.4", "3.6.5", PathPatch, false},
		{"3.7.3", "3.7.1", PathPatch, false},
		{"3.4.34", "3.5.21", PathUpgrade, false},
		{"3.4.23", "3.5.0", PathUpgrade, false},
		{"3.5.21", "3.4.34", PathDowngrade, false},
		{"3.5.0", "3.4.32", PathDowngrade, false},
		{"3.5.26", "3.6.0", PathUpgrade, false},
		{"3.5.35", "3.6.16", PathUpgrade, false},
		{"3.6.0", "3.5.26", PathDowngrade, true},
		{"3.6.16", "3.5.35", PathDowngrade, true},
		{"3.6.11", "3.7.0", PathUpgrade, false},
		{"3.6.16", "3.7.3", PathUpgrade, false},
		{"3.7.0", "3.6.11", PathDowngrade, true},
		{"3.7.3", "3.6.16", PathDowngrade, true},
	} {
		from, to := mustVersion(t, tc.from), mustVersion(t, tc.to)
		p, err := CheckTransition(from, to)
		if err != nil || p != tc.want {
			t.Errorf("CheckTransition(%s, %s) = %v, %v; want %v", tc.from, tc.to, p, err, tc.want)
		}
		if got := UsesDowngradeAPI(from, to); got != tc.api {
			t.Errorf("UsesDowngradeAPI(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.api)
		}
	}
}

func TestCheckTransitionErrors(t *testing.T) {
	const (
		from35 = "any 3.5.x patch release, 3.4.x with x >= 32 (downgrade), or any 3.6.x release (upgrade, once every member runs 3.5.26 or later)"
		from36 = "any 3.6.x patch release, 3.5.x with x >= 26 (downgrade), or any 3.7.x release (upgrade, once every member runs 3.6.11 or later)"
		from37 = "any 3.7.x patch release, or 3.6.x with x >= 11 (downgrade)"
	)
	for _, tc := range []struct{ from, to, want string }{
		{"3.5.21", "3.4.23", "etcd 3.5.21 → 3.4.23 is not allowed: a downgrade to 3.4 needs 3.4.32 or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster; from 3.5.21 the allowed targets are: " + from35},
		{"3.5.21", "3.4.31", "etcd 3.5.21 → 3.4.31 is not allowed: a downgrade to 3.4 needs 3.4.32 or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster; from 3.5.21 the allowed targets are: " + from35},
		{"3.5.21", "3.3.27", "etcd 3.5.21 → 3.3.27 is not allowed: it skips a minor version; etcd changes one minor version at a time; from 3.5.21 the allowed targets are: " + from35},
		{"3.4.34", "3.6.5", "etcd 3.4.34 → 3.6.5 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.5.26 or later and apply, then to 3.6.5; from 3.4.34 the allowed targets are: any 3.4.x patch release, or any 3.5.x release (upgrade)"},
		{"3.5.35", "3.7.3", "etcd 3.5.35 → 3.7.3 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.6.11 or later and apply, then to 3.7.3; from 3.5.35 the allowed targets are: " + from35},
		{"3.7.3", "3.5.35", "etcd 3.7.3 → 3.5.35 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.6.11 or later and apply, then to 3.5.35; from 3.7.3 the allowed targets are: " + from37},
		{"3.4.34", "3.7.3", "etcd 3.4.34 → 3.7.3 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.5.26 or later and apply, then to 3.6.11 or later and apply, then to 3.7.3; from 3.4.34 the allowed targets are: any 3.4.x patch release, or any 3.5.x release (upgrade)"},
		{"3.4.23", "3.7.3", "etcd 3.4.23 → 3.7.3 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.5.26 or later and apply, then to 3.6.11 or later and apply, then to 3.7.3; from 3.4.23 the allowed targets are: any 3.4.x patch release, or any 3.5.x release (upgrade)"},
		{"3.7.3", "3.4.34", "etcd 3.7.3 → 3.4.34 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.6.11 or later and apply, then to 3.5.26 or later and apply, then to 3.4.34; from 3.7.3 the allowed targets are: " + from37},
		// The first step within 3.5 (to 3.5.26) is left to the refusal of
		// the next one, as the plan has always said it.
		{"3.5.21", "3.7.3", "etcd 3.5.21 → 3.7.3 is not allowed: it skips a minor version; etcd changes one minor version at a time: change version to 3.5.26 or later and apply, then to 3.6.11 or later and apply, then to 3.7.3; from 3.5.21 the allowed targets are: " + from35},
		// A target no path reaches: the step that cannot be made says why,
		// instead of naming steps that end in a refusal.
		{"3.7.3", "3.5.21", "etcd 3.7.3 → 3.5.21 is not allowed: it skips a minor version; etcd changes one minor version at a time, and a downgrade to 3.5 needs 3.5.26 or later as the target, the oldest 3.5 release the cluster can later be upgraded from again; from 3.7.3 the allowed targets are: " + from37},
		{"3.6.16", "3.4.23", "etcd 3.6.16 → 3.4.23 is not allowed: it skips a minor version; etcd changes one minor version at a time, and a downgrade to 3.4 needs 3.4.32 or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster; from 3.6.16 the allowed targets are: " + from36},
		{"3.7.3", "3.4.23", "etcd 3.7.3 → 3.4.23 is not allowed: it skips a minor version; etcd changes one minor version at a time, and a downgrade to 3.4 needs 3.4.32 or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster; from 3.7.3 the allowed targets are: " + from37},
		{"3.7.3", "3.2.0", "etcd 3.7.3 → 3.2.0 is not allowed: it skips a minor version; etcd changes one minor version at a time; from 3.7.3 the allowed targets are: " + from37},
		{"3.5.21", "3.6.5", "etcd 3.5.21 → 3.6.5 is not allowed: the upgrade to 3.6 needs every member on 3.5.26 or later first: 3.5 releases before 3.5.20 do not persist learner promotions (3.6 then fails with \"too many learner members\"), before 3.5.24 carry that bad membership in snapshots, and before 3.5.26 let removed members reappear on 3.6; etcd repairs the data when a member starts on the fixed release, so change version to the latest 3.5 patch release and apply that first; from 3.5.21 the allowed targets are: " + from35},
		{"3.6.5", "3.5.21", "etcd 3.6.5 → 3.5.21 is not allowed: a downgrade to 3.5 needs 3.5.26 or later as the target, the oldest 3.5 release the cluster can later be upgraded from again; from 3.6.5 the allowed targets are: " + from36},
		{"3.6.10", "3.7.3", "etcd 3.6.10 → 3.7.3 is not allowed: etcd's 3.7 upgrade guide asks for 3.6.11 or later on every member first; change version to the latest 3.6 patch release and apply that first; from 3.6.10 the allowed targets are: " + from36},
		{"3.7.3", "3.6.5", "etcd 3.7.3 → 3.6.5 is not allowed: a downgrade to 3.6 needs 3.6.11 or later as the target, the oldest 3.6 release the cluster can later be upgraded from again; from 3.7.3 the allowed targets are: " + from37},
		{"3.3.27", "3.4.34", "etcd 3.3.27 → 3.4.34 is not allowed: the supported changes are patch releases and one minor step between 3.4, 3.5, 3.6 and 3.7; from 3.3.27 the allowed targets are: any 3.3.x patch release"},
		{"2.3.8", "3.4.34", "etcd 2.3.8 → 3.4.34 is not allowed: the supported changes are patch releases and one minor step between 3.4, 3.5, 3.6 and 3.7; from 2.3.8 the allowed targets are: any 2.3.x patch release"},
		{"3.7.3", "3.8.0", "etcd 3.7.3 → 3.8.0 is not allowed: the supported changes are patch releases and one minor step between 3.4, 3.5, 3.6 and 3.7; from 3.7.3 the allowed targets are: " + from37},
	} {
		p, err := CheckTransition(mustVersion(t, tc.from), mustVersion(t, tc.to))
		if err == nil {
			t.Errorf("CheckTransition(%s, %s) = %v, want an error", tc.from, tc.to, p)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("CheckTransition(%s, %s) error\n got: %s\nwant: %s", tc.from, tc.to, err, tc.want)
		}
		var te *TransitionError
		if !errors.As(err, &te) {
			t.Errorf("error is %T, want *TransitionError", err)
		}
	}
}

func TestUpgradePath(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{"3.5.21", "3.5.21", []string{}},
		{"3.5.21", "3.5.16", []string{"3.5.16"}},
		{"3.4.23", "3.5.0", []string{"3.5.0"}},
		{"3.5.21", "3.4.34", []string{"3.4.34"}},
		{"3.5.21", "3.6.0", []string{"3.5.26", "3.6.0"}},
		{"3.5.26", "3.6.0", []string{"3.6.0"}},
		{"3.5.21", "3.7.3", []string{"3.5.26", "3.6.11", "3.7.3"}},
		{"3.5.35", "3.7.3", []string{"3.6.11", "3.7.3"}},
		{"3.4.23", "3.7.3", []string{"3.5.26", "3.6.11", "3.7.3"}},
		{"3.4.34", "3.6.16", []string{"3.5.26", "3.6.16"}},
		{"3.6.0", "3.7.0", []string{"3.6.11", "3.7.0"}},
		{"3.6.0", "3.5.26", []string{"3.5.26"}},
		{"3.7.3", "3.5.26", []string{"3.6.11", "3.5.26"}},
		{"3.7.0", "3.4.32", []string{"3.6.11", "3.5.26", "3.4.32"}},
		{"3.6.16", "3.4.34", []string{"3.5.26", "3.4.34"}},
		{"3.8.0", "3.8.1", []string{"3.8.1"}}, // a patch change, as CheckTransition allows
	} {
		got, err := UpgradePath(mustVersion(t, tc.from), mustVersion(t, tc.to))
		if err != nil {
			t.Errorf("UpgradePath(%s, %s): %v", tc.from, tc.to, err)
			continue
		}
		if got == nil {
			t.Errorf("UpgradePath(%s, %s) = nil, want an empty path", tc.from, tc.to)
		}
		if s := versionStrings(got); !slices.Equal(s, tc.want) {
			t.Errorf("UpgradePath(%s, %s) = %q, want %q", tc.from, tc.to, s, tc.want)
		}
	}
}

func TestUpgradePathErrors(t *testing.T) {
	for _, tc := range [][2]string{
		{"3.5.21", "3.4.23"}, {"3.6.5", "3.5.21"}, {"3.7.3", "3.6.5"},
		{"3.7.3", "3.5.21"}, {"3.7.3", "3.4.23"}, {"3.6.16", "3.4.31"},
		{"3.3.27", "3.4.34"}, {"3.5.21", "3.3.27"}, {"3.7.3", "3.8.0"}, {"2.3.8", "3.4.34"}, {"3.7.3", "4.0.0"},
	} {
		from, to := mustVersion(t, tc[0]), mustVersion(t, tc[1])
		got, err := UpgradePath(from, to)
		if err == nil {
			t.Errorf("UpgradePath(%s, %s) = %v, want an error", from, to, got)
			continue
		}
		_, want := CheckTransition(from, to)
		if want == nil || err.Error() != want.Error() {
			t.Errorf("UpgradePath(%s, %s) error\n got: %v\nwant: %v (CheckTransition's)", from, to, err, want)
		}
	}
}

// TestUpgradePathSteps: for every pair, the path is made of steps that
// CheckTransition allows, one minor at a time, ending at the target; an
// allowed transition is its own one-step path; and no path means
// CheckTransition refuses, with the same error.
func TestUpgradePathSteps(t *testing.T) {
	var versions []Version
	for _, s := range []string{"3.4.23", "3.4.31", "3.4.32", "3.4.34", "3.5.0", "3.5.21", "3.5.26", "3.5.35", "3.6.0", "3.6.10", "3.6.11", "3.6.16", "3.7.0", "3.7.3"} {
		versions = append(versions, mustVersion(t, s))
	}
	paths := 0
	for _, from := range versions {
		for _, to := range versions {
			steps, err := UpgradePath(from, to)
			_, direct := CheckTransition(from, to)
			if err != nil {
				if direct == nil || err.Error() != direct.Error() {
					t.Errorf("%s → %s: UpgradePath error %v, CheckTransition error %v", from, to, err, direct)
				}
				continue
			}
			paths++
			switch {
			case from == to && len(steps) != 0:
				t.Errorf("%s → %s: path %v, want none", from, to, steps)
			case from != to && (len(steps) == 0 || steps[len(steps)-1] != to):
				t.Errorf("%s → %s: path %v does not end at the target", from, to, steps)
			case direct == nil && from != to && len(steps) != 1:
				t.Errorf("%s → %s is allowed, but the path is %v", from, to, steps)
			}
			at := from
			for _, s := range steps {
				if _, err := CheckTransition(at, s); err != nil {
					t.Errorf("%s → %s: step %s → %s of %v: %v", from, to, at, s, steps, err)
				}
				if s == at || s.Minor-at.Minor > 1 || at.Minor-s.Minor > 1 {
					t.Errorf("%s → %s: step %s → %s of %v", from, to, at, s, steps)
				}
				at = s
			}
		}
	}
	if paths < len(versions)*len(versions)*3/4 {
		t.Errorf("only %d of %d pairs have a path", paths, len(versions)*len(versions))
	}
}

func versionStrings(vs []Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

func TestPathString(t *testing.T) {
	for p, want := range map[Path]string{PathNone: "none", PathPatch: "patch", PathUpgrade: "upgrade", PathDowngrade: "downgrade", Path(9): "Path(9)"} {
		if p.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(p), p.String(), want)
		}
	}
}

func mustVersion(t testing.TB, s string) Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
