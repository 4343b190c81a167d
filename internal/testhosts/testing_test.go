package testhosts

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestSkipOrFail runs a test that lacks a prerequisite in a child process,
// without and with TF_ACC: it must be skipped, with the reason, in a plain
// go test, and must fail in an acceptance run, where a skip would hide that
// nothing was tested.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTHOSTS_SKIPORFAIL_CHILD") != "" {
		SkipOrFail(t, "sshd not found at %s", "/nonexistent/sshd")
		return
	}
	env := []string{"TESTHOSTS_SKIPORFAIL_CHILD=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_ACC=") {
			env = append(env, kv)
		}
	}
	for _, tc := range []struct {
		tfAcc    string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestSkipOrFail"},
		{"1", true, "--- FAIL: TestSkipOrFail"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipOrFail$", "-test.v", "-test.count=1")
		cmd.Env = env
		if tc.tfAcc != "" {
			cmd.Env = append(slices.Clip(env), "TF_ACC="+tc.tfAcc)
		}
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.wantFail {
			t.Errorf("TF_ACC=%q: child failed=%v, want %v:\n%s", tc.tfAcc, failed, tc.wantFail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "sshd not found at /nonexistent/sshd") {
			t.Errorf("TF_ACC=%q: child output lacks %q and the reason:\n%s", tc.tfAcc, tc.want, out)
		}
	}
}
