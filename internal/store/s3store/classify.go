package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/store"
)

// classify translates an SDK error into a *store.Error. It is the one place
// where S3 error codes are interpreted.
func (s *Store) classify(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %q: %w", op, key, err)
	}
	e := &store.Error{Op: op, Key: key, Err: err}
	code, status := errorCode(err)
	e.Code = code
	e.Kind = kindOf(code, status)
	if e.Kind == store.KindPermanent && code == "" {
		switch {
		case s.opts.IsLoginRequired != nil && s.opts.IsLoginRequired(err):
			e.Kind = store.KindLoginRequired
		case isNetwork(err):
			e.Kind = store.KindTransient
		}
	}
	if e.Kind == store.KindNotFound && code == "NoSuchBucket" {
		e.Err = fmt.Errorf("bucket %q does not exist (or is in another account): check the bucket name in the repository config: %w", s.bucket, err)
	}
	if hint := hints[code]; hint != "" {
		e.Err = fmt.Errorf("%s: %w", hint, err)
	}
	return e
}

// hints say what to do about codes whose fix is not obvious from the code.
var hints = map[string]string{
	"InvalidAccessKeyId":    "the access key is not known to AWS: log in again (icevault login) or store working keys (icevault keys set)",
	"SignatureDoesNotMatch": "the secret key does not match the access key: store the right keys (icevault keys set)",
	"RequestTimeTooSkewed":  "this machine's clock is more than 15 minutes off: fix the system time",
	"ExpiredToken":          "the temporary credentials have expired: log in again (icevault login)",
	"AccessDenied":          "the IAM policy does not allow this call: compare it with `icevault policy`",
}

func kindOf(code string, status int) store.Kind {
	switch code {
	case "PreconditionFailed":
		return store.KindExists
	case "NoSuchKey", "NotFound", "NoSuchBucket":
		return store.KindNotFound
	case "InvalidObjectState":
		return store.KindArchived
	case "RestoreAlreadyInProgress":
		return store.KindRestoreInProgress
	case "AccessDenied", "Forbidden", "AllAccessDisabled", "AccountProblem":
		return store.KindAccessDenied
	case "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired",
		"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken":
		return store.KindLoginRequired
	case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
		"ServiceUnavailable", "InternalError", "RequestTimeout":
		return store.KindTransient
	}
	switch {
	case status == 412:
		return store.KindExists
	case status == 404:
		return store.KindNotFound
	case status == 429 || status >= 500:
		return store.KindTransient
	case status == 403 && code == "":
		return store.KindAccessDenied
	}
	return store.KindPermanent
}

// errorCode returns the S3 error code and HTTP status, if err carries them.
func errorCode(err error) (string, int) {
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func isNetwork(err error) bool {
	var ne net.Error
	var maxErr *retry.MaxAttemptsError
	var sendErr *smithyhttp.RequestSendError
	return errors.As(err, &ne) || errors.As(err, &maxErr) || errors.As(err, &sendErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
