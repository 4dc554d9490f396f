package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

var cliTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// checkCacheFile checks the file the AWS CLI would have written: mode 0600
// in a 0700 directory, exactly the CLI's fields, its timestamp format.
func checkCacheFile(t *testing.T, path string, wantRefresh bool) map[string]any {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v (%v), want 0700", di.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("cache file is not JSON: %v", err)
	}
	want := []string{"accessToken", "clientId", "clientSecret", "expiresAt", "region", "registrationExpiresAt", "startUrl"}
	if wantRefresh {
		want = append(want, "refreshToken")
	}
	slices.Sort(want)
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("cache fields %v, want exactly %v", got, want)
	}
	for _, k := range []string{"expiresAt", "registrationExpiresAt"} {
		if s, _ := m[k].(string); !cliTime.MatchString(s) {
			t.Errorf("%s = %v, want a UTC ...Z timestamp in whole seconds", k, m[k])
		}
	}
	// Matching a temp file name is enough: nothing must be left beside it.
	if left, _ := filepath.Glob(path + ".tmp-*"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	return m
}

func TestPKCELoginEndToEnd(t *testing.T) {
	f := setup(t)
	b := &browser{t: t}
	var prompts []Prompt
	res, err := Login(context.Background(), LoginOptions{Profile: "icevault", OpenBrowser: b.open,
		OnPrompt: func(p Prompt) { prompts = append(prompts, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.opened) != 1 || b.status != 200 || !strings.Contains(b.page, "logged in") {
		t.Fatalf("browser: opened %v, status %d, page %q", b.opened, b.status, b.page)
	}
	if len(prompts) != 1 || !prompts[0].BrowserOpened || prompts[0].UserCode != "" {
		t.Errorf("prompts = %+v", prompts)
	}
	// The authorize URL has the AWS CLI's shape and parameter order.
	opened := b.opened[0]
	if !strings.HasPrefix(opened, f.URL+"/authorize?response_type=code&client_id=") {
		t.Errorf("authorize URL %q does not follow AWS_ENDPOINT_URL_SSO_OIDC or the CLI's shape", opened)
	}
	order := regexp.MustCompile(`\?response_type=code&client_id=[^&]+&redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Foauth%2Fcallback&state=[0-9a-f-]{36}&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge=[A-Za-z0-9_-]{43}$`)
	if !order.MatchString(opened) {
		t.Errorf("authorize URL %q: parameters differ from the AWS CLI's", opened)
	}
	q := f.LastAuthorize()
	if u, _ := url.Parse(q.Get("redirect_uri")); u == nil || u.Hostname() != "127.0.0.1" || u.Path != "/oauth/callback" || u.Port() == "" {
		t.Errorf("redirect_uri = %q", q.Get("redirect_uri"))
	}
	if f.Calls("RegisterClient") != 1 || f.Calls("CreateToken:authorization_code") != 1 {
		t.Errorf("calls: register %d, create token %d", f.Calls("RegisterClient"), f.Calls("CreateToken:authorization_code"))
	}

	path := cacheFile(t, "icevault")
	if res.Session.CachePath != path || !res.Refresh {
		t.Errorf("result %+v, want cache %s with a refresh token", res, path)
	}
	m := checkCacheFile(t, path, true)
	if m["startUrl"] != testStartURL || m["region"] != testSSORegion {
		t.Errorf("cache startUrl/region = %v/%v", m["startUrl"], m["region"])
	}

	// The SDK takes it from here: role credentials from the portal...
	cfg, creds, err := roleCreds(t, "icevault")
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != f.RoleAccessKeyID || creds.SecretAccessKey != f.RoleSecretKey || creds.SessionToken != f.RoleSessionToken {
		t.Fatalf("SDK got credentials %q, want the fake's %q", creds.AccessKeyID, f.RoleAccessKeyID)
	}
	// ...that STS recognises...
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != f.AccountID || !strings.Contains(aws.ToString(id.Arn), "AWSReservedSSO_"+f.RoleName) {
		t.Errorf("GetCallerIdentity = %s %s", aws.ToString(id.Account), aws.ToString(id.Arn))
	}
	// ...and that write to the Deep Archive simulator.
	srv, err := sim.Start(sim.Options{Clock: clock.NewFake(time.Now()), Buckets: []string{"backups"},
		EnforcePolicy: true, Keys: map[string]string{f.RoleAccessKeyID: f.RoleSecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client, err := s3store.NewClient(cfg, s3store.ClientOptions{Endpoint: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	st := s3store.New(client, "backups", s3store.Options{IsLoginRequired: IsLoginRequired})
	body := []byte("logged in with IAM Identity Center")
	if _, err := st.Put(context.Background(), store.PutRequest{Key: "icevault/login-test", Body: bytes.NewReader(body),
		Size: int64(len(body)), SHA256: sha256.Sum256(body)}); err != nil {
		t.Fatalf("PutObject with the SSO role credentials: %v", err)
	}
	if info, err := st.Head(context.Background(), "icevault/login-test"); err != nil || info.Size != int64(len(body)) {
		t.Fatalf("head after put: %+v, %v", info, err)
	}
}

func TestPKCELoginRejectsWrongState(t *testing.T) {
	setup(t)
	// A browser that comes back with someone else's state.
	opener := func(u string) error {
		pu, _ := url.Parse(u)
		redirect := pu.Query().Get("redirect_uri")
		b := &browser{t: t}
		return b.open(redirect + "?code=stolen&state=not-the-state")
	}
	_, err := Login(context.Background(), LoginOptions{Profile: "icevault", OpenBrowser: opener})
	if err == nil || !strings.Contains(err.Error(), "state") {
		t.Fatalf("Login = %v, want a state mismatch", err)
	}
	if _, err := os.Stat(cacheFile(t, "icevault")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed login wrote the cache: %v", err)
	}
}

// TestDeviceLoginPolling: authorization_pending, then slow_down (which
// adds 5 s to the interval), then success — all on a fake clock.
func TestDeviceLoginPolling(t *testing.T) {
	f := setup(t)
	f.AutoApprove = true
	f.DeviceScript = []string{"authorization_pending", "authorization_pending", "slow_down"}
	clk := clock.NewFake(time.Now())
	var prompts []Prompt
	type result struct {
		res LoginResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Login(context.Background(), LoginOptions{Profile: "icevault", DeviceCode: true, Clock: clk,
			OnPrompt: func(p Prompt) { prompts = append(prompts, p) }})
		done <- result{res, err}
	}()
	polls := func() int { return f.Calls("CreateToken:" + grantDeviceCode) }
	step := func(wantPolls int) {
		t.Helper()
		waitFor(t, "a sleeping poller", func() bool { return clk.Sleepers() == 1 && polls() == wantPolls })
	}
	step(1) // the attempt before the prompt: pending
	clk.Advance(5 * time.Second)
	step(2) // pending
	clk.Advance(5 * time.Second)
	step(3) // slow_down: the interval is now 10 s
	clk.Advance(5 * time.Second)
	if clk.Sleepers() != 1 || polls() != 3 {
		t.Fatalf("after slow_down the poller woke at 5 s (sleepers %d, polls %d)", clk.Sleepers(), polls())
	}
	clk.Advance(5 * time.Second)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if polls() != 4 || f.Calls("StartDeviceAuthorization") != 1 {
		t.Errorf("polls %d, device authorizations %d", polls(), f.Calls("StartDeviceAuthorization"))
	}
	if len(prompts) != 1 || prompts[0].UserCode == "" || !strings.Contains(prompts[0].URL, prompts[0].UserCode) || prompts[0].BrowserOpened {
		t.Errorf("prompts = %+v", prompts)
	}
	checkCacheFile(t, cacheFile(t, "icevault"), true)
	if _, creds, err := roleCreds(t, "icevault"); err != nil || creds.AccessKeyID != f.RoleAccessKeyID {
		t.Fatalf("SDK after device login: %q, %v", creds.AccessKeyID, err)
	}
}

func TestDeviceLoginExpires(t *testing.T) {
	f := setup(t)
	f.Clock = clock.NewFake(time.Now())
	clk := f.Clock.(*clock.Fake)
	done := make(chan error, 1)
	go func() {
		_, err := Login(context.Background(), LoginOptions{Profile: "icevault", DeviceCode: true, Clock: clk})
		done <- err
	}()
	waitFor(t, "a sleeping poller", func() bool { return clk.Sleepers() == 1 })
	clk.Advance(11 * time.Minute) // past the fake's 10-minute device code
	if err := <-done; !errors.Is(err, ErrAuthorizationExpired) {
		t.Fatalf("Login = %v, want ErrAuthorizationExpired", err)
	}
}

func TestDeviceLoginCancel(t *testing.T) {
	setup(t)
	clk := clock.NewFake(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Login(ctx, LoginOptions{Profile: "icevault", DeviceCode: true, Clock: clk})
		done <- err
	}()
	waitFor(t, "a sleeping poller", func() bool { return clk.Sleepers() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Login = %v, want context.Canceled", err)
	}
}

// TestLegacyLogin: a legacy profile logs in with the device code (as the
// AWS CLI does), caches under sha1(start URL), and the SDK reads it.
func TestLegacyLogin(t *testing.T) {
	f := setup(t)
	f.AutoApprove = true
	f.NoRefreshTokens = true
	opened := 0
	res, err := Login(context.Background(), LoginOptions{Profile: "legacy", Clock: clock.NewFake(time.Now()),
		OpenBrowser: func(string) error { opened++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.CachePath != cacheFile(t, testLegacyStartURL) || f.Calls("Authorize") != 0 {
		t.Errorf("legacy: cache %s, authorize calls %d", res.Session.CachePath, f.Calls("Authorize"))
	}
	checkCacheFile(t, res.Session.CachePath, false)
	if _, creds, err := roleCreds(t, "legacy"); err != nil || creds.AccessKeyID != f.RoleAccessKeyID {
		t.Fatalf("SDK with the legacy cache: %q, %v", creds.AccessKeyID, err)
	}
}

func TestLoginNotSSO(t *testing.T) {
	setup(t)
	if _, err := Login(context.Background(), LoginOptions{Profile: "static"}); !errors.Is(err, ErrNotSSO) {
		t.Fatalf("Login(static) = %v, want ErrNotSSO", err)
	}
}

func TestAuthorizeURL(t *testing.T) {
	got := AuthorizeURL("https://oidc.eu-west-1.amazonaws.com", "cid", "http://127.0.0.1:5555/oauth/callback",
		"0f0e0d0c-0b0a-4908-8706-050403020100", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", []string{"sso:account:access", "x:y"})
	want := "https://oidc.eu-west-1.amazonaws.com/authorize?response_type=code&client_id=cid" +
		"&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Foauth%2Fcallback&state=0f0e0d0c-0b0a-4908-8706-050403020100" +
		"&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess%20x%3Ay&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got != want {
		t.Errorf("AuthorizeURL =\n%s\nwant\n%s", got, want)
	}
	// RFC 7636 appendix B's vector.
	if c := challengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); c != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("challenge = %s", c)
	}
	v := newVerifier()
	if len(v) != 64 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
		t.Errorf("verifier %q", v)
	}
}
