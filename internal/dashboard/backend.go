package dashboard

import (
	"context"
	"errors"
	"time"
)

// Backend is everything the pages ask for. Repository names are the
// config's; snapshot IDs may be given in full.
type Backend interface {
	// Overview is what the agent is doing and each repository's last and
	// next backup.
	Overview(ctx context.Context) (Overview, error)
	// Repos names the configured repositories, the default one first.
	Repos(ctx context.Context) ([]string, error)
	// Snapshots lists a repository's snapshots, newest first.
	Snapshots(ctx context.Context, repo string) ([]Snapshot, error)
	// List is the folder dir of a snapshot; "/" is the backed-up folders.
	List(ctx context.Context, repo, snapshot, dir string) (Listing, error)
	// Quote prices a restore without starting it (from the catalog alone).
	Quote(ctx context.Context, repo string, r RestoreRequest) (Quote, error)
	// StartRestore asks S3 to thaw what r needs and records the job, as
	// `icevault restore ... --yes` does; it returns the job's number.
	StartRestore(ctx context.Context, repo string, r RestoreRequest) (int64, error)
	// Jobs lists a repository's restore jobs, newest first, with their
	// progress as the catalog records it.
	Jobs(ctx context.Context, repo string) ([]Job, error)
	// Usage is what the repository stored and cost per month over time.
	Usage(ctx context.Context, repo string) (Usage, error)
}

// Errors a Backend wraps so that the page can say what to do. Any other
// error is shown with its message as something that went wrong.
var (
	ErrBusy          = errors.New("the repository is busy")         // another process holds its writer lock
	ErrNotFound      = errors.New("not found")                      // no such repository, snapshot, path or job
	ErrInvalid       = errors.New("invalid request")                // the request cannot be done as asked
	ErrLoginRequired = errors.New("AWS login required")             // the credentials need a login
	ErrConflict      = errors.New("files exist at the destination") // a restore would replace files
)

// State is what the agent is doing.
type State string

// Agent states.
const (
	StateIdle          State = "idle"
	StateBackingUp     State = "backing-up"
	StatePaused        State = "paused"
	StateLoginRequired State = "login-required"
	StateError         State = "error"
)

// Overview is the agent's state and each repository's backups.
type Overview struct {
	State     State
	Percent   float64 // while backing up: 0–100
	StateRepo string  // the repository the state is about, if one
	Detail    string  // for paused, login required and error: what happened and what to do
	// Agent is false when no agent answers (the dashboard was started
	// without one): nothing is scheduled then.
	Agent       bool
	Credentials Credentials
	Repos       []RepoStatus
}

// Credentials says whether AWS access works, never what it is.
type Credentials struct {
	Checked bool // false: nothing has checked them (no agent)
	OK      bool
	Summary string // e.g. "SSO session valid until 18:40", "Keychain keys", "Login required"
}

// RepoStatus is one repository's last and next backup.
type RepoStatus struct {
	Name       string
	LastBackup time.Time // zero: never backed up
	LastResult string    // a short summary, or why it failed
	LastOK     bool
	NextRun    time.Time // zero: not scheduled
}

// Snapshot is one backup.
type Snapshot struct {
	ID    string
	Time  time.Time
	Host  string
	Paths []string
	Tags  []string
	Files int64 // files in the snapshot (0 if unknown)
	Bytes int64 // their size (0 if unknown)
}

// Entry is one file, folder or symlink in a snapshot.
type Entry struct {
	Name   string
	Path   string // absolute, as backed up
	Type   string // "dir", "file" or "symlink"
	Size   int64
	MTime  time.Time
	Target string // of a symlink
}

// Listing is one folder of a snapshot.
type Listing struct {
	Snapshot Snapshot
	Dir      string // "/" for the backed-up folders themselves
	Entries  []Entry
}

// RestoreRequest is what to restore, how and where.
type RestoreRequest struct {
	Snapshot string
	Paths    []string // absolute paths in the snapshot
	Tier     string   // "standard" or "bulk"
	Days     int      // how long S3 keeps the thawed copies
	Target   string   // the folder to restore into
}

// Quote is what a restore costs and when it will be ready.
type Quote struct {
	Files     int
	FileBytes int64
	Packs     int   // objects to thaw
	PackBytes int64 // bytes to thaw (Deep Archive thaws whole packs)
	Days      int
	Tiers     []TierQuote // standard, then bulk
	Note      string      // assumptions, e.g. about free egress
}

// TierQuote is a restore's price and time at one tier.
type TierQuote struct {
	Tier      string // "standard" or "bulk"
	ReadyBy   time.Time
	Requests  float64 // restore requests, USD
	Retrieval float64 // per GB thawed
	Copy      float64 // the thawed copy, billed at Standard for its days
	Download  float64 // GETs and egress
	Total     float64
}

// Job is a restore job and its progress.
type Job struct {
	ID       int64
	State    string // "active", "done" or "cancelled"
	Snapshot string
	Paths    []string
	Target   string
	Tier     string
	Days     int
	Created  time.Time
	Finished time.Time

	Pending, Thawing, Ready, Downloaded int   // packs in each state
	Bytes, BytesLocal                   int64 // all packs; downloaded ones
	Files, FilesRestored                int
	ETA                                 time.Time // when the last thawing pack should be ready
}

// Usage is what a repository stored over time.
type Usage struct {
	Points     []UsagePoint // oldest first; the last one is now
	PricesAsOf string
}

// UsagePoint is the repository after a backup.
type UsagePoint struct {
	Time    time.Time
	Objects int64
	Bytes   int64
	Monthly float64 // USD per month for storing it
}
