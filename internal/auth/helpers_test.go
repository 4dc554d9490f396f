package auth

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/icevault/icevault/internal/auth/ssofake"
)

const (
	testStartURL       = "https://example.awsapps.com/start"
	testLegacyStartURL = "https://legacy.awsapps.com/start"
	testSSORegion      = "eu-west-1"
)

// setup starts a fake, writes an AWS config with an sso-session profile
// ("icevault") and a legacy one ("legacy"), and points HOME, the config
// files and the SDK's endpoints at them.
func setup(t *testing.T) *ssofake.Fake {
	t.Helper()
	f := ssofake.New(t)
	home := t.TempDir()
	cfg := filepath.Join(home, "aws-config")
	creds := filepath.Join(home, "aws-credentials")
	body := `[profile icevault]
sso_session = icevault
sso_account_id = ` + f.AccountID + `
sso_role_name = ` + f.RoleName + `
region = us-east-1

[sso-session icevault]
sso_start_url = ` + testStartURL + `
sso_region = ` + testSSORegion + `
sso_registration_scopes = sso:account:access

[profile legacy]
sso_start_url = ` + testLegacyStartURL + `
sso_region = ` + testSSORegion + `
sso_account_id = ` + f.AccountID + `
sso_role_name = ` + f.RoleName + `
region = us-east-1

[profile static]
region = us-east-1
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	f.Setenv(t)
	return f
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func cacheFile(t *testing.T, key string) string {
	return filepath.Join(os.Getenv("HOME"), ".aws", "sso", "cache", sha1Hex(key)+".json")
}

// browser plays the user's browser: it follows the authorize URL to the
// loopback redirect, as a user who approves would.
type browser struct {
	t      *testing.T
	opened []string
	status int
	page   string
}

func (b *browser) open(u string) error {
	b.opened = append(b.opened, u)
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	b.status, b.page = resp.StatusCode, string(page)
	return nil
}

// roleCreds resolves profile's credentials the way icevault's commands do.
func roleCreds(t *testing.T, profile string) (aws.Config, aws.Credentials, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(profile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	return cfg, c, err
}

// waitFor polls cond on the wall clock (only to synchronise with a
// goroutine; the code under test waits on the fake clock).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
