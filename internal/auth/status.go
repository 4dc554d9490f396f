package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
)

// LoginRequiredMessage is what icevault tells a user whose session is gone.
const LoginRequiredMessage = "AWS login required: run `icevault login`"

// Status describes a profile's IAM Identity Center login, read from the
// token cache without refreshing or logging in.
type Status struct {
	Profile     string `json:"profile"`
	SessionName string `json:"sso_session,omitempty"` // "" for the legacy layout
	StartURL    string `json:"start_url"`
	Region      string `json:"sso_region"`
	CachePath   string `json:"cache_file"`

	LoggedIn              bool      `json:"logged_in"` // a cache file with a token exists
	AccessTokenExpiresAt  time.Time `json:"access_token_expires_at,omitzero"`
	AccessTokenValid      bool      `json:"access_token_valid"`
	RefreshToken          bool      `json:"refresh_token"`
	RegistrationExpiresAt time.Time `json:"client_registration_expires_at,omitzero"`

	// Role credentials, fetched only while the access token is valid (one
	// GetRoleCredentials call; nothing is cached or refreshed).
	AccountID          string    `json:"account_id,omitempty"`
	RoleName           string    `json:"role_name,omitempty"`
	RoleCredsExpiresAt time.Time `json:"role_credentials_expire_at,omitzero"`
	RoleCredsError     string    `json:"role_credentials_error,omitempty"`

	// LoginRequired is set when only a new login helps; Message says why.
	LoginRequired bool   `json:"login_required"`
	Message       string `json:"message,omitempty"`
}

// StatusOptions configure GetStatus.
type StatusOptions struct {
	Profile string
	// RoleCredentials asks the portal for role credentials when the access
	// token is valid, to show their expiry and catch a revoked session.
	RoleCredentials bool
	Now             func() time.Time // default time.Now: the SDK judges expiry by wall time
}

// GetStatus reports the login state of opts.Profile. It never logs in and
// never refreshes the token (the SDK does that on first use).
func GetStatus(ctx context.Context, opts StatusOptions) (Status, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s, err := ResolveProfile(ctx, opts.Profile)
	if err != nil {
		return Status{}, err
	}
	st := Status{Profile: s.Profile, SessionName: s.Name, StartURL: s.StartURL, Region: s.Region,
		CachePath: s.CachePath, AccountID: s.AccountID, RoleName: s.RoleName}
	tok, err := ReadToken(s.CachePath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.LoginRequired, st.Message = true, LoginRequiredMessage+" (not logged in)"
		return st, nil
	case err != nil:
		st.LoginRequired, st.Message = true, LoginRequiredMessage+" (the token cache is unreadable)"
		return st, nil
	}
	now := opts.Now()
	st.LoggedIn = tok.AccessToken != ""
	st.AccessTokenExpiresAt = tok.ExpiresAt.Time
	st.AccessTokenValid = st.LoggedIn && now.Before(tok.ExpiresAt.Time)
	// The SDK refreshes only with all three (ssocreds refreshToken).
	st.RefreshToken = tok.RefreshToken != "" && tok.ClientID != "" && tok.ClientSecret != ""
	st.RegistrationExpiresAt = tok.RegistrationExpiresAt.Time
	regValid := tok.RegistrationExpiresAt.IsZero() || now.Before(tok.RegistrationExpiresAt.Time)
	// The SDK refreshes sso-session tokens only; a legacy profile's token
	// is used until it expires (ssocreds.Provider without a token provider).
	canRefresh := st.RefreshToken && !s.Legacy()
	switch {
	case !st.AccessTokenValid && !canRefresh:
		st.LoginRequired, st.Message = true, LoginRequiredMessage+" (the session has expired)"
	case !st.AccessTokenValid && !regValid:
		st.LoginRequired, st.Message = true, LoginRequiredMessage+" (the client registration has expired)"
	case !st.AccessTokenValid:
		st.Message = "the access token has expired; the SDK will renew it with the refresh token on first use"
	}
	if opts.RoleCredentials && st.AccessTokenValid && s.AccountID != "" && s.RoleName != "" {
		client := sso.NewFromConfig(s.cfg, func(o *sso.Options) { o.Region = s.Region })
		out, err := client.GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
			AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(s.AccountID), RoleName: aws.String(s.RoleName)})
		switch {
		case err != nil:
			st.RoleCredsError = err.Error()
			if Classify(err) == LoginRequired {
				st.LoginRequired, st.Message = true, LoginRequiredMessage+" (the portal refused the access token)"
			}
		case out.RoleCredentials != nil:
			st.RoleCredsExpiresAt = time.UnixMilli(out.RoleCredentials.Expiration).UTC()
		}
	}
	return st, nil
}

// Logout removes the profile's token from the cache and returns the file
// it removed ("" if there was none). Like `aws sso logout`, it ends the
// login for every tool sharing the cache.
func Logout(ctx context.Context, profile string) (string, error) {
	s, err := ResolveProfile(ctx, profile)
	if err != nil {
		return "", err
	}
	err = os.Remove(s.CachePath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("removing the SSO token cache: %w", err)
	}
	return s.CachePath, nil
}
