package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// cliTimeout bounds one CLI call; the CLI retries connection errors with
	// backoff, and a hung call must fail the test rather than the whole run.
	cliTimeout = 60 * time.Second

	cliInstall = "AWS CLI v2: apt-get install awscli (Debian 12 ships 2.9.x at /usr/bin/aws) " +
		"or run .ci/install-test-deps.sh"
)

// cliCandidates are tried before PATH. The Debian package comes first: the
// `aws` first on PATH may be a v1 from pyenv, whose output and defaults differ.
var cliCandidates = []string{"/usr/bin/aws", "/usr/local/bin/aws"}

// CLI is an AWS CLI v2 executable.
type CLI struct {
	Path string
}

// CLIEnv is what a CLI call may know about AWS: nothing but these.
type CLIEnv struct {
	AccessKey, SecretKey, Region string
}

var (
	cliOnce  sync.Once
	cliFound CLI
	cliWhy   string // why no v2 was found, for the skip message
)

// AWSCLI returns the AWS CLI v2, skipping the test if there is none (failing
// it under CI=true). A v1 is never used, even if it is the only `aws`.
func AWSCLI(t testing.TB) *CLI {
	t.Helper()
	cliOnce.Do(func() { cliFound, cliWhy = findCLIv2() })
	if cliFound.Path == "" {
		missing(t, fmt.Sprintf("AWS CLI v2 not found (%s); install: %s", cliWhy, cliInstall))
	}
	c := cliFound
	return &c
}

func findCLIv2() (CLI, string) {
	candidates := append([]string(nil), cliCandidates...)
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir != "" {
			candidates = append(candidates, filepath.Join(dir, "aws"))
		}
	}
	var rejected []string
	seen := map[string]bool{}
	for _, p := range candidates {
		if seen[p] {
			continue
		}
		seen[p] = true
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		v, err := cliVersion(p)
		if err == nil && strings.HasPrefix(v, "aws-cli/2.") {
			return CLI{Path: p}, ""
		}
		if err != nil {
			v = err.Error()
		}
		rejected = append(rejected, fmt.Sprintf("%s: %q", p, v))
	}
	if len(rejected) == 0 {
		return CLI{}, "no aws executable"
	}
	return CLI{}, "only found " + strings.Join(rejected, ", ")
}

// cliVersion runs `aws --version` in a clean environment. v1 prints it on
// stderr, v2 on stdout; both are read.
func cliVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	home, err := os.MkdirTemp("", "icevault-awscli-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = cleanEnv(home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", path, err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// Run runs the CLI with args and nothing from the caller's AWS setup: the
// credentials and region come from env, config and credentials files are
// empty, HOME is a fresh directory, no pager. Callers pass --endpoint-url.
// A non-zero exit is returned in code, not failed on; failing to run the
// CLI at all, or a call exceeding 60 s, fails the test.
func (c *CLI) Run(t testing.TB, env CLIEnv, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	for _, f := range []string{config, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}

	// Not t.Context(): that is already cancelled when cleanups run, and a
	// cleanup that inspects the bucket through the CLI is legitimate.
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Env = append(cleanEnv(home),
		"AWS_ACCESS_KEY_ID="+env.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+env.SecretKey,
		"AWS_DEFAULT_REGION="+env.Region,
		"AWS_CONFIG_FILE="+config,
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_PAGER=",
		// With no credentials the CLI would otherwise probe the EC2
		// metadata service and stall for seconds.
		"AWS_EC2_METADATA_DISABLED=true",
	)
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout = &outBuf
	cmd.Stderr = &errBuf
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { signalGroup(cmd, sigKill); return nil }
	cmd.WaitDelay = 5 * time.Second

	err := cmd.Run()
	stdout, stderr = outBuf.String(), errBuf.String()
	if ctx.Err() != nil {
		t.Fatalf("aws %s: %v (stdout %q, stderr %q)", strings.Join(args, " "), ctx.Err(), stdout, stderr)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout, stderr, 0
	case errors.As(err, &exit):
		return stdout, stderr, exit.ExitCode()
	default:
		t.Fatalf("running %s: %v (stderr %q)", c.Path, err, stderr)
		return "", "", -1
	}
}

// cleanEnv is the minimal environment a CLI call inherits: a PATH (the
// Debian CLI's shebang is absolute, but it may spawn helpers), a private
// HOME so ~/.aws is never read, and a UTF-8 locale for non-ASCII keys.
// Python variables are dropped: pyenv's must not leak into the system Python.
func cleanEnv(home string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
	}
}
