package restore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
)

// Keys are what assembling needs: the identity that decrypts packs and the
// blob-ID key that checks every blob.
type Keys struct {
	Identities []age.Identity
	IDKey      pack.IDKey
}

// Progress is what one Step did and where the job stands.
type Progress struct {
	Status   Status
	Assembly AssembleResult
	Done     bool
}

// Step does everything a job can do now: poll, download what is ready,
// write what is complete. When nothing waits any more it finishes the job
// and removes the downloaded packs.
func Step(ctx context.Context, cat *catalog.Catalog, st Store, jobID int64, spool string, keys Keys, o Options) (Progress, error) {
	o.defaults()
	j, err := cat.Job(ctx, jobID)
	if err != nil {
		return Progress{}, err
	}
	switch {
	case ThawOnly(j):
		return stepThaw(ctx, cat, st, j, o)
	case j.Kind != KindRestore:
		return Progress{}, fmt.Errorf("job %d is a catalog recovery: `icevault recover resume` follows it", jobID)
	}
	snap, err := cat.FindSnapshot(ctx, j.Snapshot)
	if err != nil {
		return Progress{}, err
	}
	plan, err := MakePlan(ctx, cat, snap, j.Paths)
	if err != nil {
		return Progress{}, err
	}
	if _, err := Refresh(ctx, cat, st, jobID, o); err != nil {
		return Progress{}, err
	}
	dir := JobDir(spool, jobID)
	if err := Download(ctx, cat, st, jobID, dir, o); err != nil {
		return Progress{}, err
	}
	asm, err := Assemble(ctx, cat, j, plan, keys.Identities, keys.IDKey, o)
	if err != nil {
		return Progress{}, err
	}
	pr := Progress{Assembly: asm}
	if asm.Waiting == 0 {
		if err := cat.FinishJob(ctx, jobID, "done", o.Clock.Now()); err != nil {
			return pr, err
		}
		os.RemoveAll(dir)
		pr.Done = true
		o.Events(Event{Kind: EventDone, Job: jobID})
	}
	pr.Status, err = JobStatus(ctx, cat, jobID, o)
	pr.Status.Files = plan.Files
	return pr, err
}

// stepThaw polls a thaw-only job, asking again for what expired, and
// finishes it when every object is thawed.
func stepThaw(ctx context.Context, cat *catalog.Catalog, st Store, j catalog.Job, o Options) (Progress, error) {
	if j.State != "active" {
		s, err := JobStatus(ctx, cat, j.ID, o)
		return Progress{Status: s, Done: j.State == "done"}, err
	}
	s, err := Refresh(ctx, cat, st, j.ID, o)
	if err != nil {
		return Progress{}, err
	}
	if s.Pending+s.Thawing > 0 {
		return Progress{Status: s}, nil
	}
	if err := cat.FinishJob(ctx, j.ID, "done", o.Clock.Now()); err != nil {
		return Progress{Status: s}, err
	}
	o.Events(Event{Kind: EventDone, Job: j.ID})
	s, err = JobStatus(ctx, cat, j.ID, o)
	return Progress{Status: s, Done: true}, err
}

// Wait runs Step until the job is done, sleeping between polls on the
// injected clock: every poll interval, or until the expected thaw time if
// that is sooner.
func Wait(ctx context.Context, cat *catalog.Catalog, st Store, jobID int64, spool string, keys Keys, every time.Duration, o Options, report func(Progress)) (Progress, error) {
	o.defaults()
	for {
		pr, err := Step(ctx, cat, st, jobID, spool, keys, o)
		if err != nil {
			return pr, err
		}
		if report != nil {
			report(pr)
		}
		if pr.Done {
			return pr, nil
		}
		d := every
		if eta := pr.Status.ETA.Sub(o.Clock.Now()); eta > time.Minute && eta < d {
			d = eta
		}
		if err := o.Clock.Sleep(ctx, d); err != nil {
			return pr, err
		}
	}
}

// Cancel stops a job: nothing more is requested or downloaded, and its
// downloads are removed. Files already restored stay. Thaws already
// requested cannot be recalled; their copies simply expire.
func Cancel(ctx context.Context, cat *catalog.Catalog, jobID int64, spool string, now time.Time) error {
	if _, err := cat.Job(ctx, jobID); err != nil {
		return err
	}
	if err := cat.FinishJob(ctx, jobID, "cancelled", now); err != nil {
		return err
	}
	return os.RemoveAll(JobDir(spool, jobID))
}

// JobDir is where a job's downloads wait.
func JobDir(spool string, jobID int64) string {
	return filepath.Join(spool, "restore", fmtID(jobID))
}

func fmtID(id int64) string { return "job-" + strconv.FormatInt(id, 10) }
