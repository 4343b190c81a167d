package resources_test

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// faultCatalog describes each fault test: the fault, made for real, and the
// outcomes the test asserts. testdata/faults.md and the safety guide are
// rendered from it; TestFaultCatalog keeps it in step with the tests that
// exist, and each test asserts its outcomes through faultOutcomes, which
// fails the test for an outcome listed here that it never checked.
var faultCatalog = []faultEntry{
	{test: "TestAccClusterVersion_upgradeWithFailedMemberThenResume",
		fault: "3.4.23 → 3.5: the second follower cannot start on 3.5 (a 3.5-only setting with a value 3.5 rejects)",
		outcomes: []outcome{
			{"put-back", "the member is put back on 3.4.23 and passes its gate"},
			{"leader-untouched", "the leader is never touched"},
			{"resume-skips-done", "the next apply resumes and skips the member already done"},
			{"no-write-lost", "no acknowledged write lost"},
		}},
	{test: "TestAccClusterVersion_staging",
		fault: "the staged binary reports another version; a downloaded release has another sha256",
		outcomes: []outcome{
			{"stops-at-staging", "the apply stops at staging, before any member stops (pids unchanged)"},
		}},
	{test: "TestAccFault_sshDropsMidMember",
		fault: "sshd of the host being replaced is killed right after its etcd stops, and returns 3 s later; meanwhile its port resets every connection",
		outcomes: []outcome{
			{"retried", "the steps that fail while sshd is down are retried with backoff"},
			{"completes", "the rollout completes"},
			{"no-write-lost", "no acknowledged write lost"},
		}},
	{test: "TestAccFault_memberNeverHealthy",
		fault: "config management already put the target binary at binary.path; the member is frozen (SIGSTOP) right after it starts on the new version",
		outcomes: []outcome{
			{"start-or-gate-fails", "it never reports ready, so its Type=notify start (after the unit's start timeout) or its gate fails"},
			{"put-back", "it is put back on the binary it was started from (not what binary.path held) and passes its gate"},
			{"others-untouched", "no other member is stopped"},
		}},
	{test: "TestAccClusterVersion_memberDown",
		fault: "one member's etcd is stopped, then every member's, with no version change and with one",
		outcomes: []outcome{
			{"plan-warns", "refresh and plan succeed with a warning naming the member (or the cluster, when every member is down)"},
			{"plan-exits-2", "the plan exits 2"},
			{"apply-refuses", "apply refuses this resource and applies the rest of the root module"},
			{"lock-released", "the lock is released"},
			{"plan-empty-after", "once the members are back the plan is empty"},
		}},
	{test: "TestAccClusterVersion_lock",
		fault: "a second pipeline holds the cluster's rollout lock, then dies with its lease alive",
		outcomes: []outcome{
			{"plan-warns", "plan warns naming the holder"},
			{"apply-refused", "apply is refused naming the holder, with no member touched"},
			{"apply-holds-lock", "a real apply holds the lock naming itself and releases it"},
			{"del-breaks-lock", "etcdctl del breaks a dead holder's lock and apply proceeds"},
		}},
	{test: "TestAccClusterVersion_savedPlan",
		fault: "between plan -out and apply a member restarts; in a second round a member's version is changed by hand",
		outcomes: []outcome{
			{"restart-keeps-plan", "the restart does not invalidate the saved plan"},
			{"inconsistent-final-plan", "the changed version ends in Terraform's inconsistent-final-plan message, quoted in the guide"},
			{"no-member-touched", "no member is touched"},
		}},
	{test: "TestAccFault_putBackFails",
		fault: "every etcd process that starts on the member is frozen, the new version and then the old one",
		outcomes: []outcome{
			{"says-put-back-failed", "the error says plainly that putting it back failed and gives the recovery path (kept files, snapshot)"},
			{"quorum-kept", "the others keep quorum (writes never stall for more than 5 s)"},
			{"others-never-stopped", "the others are never stopped"},
		}},
	{test: "TestAccFault_otherMemberDies",
		fault: "another member's etcd is stopped while the changed member is gated",
		outcomes: []outcome{
			{"left-on-target", "the changed member, healthy on the target, is left there"},
			{"no-other-stopped", "no other member is stopped"},
			{"apply-finishes", "after the dead member returns, apply finishes"},
		}},
	{test: "TestAccFault_leaderMovesMidRollout",
		fault: "leadership is moved with etcdctl to a member not yet done, mid-rollout",
		outcomes: []outcome{
			{"leader-last", "the order adapts: the old leader goes next, and the new leader goes last"},
			{"not-while-leading", "no member is stopped while it leads"},
		}},
	{test: "TestAccFault_sigintMidMember",
		fault: "terraform apply gets SIGINT while a member is stopped",
		outcomes: []outcome{
			{"mid-member", "the apply stops at that member, not after it, and exits non-zero"},
			{"gated-before-return", "the provider starts and gates the member before returning"},
			{"state-true", "state matches what each member runs"},
			{"next-apply-finishes", "the next apply finishes"},
		}},
	{test: "TestAccFault_snapshotUnwritable",
		fault: "the snapshot directory is under a regular file; the snapshot directory is a full 64 KiB tmpfs",
		outcomes: []outcome{
			{"stops-at-snapshot", "the apply stops at the snapshot, before any member is touched"},
			{"no-partial-file", "it leaves no partial file"},
		}},
	{test: "TestAccFault_hostKeyChangedBetweenPlanAndApply",
		fault: "a host's SSH key changes between terraform plan and terraform apply",
		outcomes: []outcome{
			{"refused-with-fingerprint", "the apply is refused with the new key's fingerprint"},
			{"no-member-touched", "no member is touched"},
		}},
}

// outcome is one result a fault test asserts: key names it in the test's
// checks, sentence is what the guide says.
type outcome struct{ key, sentence string }

type faultEntry struct {
	test, fault string
	outcomes    []outcome
}

// outcomeCalls are the faultOutcomeChecker methods that assert an outcome;
// each takes the outcome's key first.
var outcomeCalls = map[string]bool{"check": true, "assert": true, "expectError": true, "subtest": true}

var outcomeKey = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// TestFaultCatalog fails when a TestAccFault_ test has no catalog entry (or
// an entry names a test that does not exist), when an entry's outcome is
// not asserted by name in its test's code (or the test asserts a key its
// entry lacks), and when testdata/faults.md is not what the catalog
// renders. UPDATE_SAFETY_DOCS=1 rewrites the file. This runs without
// TF_ACC; faultOutcomes checks the same when the tests themselves run.
func TestFaultCatalog(t *testing.T) {
	tests := map[string]*ast.FuncDecl{}
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	for _, f := range files {
		parsed, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range parsed.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "TestAcc") {
				tests[fn.Name.Name] = fn
			}
		}
	}
	listed := map[string]bool{}
	for _, f := range faultCatalog {
		if listed[f.test] {
			t.Errorf("faultCatalog lists %s twice", f.test)
		}
		listed[f.test] = true
		if f.fault == "" || len(f.outcomes) == 0 {
			t.Errorf("faultCatalog entry %s needs a fault and at least one outcome", f.test)
		}
		keys := map[string]bool{}
		for _, o := range f.outcomes {
			if !outcomeKey.MatchString(o.key) || keys[o.key] {
				t.Errorf("%s: outcome key %q is not a unique lower-case-with-dashes key", f.test, o.key)
			}
			keys[o.key] = true
			if o.sentence == "" || strings.ContainsAny(o.sentence, ";|\n") {
				t.Errorf("%s: outcome %s: %q must be one sentence part without ';', '|' or a line break (the guide joins them with '; ')", f.test, o.key, o.sentence)
			}
		}
		fn := tests[f.test]
		if fn == nil {
			t.Errorf("faultCatalog names %s, which does not exist", f.test)
			continue
		}
		used := assertedKeys(fn)
		for _, o := range f.outcomes {
			if !used[o.key] {
				t.Errorf("%s never asserts outcome %s (%q): call o.check, o.assert, o.expectError or o.subtest with that key", f.test, o.key, o.sentence)
			}
		}
		for k := range used {
			if !keys[k] {
				t.Errorf("%s asserts outcome %q, which its faultCatalog entry does not list", f.test, k)
			}
		}
	}
	var missing []string
	for name := range tests {
		if strings.HasPrefix(name, "TestAccFault_") && !listed[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("%s is not in faultCatalog", name)
	}

	const doc = "testdata/faults.md"
	want := renderFaultDoc()
	if os.Getenv("UPDATE_SAFETY_DOCS") != "" {
		if err := os.WriteFile(doc, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got, err := os.ReadFile(doc); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what faultCatalog renders; regenerate it with UPDATE_SAFETY_DOCS=1 go test -run '^TestFaultCatalog$' ./internal/resources", doc)
	}
}

// assertedKeys returns the outcome keys fn's body passes, as a string
// literal, to an outcome-asserting call (o.check("key", …) and the like).
func assertedKeys(fn *ast.FuncDecl) map[string]bool {
	keys := map[string]bool{}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !outcomeCalls[sel.Sel.Name] {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if k, err := strconv.Unquote(lit.Value); err == nil {
				keys[k] = true
			}
		}
		return true
	})
	return keys
}

func renderFaultDoc() []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated by TestFaultCatalog in internal/resources/fault_catalog_test.go. Do not edit: change faultCatalog there and run\n")
	b.WriteString("     UPDATE_SAFETY_DOCS=1 go test -run '^TestFaultCatalog$' ./internal/resources -->\n\n")
	b.WriteString("# Faults survived\n\n")
	b.WriteString("Each fault is made for real in an acceptance test: real sshd hosts, real etcd members, the real terraform CLI. ")
	b.WriteString("The tests whose rollout gets under way keep four clients writing throughout, and also assert that every acknowledged write is readable afterwards with its value, ")
	b.WriteString("and that a watch opened before the rollout saw each one exactly once, in order.\n\n")
	b.WriteString("| Fault | Outcome the test asserts | Test |\n|---|---|---|\n")
	for _, f := range faultCatalog {
		sentences := make([]string, len(f.outcomes))
		for i, o := range f.outcomes {
			sentences[i] = o.sentence
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", f.fault, strings.Join(sentences, "; "), f.test)
	}
	return b.Bytes()
}

// outcomeT is the part of testing.TB that faultOutcomes uses: a test passes
// its *testing.T; TestFaultOutcomes passes a recorder.
type outcomeT interface {
	Name() string
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
	Failed() bool
	Skipped() bool
}

// faultOutcomeChecker asserts the outcomes of one fault test's catalog
// entry, and fails the test, when it ends, for each outcome it never
// asserted: the guide shows no outcome that its test does not check.
type faultOutcomeChecker struct {
	t     outcomeT
	entry *faultEntry

	mu       sync.Mutex
	asserted map[string]bool
}

// faultOutcomes returns the checker of t's faultCatalog entry. Call it
// first in the test, before anything that may skip it.
func faultOutcomes(t outcomeT) *faultOutcomeChecker {
	t.Helper()
	return outcomesOf(t, faultCatalog)
}

func outcomesOf(t outcomeT, catalog []faultEntry) *faultOutcomeChecker {
	t.Helper()
	o := &faultOutcomeChecker{t: t, asserted: map[string]bool{}}
	name, _, _ := strings.Cut(t.Name(), "/")
	for i := range catalog {
		if catalog[i].test == name {
			o.entry = &catalog[i]
		}
	}
	if o.entry == nil {
		t.Errorf("%s has no faultCatalog entry: add one with the fault and the outcomes the test asserts", name)
		return o
	}
	t.Cleanup(func() {
		// A failed test has already said what went wrong, and may have
		// stopped before its later checks; a skipped one checked nothing.
		if t.Failed() || t.Skipped() {
			return
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, oc := range o.entry.outcomes {
			if !o.asserted[oc.key] {
				t.Errorf("faultCatalog says %s asserts %q (outcome %s), but the test never checked it", name, oc.sentence, oc.key)
			}
		}
	})
	return o
}

func (o *faultOutcomeChecker) lookup(key string) (outcome, bool) {
	if o.entry != nil {
		for _, oc := range o.entry.outcomes {
			if oc.key == key {
				return oc, true
			}
		}
	}
	return outcome{}, false
}

// check records that the outcome key was asserted, and fails the test with
// the outcome's sentence and err when err is not nil. It reports whether
// the outcome held.
func (o *faultOutcomeChecker) check(key string, err error) bool {
	o.t.Helper()
	oc, ok := o.lookup(key)
	if !ok {
		o.t.Errorf("outcome %q is not in the faultCatalog entry of %s", key, o.t.Name())
		return false
	}
	o.mu.Lock()
	o.asserted[key] = true
	o.mu.Unlock()
	if err != nil {
		o.t.Errorf("outcome %s does not hold: %q: %v", key, oc.sentence, err)
		return false
	}
	return true
}

// assert is check for a condition: when cond is false, the detail is
// format and args.
func (o *faultOutcomeChecker) assert(key string, cond bool, format string, args ...any) bool {
	o.t.Helper()
	var err error
	if !cond {
		err = fmt.Errorf(format, args...)
	}
	return o.check(key, err)
}

// expectError is a test step's ExpectError that asserts the outcome key:
// the testing framework fails the test when the step's error does not
// match re, so a test that passes has seen it match.
func (o *faultOutcomeChecker) expectError(key string, re *regexp.Regexp) *regexp.Regexp {
	o.t.Helper()
	o.check(key, nil)
	return re
}

// subtest runs f, a check that reports through a *testing.T (such as
// acctest.Writer.Verify), as the subtest key of t, and asserts the outcome
// key by its result.
func (o *faultOutcomeChecker) subtest(key string, t *testing.T, f func(t *testing.T)) bool {
	t.Helper()
	ran := false
	passed := t.Run(key, func(t *testing.T) {
		ran = true
		f(t)
	})
	return o.assert(key, ran && passed, "the check failed (see subtest %s/%s)", t.Name(), key)
}

// outcomeRecorder stands in for a test's *testing.T in TestFaultOutcomes.
type outcomeRecorder struct {
	name     string
	errs     []string
	cleanups []func()
	skipped  bool
}

func (r *outcomeRecorder) Name() string     { return r.name }
func (r *outcomeRecorder) Helper()          {}
func (r *outcomeRecorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *outcomeRecorder) Failed() bool     { return len(r.errs) > 0 }
func (r *outcomeRecorder) Skipped() bool    { return r.skipped }
func (r *outcomeRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// end runs the cleanups, last registered first, as the testing package does.
func (r *outcomeRecorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// TestFaultOutcomes checks faultOutcomes itself: an outcome of the entry
// that the test never asserts fails it, naming the outcome; so do a failed
// assertion, an unknown key and a test without an entry.
func TestFaultOutcomes(t *testing.T) {
	catalog := []faultEntry{{test: "TestAccFault_example", fault: "a fault",
		outcomes: []outcome{{"first", "the first outcome"}, {"second", "the second outcome"}}}}
	cases := []struct {
		name    string
		test    string
		skipped bool
		run     func(o *faultOutcomeChecker)
		want    []string // substrings of the errors, one per error, in order
	}{
		{name: "every outcome asserted", test: "TestAccFault_example",
			run: func(o *faultOutcomeChecker) {
				o.check("first", nil)
				o.assert("second", true, "not shown")
			}},
		{name: "an outcome never asserted", test: "TestAccFault_example",
			run:  func(o *faultOutcomeChecker) { o.check("first", nil) },
			want: []string{`asserts "the second outcome" (outcome second), but the test never checked it`}},
		{name: "no outcome asserted", test: "TestAccFault_example",
			run:  func(*faultOutcomeChecker) {},
			want: []string{`"the first outcome" (outcome first)`, `"the second outcome" (outcome second)`}},
		{name: "an outcome that does not hold", test: "TestAccFault_example",
			run: func(o *faultOutcomeChecker) {
				o.check("first", nil)
				if o.assert("second", false, "saw %d", 2) {
					t.Error("assert of a false condition reported the outcome held")
				}
			},
			// The failure is reported once; the end adds nothing.
			want: []string{`outcome second does not hold: "the second outcome": saw 2`}},
		{name: "a check error names the outcome", test: "TestAccFault_example",
			run: func(o *faultOutcomeChecker) {
				o.check("first", errors.New("pid 7 → 9"))
				o.check("second", nil)
			},
			want: []string{`outcome first does not hold: "the first outcome": pid 7 → 9`}},
		{name: "an unknown key", test: "TestAccFault_example",
			run: func(o *faultOutcomeChecker) {
				o.check("first", nil)
				o.check("second", nil)
				o.check("third", nil)
			},
			want: []string{`outcome "third" is not in the faultCatalog entry of TestAccFault_example`}},
		{name: "an ExpectError asserts its outcome", test: "TestAccFault_example",
			run: func(o *faultOutcomeChecker) {
				o.expectError("first", regexp.MustCompile("x"))
				o.check("second", nil)
			}},
		{name: "a test without an entry", test: "TestAccFault_unlisted",
			run:  func(o *faultOutcomeChecker) { o.check("first", nil) },
			want: []string{"TestAccFault_unlisted has no faultCatalog entry", `outcome "first" is not in the faultCatalog entry of TestAccFault_unlisted`}},
		{name: "a skipped test asserts nothing", test: "TestAccFault_example", skipped: true,
			run: func(*faultOutcomeChecker) {}},
		{name: "a subtest name is its test's", test: "TestAccFault_example/sub",
			run:  func(o *faultOutcomeChecker) { o.check("first", nil) },
			want: []string{"(outcome second)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &outcomeRecorder{name: c.test, skipped: c.skipped}
			c.run(outcomesOf(r, catalog))
			r.end()
			if len(r.errs) != len(c.want) {
				t.Fatalf("errors %q, want %d matching %q", r.errs, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(r.errs[i], w) {
					t.Errorf("error %d is %q, want it to contain %q", i, r.errs[i], w)
				}
			}
		})
	}
}
