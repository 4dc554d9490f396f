// Package auth is where icevault decides what an AWS credential problem
// means. Today it holds the one classifier for "the user must log in
// again" (DESIGN §2.7, §5); logins, keys and doctor build on it.
package auth

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	ssooidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
)

// IsLoginRequired reports whether err means the SSO session (or the cached
// token) is gone and only a new login helps. It never triggers a login.
func IsLoginRequired(err error) bool {
	if err == nil {
		return false
	}
	var invalidToken *ssocreds.InvalidTokenError
	var invalidGrant *ssooidctypes.InvalidGrantException
	var expiredRegistration *ssooidctypes.InvalidClientException
	var unauthorized *ssotypes.UnauthorizedException
	switch {
	case errors.As(err, &invalidToken), errors.As(err, &invalidGrant),
		errors.As(err, &expiredRegistration), errors.As(err, &unauthorized):
		return true
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(err.Error(), "sso"):
		// The token cache file is missing: never logged in, or logged out.
		return true
	}
	msg := err.Error()
	for _, s := range []string{
		"cached SSO token is expired, or not present, and cannot be refreshed",
		"the SSO session has expired or is invalid",
		"failed to refresh cached credentials, refresh cached SSO token failed",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
