package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/store"
)

// Store is what a restore needs of the bucket.
type Store interface {
	Head(ctx context.Context, key string) (store.ObjectInfo, error)
	List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error]
	RequestRestore(ctx context.Context, key string, days int, tier store.Tier) (store.RestoreResult, error)
	Get(ctx context.Context, key string, r *store.Range) (io.ReadCloser, error)
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventRequested   EventKind = iota + 1 // a thaw was requested (Key, Result)
	EventReady                            // a pack finished thawing (Key, Expiry)
	EventRerequested                      // a restored copy expired or was about to: asked again (Key)
	EventDownloaded                       // a pack was downloaded and verified (Key, Size)
	EventRestored                         // a file was written (Path)
	EventDone                             // the job finished
)

// Event is the only way this package says anything.
type Event struct {
	Kind   EventKind
	Job    int64
	Key    string
	Path   string
	Size   int64
	Result store.RestoreResult
	Expiry time.Time
	Reason string
}

// Options shape a job's work.
type Options struct {
	Clock  clock.Clock
	Events func(Event)
	// RequestInterval spaces restore requests: S3 takes thousands per
	// second, a restore of a few thousand packs takes a minute at 20/s, and
	// nobody's bucket gets throttled by it. Default 50ms.
	RequestInterval time.Duration
	// RenewWithin: a restored copy that expires sooner than this and is not
	// downloaded yet is asked for again (which extends it). Default 6h:
	// downloads start as soon as a copy is ready, so only a stalled job
	// gets this close, and a shorter margin never re-requests a fresh
	// one-day copy.
	RenewWithin time.Duration
	// Downloaders fetch packs in parallel. Default 3: downloads are bound
	// by the network, and each writes straight to a file.
	Downloaders int
}

func (o *Options) defaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Events == nil {
		o.Events = func(Event) {}
	}
	if o.RequestInterval <= 0 {
		o.RequestInterval = 50 * time.Millisecond
	}
	if o.RenewWithin <= 0 {
		o.RenewWithin = 6 * time.Hour
	}
	if o.Downloaders <= 0 {
		o.Downloaders = 3
	}
}

// Job kinds (catalog.Job.Kind).
const (
	// KindRestore thaws, downloads and writes files: what Start records.
	KindRestore = "restore"
	// KindRecover is a recovery's: either the objects a catalog rebuild
	// reads (cmd/icevault thaws and downloads them, in a job kept beside
	// the catalog it rebuilds), or a thaw-only job (see StartThaw).
	KindRecover = "recover"
)

// ThawOnly reports whether j is a thaw-only job (StartThaw's).
func ThawOnly(j catalog.Job) bool {
	var q Quote
	return j.Kind == KindRecover && json.Unmarshal(j.Quote, &q) == nil && q.ThawOnly
}

// ErrConflict is Start's refusal to replace existing files.
var ErrConflict = errors.New("files already exist where the restore would write")

// Start checks that the restore will not replace anything (unless
// overwrite), records the job, and requests the thaw of every pack.
func Start(ctx context.Context, cat *catalog.Catalog, st Store, p *Plan, q Quote, target string, tier store.Tier, days int, overwrite bool, o Options) (int64, error) {
	o.defaults()
	if !filepath.IsAbs(target) {
		return 0, fmt.Errorf("restore target %q must be an absolute path", target)
	}
	if !overwrite {
		var conflicts []string
		for _, it := range p.Items {
			if it.Node.Type == "dir" {
				continue
			}
			if _, err := os.Lstat(destPath(target, it.Path)); err == nil {
				conflicts = append(conflicts, destPath(target, it.Path))
			}
		}
		if len(conflicts) > 0 {
			more := ""
			if len(conflicts) > 3 {
				more = fmt.Sprintf(" and %d more", len(conflicts)-3)
				conflicts = conflicts[:3]
			}
			return 0, fmt.Errorf("%w: %s%s; nothing was requested: restore somewhere else with --to, or allow replacing them with --overwrite",
				ErrConflict, strings.Join(conflicts, ", "), more)
		}
	}
	var objs []catalog.JobObject
	for _, pk := range p.Packs {
		objs = append(objs, catalog.JobObject{Key: pk.Key, Size: pk.Size, SHA256: pk.SHA256})
	}
	quote, _ := json.Marshal(q)
	id, err := cat.CreateJob(ctx, catalog.Job{Kind: KindRestore, Snapshot: p.Snapshot.ID, Paths: p.Paths, Target: target,
		Tier: string(tier), Days: days, Overwrite: overwrite, Created: o.Clock.Now(), Quote: quote}, objs)
	if err != nil {
		return 0, err
	}
	return id, RequestPending(ctx, cat, st, id, o)
}

// StartThaw records a thaw-only job for objs and requests them at the
// same pace as a restore: `recover --all-data` asks for every data pack in
// the same round as the metadata, so that the restore after it needs no
// second wait. It downloads nothing and is done once every object is
// thawed; the restore that follows asks again, which S3 answers at once
// (200) for a thawed copy, extending it. Step, Refresh, JobStatus and
// Cancel work on it as on any job.
func StartThaw(ctx context.Context, cat *catalog.Catalog, st Store, objs []PackRef, q Quote, tier store.Tier, days int, o Options) (int64, error) {
	o.defaults()
	var jobj []catalog.JobObject
	for _, pk := range objs {
		jobj = append(jobj, catalog.JobObject{Key: pk.Key, Size: pk.Size, SHA256: pk.SHA256})
	}
	q.ThawOnly = true
	quote, _ := json.Marshal(q)
	id, err := cat.CreateJob(ctx, catalog.Job{Kind: KindRecover, Tier: string(tier), Days: days, Created: o.Clock.Now(), Quote: quote}, jobj)
	if err != nil {
		return 0, err
	}
	return id, RequestPending(ctx, cat, st, id, o)
}

// CopyJob records job id of from, with every object's state, in to, and
// returns its ID there. A recovery moves its thaw job into the catalog it
// rebuilt this way, so that `restore status` and the agent follow it.
func CopyJob(ctx context.Context, from, to *catalog.Catalog, id int64) (int64, error) {
	j, err := from.Job(ctx, id)
	if err != nil {
		return 0, err
	}
	objs, err := from.JobObjects(ctx, id)
	if err != nil {
		return 0, err
	}
	nid, err := to.CreateJob(ctx, j, objs)
	if err != nil {
		return 0, err
	}
	for _, obj := range objs {
		if err := to.UpdateJobObject(ctx, nid, obj); err != nil {
			return nid, err
		}
	}
	if j.State != "active" {
		if err := to.FinishJob(ctx, nid, j.State, j.Finished); err != nil {
			return nid, err
		}
	}
	return nid, nil
}

// RequestPending asks S3 to thaw every object of the job not requested
// yet (all of them after Start; the rest after an interrupted Start).
func RequestPending(ctx context.Context, cat *catalog.Catalog, st Store, job int64, o Options) error {
	o.defaults()
	j, err := cat.Job(ctx, job)
	if err != nil {
		return err
	}
	objs, err := cat.JobObjects(ctx, job)
	if err != nil {
		return err
	}
	first := true
	for _, obj := range objs {
		if obj.State != catalog.ObjPending {
			continue
		}
		if !first {
			// Pacing is about S3's request rate, in real time, whatever
			// clock the job's schedule runs on.
			if err := (clock.Real{}).Sleep(ctx, o.RequestInterval); err != nil {
				return err
			}
		}
		first = false
		if err := request(ctx, cat, st, j, &obj, o); err != nil {
			return err
		}
	}
	return nil
}

// request asks for one thaw and records the answer.
func request(ctx context.Context, cat *catalog.Catalog, st Store, j catalog.Job, obj *catalog.JobObject, o Options) error {
	res, err := st.RequestRestore(ctx, obj.Key, j.Days, store.Tier(j.Tier))
	if err != nil {
		return fmt.Errorf("requesting the thaw of %s: %w", obj.Key, err)
	}
	obj.Requests++
	obj.Requested = o.Clock.Now()
	if res == store.RestoreAlreadyRestored {
		obj.State = catalog.ObjReady // its expiry is read by the next Refresh
	} else {
		obj.State = catalog.ObjThawing
	}
	o.Events(Event{Kind: EventRequested, Job: j.ID, Key: obj.Key, Result: res})
	return cat.UpdateJobObject(ctx, j.ID, *obj)
}

// destPath is where a snapshot path is restored under target: its full
// path, so folders from different roots never collide.
func destPath(target, snapPath string) string {
	return filepath.Join(target, filepath.FromSlash(snapPath))
}
