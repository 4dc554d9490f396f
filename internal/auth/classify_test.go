package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	ssooidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
)

func TestIsLoginRequired(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"cache file missing", fmt.Errorf("failed to read cached SSO token file: %w", &fs.PathError{Op: "open", Path: "/home/u/.aws/sso/cache/x.json", Err: fs.ErrNotExist}), true},
		{"expired, no refresh token", errors.New("operation error S3: PutObject, get identity: get credentials: failed to refresh cached credentials, cached SSO token is expired, or not present, and cannot be refreshed"), true},
		{"legacy invalid token", fmt.Errorf("refresh: %w", &ssocreds.InvalidTokenError{}), true},
		{"session ended", fmt.Errorf("refresh: %w", &ssooidctypes.InvalidGrantException{}), true},
		{"client registration expired", fmt.Errorf("refresh: %w", &ssooidctypes.InvalidClientException{}), true},
		{"role credentials refused", fmt.Errorf("get role credentials: %w", &ssotypes.UnauthorizedException{}), true},
		{"network down", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"some other missing file", &fs.PathError{Op: "open", Path: "/tmp/x", Err: fs.ErrNotExist}, false},
		{"nil", nil, false},
	} {
		if got := IsLoginRequired(c.err); got != c.want {
			t.Errorf("%s: IsLoginRequired = %v, want %v", c.name, got, c.want)
		}
	}
}
