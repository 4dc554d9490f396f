package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/scan"
	"github.com/icevault/icevault/internal/store"
)

// Store is all a backup needs of the bucket: it writes, and never reads an
// object back (DESIGN §2.2); HEAD only reconciles packs a stopped run left.
type Store interface {
	Put(ctx context.Context, p store.PutRequest) (store.PutResult, error)
	Head(ctx context.Context, key string) (store.ObjectInfo, error)
}

// Options configure one run.
type Options struct {
	Paths  []string // absolute paths of the folders to back up
	Tags   []string
	Host   string
	Scan   scan.Options
	DryRun bool // read and chunk, count what would be uploaded, write nothing
	// Readers read and chunk files in parallel. Default 2: chunking and
	// hashing are CPU-bound and the target machine has two cores, with the
	// packer's compression and encryption on the other.
	Readers int
	// Uploaders PUT packs in parallel. Default 4: uploads are bound by the
	// network, and each holds only an open file, never a pack in memory.
	Uploaders int
	SpoolDir  string // where sealed packs wait for upload (next to the catalog)
	Clock     clock.Clock
	Prices    cost.Prices
	Events    func(Event) // may be nil; called from several goroutines, one at a time
}

// Summary is what a run did.
type Summary struct {
	SnapshotID     string  `json:"snapshot_id,omitempty"`
	Unchanged      bool    `json:"unchanged,omitempty"` // nothing changed: no new snapshot, SnapshotID is the latest
	DryRun         bool    `json:"dry_run,omitempty"`
	FilesNew       int64   `json:"files_new"`
	FilesChanged   int64   `json:"files_changed"`
	FilesUnchanged int64   `json:"files_unchanged"`
	Dirs           int64   `json:"dirs"`
	BytesRead      int64   `json:"bytes_read"`
	BytesAdded     int64   `json:"bytes_added"`    // new blob bytes before compression
	BytesUploaded  int64   `json:"bytes_uploaded"` // pack bytes sent to S3
	Packs          int64   `json:"packs"`
	PutRequests    int64   `json:"put_requests"`
	ResumedPacks   int64   `json:"resumed_packs,omitempty"`
	Warnings       int     `json:"warnings"`
	MonthlyCost    float64 `json:"monthly_cost_added_usd"`
	RequestCost    float64 `json:"request_cost_usd"`
	Seconds        float64 `json:"seconds"`
}

// Partial reports whether some files could not be backed up.
func (s Summary) Partial() bool { return s.Warnings > 0 }

// counters are updated by many goroutines.
type counters struct {
	filesNew, filesChanged, filesUnchanged, dirs atomic.Int64
	bytesRead, bytesAdded, bytesUploaded         atomic.Int64
	bytesUnchanged                               atomic.Int64
	packs, puts, resumed                         atomic.Int64
	warnings                                     atomic.Int64
}

// engine is one run.
type engine struct {
	repo  *repo.Repo
	cat   *catalog.Catalog
	st    Store
	opts  Options
	clk   clock.Clock
	c     counters
	snap  string
	start time.Time
	run   int64
	emit  func(Event)
	// unchangedSince is the snapshot a run that found nothing new left standing.
	unchangedSince string
	committed      bool
}

// Run backs up opts.Paths into r.
func Run(ctx context.Context, r *repo.Repo, cat *catalog.Catalog, st Store, opts Options) (Summary, error) {
	if len(opts.Paths) == 0 {
		return Summary{}, errors.New("nothing to back up: name folders on the command line or set sources in the config")
	}
	for _, p := range opts.Paths {
		if !filepath.IsAbs(p) {
			return Summary{}, fmt.Errorf("backup path %q must be absolute", p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return Summary{}, fmt.Errorf("cannot back up %s: %w", p, err)
		}
		if !fi.IsDir() {
			return Summary{}, fmt.Errorf("cannot back up %s: not a folder (back up the folder that holds it)", p)
		}
	}
	if opts.Readers <= 0 {
		opts.Readers = 2
	}
	if opts.Uploaders <= 0 {
		opts.Uploaders = 4
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Prices.AsOf == "" {
		opts.Prices = cost.Default
	}
	if opts.SpoolDir == "" && !opts.DryRun {
		return Summary{}, errors.New("backup: no spool directory")
	}
	e := &engine{repo: r, cat: cat, st: st, opts: opts, clk: opts.Clock, emit: func(Event) {}}
	if opts.Events != nil {
		e.emit = serialized(opts.Events)
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return Summary{}, err
	}
	e.snap = hex.EncodeToString(idb[:])
	e.start = e.clk.Now()
	e.emit(Event{Kind: EventStart, Snapshot: e.snap, DryRun: opts.DryRun})

	stopTicker := e.tick(ctx)
	err := e.run0(ctx)
	stopTicker()
	sum := e.summary()
	if err != nil {
		return sum, err
	}
	e.emit(Event{Kind: EventDone, Summary: &sum})
	return sum, nil
}

func (e *engine) summary() Summary {
	s := Summary{
		DryRun:         e.opts.DryRun,
		FilesNew:       e.c.filesNew.Load(),
		FilesChanged:   e.c.filesChanged.Load(),
		FilesUnchanged: e.c.filesUnchanged.Load(),
		Dirs:           e.c.dirs.Load(),
		BytesRead:      e.c.bytesRead.Load(),
		BytesAdded:     e.c.bytesAdded.Load(),
		BytesUploaded:  e.c.bytesUploaded.Load(),
		Packs:          e.c.packs.Load(),
		PutRequests:    e.c.puts.Load(),
		ResumedPacks:   e.c.resumed.Load(),
		Warnings:       int(e.c.warnings.Load()),
		Seconds:        e.clk.Now().Sub(e.start).Seconds(),
	}
	switch {
	case e.unchangedSince != "":
		s.SnapshotID, s.Unchanged = e.unchangedSince, true
	case e.committed:
		s.SnapshotID = e.snap
	}
	stored := s.BytesUploaded
	if s.DryRun {
		stored = s.BytesAdded
	}
	s.MonthlyCost = e.opts.Prices.StorageMonth(s.Packs, stored)
	s.RequestCost = e.opts.Prices.Puts(s.PutRequests)
	return s
}

func (e *engine) run0(ctx context.Context) error {
	if !e.opts.DryRun {
		if err := os.MkdirAll(e.opts.SpoolDir, 0o700); err != nil {
			return fmt.Errorf("creating the spool directory: %w", err)
		}
		// Packs a stopped run sealed but S3 never confirmed go first.
		if err := e.resume(ctx); err != nil {
			return err
		}
	}
	run, err := e.cat.NextRun(ctx)
	if err != nil {
		return err
	}
	e.run = run

	// Uploaders fail the whole run (login required, access denied), so
	// they share one context with the producers; uploads is closed only
	// when both packers are done.
	g, gctx := errgroup.WithContext(ctx)
	uploads := make(chan sealedPack, e.opts.Uploaders)
	data := newPacker(e, catalog.PackData, toChannel(uploads))
	meta := newPacker(e, catalog.PackMeta, toChannel(uploads))
	blobs := make(chan blob, 8) // bounded: at most 8 chunks (≤ 64 MiB) queued for the packer
	jobs := make(chan *fileJob, 2*e.opts.Readers)

	for range e.opts.Uploaders {
		g.Go(func() error { return e.uploader(gctx, uploads) })
	}
	var roots []rootResult
	g.Go(func() error {
		var producers errgroup.Group
		producers.Go(func() error {
			for b := range blobs {
				if err := data.add(gctx, b); err != nil {
					// Keep draining so readers blocked on a send finish.
					for range blobs {
					}
					return err
				}
			}
			return data.seal(gctx)
		})
		var readers errgroup.Group
		for range e.opts.Readers {
			readers.Go(func() error { return e.reader(gctx, jobs, blobs) })
		}
		producers.Go(func() error {
			var err error
			roots, err = e.walkRoots(gctx, jobs, meta)
			close(jobs)
			rerr := readers.Wait()
			close(blobs)
			return errors.Join(err, rerr)
		})
		// The metadata pack stays open: the root tree, pack indexes and
		// the snapshot record join the trees in it, so a small backup
		// costs one data pack and one metadata pack.
		err := producers.Wait()
		close(uploads)
		return err
	})
	if err := g.Wait(); err != nil {
		return firstCause(err)
	}
	if e.opts.DryRun {
		return nil
	}
	// From here on metadata packs are uploaded one by one, in order, so
	// the one holding the snapshot record is confirmed last.
	meta.onSeal = func(ctx context.Context, sp sealedPack) error { return e.upload(ctx, sp, false) }
	return e.commit(ctx, roots, meta)
}

// firstCause prefers a classified store error (login required, access
// denied) over the context cancellations it caused in other goroutines.
func firstCause(err error) error {
	var se *store.Error
	if errors.As(err, &se) {
		return se
	}
	return err
}

// summaryJSON is stored with the snapshot.
func (s Summary) summaryJSON() json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// tick reports progress five times a second until stopped. It only paces
// the display; nothing in the backup waits on it.
func (e *engine) tick(ctx context.Context) func() {
	if e.opts.Events == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.emit(Event{Kind: EventProgress, Progress: &Progress{
					Files:         e.c.filesNew.Load() + e.c.filesChanged.Load() + e.c.filesUnchanged.Load(),
					BytesDone:     e.c.bytesRead.Load() + e.c.bytesUnchanged.Load(),
					BytesUploaded: e.c.bytesUploaded.Load(),
					Packs:         e.c.packs.Load(),
				}})
			}
		}
	}()
	return func() { cancel(); <-done }
}
