package main

import (
	"context"
	"errors"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/lock"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/store"
)

// Exit codes. They are part of icevault's interface (scripts, launchd and
// systemd act on them) and documented in docs/exit-codes.md; never renumber.
const (
	exitOK            = 0   // done
	exitError         = 1   // failed; the message says why
	exitUsage         = 2   // bad command line or configuration
	exitPartial       = 3   // done, but some files were skipped (see the warnings)
	exitLoginRequired = 4   // AWS login required: run `icevault login`, then re-run
	exitAccessDenied  = 5   // the IAM policy refused a call: see `icevault policy`, `icevault doctor`
	exitTransient     = 6   // S3 unreachable or throttling after retries: try again later
	exitNotReady      = 7   // data is archived or still thawing: wait, then `icevault restore resume`
	exitNotFound      = 8   // no such bucket, object, snapshot or repository
	exitLocked        = 9   // another icevault process is writing to this repository
	exitInterrupted   = 130 // stopped by Ctrl-C or SIGTERM; progress is kept
)

// usageError marks errors in how icevault was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	switch {
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), errors.Is(err, config.ErrNoConfig), errors.Is(err, repo.ErrNotInitialized):
		return exitUsage
	case errors.Is(err, errPartial):
		return exitPartial
	case errors.Is(err, errNotReady):
		return exitNotReady
	case errors.Is(err, lock.ErrLocked):
		return exitLocked
	case errors.Is(err, catalog.ErrNotFound):
		return exitNotFound
	}
	switch store.KindOf(err) {
	case store.KindLoginRequired:
		return exitLoginRequired
	case store.KindAccessDenied:
		return exitAccessDenied
	case store.KindTransient:
		return exitTransient
	case store.KindArchived, store.KindRestoreInProgress:
		return exitNotReady
	case store.KindNotFound:
		return exitNotFound
	}
	return exitError
}
