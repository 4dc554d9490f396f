package store

import (
	"errors"
	"fmt"
)

// Kind classifies a store failure by what the caller should do about it
// (DESIGN §2.7).
type Kind int

// Failure kinds.
const (
	KindPermanent         Kind = iota // a bug or a bad request: do not retry
	KindExists                        // 412: create-only put found the key taken
	KindNotFound                      // no such key (or no such bucket)
	KindArchived                      // 403 InvalidObjectState: request a restore first
	KindRestoreInProgress             // the thaw has not finished yet
	KindAccessDenied                  // the policy refused: fix the policy, do not retry
	KindLoginRequired                 // credentials expired: log in, then resume
	KindTransient                     // throttled, 5xx, network: retried already, try later
)

func (k Kind) String() string {
	switch k {
	case KindExists:
		return "exists"
	case KindNotFound:
		return "not found"
	case KindArchived:
		return "archived"
	case KindRestoreInProgress:
		return "restore in progress"
	case KindAccessDenied:
		return "access denied"
	case KindLoginRequired:
		return "login required"
	case KindTransient:
		return "transient"
	}
	return "permanent"
}

// Sentinels for errors.Is; an *Error matches the one of its Kind.
var (
	ErrPermanent         = &kindError{KindPermanent}
	ErrExists            = &kindError{KindExists}
	ErrNotFound          = &kindError{KindNotFound}
	ErrArchived          = &kindError{KindArchived}
	ErrRestoreInProgress = &kindError{KindRestoreInProgress}
	ErrAccessDenied      = &kindError{KindAccessDenied}
	ErrLoginRequired     = &kindError{KindLoginRequired}
	ErrTransient         = &kindError{KindTransient}
)

// ErrNotArchived is the Err of the *Error (KindPermanent) a restore request
// gets for an object that is not in an archive storage class (S3: 403
// InvalidObjectState on RestoreObject). There is nothing to wait for: the
// object can be read directly.
var ErrNotArchived = errors.New("the object is not archived (not DEEP_ARCHIVE or GLACIER), so there is nothing to restore: read it directly")

type kindError struct{ kind Kind }

func (e *kindError) Error() string { return e.kind.String() }

// Error is a classified store failure: which operation on which key, the
// server's error code if there was one, and the underlying error.
type Error struct {
	Op   string // "put", "head", "list", "restore", "get"
	Key  string // object key or list prefix
	Kind Kind
	Code string // S3 error code (e.g. "InvalidObjectState"), if any
	Err  error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %q: %s", e.Op, e.Key, e.Kind)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(*kindError)
	return ok && k.kind == e.Kind
}

// KindOf returns the Kind of err: that of the first *Error in its chain, or
// KindPermanent.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, s := range []*kindError{ErrExists, ErrNotFound, ErrArchived, ErrRestoreInProgress,
		ErrAccessDenied, ErrLoginRequired, ErrTransient} {
		if errors.Is(err, s) {
			return s.kind
		}
	}
	return KindPermanent
}
