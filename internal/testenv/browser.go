package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ChromiumPath is Debian's Chromium, the browser the dashboard tests drive.
// Playwright's own browser download is never used.
const ChromiumPath = "/usr/bin/chromium"

const installBrowser = "bash .ci/install-browser.sh (Debian chromium, and playwright-core in internal/dashboard/e2e)"

// Browser is what a dashboard browser test needs: node, Chromium, and the
// folder whose node_modules holds playwright-core.
type Browser struct {
	Node     string
	Chromium string
	Dir      string // internal/dashboard/e2e, absolute
}

// RequireBrowser finds node, Chromium and the installed playwright-core, or
// skips the test (fails it under CI=true) saying how to install them.
func RequireBrowser(t testing.TB) Browser {
	t.Helper()
	b := Browser{Node: RequireTool(t, "node", "Node.js 20 or later (apt-get install nodejs), then: "+installBrowser), Chromium: ChromiumPath}
	if out, err := exec.Command(b.Node, "-p", "process.versions.node.split('.')[0] >= 20").Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		missing(t, fmt.Sprintf("%s is not Node.js 20 or later (%v); install a newer one, then: %s", b.Node, err, installBrowser))
	}
	if fi, err := os.Stat(b.Chromium); err != nil || fi.Mode()&0o111 == 0 {
		missing(t, fmt.Sprintf("%s is missing (%v); install: %s", b.Chromium, err, installBrowser))
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b.Dir = filepath.Join(root, "internal", "dashboard", "e2e")
	if _, err := os.Stat(filepath.Join(b.Dir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing(t, fmt.Sprintf("playwright-core is not installed in %s (%v); run: %s", b.Dir, err, installBrowser))
	}
	return b
}

// moduleRoot is the folder holding go.mod, found upwards from the test's
// package folder (go test runs a test in its package's folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
