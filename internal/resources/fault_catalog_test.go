package resources_test

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// faultCatalog describes each fault test: the fault, made for real, and the
// outcome the test asserts. testdata/faults.md is rendered from it, and
// TestFaultCatalog keeps both in step with the tests that exist.
var faultCatalog = []struct {
	test, fault, outcome string
}{
	{"TestAccClusterVersion_upgradeWithFailedMemberThenResume",
		"3.4.23 → 3.5: the second follower cannot start on 3.5 (a 3.5-only setting with a value 3.5 rejects)",
		"the member is put back on 3.4.23 and passes its gate; the leader is never touched; the next apply resumes and skips the member already done; no acknowledged write lost"},
	{"TestAccClusterVersion_staging",
		"the staged binary reports another version; a downloaded release has another sha256",
		"the apply stops at staging, before any member stops (pids unchanged)"},
	{"TestAccFault_sshDropsMidMember",
		"sshd of the host being replaced is killed right after its etcd stops, and returns 3 s later",
		"the idempotent steps are retried with backoff and the rollout completes; no acknowledged write lost"},
	{"TestAccFault_memberNeverHealthy",
		"config management already put the target binary at binary.path; the member is frozen (SIGSTOP) right after it starts on the new version",
		"it never reports ready, so its Type=notify start (after the unit's start timeout) or its gate fails; it is put back on the binary it was started from (not what binary.path held) and passes its gate; no other member is stopped"},
	{"TestAccClusterVersion_memberDown",
		"one member's etcd is stopped, then every member's, with no version change and with one",
		"refresh and plan succeed with a warning naming the member; the plan exits 2; apply refuses this resource and applies the rest of the root module; the lock is released; once the members are back the plan is empty"},
	{"TestAccClusterVersion_lock",
		"a second pipeline holds the cluster's rollout lock, then dies with its lease alive",
		"plan warns and apply is refused naming the holder, with no member touched; a real apply holds the lock naming itself and releases it; etcdctl del breaks a dead holder's lock and apply proceeds"},
	{"TestAccClusterVersion_savedPlan",
		"between plan -out and apply a member restarts; in a second round a member's version is changed by hand",
		"the restart does not invalidate the saved plan; the changed version ends in Terraform's inconsistent-final-plan message, quoted in the guide, with no member touched"},
	{"TestAccFault_putBackFails",
		"every etcd process that starts on the member is frozen, the new version and then the old one",
		"the error says plainly that putting it back failed and gives the recovery path (kept files, snapshot); the others keep quorum and are never stopped"},
	{"TestAccFault_otherMemberDies",
		"another member's etcd is stopped while the changed member is gated",
		"the changed member, healthy on the target, is left there; no other member is stopped; after the dead member returns, apply finishes"},
	{"TestAccFault_leaderMovesMidRollout",
		"leadership is moved with etcdctl to a member not yet done, mid-rollout",
		"the order adapts, the new leader goes last, and no member is stopped while it leads"},
	{"TestAccFault_sigintMidMember",
		"terraform apply gets SIGINT while a member is stopped",
		"the provider starts and gates the member before returning; state matches what each member runs; the next apply finishes"},
	{"TestAccFault_snapshotUnwritable",
		"the snapshot directory is under a regular file; the snapshot directory is a full 64 KiB tmpfs",
		"the apply stops at the snapshot, before any member is touched, and leaves no partial file"},
	{"TestAccFault_hostKeyChangedBetweenPlanAndApply",
		"a host's SSH key changes between terraform plan and terraform apply",
		"the apply is refused with the new key's fingerprint; no member is touched"},
}

// TestFaultCatalog fails when a TestAccFault_ test has no catalog entry (or
// an entry names a test that does not exist), and when testdata/faults.md
// is not what the catalog renders. UPDATE_SAFETY_DOCS=1 rewrites the file.
func TestFaultCatalog(t *testing.T) {
	tests := map[string]bool{}
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	for _, f := range files {
		parsed, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for name := range parsed.Scope.Objects {
			if strings.HasPrefix(name, "TestAcc") {
				tests[name] = true
			}
		}
	}
	listed := map[string]bool{}
	for _, f := range faultCatalog {
		listed[f.test] = true
		if !tests[f.test] {
			t.Errorf("faultCatalog names %s, which does not exist", f.test)
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
		fmt.Fprintf(&b, "| %s | %s | `%s` |\n", f.fault, f.outcome, f.test)
	}
	return b.Bytes()
}
