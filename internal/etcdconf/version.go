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
	PathUpgrade               // 3.4 → 3.5, also the rollback of a downgrade
	PathDowngrade             // 3.5 → 3.4, to 3.4.32 or later
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
)

// CheckTransition classifies the change from → to, or refuses it with an
// error that names the allowed targets from `from`.
func CheckTransition(from, to Version) (Path, error) {
	switch {
	case from == to:
		return PathNone, nil
	case from.SameMinor(to):
		return PathPatch, nil
	case from.SameMinor(v34) && to.SameMinor(v35):
		return PathUpgrade, nil
	case from.SameMinor(v35) && to.SameMinor(v34):
		if to.Compare(MinDowngradeTarget) < 0 {
			return PathNone, &TransitionError{From: from, To: to, Allowed: AllowedTargets(from),
				Reason: fmt.Sprintf("a downgrade to 3.4 needs %s or later, because older 3.4 releases lack --next-cluster-version-compatible and refuse to join a 3.5 cluster", MinDowngradeTarget)}
		}
		return PathDowngrade, nil
	}
	reason := "only patch changes, the 3.4 → 3.5 upgrade and the 3.5 → 3.4 downgrade are supported"
	if from.Major == to.Major && (from.Minor-to.Minor > 1 || to.Minor-from.Minor > 1) {
		reason = "it skips a minor version; etcd changes one minor version at a time"
	}
	return PathNone, &TransitionError{From: from, To: to, Reason: reason, Allowed: AllowedTargets(from)}
}

// AllowedTargets describes, in words, the versions a member on `from` may
// change to.
func AllowedTargets(from Version) string {
	patch := fmt.Sprintf("any %d.%d.x patch release", from.Major, from.Minor)
	switch {
	case from.SameMinor(v35):
		return fmt.Sprintf("%s, or %s.x with x >= %d (downgrade)", patch, MinDowngradeTarget.MinorVersion(), MinDowngradeTarget.Patch)
	case from.SameMinor(v34):
		return patch + ", or any 3.5.x release (upgrade)"
	}
	return patch
}
