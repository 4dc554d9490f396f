package auth

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	ssooidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class is what an AWS or credential error means for the user (DESIGN §2.7).
type Class int

const (
	None          Class = iota // no error
	LoginRequired              // the SSO session or the credentials are gone: log in again
	AccessDenied               // the IAM policy refused the call
	Transient                  // network or throttling: retry with backoff
	Permanent                  // anything else: the message says why
)

func (c Class) String() string {
	switch c {
	case None:
		return "none"
	case LoginRequired:
		return "login required"
	case AccessDenied:
		return "access denied"
	case Transient:
		return "transient"
	}
	return "permanent"
}

// IsLoginRequired reports whether err means the SSO session (or the cached
// token) is gone and only a new login helps. It never triggers a login.
func IsLoginRequired(err error) bool { return Classify(err) == LoginRequired }

// codes maps AWS error codes (S3, STS, SSO, SSO-OIDC) to classes.
var codes = map[string]Class{
	// Credentials that no longer work. Role credentials that expired mid-call
	// come back as ExpiredToken; the SDK fetches new ones while the SSO
	// session lives, so seeing it means the session behind them is gone.
	"ExpiredToken": LoginRequired, "ExpiredTokenException": LoginRequired,
	"TokenRefreshRequired": LoginRequired, "InvalidToken": LoginRequired,
	"InvalidAccessKeyId": LoginRequired, "InvalidClientTokenId": LoginRequired,
	"SignatureDoesNotMatch": LoginRequired, "UnauthorizedException": LoginRequired,
	"InvalidGrantException": LoginRequired, "InvalidClientException": LoginRequired,

	"AccessDenied": AccessDenied, "AccessDeniedException": AccessDenied,
	"Forbidden": AccessDenied, "ForbiddenException": AccessDenied,
	"AllAccessDisabled": AccessDenied, "AccountProblem": AccessDenied,
	"UnauthorizedOperation": AccessDenied,

	"Throttling": Transient, "ThrottlingException": Transient, "ThrottledException": Transient,
	"SlowDown": Transient, "SlowDownException": Transient, "RequestLimitExceeded": Transient,
	"TooManyRequestsException": Transient, "RequestThrottled": Transient,
	"RequestThrottledException": Transient, "ProvisionedThroughputExceededException": Transient,
	"ServiceUnavailable": Transient, "ServiceUnavailableException": Transient,
	"InternalError": Transient, "InternalFailure": Transient, "InternalServerException": Transient,
	"RequestTimeout": Transient, "RequestTimeoutException": Transient,
	"PriorRequestNotComplete": Transient, "AuthorizationPendingException": Transient,
}

// loginMessages are the SDK's untyped errors for a cache it cannot use
// (credentials/ssocreds): no refresh token, a file without a token.
var loginMessages = []string{
	"cached SSO token is expired, or not present, and cannot be refreshed",
	"cached SSO token must contain accessToken and expiresAt fields",
	"failed to parse cached SSO token file",
	"the SSO session has expired or is invalid",
}

// Classify is the one place AWS and credential errors are interpreted.
//
// Expired client registrations: the SDK never reads registrationExpiresAt;
// it sends the refresh with the stale client secret and SSO-OIDC answers
// InvalidClientException, which is LoginRequired here.
func Classify(err error) Class {
	if err == nil {
		return None
	}
	var (
		invalidToken *ssocreds.InvalidTokenError
		invalidGrant *ssooidctypes.InvalidGrantException
		invalidCl    *ssooidctypes.InvalidClientException
		expiredOIDC  *ssooidctypes.ExpiredTokenException
		unauthorized *ssotypes.UnauthorizedException
	)
	switch {
	case errors.As(err, &invalidToken), errors.As(err, &invalidGrant), errors.As(err, &invalidCl),
		errors.As(err, &expiredOIDC), errors.As(err, &unauthorized):
		return LoginRequired
	case errors.Is(err, context.Canceled):
		return Permanent // the caller stopped; it knows, nothing to retry
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if c, ok := codes[apiErr.ErrorCode()]; ok {
			return c
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch st := re.HTTPStatusCode(); {
		case st == 429 || st >= 500:
			return Transient
		case st == 403 && (apiErr == nil || apiErr.ErrorCode() == ""):
			return AccessDenied
		}
	}
	if errors.Is(err, fs.ErrNotExist) && strings.Contains(strings.ToLower(err.Error()), "sso") {
		// The token cache file is missing: never logged in, or logged out.
		return LoginRequired
	}
	msg := err.Error()
	for _, s := range loginMessages {
		if strings.Contains(msg, s) {
			return LoginRequired
		}
	}
	if isNetwork(err) {
		return Transient
	}
	return Permanent
}

func isNetwork(err error) bool {
	var ne net.Error
	var maxErr *retry.MaxAttemptsError
	var sendErr *smithyhttp.RequestSendError
	return errors.As(err, &ne) || errors.As(err, &maxErr) || errors.As(err, &sendErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH)
}
