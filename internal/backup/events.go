package backup

import (
	"sync"

	"github.com/icevault/icevault/internal/scan"
)

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventStart    EventKind = iota + 1 // the run began
	EventFile                          // a file was read (or found unchanged)
	EventNotice                        // something the user should know; Notice is set
	EventUploaded                      // a pack was confirmed by S3; Pack and Size are set
	EventDone                          // the run finished; Summary is set
	EventProgress                      // periodic counters; Progress is set
	// EventCommittedEarlier: a stopped run's snapshot record reached the
	// bucket when this run uploaded its pack, so that snapshot is now
	// recorded too (Snapshot is its ID).
	EventCommittedEarlier
)

// Progress is a snapshot of a running backup's counters.
type Progress struct {
	Files         int64 // files done (read or found unchanged)
	BytesDone     int64 // bytes read plus the sizes of unchanged files
	BytesUploaded int64
	Packs         int64
}

// Event is the engine's only way to say anything (it never prints).
type Event struct {
	Kind     EventKind
	Snapshot string
	DryRun   bool
	Path     string // EventFile: the file's absolute path
	Size     int64  // EventFile: bytes; EventUploaded: pack bytes
	Changed  bool   // EventFile: the file was read (new or changed)
	Notice   *scan.Notice
	Pack     string // EventUploaded: object key
	Resumed  bool   // EventUploaded: sealed by an earlier run
	Summary  *Summary
	Progress *Progress
}

// serialized makes fn safe to call from several goroutines.
func serialized(fn func(Event)) func(Event) {
	var mu sync.Mutex
	return func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		fn(ev)
	}
}
