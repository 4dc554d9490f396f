package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"

	"github.com/icevault/icevault/internal/clock"
)

// Grant types, as SSO-OIDC spells them.
const (
	grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	grantAuthCode   = "authorization_code"
	grantRefresh    = "refresh_token"
)

// ErrAuthorizationExpired means the user did not approve the login in time.
var ErrAuthorizationExpired = errors.New("the login was not approved in time: run `icevault login` again")

// Prompt is what the user must see to approve a login.
type Prompt struct {
	// URL to open: the authorization page (PKCE) or the device page with
	// the code filled in (verificationUriComplete).
	URL string
	// UserCode is the device code flow's code to check on the page; "" for PKCE.
	UserCode string
	// VerificationURI is the device page without the code ("" for PKCE).
	VerificationURI string
	// BrowserErr is the opener's error, if it was called and failed.
	BrowserErr error
	// BrowserOpened is true when the opener was called and succeeded.
	BrowserOpened bool
}

// LoginOptions configure Login. Profile is required; the rest has defaults.
type LoginOptions struct {
	Profile string
	// DeviceCode uses the device authorization grant instead of the
	// authorization code with PKCE (for SSH sessions, or no local browser).
	// Legacy profiles always use it, as the AWS CLI does.
	DeviceCode bool
	// OpenBrowser opens a URL; nil means do not open one (--no-browser):
	// the URL is only shown through OnPrompt.
	OpenBrowser func(url string) error
	// OnPrompt shows the user what to do; called once, before waiting.
	OnPrompt func(Prompt)
	// Clock paces device code polling. Default clock.Real{}.
	Clock clock.Clock
	// ClientName is the name registered with SSO-OIDC; default
	// "icevault-<session>".
	ClientName string
}

// LoginResult says what was logged in and where the token went.
type LoginResult struct {
	Session   Session
	ExpiresAt time.Time
	Refresh   bool // a refresh token was issued: the SDK renews the access token by itself
}

// Login runs an IAM Identity Center login for opts.Profile and writes the
// token to the AWS CLI's cache, where the SDK (and `aws`) find it.
func Login(ctx context.Context, opts LoginOptions) (LoginResult, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	s, err := ResolveProfile(ctx, opts.Profile)
	if err != nil {
		return LoginResult{}, err
	}
	if opts.ClientName == "" {
		n := s.Name
		if n == "" {
			n = "legacy"
		}
		opts.ClientName = "icevault-" + n
	}
	client := ssooidc.NewFromConfig(s.cfg, func(o *ssooidc.Options) { o.Region = s.Region })
	var tok Token
	if opts.DeviceCode || s.Legacy() {
		tok, err = deviceLogin(ctx, client, s, opts)
	} else {
		tok, err = pkceLogin(ctx, client, s, opts)
	}
	if err != nil {
		return LoginResult{}, err
	}
	if err := WriteToken(s.CachePath, tok); err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Session: s, ExpiresAt: tok.ExpiresAt.Time, Refresh: tok.RefreshToken != ""}, nil
}

func (s Session) scopes() []string {
	if s.Legacy() {
		return nil // the CLI registers legacy clients without scopes
	}
	return []string{DefaultScope}
}

func prompt(opts LoginOptions, p Prompt) {
	if opts.OpenBrowser != nil {
		p.BrowserErr = opts.OpenBrowser(p.URL)
		p.BrowserOpened = p.BrowserErr == nil
	}
	if opts.OnPrompt != nil {
		opts.OnPrompt(p)
	}
}

func newToken(s Session, reg *ssooidc.RegisterClientOutput, out *ssooidc.CreateTokenOutput, now time.Time) Token {
	return Token{
		StartURL:              s.StartURL,
		Region:                s.Region,
		AccessToken:           aws.ToString(out.AccessToken),
		ExpiresAt:             CacheTime{now.Add(time.Duration(out.ExpiresIn) * time.Second).UTC().Truncate(time.Second)},
		ClientID:              aws.ToString(reg.ClientId),
		ClientSecret:          aws.ToString(reg.ClientSecret),
		RegistrationExpiresAt: CacheTime{time.Unix(reg.ClientSecretExpiresAt, 0).UTC()},
		RefreshToken:          aws.ToString(out.RefreshToken),
	}
}

// --- device code (RFC 8628) ---

// slowDownStep is RFC 8628 §3.5's extra wait after slow_down.
const slowDownStep = 5 * time.Second

func deviceLogin(ctx context.Context, c *ssooidc.Client, s Session, opts LoginOptions) (Token, error) {
	in := &ssooidc.RegisterClientInput{ClientName: aws.String(opts.ClientName), ClientType: aws.String("public"), Scopes: s.scopes()}
	if !s.Legacy() {
		in.GrantTypes = []string{grantDeviceCode, grantRefresh}
	}
	reg, err := c.RegisterClient(ctx, in)
	if err != nil {
		return Token{}, fmt.Errorf("registering with IAM Identity Center (%s): %w", s.Region, err)
	}
	auth, err := c.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, StartUrl: aws.String(s.StartURL)})
	if err != nil {
		return Token{}, fmt.Errorf("starting the device login: %w", err)
	}
	interval := time.Duration(auth.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628's default
	}
	deadline := opts.Clock.Now().Add(time.Duration(auth.ExpiresIn) * time.Second)
	create := &ssooidc.CreateTokenInput{ClientId: reg.ClientId, ClientSecret: reg.ClientSecret,
		GrantType: aws.String(grantDeviceCode), DeviceCode: auth.DeviceCode}
	// One attempt before prompting, as the AWS CLI does: a pre-approved
	// client needs no prompt at all.
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if auth.ExpiresIn > 0 && !opts.Clock.Now().Before(deadline) {
				return Token{}, ErrAuthorizationExpired
			}
			if err := opts.Clock.Sleep(ctx, interval); err != nil {
				return Token{}, err
			}
		}
		out, err := c.CreateToken(ctx, create)
		var pending *oidctypes.AuthorizationPendingException
		var slow *oidctypes.SlowDownException
		var expired *oidctypes.ExpiredTokenException
		switch {
		case err == nil:
			return newToken(s, reg, out, opts.Clock.Now()), nil
		case errors.As(err, &pending):
		case errors.As(err, &slow):
			interval += slowDownStep
		case errors.As(err, &expired):
			return Token{}, ErrAuthorizationExpired
		default:
			return Token{}, fmt.Errorf("waiting for the device login: %w", err)
		}
		if attempt == 0 {
			prompt(opts, Prompt{URL: aws.ToString(auth.VerificationUriComplete),
				VerificationURI: aws.ToString(auth.VerificationUri), UserCode: aws.ToString(auth.UserCode)})
		}
	}
}

// --- authorization code with PKCE (RFC 7636), loopback redirect (RFC 8252) ---

// callbackPath is the AWS CLI's loopback redirect path.
const callbackPath = "/oauth/callback"

// pkceTimeout bounds the wait for the browser, as the AWS CLI's 10 minutes.
const pkceTimeout = 10 * time.Minute

// newVerifier returns a PKCE code verifier: 64 characters from RFC 7636's
// unreserved set, like the AWS CLI's.
func newVerifier() string {
	const set = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	out := make([]byte, 0, 64)
	buf := make([]byte, 64)
	for len(out) < 64 {
		_, _ = rand.Read(buf)
		for _, c := range buf {
			// Rejection sampling keeps every character equally likely.
			if int(c) < 256-256%len(set) && len(out) < 64 {
				out = append(out, set[int(c)%len(set)])
			}
		}
	}
	return string(out)
}

// challengeS256 is BASE64URL(SHA256(verifier)) without padding.
func challengeS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// newState returns a random UUID (v4), the AWS CLI's state parameter.
func newState() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// AuthorizeURL builds the SSO-OIDC authorize URL the way the AWS CLI v2
// does (botocore SSOTokenFetcherAuth): response_type, client_id,
// redirect_uri, state, code_challenge_method, scopes (space separated),
// then code_challenge, percent-encoded.
func AuthorizeURL(base, clientID, redirectURI, state, challenge string, scopes []string) string {
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return strings.TrimRight(base, "/") + "/authorize?" +
		"response_type=code" +
		"&client_id=" + enc(clientID) +
		"&redirect_uri=" + enc(redirectURI) +
		"&state=" + enc(state) +
		"&code_challenge_method=S256" +
		"&scopes=" + enc(strings.Join(scopes, " ")) +
		"&code_challenge=" + challenge
}

// oidcBaseURL is where the client sends its requests (following
// AWS_ENDPOINT_URL_SSO_OIDC); /authorize is not a modeled operation, so it
// is resolved the way the client would resolve one.
func oidcBaseURL(ctx context.Context, c *ssooidc.Client) (string, error) {
	o := c.Options()
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, ssooidc.EndpointParameters{
		Region: aws.String(o.Region), Endpoint: o.BaseEndpoint})
	if err != nil {
		return "", fmt.Errorf("resolving the SSO-OIDC endpoint: %w", err)
	}
	u := ep.URI
	return u.Scheme + "://" + u.Host, nil
}

type callback struct {
	code, state, err string
}

func pkceLogin(ctx context.Context, c *ssooidc.Client, s Session, opts LoginOptions) (Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Token{}, fmt.Errorf("listening for the browser's redirect: %w (try --device-code)", err)
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, callbackPath)
	scopes := s.scopes()
	// Registered without the port, as the AWS CLI does: loopback redirects
	// may use any port (RFC 8252 §7.3).
	reg, err := c.RegisterClient(ctx, &ssooidc.RegisterClientInput{
		ClientName:   aws.String(opts.ClientName),
		ClientType:   aws.String("public"),
		GrantTypes:   []string{grantAuthCode, grantRefresh},
		RedirectUris: []string{"http://127.0.0.1" + callbackPath},
		IssuerUrl:    aws.String(s.StartURL),
		Scopes:       scopes,
	})
	if err != nil {
		return Token{}, fmt.Errorf("registering with IAM Identity Center (%s): %w", s.Region, err)
	}
	base, err := oidcBaseURL(ctx, c)
	if err != nil {
		return Token{}, err
	}
	verifier, state := newVerifier(), newState()
	authURL := AuthorizeURL(base, aws.ToString(reg.ClientId), redirect, state, challengeS256(verifier), scopes)

	got := make(chan callback, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != callbackPath {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		cb := callback{code: q.Get("code"), state: q.Get("state"), err: q.Get("error")}
		if cb.err == "" && cb.code == "" {
			http.Error(w, "missing code", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if cb.err != "" || cb.state != state {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "<!doctype html><title>icevault</title><p>The login failed. Return to the terminal.</p>\n")
		} else {
			fmt.Fprint(w, "<!doctype html><title>icevault</title><p>icevault is logged in. You can close this window.</p>\n")
		}
		select {
		case got <- cb:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	prompt(opts, Prompt{URL: authURL})

	wait, cancel := context.WithTimeout(ctx, pkceTimeout)
	defer cancel()
	var cb callback
	select {
	case <-wait.Done():
		if ctx.Err() != nil {
			return Token{}, ctx.Err()
		}
		return Token{}, ErrAuthorizationExpired
	case cb = <-got:
	}
	switch {
	case cb.err != "":
		return Token{}, fmt.Errorf("the login was refused: %s", cb.err)
	case cb.state != state:
		return Token{}, errors.New("the browser's redirect carried the wrong state parameter: login aborted")
	}
	out, err := c.CreateToken(ctx, &ssooidc.CreateTokenInput{
		ClientId: reg.ClientId, ClientSecret: reg.ClientSecret, GrantType: aws.String(grantAuthCode),
		Code: aws.String(cb.code), CodeVerifier: aws.String(verifier), RedirectUri: aws.String(redirect)})
	if err != nil {
		var expired *oidctypes.ExpiredTokenException
		if errors.As(err, &expired) {
			return Token{}, ErrAuthorizationExpired
		}
		return Token{}, fmt.Errorf("exchanging the authorization code: %w", err)
	}
	return newToken(s, reg, out, opts.Clock.Now()), nil
}
