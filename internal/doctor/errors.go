package doctor

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// apiError is what an SDK error carries: S3/STS error code, HTTP status and
// the response headers (x-amz-bucket-region arrives even on 301 and 403).
type apiError struct {
	code   string
	status int
	region string // x-amz-bucket-region, if the response had it
}

func inspect(err error) apiError {
	var e apiError
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.code = ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		e.status = re.HTTPStatusCode()
		if re.Response != nil && re.Response.Response != nil {
			e.region = re.Response.Header.Get("x-amz-bucket-region")
		}
	}
	return e
}

// cause classifies err for the report: the credential classifier first
// (its errors come from the credential chain, without a code), then AWS's
// codes.
func (r *runner) cause(err error) Cause {
	if err == nil {
		return CauseNone
	}
	if r.d.IsLoginRequired(err) {
		return CauseLogin
	}
	e := inspect(err)
	switch e.code {
	case "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "InvalidToken", "RequestExpired":
		return CauseLogin
	case "InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "AuthFailure":
		return CauseCredentials
	case "RequestTimeTooSkewed":
		return CauseClock
	case "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden":
		return CauseAccess
	case "NoSuchBucket", "NotFound":
		return CauseNotFound
	case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "InternalError":
		return CauseNetwork
	}
	switch {
	case e.status == 403:
		return CauseAccess
	case e.status == 404:
		return CauseNotFound
	case e.status == 429 || e.status >= 500:
		return CauseNetwork
	case errors.Is(err, context.DeadlineExceeded):
		return CauseNetwork
	}
	var ne net.Error
	var maxErr *retry.MaxAttemptsError
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &ne) || errors.As(err, &maxErr) || errors.As(err, &sendErr) {
		return CauseNetwork
	}
	if e.code == "" && e.status == 0 {
		// No answer from AWS and not the network: the SDK could not get
		// credentials at all (no profile, no keys).
		var opErr *smithy.OperationError
		if !errors.As(err, &opErr) || isCredentialRetrieval(err) {
			return CauseCredentials
		}
	}
	return CauseOther
}

// isCredentialRetrieval reports whether the SDK failed before sending,
// while resolving credentials.
func isCredentialRetrieval(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if containsAny(e.Error(), "failed to retrieve credentials", "failed to refresh cached credentials", "no EC2 IMDS role found", "get identity:") {
			return true
		}
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
