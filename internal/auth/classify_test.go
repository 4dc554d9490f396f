package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	ssooidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/auth/ssofake"
)

func responseError(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

// TestClassifyConstructed covers each case with the error type the SDK
// produces, built by hand; TestClassifySDK below drives the SDK to them.
func TestClassifyConstructed(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, c := range []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, None},
		{"cache file missing", fmt.Errorf("failed to read cached SSO token file, %w", &fs.PathError{Op: "open", Path: "/home/u/.aws/sso/cache/x.json", Err: fs.ErrNotExist}), LoginRequired},
		{"expired, no refresh token", errors.New("operation error S3: PutObject, get identity: get credentials: failed to refresh cached credentials, refresh cached SSO token failed, cached SSO token is expired, or not present, and cannot be refreshed"), LoginRequired},
		{"cache without a token", errors.New("cached SSO token must contain accessToken and expiresAt fields"), LoginRequired},
		{"legacy invalid token", fmt.Errorf("refresh: %w", &ssocreds.InvalidTokenError{}), LoginRequired},
		{"session ended", fmt.Errorf("refresh: %w", &ssooidctypes.InvalidGrantException{}), LoginRequired},
		{"client registration expired", fmt.Errorf("refresh: %w", &ssooidctypes.InvalidClientException{}), LoginRequired},
		{"device code expired", &ssooidctypes.ExpiredTokenException{}, LoginRequired},
		{"role credentials refused", fmt.Errorf("get role credentials: %w", &ssotypes.UnauthorizedException{}), LoginRequired},
		{"role creds expired (S3)", api("ExpiredToken"), LoginRequired},
		{"role creds expired (STS)", api("ExpiredTokenException"), LoginRequired},
		{"unknown key (STS)", api("InvalidClientTokenId"), LoginRequired},
		{"unknown key (S3)", api("InvalidAccessKeyId"), LoginRequired},
		{"access denied", api("AccessDenied"), AccessDenied},
		{"access denied (json)", api("AccessDeniedException"), AccessDenied},
		{"403 without code", responseError(403, errors.New("forbidden")), AccessDenied},
		{"throttling", api("Throttling"), Transient},
		{"throttling exception", api("ThrottlingException"), Transient},
		{"S3 slow down", api("SlowDown"), Transient},
		{"EC2-style limit", api("RequestLimitExceeded"), Transient},
		{"too many requests", api("TooManyRequestsException"), Transient},
		{"503", responseError(503, errors.New("unavailable")), Transient},
		{"429", responseError(429, errors.New("slow")), Transient},
		{"network down", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errConnRefused)}, Transient},
		{"send error", &smithyhttp.RequestSendError{Err: errors.New("EOF")}, Transient},
		{"retries exhausted", &retry.MaxAttemptsError{Attempt: 3, Err: errors.New("x")}, Transient},
		{"timeout", fmt.Errorf("get: %w", context.DeadlineExceeded), Transient},
		{"network down while refreshing", fmt.Errorf("refresh cached SSO token failed, unable to refresh SSO token, %w",
			&smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errConnRefused}}), Transient},
		{"canceled", fmt.Errorf("put: %w", context.Canceled), Permanent},
		{"some other missing file", &fs.PathError{Op: "open", Path: "/tmp/x", Err: fs.ErrNotExist}, Permanent},
		{"no such bucket", api("NoSuchBucket"), Permanent},
		{"plain error", errors.New("boom"), Permanent},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %v, want %v", c.name, got, c.want)
		}
		if got := IsLoginRequired(c.err); got != (c.want == LoginRequired) {
			t.Errorf("%s: IsLoginRequired = %v", c.name, got)
		}
	}
}

var errConnRefused = errors.New("connection refused")

// writeToken rewrites the cache file through fn (to age or damage it).
func editToken(t *testing.T, path string, fn func(*Token)) {
	t.Helper()
	tok, err := ReadToken(path)
	if err != nil {
		t.Fatal(err)
	}
	fn(&tok)
	if err := WriteToken(path, tok); err != nil {
		t.Fatal(err)
	}
}

func loggedIn(t *testing.T, f *ssofake.Fake, profile string) string {
	t.Helper()
	b := &browser{t: t}
	res, err := Login(context.Background(), LoginOptions{Profile: profile, OpenBrowser: b.open})
	if err != nil {
		t.Fatal(err)
	}
	return res.Session.CachePath
}

func past() CacheTime { return CacheTime{time.Now().Add(-time.Hour).UTC().Truncate(time.Second)} }

// TestClassifySDK drives the SDK's credential chain against the fake into
// each way a login ends, and checks the error it returns is classified
// LoginRequired (or Transient for a dead network) — and that nothing in
// that path ever opens a browser (the fake's /authorize is never hit).
func TestClassifySDK(t *testing.T) {
	for _, c := range []struct {
		name    string
		profile string
		arrange func(t *testing.T, f *ssofake.Fake)
		want    Class
		wantAs  any // a typed error the SDK must return, if any
	}{
		{"cache missing", "icevault", func(t *testing.T, f *ssofake.Fake) {}, LoginRequired, nil},
		{"expired without refresh token", "icevault", func(t *testing.T, f *ssofake.Fake) {
			editToken(t, loggedIn(t, f, "icevault"), func(tok *Token) { tok.ExpiresAt, tok.RefreshToken = past(), "" })
		}, LoginRequired, nil},
		{"session ended (invalid_grant)", "icevault", func(t *testing.T, f *ssofake.Fake) {
			p := loggedIn(t, f, "icevault")
			f.EndSession()
			editToken(t, p, func(tok *Token) { tok.ExpiresAt = past() })
		}, LoginRequired, new(*ssooidctypes.InvalidGrantException)},
		{"client registration expired", "icevault", func(t *testing.T, f *ssofake.Fake) {
			p := loggedIn(t, f, "icevault")
			f.ExpireRegistrations()
			editToken(t, p, func(tok *Token) { tok.ExpiresAt, tok.RegistrationExpiresAt = past(), past() })
		}, LoginRequired, new(*ssooidctypes.InvalidClientException)},
		{"token revoked at the portal", "icevault", func(t *testing.T, f *ssofake.Fake) {
			loggedIn(t, f, "icevault")
			f.ExpireAccessTokens()
		}, LoginRequired, new(*ssotypes.UnauthorizedException)},
		{"legacy token expired", "legacy", func(t *testing.T, f *ssofake.Fake) {
			f.AutoApprove = true
			p := loggedIn(t, f, "legacy")
			editToken(t, p, func(tok *Token) { tok.ExpiresAt = past() })
		}, LoginRequired, new(*ssocreds.InvalidTokenError)},
		{"legacy cache missing", "legacy", func(t *testing.T, f *ssofake.Fake) {}, LoginRequired, new(*ssocreds.InvalidTokenError)},
		{"network down", "icevault", func(t *testing.T, f *ssofake.Fake) {
			loggedIn(t, f, "icevault")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			dead := "http://" + ln.Addr().String()
			ln.Close()
			t.Setenv("AWS_ENDPOINT_URL_SSO", dead)
		}, Transient, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t)
			c.arrange(t, f)
			authorize := f.Calls("Authorize")
			_, _, err := roleCreds(t, c.profile)
			if err == nil {
				t.Fatal("credentials resolved; want an error")
			}
			if got := Classify(err); got != c.want {
				t.Errorf("Classify(%v) = %v, want %v", err, got, c.want)
			}
			if c.wantAs != nil && !errors.As(err, c.wantAs) {
				t.Errorf("SDK error %v is not a %T", err, c.wantAs)
			}
			if f.Calls("Authorize") != authorize {
				t.Error("the credential path opened the authorize page")
			}
			// Status reads the same state without logging in.
			st, serr := GetStatus(context.Background(), StatusOptions{Profile: c.profile, RoleCredentials: true})
			if serr != nil {
				t.Fatal(serr)
			}
			if c.want == LoginRequired && c.name != "session ended (invalid_grant)" && !st.LoginRequired {
				t.Errorf("status %+v: want LoginRequired", st)
			}
			if f.Calls("Authorize") != authorize || f.Calls("CreateToken:refresh_token") > 1 {
				t.Error("status logged in or refreshed")
			}
		})
	}
}

// TestSDKRefreshesExpiredToken: an expired access token with a refresh
// token is renewed by the SDK through the fake, and the file stays the
// CLI's (the SDK keeps the fields it does not know).
func TestSDKRefreshesExpiredToken(t *testing.T) {
	f := setup(t)
	path := loggedIn(t, f, "icevault")
	before, _ := ReadToken(path)
	f.ExpireAccessTokens()
	editToken(t, path, func(tok *Token) { tok.ExpiresAt = past() })
	if _, creds, err := roleCreds(t, "icevault"); err != nil || creds.AccessKeyID != f.RoleAccessKeyID {
		t.Fatalf("SDK with an expired token and a refresh token: %q, %v", creds.AccessKeyID, err)
	}
	if n := f.Calls("CreateToken:refresh_token"); n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
	after := checkCacheFile(t, path, true)
	if after["accessToken"] == before.AccessToken || after["refreshToken"] == before.RefreshToken {
		t.Error("the SDK did not write the refreshed token back")
	}
	st, err := GetStatus(context.Background(), StatusOptions{Profile: "icevault", RoleCredentials: true})
	if err != nil || !st.AccessTokenValid || st.LoginRequired || st.RoleCredsExpiresAt.IsZero() {
		t.Errorf("status after refresh: %+v, %v", st, err)
	}
}

func TestStatusAndLogout(t *testing.T) {
	f := setup(t)
	st, err := GetStatus(context.Background(), StatusOptions{Profile: "icevault"})
	if err != nil || !st.LoginRequired || st.LoggedIn || st.SessionName != "icevault" {
		t.Fatalf("status before login: %+v, %v", st, err)
	}
	path := loggedIn(t, f, "icevault")
	st, err = GetStatus(context.Background(), StatusOptions{Profile: "icevault", RoleCredentials: true})
	if err != nil || st.LoginRequired || !st.AccessTokenValid || !st.RefreshToken || st.RegistrationExpiresAt.IsZero() ||
		st.RoleCredsExpiresAt.IsZero() || st.CachePath != path {
		t.Fatalf("status after login: %+v, %v", st, err)
	}
	editToken(t, path, func(tok *Token) { tok.ExpiresAt = past() })
	st, _ = GetStatus(context.Background(), StatusOptions{Profile: "icevault", RoleCredentials: true})
	if st.LoginRequired || st.AccessTokenValid || f.Calls("CreateToken:refresh_token") != 0 {
		t.Errorf("expired with refresh token: %+v (refreshes %d)", st, f.Calls("CreateToken:refresh_token"))
	}
	removed, err := Logout(context.Background(), "icevault")
	if err != nil || removed != path {
		t.Fatalf("Logout = %q, %v", removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cache still there: %v", err)
	}
	if removed, err := Logout(context.Background(), "icevault"); err != nil || removed != "" {
		t.Errorf("second Logout = %q, %v", removed, err)
	}
}
