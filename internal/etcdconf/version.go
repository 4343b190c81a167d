package etcdconf

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is an exact etcd release, such as 3.4.34.
type Version struct{ Major, Minor, Patch int }

// MinDowngradeTarget is the oldest 3.4 release a 3.5 cluster can be
// downgraded to. Older 3.4 releases lack --next-cluster-version-compatible:
// they refuse to start on a 3.5 data directory or to join a 3.5 cluster
// ("cluster cannot be downgraded"), which the downgrade guide reflects with
// "The 3.4 version to downgrade to must be >= 3.4.32".
var MinDowngradeTarget = Version{3, 4, 32}

// exampleRelease is what error messages suggest when the input gives no
// better hint.
const exampleRelease = "3.4.34"

// ParseVersion accepts exactly "major.minor.patch" in decimal, because the
// provider installs one binary and compares it with what etcd reports, and
// etcd reports bare numbers. The error for anything else says what to write.
func ParseVersion(s string) (Version, error) {
	if v, ok := parseExact(s); ok {
		return v, nil
	}
	return Version{}, versionError(s)
}

func parseExact(s string) (Version, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return Version{}, false
	}
	var n [3]int
	for i, p := range parts {
		if !isDecimal(p) || (len(p) > 1 && p[0] == '0') {
			return Version{}, false
		}
		n[i], _ = strconv.Atoi(p)
	}
	return Version{n[0], n[1], n[2]}, true
}

// isDecimal limits numbers to nine digits so that they always fit an int.
func isDecimal(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func versionError(s string) error {
	t := strings.TrimSpace(s)
	var fixes []string
	if t != s {
		fixes = append(fixes, "without surrounding spaces")
	}
	if t != "" && (t[0] == 'v' || t[0] == 'V') {
		fixes = append(fixes, fmt.Sprintf("without the leading %q", t[:1]))
		t = t[1:]
	}
	suffix := ""
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t, suffix = t[:i], t[i:]
	}
	parts := strings.Split(t, ".")
	nums := make([]int, 0, len(parts))
	for _, p := range parts {
		if !isDecimal(p) {
			return fmt.Errorf("invalid version %q: write the exact release the cluster should run, such as %q (major.minor.patch)", s, exampleRelease)
		}
		n, _ := strconv.Atoi(p)
		if strconv.Itoa(n) != p && !containsString(fixes, "without leading zeros") {
			fixes = append(fixes, "without leading zeros")
		}
		nums = append(nums, n)
	}
	switch {
	case len(nums) == 3 && suffix != "":
		return fmt.Errorf("invalid version %q: pre-release and build suffixes (%q) are not supported; write a final release such as %q", s, suffix, fmt.Sprintf("%d.%d.%d", nums[0], nums[1], nums[2]))
	case len(nums) == 3:
		return fmt.Errorf("invalid version %q: write %q, %s", s, fmt.Sprintf("%d.%d.%d", nums[0], nums[1], nums[2]), strings.Join(fixes, " and "))
	case len(nums) == 2:
		return fmt.Errorf("invalid version %q: write the exact release including the patch number, such as %q (major.minor.patch)", s, fmt.Sprintf("%d.%d.0", nums[0], nums[1]))
	case len(nums) == 1:
		return fmt.Errorf("invalid version %q: write the exact release the cluster should run, such as %q (major.minor.patch)", s, exampleRelease)
	default:
		return fmt.Errorf("invalid version %q: etcd releases have three numbers; write major.minor.patch, such as %q", s, exampleRelease)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String returns "major.minor.patch", the form etcd reports.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than o.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d < 0 {
			return -1
		}
		if d > 0 {
			return 1
		}
	}
	return 0
}

// MinorVersion returns the release series, e.g. "3.4". (It cannot be called
// Minor: that is the field.)
func (v Version) MinorVersion() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// ClusterVersion returns the cluster version etcd reports once every member
// runs v, e.g. "3.4.0": etcd negotiates cluster versions per minor series.
func (v Version) ClusterVersion() string { return fmt.Sprintf("%d.%d.0", v.Major, v.Minor) }

// SameMinor reports whether v and o belong to the same release series.
func (v Version) SameMinor(o Version) bool { return v.Major == o.Major && v.Minor == o.Minor }

// Path is the kind of version change a member goes through.
type Path int

const (
	PathNone      Path = iota // same version: nothing to do
	PathPatch                 // same minor series: swap the binary, keep the config
	PathUpgrade               // one minor up: 3.4 → 3.5, 3.5 → 3.6, 3.6 → 3.7; also the rollback of a downgrade
	PathDowngrade             // one minor down: 3.5 → 3.4 (3.4.32+), and through etcd's downgrade API 3.6 → 3.5, 3.7 → 3.6
)

func (p Path) String() string {
	switch p {
	case PathNone:
		return "none"
	case PathPatch:
		return "patch"
	case PathUpgrade:
		return "upgrade"
	case PathDowngrade:
		return "downgrade"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// TransitionError is the error of a refused version change.
type TransitionError struct {
	From, To Version
	Reason   string // why this change is refused
	Allowed  string // the allowed targets from From, in words
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("etcd %s → %s is not allowed: %s; from %s the allowed targets are: %s", e.From, e.To, e.Reason, e.From, e.Allowed)
}

var (
	v34 = Version{3, 4, 0}
	v35 = Version{3, 5, 0}
	v36 = Version{3, 6, 0}
	v37 = Version{3, 7, 0}
)

// MinUpgradeFrom35 is the oldest 3.5 release every member must run before
// the upgrade to 3.6. etcd's upgrade guide raised it over time: 3.5.20 fixed
// learner promotions that were not persisted (3.6 then fails with "too many
// learner members"), 3.5.24 repaired the same bad data carried in
// snapshots, and 3.5.26 stopped removed members from reappearing on 3.6. The
// repairs run when a member starts on the fixed release, so each member must
// be running it, not just have it installed.
var MinUpgradeFrom35 = Version{3, 5, 26}

// MinUpgradeFrom36 is the oldest 3.6 release the 3.7 upgrade guide allows
// to upgrade from.
var MinUpgradeFrom36 = Version{3, 6, 11}

// FixedDowngradeFrom37 is the first 3.7 release whose storage downgrade
// checks the write-ahead log from the right point (etcd #22201); a
// downgrade from 3.7.0 or 3.7.1 is allowed with a warning.
var FixedDowngradeFrom37 = Version{3, 7, 2}

// UsesDowngradeAPI reports whether the change from → to goes through etcd's
// downgrade API (validate, enable, wait until the cluster and storage
// versions are lowered) before the first member stops: every downgrade from
// 3.6 on. 3.5 → 3.4 has no API; 3.4.32+ joins with
// --next-cluster-version-compatible instead.
func UsesDowngradeAPI(from, to Version) bool {
	return from.Major == to.Major && to.Minor == from.Minor-1 && from.Compare(v36) >= 0
}

// CheckTransition classifies the change from → to, or refuses it with an
// error that names the allowed targets from `from`.
func CheckTransition(from, to Version) (Path, error) {
	refuse := func(reason string) (Path, error) {
		return PathNone, &TransitionError{From: from, To: to, Reason: reason, Allowed: AllowedTargets(from)}
	}
	if p, reason, ok := checkStep(from, to); ok {
		if reason != "" {
			return refuse(reason)
		}
		return p, nil
	}
	if from.Major == to.Major && (from.Minor-to.Minor > 1 || to.Minor-from.Minor > 1) {
		const skip = "it skips a minor version; etcd changes one minor version at a time"
		steps, reason, ok := route(from, to)
		switch {
		case !ok:
			return refuse(skip)
		case reason != "":
			return refuse(skip + ", and " + reason)
		}
		return refuse(skip + ": " + minorSteps(steps))
	}
	return refuse("the supported changes are patch releases and one minor step between 3.4, 3.5, 3.6 and 3.7")
}

// checkStep classifies a change that is at most one minor step between
// supported series, or a patch change: ok is false for anything else. A
// refused step has a reason.
func checkStep(from, to Version) (p Path, reason string, ok bool) {
	switch {
	case from == to:
		return PathNone, "", true
	case from.SameMinor(to):
		return PathPatch, "", true
	case from.SameMinor(v34) && to.SameMinor(v35):
		return PathUpgrade, "", true
	case from.SameMinor(v35) && to.SameMinor(v34):
		if to.Compare(MinDowngradeTarget) < 0 {
			return PathNone, fmt.Sprintf("a downgrade to 3.4 needs %s or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster", MinDowngradeTarget), true
		}
		return PathDowngrade, "", true
	case from.SameMinor(v35) && to.SameMinor(v36):
		if from.Compare(MinUpgradeFrom35) < 0 {
			return PathNone, fmt.Sprintf("the upgrade to 3.6 needs every member on %s or later first: 3.5 releases before 3.5.20 do not persist learner promotions (3.6 then fails with \"too many learner members\"), before 3.5.24 carry that bad membership in snapshots, and before 3.5.26 let removed members reappear on 3.6; etcd repairs the data when a member starts on the fixed release, so change version to the latest 3.5 patch release and apply that first", MinUpgradeFrom35), true
		}
		return PathUpgrade, "", true
	case from.SameMinor(v36) && to.SameMinor(v35):
		if to.Compare(MinUpgradeFrom35) < 0 {
			return PathNone, fmt.Sprintf("a downgrade to 3.5 needs %s or later as the target, the oldest 3.5 release the cluster can later be upgraded from again", MinUpgradeFrom35), true
		}
		return PathDowngrade, "", true
	case from.SameMinor(v36) && to.SameMinor(v37):
		if from.Compare(MinUpgradeFrom36) < 0 {
			return PathNone, fmt.Sprintf("etcd's 3.7 upgrade guide asks for %s or later on every member first; change version to the latest 3.6 patch release and apply that first", MinUpgradeFrom36), true
		}
		return PathUpgrade, "", true
	case from.SameMinor(v37) && to.SameMinor(v36):
		if to.Compare(MinUpgradeFrom36) < 0 {
			return PathNone, fmt.Sprintf("a downgrade to 3.6 needs %s or later as the target, the oldest 3.6 release the cluster can later be upgraded from again", MinUpgradeFrom36), true
		}
		return PathDowngrade, "", true
	}
	return PathNone, "", false
}

// supported are the minor series the provider can move between.
var supported = []Version{v34, v35, v36, v37}

// seriesIndex returns v's index in supported, or -1.
func seriesIndex(v Version) int {
	for i, s := range supported {
		if v.SameMinor(s) {
			return i
		}
	}
	return -1
}

// UpgradePath returns the versions to set, in order, one apply each, to take
// a cluster on `from` to `to`, upgrades and downgrades alike: one minor series
// at a time, and on the way up first to the patch release from's series needs
// before it may leave it (MinUpgradeFrom35 before 3.6, MinUpgradeFrom36 before
// 3.7). Each version before the last is the oldest release the next step
// allows (up: MinUpgradeFrom35, MinUpgradeFrom36; down: MinUpgradeFrom36,
// MinUpgradeFrom35, MinDowngradeTarget); any later patch release of its series
// works too. The last is `to`; the path is empty, not nil, when from == to.
// Every step passes CheckTransition. When no path exists (`to` is older than
// the oldest release a downgrade to its series allows, or a series is not
// supported) the error is the one CheckTransition(from, to) returns.
func UpgradePath(from, to Version) ([]Version, error) {
	steps, reason, ok := route(from, to)
	if ok && reason == "" {
		return steps, nil
	}
	_, err := CheckTransition(from, to)
	return nil, err
}

// route is UpgradePath without the error: the steps from → to, or the
// reason the step that cannot be made is refused; ok is false when from
// and to are in different series and one of them is not supported.
func route(from, to Version) (steps []Version, reason string, ok bool) {
	steps = []Version{}
	if from == to {
		return steps, "", true
	}
	fi, ti := seriesIndex(from), seriesIndex(to)
	switch {
	case from.SameMinor(to):
		steps = append(steps, to)
	case fi < 0 || ti < 0:
		return nil, "", false
	case ti > fi:
		for i := fi; i < ti; i++ {
			need := minUpgradeFrom(supported[i])
			if i > fi || from.Compare(need) < 0 {
				steps = append(steps, need)
			}
		}
		steps = append(steps, to)
	default:
		for i := fi - 1; i > ti; i-- {
			steps = append(steps, minDowngradeTo(supported[i]))
		}
		steps = append(steps, to)
	}
	at := from
	for _, s := range steps {
		if _, reason, _ := checkStep(at, s); reason != "" {
			return nil, reason, true
		}
		at = s
	}
	return steps, "", true
}

// minUpgradeFrom is the oldest release of series that may upgrade to the
// next minor.
func minUpgradeFrom(series Version) Version {
	switch {
	case series.SameMinor(v35):
		return MinUpgradeFrom35
	case series.SameMinor(v36):
		return MinUpgradeFrom36
	}
	return Version{series.Major, series.Minor, 0}
}

// minDowngradeTo is the oldest release of series that a downgrade from the
// next minor may target: 3.4.32 for 3.4, else the oldest release the cluster
// can be upgraded from again.
func minDowngradeTo(series Version) Version {
	if series.SameMinor(v34) {
		return MinDowngradeTarget
	}
	return minUpgradeFrom(series)
}

// minorSteps names the applies of a route, as UpgradePath returns it: "change
// version to 3.5.26 or later and apply, then to 3.6.11 or later and apply,
// then to 3.7.3". A first step within the current series (3.5.21 → 3.5.26
// before 3.6) is named too, so following the message never meets a refusal.
func minorSteps(steps []Version) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.String()
		if i < len(steps)-1 {
			names[i] += " or later"
		}
	}
	return "change version to " + strings.Join(names, " and apply, then to ")
}

// AllowedTargets describes, in words, the versions a member on `from` may
// change to.
func AllowedTargets(from Version) string {
	patch := fmt.Sprintf("any %d.%d.x patch release", from.Major, from.Minor)
	atLeast := func(v Version, what string) string {
		return fmt.Sprintf("%s.x with x >= %d (%s)", v.MinorVersion(), v.Patch, what)
	}
	switch {
	case from.SameMinor(v34):
		return patch + ", or any 3.5.x release (upgrade)"
	case from.SameMinor(v35):
		up := "any 3.6.x release (upgrade, once every member runs " + MinUpgradeFrom35.String() + " or later)"
		return fmt.Sprintf("%s, %s, or %s", patch, atLeast(MinDowngradeTarget, "downgrade"), up)
	case from.SameMinor(v36):
		up := "any 3.7.x release (upgrade, once every member runs " + MinUpgradeFrom36.String() + " or later)"
		return fmt.Sprintf("%s, %s, or %s", patch, atLeast(MinUpgradeFrom35, "downgrade"), up)
	case from.SameMinor(v37):
		return fmt.Sprintf("%s, or %s", patch, atLeast(MinUpgradeFrom36, "downgrade"))
	}
	return patch
}
