package restore

import (
	"context"
	"path"
	"time"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/store"
)

// Status is where a job stands.
type Status struct {
	Job                                  catalog.Job
	Pending, Thawing, Ready, Downloaded  int
	BytesThawing, BytesReady, BytesLocal int64
	BytesPending                         int64 // not requested yet, or archived again
	FilesRestored, Files                 int
	ETA                                  time.Time // when the last thawing pack should be ready (zero if none)
	EarliestExpiry                       time.Time // of restored copies not yet downloaded
}

// listThreshold: above this many objects to check, one LIST per prefix
// (up to 1000 objects per request, with RestoreStatus) is cheaper than a
// HEAD each.
const listThreshold = 20

// Refresh polls S3 for the job's objects that are not downloaded yet and
// records what it learns: thawed, still thawing, or archived again (never
// requested, or the restored copy expired) — which it requests again, as
// it does for copies about to expire.
func Refresh(ctx context.Context, cat *catalog.Catalog, st Store, job int64, o Options) (Status, error) {
	o.defaults()
	j, err := cat.Job(ctx, job)
	if err != nil {
		return Status{}, err
	}
	objs, err := cat.JobObjects(ctx, job)
	if err != nil {
		return Status{}, err
	}
	var todo []*catalog.JobObject
	for i := range objs {
		if objs[i].State != catalog.ObjDownloaded && j.State == "active" {
			todo = append(todo, &objs[i])
		}
	}
	listed := map[string]store.Restore{}
	if len(todo) > listThreshold {
		prefixes := map[string]bool{}
		for _, obj := range todo {
			prefixes[path.Dir(obj.Key)+"/"] = true
		}
		for prefix := range prefixes {
			for info, err := range st.List(ctx, prefix) {
				if err != nil {
					return Status{}, err
				}
				listed[info.Key] = info.Restore
			}
		}
	}
	now := o.Clock.Now()
	for _, obj := range todo {
		r, ok := listed[obj.Key]
		if !ok || r.State == store.RestoreNone || r.State == store.RestoreUnknown {
			// Servers that ignore RestoreStatus list every object as
			// plainly archived; HEAD is the word that counts.
			info, err := st.Head(ctx, obj.Key)
			if err != nil {
				return Status{}, err
			}
			r = info.Restore
		}
		switch r.State {
		case store.RestoreDone:
			if obj.State != catalog.ObjReady {
				obj.Ready = now
				o.Events(Event{Kind: EventReady, Job: job, Key: obj.Key, Expiry: r.Expiry})
			}
			obj.State, obj.Expiry = catalog.ObjReady, r.Expiry
			if r.Expiry.Sub(now) < o.RenewWithin {
				if err := request(ctx, cat, st, j, obj, o); err != nil {
					return Status{}, err
				}
				o.Events(Event{Kind: EventRerequested, Job: job, Key: obj.Key, Reason: "the restored copy expires before it was downloaded"})
				continue
			}
		case store.RestoreInProgress:
			obj.State = catalog.ObjThawing
		default: // archived: never requested, or the restored copy expired
			reason := "not requested yet"
			if obj.Requests > 0 {
				reason = "the restored copy expired before it was downloaded"
			}
			obj.State = catalog.ObjPending
			if err := request(ctx, cat, st, j, obj, o); err != nil {
				return Status{}, err
			}
			if reason != "not requested yet" {
				o.Events(Event{Kind: EventRerequested, Job: job, Key: obj.Key, Reason: reason})
			}
			continue
		}
		if err := cat.UpdateJobObject(ctx, job, *obj); err != nil {
			return Status{}, err
		}
	}
	return JobStatus(ctx, cat, job, o)
}

// JobStatus summarises a job from the catalog, without asking S3.
func JobStatus(ctx context.Context, cat *catalog.Catalog, job int64, o Options) (Status, error) {
	o.defaults()
	j, err := cat.Job(ctx, job)
	if err != nil {
		return Status{}, err
	}
	objs, err := cat.JobObjects(ctx, job)
	if err != nil {
		return Status{}, err
	}
	s := Status{Job: j}
	for _, obj := range objs {
		switch obj.State {
		case catalog.ObjPending:
			s.Pending++
			s.BytesPending += obj.Size
		case catalog.ObjThawing:
			s.Thawing++
			s.BytesThawing += obj.Size
			if eta := obj.Requested.Add(ThawTime(store.Tier(j.Tier))); eta.After(s.ETA) {
				s.ETA = eta
			}
		case catalog.ObjReady:
			s.Ready++
			s.BytesReady += obj.Size
			if !obj.Expiry.IsZero() && (s.EarliestExpiry.IsZero() || obj.Expiry.Before(s.EarliestExpiry)) {
				s.EarliestExpiry = obj.Expiry
			}
		case catalog.ObjDownloaded:
			s.Downloaded++
			s.BytesLocal += obj.Size
		}
	}
	if s.FilesRestored, err = cat.RestoredCount(ctx, job); err != nil {
		return s, err
	}
	return s, nil
}
