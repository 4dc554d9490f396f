package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// DefaultScope is what the AWS CLI registers for when sso_registration_scopes
// is not set; it is the scope that yields refresh tokens.
const DefaultScope = "sso:account:access"

// ErrNotSSO means the profile is not an IAM Identity Center profile, so
// there is nothing to log in to.
var ErrNotSSO = errors.New("not an IAM Identity Center (SSO) profile")

// Session is what a profile says about its IAM Identity Center login.
type Session struct {
	Profile   string
	Name      string // the sso-session name; "" for the legacy layout
	StartURL  string
	Region    string // sso_region
	AccountID string // sso_account_id
	RoleName  string // sso_role_name
	CachePath string // the token cache file the SDK reads

	cfg aws.Config // the SDK's config for the profile: endpoints, HTTP client
}

// Legacy reports the legacy layout (sso_start_url in the profile, no
// sso-session): its token is cached under the start URL's hash, carries no
// refresh token, and the AWS CLI logs it in with the device code only.
func (s Session) Legacy() bool { return s.Name == "" }

// ResolveProfile reads profile through the SDK's own config loading
// (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, HOME), so icevault and the
// SDK agree on the session and its cache file.
func ResolveProfile(ctx context.Context, profile string) (Session, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(profile))
	if err != nil {
		return Session{}, fmt.Errorf("loading AWS profile %q: %w", profile, err)
	}
	var sc *config.SharedConfig
	for _, src := range cfg.ConfigSources {
		if c, ok := src.(config.SharedConfig); ok {
			sc = &c
			break
		}
	}
	if sc == nil {
		return Session{}, fmt.Errorf("AWS profile %q: %w", profile, ErrNotSSO)
	}
	s := Session{Profile: profile, AccountID: sc.SSOAccountID, RoleName: sc.SSORoleName, cfg: cfg}
	key := ""
	switch {
	case sc.SSOSession != nil:
		s.Name, s.StartURL, s.Region = sc.SSOSession.Name, sc.SSOSession.SSOStartURL, sc.SSOSession.SSORegion
		key = s.Name
	case sc.SSOStartURL != "":
		s.StartURL, s.Region = sc.SSOStartURL, sc.SSORegion
		key = s.StartURL
	default:
		return Session{}, fmt.Errorf("AWS profile %q: %w (it has neither sso_session nor sso_start_url)", profile, ErrNotSSO)
	}
	if s.StartURL == "" || s.Region == "" {
		return Session{}, fmt.Errorf("AWS profile %q: the SSO configuration needs sso_start_url and sso_region", profile)
	}
	if s.CachePath, err = CachePath(key); err != nil {
		return Session{}, err
	}
	return s, nil
}
