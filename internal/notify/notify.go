package notify

import (
	"context"
	"errors"
	"fmt"
)

// Kind says what a notification is about. It decides urgency, expiry,
// rate limits and which earlier notification a new one replaces.
type Kind int

// The kinds the agent sends.
const (
	BackupFinished  Kind = iota + 1 // a run completed; short summary
	BackupFailed                    // a run failed; why and what to do
	LoginRequired                   // credentials expired; offers "Log in"
	RestoreReady                    // a thaw finished; the download starts
	RestoreComplete                 // every file of a restore job is written
)

var kindNames = map[Kind]string{
	BackupFinished:  "backup_finished",
	BackupFailed:    "backup_failed",
	LoginRequired:   "login_required",
	RestoreReady:    "restore_ready",
	RestoreComplete: "restore_complete",
}

// Kinds lists every kind, in a stable order.
func Kinds() []Kind {
	return []Kind{BackupFinished, BackupFailed, LoginRequired, RestoreReady, RestoreComplete}
}

// String returns the kind's configuration key, e.g. "backup_failed".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind is the inverse of Kind.String, for configuration files.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("notify: unknown notification kind %q", s)
}

func (k Kind) valid() bool { _, ok := kindNames[k]; return ok }

// Action is a button on a notification. Key comes back in Event.Action
// when the user clicks it; Label is what the user reads.
type Action struct {
	Key   string
	Label string
}

// The actions the agent offers. Their keys are what Event.Action carries.
var (
	ActionLogin = Action{Key: "login", Label: "Log in"}
	ActionOpen  = Action{Key: "open", Label: "Open dashboard"}
)

// Notification is one message to the user.
type Notification struct {
	Kind  Kind
	Title string // one line, e.g. "AWS login required"
	Body  string // plain text; servers may show only its first lines
	// Group is what the notification is about within its kind, e.g. the
	// repository name or the restore job ID. Rate limits and replacement
	// apply per (Kind, Group): a second "login required" replaces the first
	// rather than stacking, while two restore jobs each keep their own.
	Group string
	// Actions are offered as buttons where the server can show them. The
	// first one also answers a click on the notification itself.
	Actions []Action
}

// ID identifies a shown notification. 0 means "not shown": quiet or held
// back by a Limiter.
type ID uint32

// Notifier shows notifications. Implementations are safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (ID, error)
}

// Event is a user's answer to a notification, delivered to
// SystemOptions.OnEvent. Exactly one of Action and Closed is set.
type Event struct {
	ID     ID
	Kind   Kind
	Group  string
	Action string      // the clicked Action's Key
	Closed bool        // the notification went away
	Reason CloseReason // why, when Closed
}

// CloseReason is the freedesktop NotificationClosed reason.
type CloseReason uint32

// The reasons of the freedesktop specification.
const (
	ClosedExpired   CloseReason = 1
	ClosedDismissed CloseReason = 2 // by the user
	ClosedByCall    CloseReason = 3
	ClosedUnknown   CloseReason = 4
)

// System is the platform's notification service as Open returns it.
type System interface {
	Notifier
	// ActionsSupported reports whether the server, when last asked, could
	// show action buttons. Where it cannot, notifications are still shown
	// without them, and the agent relies on its tray menu for "Log in".
	ActionsSupported() bool
	// Close stops event delivery and releases the connection.
	Close() error
}

// SystemOptions configure Open.
type SystemOptions struct {
	// AppIcon is a freedesktop icon name or an absolute path; empty means
	// DefaultIcon.
	AppIcon string
	// OnEvent receives clicks and closes of this process's notifications,
	// one call at a time, from a goroutine of the notifier's. It must not
	// block for long; nil discards events.
	OnEvent func(Event)
	// Logf, if set, receives diagnostics (e.g. actions dropped because the
	// server lacks them). Library code never prints on its own.
	Logf func(format string, args ...any)
}

// AppName is the application name every notification carries.
const AppName = "icevault"

// DefaultIcon is a stock freedesktop icon name, present in every icon theme,
// used until icevault installs its own.
const DefaultIcon = "drive-harddisk"

// ErrUnavailable means there is no notification service: no session bus,
// no server on it, or a platform without one. The agent checks it with
// errors.Is and logs instead of notifying.
var ErrUnavailable = errors.New("notify: no notification service")

// UnavailableError says why there is no notification service. It matches
// ErrUnavailable with errors.Is.
type UnavailableError struct {
	Op  string // what was tried, e.g. "connect to the D-Bus session bus"
	Err error  // the underlying error, if any
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "notify: no notification service: " + e.Op
	}
	return fmt.Sprintf("notify: no notification service: %s: %v", e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

func (o SystemOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o SystemOptions) icon() string {
	if o.AppIcon != "" {
		return o.AppIcon
	}
	return DefaultIcon
}
