package restore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testrepo"
)

// shortStore serves every GET of its keys cut short, as a complete
// response: what a truncated object in the bucket (or a proxy cutting it)
// looks like to the download.
type shortStore struct {
	restore.Store
	cut map[string]bool
}

func (s shortStore) Get(ctx context.Context, key string, r *store.Range) (io.ReadCloser, error) {
	rc, err := s.Store.Get(ctx, key, r)
	if err != nil || !s.cut[key] {
		return rc, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b[:len(b)/2])), nil
}

// TestTruncatedObjectOnDownload: the bucket serves a pack short → a clear
// error naming it, the pack is not marked downloaded and nothing of it is
// kept, no file is written at the destination, and the next run, once the
// object comes whole, finishes the restore.
func TestTruncatedObjectOnDownload(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	file := filepath.Join(f.src, "photos", "a.raw")
	target := filepath.Join(t.TempDir(), "r")
	job := f.start(t, []string{file}, target, store.TierStandard, 3)
	f.Clock.Advance(13 * time.Hour)
	objs, _ := f.Cat.JobObjects(ctx, job)
	short := shortStore{Store: f.Store, cut: map[string]bool{}}
	for _, o := range objs {
		short.cut[o.Key] = true
	}

	_, err := restore.Step(ctx, f.Cat, short, job, f.Spool, f.keys, f.opts)
	named := false
	for _, o := range objs {
		named = named || err != nil && strings.Contains(err.Error(), o.Key)
	}
	if !errors.Is(err, restore.ErrTruncated) || !named || !strings.Contains(err.Error(), "received") {
		t.Fatalf("Step on a truncated object: %v", err)
	}
	after, _ := f.Cat.JobObjects(ctx, job)
	for _, o := range after {
		if o.State == catalog.ObjDownloaded || o.Path != "" {
			t.Fatalf("a truncated pack was recorded as downloaded: %+v", o)
		}
	}
	// Another pack's download stopped by the error may leave an empty
	// .part to continue from; no byte of a truncated copy stays.
	left, _ := os.ReadDir(restore.JobDir(f.Spool, job))
	for _, e := range left {
		if fi, _ := e.Info(); !strings.HasSuffix(e.Name(), ".part") || fi.Size() != 0 {
			t.Fatalf("the truncated copy was kept: %s, %d bytes", e.Name(), fi.Size())
		}
	}
	if _, err := os.Lstat(filepath.Join(target, file)); !os.IsNotExist(err) {
		t.Fatalf("a file was written from a truncated object: %v", err)
	}
	if s, _ := restore.JobStatus(ctx, f.Cat, job, f.opts); s.Job.State != "active" || s.FilesRestored != 0 {
		t.Fatalf("after the truncated download: %+v", s)
	}

	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("the run after the object came whole: %+v", pr)
	}
	want, _ := os.ReadFile(file)
	if got, err := os.ReadFile(filepath.Join(target, file)); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("restored file: %d bytes, %v", len(got), err)
	}
}

// TestThawJob: a thaw-only job (recover --all-data's) requests its objects at the restore pace,
// asks again for a copy that expired, downloads nothing, is done once
// every object is thawed, and moves to another catalog with its states.
func TestThawJob(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	plan, err := restore.MakePlan(ctx, f.Cat, f.snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	job, err := restore.StartThaw(ctx, f.Cat, f.Store, plan.Packs, restore.Quote{}, store.TierStandard, 1, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range plan.Packs {
		if n := f.count("RestoreObject", pk.Key); n != 1 {
			t.Fatalf("%s requested %d times", pk.Key, n)
		}
	}
	pr := f.step(t, job)
	if pr.Done || pr.Status.Thawing != len(plan.Packs) || pr.Status.BytesThawing != plan.PackBytes {
		t.Fatalf("while thawing: %+v", pr.Status)
	}
	// Nobody looked for three days: the one-day copies expired.
	f.Clock.Advance(72 * time.Hour)
	if pr = f.step(t, job); pr.Done || pr.Status.Thawing != len(plan.Packs) {
		t.Fatalf("after the copies expired: %+v", pr.Status)
	}
	for _, pk := range plan.Packs {
		if n := f.count("RestoreObject", pk.Key); n != 2 {
			t.Fatalf("%s requested %d times, want again after its copy expired", pk.Key, n)
		}
	}
	f.Clock.Advance(13 * time.Hour)
	if pr = f.step(t, job); !pr.Done || pr.Status.Ready != len(plan.Packs) || pr.Status.BytesReady != plan.PackBytes {
		t.Fatalf("after the thaw: %+v", pr)
	}
	if n := f.count("GetObject", ""); n != 0 {
		t.Fatalf("a thaw job downloaded %d objects", n)
	}

	other := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "other.db"))
	id, err := restore.CopyJob(ctx, f.Cat, other, job)
	if err != nil {
		t.Fatal(err)
	}
	s, err := restore.JobStatus(ctx, other, id, f.opts)
	if err != nil || !restore.ThawOnly(s.Job) || s.Job.State != "done" || s.Ready != len(plan.Packs) || s.BytesReady != plan.PackBytes {
		t.Fatalf("copied job: %+v, %v", s, err)
	}
}
