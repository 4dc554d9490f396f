package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireTool returns the path of the executable name found on PATH. If it
// is missing, the test is skipped, with install saying how to get it — or,
// under CI=true, failed, because a skipped integration test there would hide
// a broken machine image rather than a missing optional tool.
func RequireTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, fmt.Sprintf("%s not found on PATH (%v); install: %s", name, err, install))
	}
	return p
}

// missing skips or, under CI, fails the test because a tool is unavailable.
func missing(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true, so this test may not be skipped: %s", msg)
	}
	t.Skip(msg)
}
