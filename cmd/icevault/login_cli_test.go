package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// standInAWS plays `aws sso login`: it records its arguments, one per line,
// prints what the real one prints, and writes the token cache file where
// the real one would (the path the test computes, as loginEnv does), in the
// CLI's format. STANDIN_FAIL makes it fail as an expired session does;
// STANDIN_NO_CACHE makes it succeed without writing a token.
const standInAWS = `#!/bin/sh
printf '%s\n' "$@" >"$STANDIN_ARGV"
echo "Attempting to automatically open the SSO authorization page in your default browser."
if [ -n "$STANDIN_FAIL" ]; then
	echo "Error when retrieving token from sso: Token has expired and refresh failed" >&2
	exit 255
fi
if [ -z "$STANDIN_NO_CACHE" ]; then
	umask 077
	mkdir -p "$(dirname "$STANDIN_CACHE")"
	cat >"$STANDIN_CACHE" <<EOF
{"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", "accessToken": "$STANDIN_TOKEN", "expiresAt": "$STANDIN_EXPIRES", "clientId": "standin-client", "clientSecret": "standin-client-secret", "registrationExpiresAt": "$STANDIN_REG_EXPIRES", "refreshToken": "standin-refresh-token"}
EOF
fi
echo "Successfully logged into Start URL: https://corp.awsapps.com/start"
`

// TestLoginAWSCLI runs `icevault login --aws-cli` with a stand-in aws first
// on PATH: the exact argv it gets, that icevault then finds the session
// valid (role credentials from the SSO fake), and the failures.
func TestLoginAWSCLI(t *testing.T) {
	f, cache := loginEnv(t)
	noBrowser(t)
	// A second profile on the same sso-session, so --profile visibly
	// reaches aws.
	cfgFile := os.Getenv("AWS_CONFIG_FILE")
	body, _ := os.ReadFile(cfgFile)
	body = append(body, []byte("\n[profile work]\nsso_session = corp\nsso_account_id = "+f.AccountID+"\nsso_role_name = "+f.RoleName+"\nregion = us-east-1\n")...)
	if err := os.WriteFile(cfgFile, body, 0o600); err != nil {
		t.Fatal(err)
	}

	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(standInAWS), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	argvFile := filepath.Join(t.TempDir(), "argv")
	const token = "standin-access-token-never-printed"
	expires := time.Now().Add(8 * time.Hour).UTC().Truncate(time.Second)
	f.AddAccessToken(token, expires)
	for k, v := range map[string]string{
		"STANDIN_ARGV": argvFile, "STANDIN_CACHE": cache, "STANDIN_TOKEN": token,
		"STANDIN_EXPIRES":     expires.Format(time.RFC3339),
		"STANDIN_REG_EXPIRES": time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"STANDIN_FAIL":        "", "STANDIN_NO_CACHE": "",
	} {
		t.Setenv(k, v)
	}
	argv := func(t *testing.T) string {
		t.Helper()
		b, err := os.ReadFile(argvFile)
		if err != nil {
			t.Fatalf("the stand-in aws did not run: %v", err)
		}
		os.Remove(argvFile)
		return strings.ReplaceAll(strings.TrimSuffix(string(b), "\n"), "\n", " ")
	}
	secrets := []string{token, "standin-refresh-token", "standin-client-secret"}
	noSecrets := func(t *testing.T, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("a token or secret was printed: %s", out)
			}
		}
	}

	t.Run("success", func(t *testing.T) {
		before := f.Calls("GetRoleCredentials")
		stdout, stderr, code := runCLI(t, "login", "--aws-cli", "--profile", "work")
		if code != 0 {
			t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
		}
		if got := argv(t); got != "sso login --profile work" {
			t.Errorf("aws ran with %q, want %q", got, "sso login --profile work")
		}
		for _, want := range []string{"Logged in with the AWS CLI to https://corp.awsapps.com/start (profile work).",
			"The access token expires in", "renewed automatically", "Role credentials for " + f.AccountID + "/" + f.RoleName + ": valid."} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		// aws's own output is a prompt: stderr, never mixed into the result.
		if !strings.Contains(stderr, "Successfully logged into Start URL") || strings.Contains(stdout, "Successfully logged") {
			t.Errorf("aws's output: stdout %q, stderr %q", stdout, stderr)
		}
		if f.Calls("GetRoleCredentials") == before {
			t.Error("icevault did not check the session with the SSO portal")
		}
		if f.Calls("Authorize") != 0 || f.Calls("RegisterClient") != 0 {
			t.Error("icevault ran its own login as well")
		}
		noSecrets(t, stdout+stderr)

		// The session aws cached is the one icevault uses.
		stdout, stderr, code = runCLI(t, "auth", "status", "--profile", "work")
		if code != 0 || !strings.Contains(stdout, "access token:         expires in") || !strings.Contains(stdout, "refresh token:        present") {
			t.Fatalf("auth status after login --aws-cli: exit %d\n%s%s", code, stdout, stderr)
		}
		noSecrets(t, stdout+stderr)
	})

	t.Run("flags and json", func(t *testing.T) {
		stdout, stderr, code := runCLI(t, "login", "--aws-cli", "--device-code", "--no-browser", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		if got, want := argv(t), "sso login --profile icevault --use-device-code --no-browser"; got != want {
			t.Errorf("aws ran with %q, want %q", got, want)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
			t.Fatalf("stdout is not one JSON event: %v\n%s", err, stdout)
		}
		if ev["event"] != "logged_in" || ev["via"] != "aws-cli" || ev["profile"] != "icevault" || ev["cache_file"] != cache ||
			ev["role_credentials_expire_at"] == nil {
			t.Errorf("event %v", ev)
		}
		noSecrets(t, stdout+stderr)
	})

	t.Run("aws fails", func(t *testing.T) {
		os.Remove(cache)
		t.Setenv("STANDIN_FAIL", "1")
		stdout, stderr, code := runCLI(t, "login", "--aws-cli", "--profile", "work")
		if code != exitError {
			t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitError, stdout, stderr)
		}
		if got := argv(t); got != "sso login --profile work" {
			t.Errorf("aws ran with %q", got)
		}
		last := lastLine(stderr)
		for _, want := range []string{"icevault: `aws sso login --profile work` failed (exit status 255", "icevault login` without --aws-cli"} {
			if !strings.Contains(last, want) {
				t.Errorf("the last line of stderr lacks %q: %q", want, last)
			}
		}
		if !strings.Contains(stderr, "Token has expired and refresh failed") {
			t.Errorf("aws's own error is not shown: %q", stderr)
		}
		if strings.Contains(stdout, "Logged in") {
			t.Errorf("stdout claims a login: %q", stdout)
		}
		if _, stderr, code := runCLI(t, "auth", "status", "--profile", "work"); code != exitLoginRequired {
			t.Errorf("auth status after a failed login: exit %d, %s", code, stderr)
		}
	})

	t.Run("aws succeeds without a token", func(t *testing.T) {
		os.Remove(cache)
		t.Setenv("STANDIN_NO_CACHE", "1")
		stdout, stderr, code := runCLI(t, "login", "--aws-cli")
		if code != exitLoginRequired {
			t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, exitLoginRequired, stdout, stderr)
		}
		argv(t)
		if last := lastLine(stderr); !strings.Contains(last, "`aws sso login --profile icevault` succeeded, but") ||
			!strings.Contains(last, "not logged in") {
			t.Errorf("stderr: %q", last)
		}
	})

	t.Run("no aws", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, stderr, code := runCLI(t, "login", "--aws-cli")
		if code != exitUsage || !strings.Contains(stderr, "the AWS CLI (aws) is not installed") {
			t.Fatalf("exit %d, %s", code, stderr)
		}
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
