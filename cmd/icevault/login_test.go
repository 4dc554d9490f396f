package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/auth/ssofake"
)

// loginEnv starts the SSO fake and writes an AWS config whose "icevault"
// profile uses an sso-session, with HOME (the token cache) in a temp dir.
func loginEnv(t *testing.T) (*ssofake.Fake, string) {
	t.Helper()
	f := ssofake.New(t)
	home := t.TempDir()
	cfg := filepath.Join(home, "aws-config")
	body := "[profile icevault]\nsso_session = corp\nsso_account_id = " + f.AccountID + "\nsso_role_name = " + f.RoleName +
		"\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "no-credentials"))
	t.Setenv("ICEVAULT_CONFIG", filepath.Join(home, "no-icevault-config.toml"))
	for _, v := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	f.Setenv(t)
	h := sha1.Sum([]byte("corp"))
	return f, filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(h[:])+".json")
}

func noBrowser(t *testing.T) {
	old := browserOpener
	browserOpener = func(string) error { t.Error("a browser was opened"); return nil }
	t.Cleanup(func() { browserOpener = old })
}

func TestLoginDeviceCodeNoBrowser(t *testing.T) {
	f, cache := loginEnv(t)
	noBrowser(t)
	f.AutoApprove = true
	f.DeviceInterval = 1                               // one real second: run() uses the wall clock
	f.DeviceScript = []string{"authorization_pending"} // so the prompt is shown
	stdout, stderr, code := runCLI(t, "login", "--device-code", "--no-browser")
	if code != 0 {
		t.Fatalf("login: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, f.URL+"/device?user_code=") || !strings.Contains(stderr, "check that the page shows the code") {
		t.Errorf("stderr does not show the URL and code:\n%s", stderr)
	}
	if !strings.Contains(stdout, "Logged in to https://corp.awsapps.com/start (profile icevault)") {
		t.Errorf("stdout = %q", stdout)
	}
	fi, err := os.Stat(cache)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache %s: %v, %v", cache, fi, err)
	}
	b, _ := os.ReadFile(cache)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"accessToken", "clientId", "clientSecret", "expiresAt", "refreshToken", "region", "registrationExpiresAt", "startUrl"}
	if !slices.Equal(keys, want) {
		t.Errorf("cache keys %v, want %v", keys, want)
	}
	for _, secret := range []string{m["accessToken"].(string), m["refreshToken"].(string), m["clientSecret"].(string)} {
		if strings.Contains(stdout+stderr, secret) {
			t.Error("a token or secret was printed")
		}
	}
}

// playBrowser makes the login's "browser" an HTTP client that follows the
// authorize page's redirect to the loopback callback, as a user who approves
// would.
func playBrowser(t *testing.T) {
	old := browserOpener
	browserOpener = func(u string) error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	t.Cleanup(func() { browserOpener = old })
}

func TestLoginPKCEThroughCLI(t *testing.T) {
	f, cache := loginEnv(t)
	playBrowser(t)
	stdout, stderr, code := runCLI(t, "login", "--json")
	if code != 0 {
		t.Fatalf("login: exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
	if f.Calls("Authorize") != 1 || !strings.Contains(stdout, `"event":"logged_in"`) || !strings.Contains(stdout, `"browser_opened":true`) {
		t.Errorf("authorize calls %d, stdout %s", f.Calls("Authorize"), stdout)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Fatal(err)
	}
}

func TestAuthStatusAndLogout(t *testing.T) {
	f, cache := loginEnv(t)
	noBrowser(t)
	stdout, stderr, code := runCLI(t, "auth", "status")
	if code != exitLoginRequired || !strings.Contains(stderr, "AWS login required: run `icevault login`") ||
		!strings.Contains(stdout, "logged in:            no") {
		t.Fatalf("status before login: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	f.AutoApprove = true
	if _, stderr, code := runCLI(t, "login", "--device-code", "--no-browser"); code != 0 {
		t.Fatalf("login: exit %d, %s", code, stderr)
	}
	stdout, stderr, code = runCLI(t, "auth", "status")
	for _, want := range []string{"sso session:          corp", "access token:         expires in 8h0m0s",
		"refresh token:        present", "client registration:  expires in", "role credentials:     " + f.AccountID + "/" + f.RoleName + ", expires in"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Fatalf("status after login: exit %d, %s", code, stderr)
	}
	if f.Calls("Authorize") != 0 || f.Calls("CreateToken:refresh_token") != 0 {
		t.Error("status logged in or refreshed")
	}
	stdout, _, code = runCLI(t, "auth", "status", "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(strings.Split(stdout, "\n")[0]), &st) != nil ||
		st["sso_session"] != "corp" || st["refresh_token"] != true || st["login_required"] != false || st["role_credentials_expire_at"] == nil {
		t.Fatalf("status --json: exit %d, %s", code, stdout)
	}

	stdout, _, code = runCLI(t, "logout")
	if code != 0 || !strings.Contains(stdout, "removed "+cache) {
		t.Fatalf("logout: exit %d, %s", code, stdout)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("cache still there: %v", err)
	}
	_, stderr, code = runCLI(t, "auth", "status", "--json")
	if code != exitLoginRequired || stderr != "" {
		t.Errorf("status after logout: exit %d, stderr %q", code, stderr)
	}
}
