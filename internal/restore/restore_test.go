package restore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testrepo"
)

func sample(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "home", "me")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "letter.txt"), []byte(strings.Repeat("dear archive\n", 500)))
	testrepo.WriteFile(t, filepath.Join(src, "docs", "empty.txt"), nil)
	testrepo.WriteFile(t, filepath.Join(src, "photos", "a.raw"), testrepo.Random(2<<20+77))
	testrepo.WriteFile(t, filepath.Join(src, "photos", "b.raw"), testrepo.Random(1<<20))
	testrepo.WriteFile(t, filepath.Join(src, "odd", "naïve \xff name"), []byte("odd"))
	os.MkdirAll(filepath.Join(src, "empty-dir"), 0o750)
	os.Symlink("../docs/letter.txt", filepath.Join(src, "odd", "link"))
	os.Link(filepath.Join(src, "photos", "b.raw"), filepath.Join(src, "photos", "b-hardlink.raw"))
	os.Chmod(filepath.Join(src, "docs", "letter.txt"), 0o640)
	os.Chmod(filepath.Join(src, "odd", "naïve \xff name"), 0o700)
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	os.Chtimes(filepath.Join(src, "photos", "a.raw"), old, old)
	return src
}

type fixture struct {
	*testrepo.Env
	src  string
	snap catalog.Snapshot
	keys restore.Keys
	opts restore.Options
}

func setup(t *testing.T) *fixture {
	e := testrepo.New(t, 1<<20)
	src := sample(t)
	sum := e.Backup(src)
	snap, err := e.Cat.FindSnapshot(context.Background(), sum.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Env: e, src: src, snap: snap,
		keys: restore.Keys{Identities: []age.Identity{e.Secrets.AgeIdentity(t)}, IDKey: e.Repo.IDKey},
		opts: restore.Options{Clock: e.Clock, RequestInterval: time.Millisecond}}
}

func (f *fixture) start(t *testing.T, paths []string, target string, tier store.Tier, days int) int64 {
	t.Helper()
	ctx := context.Background()
	p, err := restore.MakePlan(ctx, f.Cat, f.snap, paths)
	if err != nil {
		t.Fatal(err)
	}
	q := restore.QuoteFor(p, tier, days, cost.Default, f.Clock.Now())
	id, err := restore.Start(ctx, f.Cat, f.Store, p, q, target, tier, days, false, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) step(t *testing.T, job int64) restore.Progress {
	t.Helper()
	pr, err := restore.Step(context.Background(), f.Cat, f.Store, job, f.Spool, f.keys, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func (f *fixture) count(op, key string) int {
	n := 0
	for _, r := range f.Srv.Requests() {
		if r.Op == op && (key == "" || r.Key == key) {
			n++
		}
	}
	return n
}

// TestWholeSnapshotThroughEveryState: requested → still thawing (409 on a
// repeat request) → ready → downloaded → assembled, byte for byte, with
// modes, mtimes, symlinks, hard links, empty folders and odd names.
func TestWholeSnapshotThroughEveryState(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "restored")
	job := f.start(t, nil, target, store.TierStandard, 2)

	plan, _ := restore.MakePlan(ctx, f.Cat, f.snap, nil)
	if got := f.count("RestoreObject", ""); got != len(plan.Packs) {
		t.Fatalf("%d restore requests for %d packs", got, len(plan.Packs))
	}
	if res, _ := f.Store.RequestRestore(ctx, plan.Packs[0].Key, 2, store.TierStandard); res != store.RestoreAlreadyOngoing {
		t.Fatalf("a repeat request while thawing = %v, want 409 already in progress", res)
	}
	pr := f.step(t, job)
	if pr.Done || pr.Status.Thawing != len(plan.Packs) || pr.Status.Downloaded != 0 || f.count("GetObject", "") != 0 {
		t.Fatalf("while thawing: %+v", pr)
	}
	if eta := pr.Status.ETA.Sub(f.Clock.Now()); eta <= 11*time.Hour || eta > 12*time.Hour {
		t.Fatalf("ETA in %v, want about 12 h (Standard)", eta)
	}
	if _, err := os.Stat(filepath.Join(target, f.src, "photos", "a.raw")); err == nil {
		t.Fatal("a file appeared before its pack thawed")
	}
	if pr.Assembly.Waiting == 0 || len(pr.Assembly.Missing) != len(plan.Packs) {
		t.Fatalf("while thawing, assembly says %+v", pr.Assembly)
	}
	if len(pr.Assembly.WaitingFiles) != pr.Assembly.Waiting {
		t.Fatalf("%d files waiting, %d listed", pr.Assembly.Waiting, len(pr.Assembly.WaitingFiles))
	}
	for _, w := range pr.Assembly.WaitingFiles {
		if !strings.HasPrefix(w.Path, target+string(filepath.Separator)) || len(w.Packs) == 0 {
			t.Fatalf("waiting file %+v: want its destination and the packs it needs", w)
		}
	}

	f.Clock.Advance(12*time.Hour + time.Minute)
	pr = f.step(t, job)
	if !pr.Done || pr.Status.Downloaded != len(plan.Packs) || pr.Assembly.Waiting != 0 {
		t.Fatalf("after the thaw: %+v", pr)
	}
	testrepo.SameTree(t, f.src, filepath.Join(target, f.src))
	a, _ := os.Stat(filepath.Join(target, f.src, "photos", "b.raw"))
	b, _ := os.Stat(filepath.Join(target, f.src, "photos", "b-hardlink.raw"))
	if !os.SameFile(a, b) {
		t.Error("the hard link was restored as a copy")
	}
	if fi, err := os.Stat(filepath.Join(target, f.src, "empty-dir")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Errorf("empty folder: %v %v", fi, err)
	}
	if j, _ := f.Cat.Job(ctx, job); j.State != "done" {
		t.Fatalf("job state %q", j.State)
	}
	if _, err := os.Stat(restore.JobDir(f.Spool, job)); !os.IsNotExist(err) {
		t.Error("downloaded packs were left behind")
	}
	leftovers, _ := filepath.Glob(filepath.Join(target, f.src, "*", ".icevault-restore-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestSingleFileThawsOnlyItsPacks: the plan for one file requests exactly
// the packs holding its blobs.
func TestSingleFileThawsOnlyItsPacks(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	file := filepath.Join(f.src, "docs", "letter.txt")
	plan, err := restore.MakePlan(ctx, f.Cat, f.snap, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	data, _ := os.ReadFile(file)
	loc, err := f.Cat.Blob(ctx, f.Repo.IDKey.ID(data))
	if err != nil {
		t.Fatal(err)
	}
	want[loc.PackKey] = true
	if len(plan.Packs) != 1 || !want[plan.Packs[0].Key] || plan.Files != 1 {
		t.Fatalf("plan for one small file: %d files, packs %+v; want only %v", plan.Files, plan.Packs, want)
	}
	all, _ := restore.MakePlan(ctx, f.Cat, f.snap, nil)
	if len(all.Packs) <= 1 {
		t.Fatal("the fixture should span several packs")
	}
	target := filepath.Join(t.TempDir(), "one")
	job := f.start(t, []string{file}, target, store.TierBulk, 1)
	if n := f.count("RestoreObject", ""); n != 1 {
		t.Fatalf("%d restore requests, want 1", n)
	}
	f.Clock.Advance(48*time.Hour + time.Minute)
	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("%+v", pr)
	}
	got, _ := os.ReadFile(filepath.Join(target, file))
	if string(got) != string(data) {
		t.Fatal("restored file differs")
	}
	if entries, _ := os.ReadDir(filepath.Join(target, f.src)); len(entries) != 1 {
		t.Fatalf("restored more than asked: %v", entries)
	}
}

// TestExpiredCopyIsRequestedAgain: a restored copy that expires before the
// download is noticed and thawed again; one about to expire is extended.
func TestExpiredCopyIsRequestedAgain(t *testing.T) {
	f := setup(t)
	target := filepath.Join(t.TempDir(), "r")
	file := filepath.Join(f.src, "photos", "a.raw")
	job := f.start(t, []string{file}, target, store.TierStandard, 1)
	f.Clock.Advance(13 * time.Hour)
	st, err := restore.Refresh(context.Background(), f.Cat, f.Store, job, restore.Options{Clock: f.Clock, RenewWithin: time.Minute})
	if err != nil || st.Ready == 0 {
		t.Fatalf("after the thaw: %+v, %v", st, err)
	}
	before := f.count("RestoreObject", "")
	f.Clock.Advance(3 * 24 * time.Hour) // past the 1-day copy's expiry
	if st, err = restore.Refresh(context.Background(), f.Cat, f.Store, job, restore.Options{Clock: f.Clock, RenewWithin: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if st.Thawing == 0 || f.count("RestoreObject", "") == before {
		t.Fatalf("an expired copy was not requested again: %+v", st)
	}
	objs, _ := f.Cat.JobObjects(context.Background(), job)
	if objs[0].Requests < 2 {
		t.Fatalf("requests = %d", objs[0].Requests)
	}
	// About to expire and not downloaded: extended. (A one-day copy
	// always expires within 48 h.)
	f.Clock.Advance(13 * time.Hour)
	before = f.count("RestoreObject", "")
	if _, err := restore.Refresh(context.Background(), f.Cat, f.Store, job, restore.Options{Clock: f.Clock, RenewWithin: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if f.count("RestoreObject", "") <= before {
		t.Fatal("a copy expiring within a day was not extended")
	}
	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("%+v", pr)
	}
	want, _ := os.ReadFile(file)
	if got, _ := os.ReadFile(filepath.Join(target, file)); !bytes.Equal(got, want) {
		t.Fatal("the restored file differs")
	}
}

// TestInterruptedDownloadResumes: a stopped download run keeps the packs it
// finished (never fetched again), and a cut pack download continues from
// where it stopped with a ranged GET.
func TestInterruptedDownloadResumes(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "r")
	job := f.start(t, nil, target, store.TierBulk, 3)
	f.Clock.Advance(49 * time.Hour)
	if _, err := restore.Refresh(ctx, f.Cat, f.Store, job, f.opts); err != nil {
		t.Fatal(err)
	}
	remove := f.Srv.InjectFault(sim.Fault{Op: "GetObject", Status: 403, Code: "AccessDenied", Nth: 2})
	err := restore.Download(ctx, f.Cat, f.Store, job, restore.JobDir(f.Spool, job), restore.Options{Clock: f.Clock, Downloaders: 1})
	remove()
	if !errors.Is(err, store.ErrAccessDenied) {
		t.Fatalf("the stopped download run: %v", err)
	}
	objs, _ := f.Cat.JobObjects(ctx, job)
	var done []string
	var cut *catalog.JobObject
	for i, o := range objs {
		if o.State == catalog.ObjDownloaded {
			done = append(done, o.Key)
		} else if cut == nil && o.Size > 1000 {
			cut = &objs[i]
		}
	}
	if len(done) == 0 || cut == nil {
		t.Fatalf("%d of %d downloaded after the stop", len(done), len(objs))
	}
	// Half of another pack arrived before the connection dropped.
	rc, err := f.Store.Get(ctx, cut.Key, &store.Range{Offset: 0, Length: cut.Size / 2})
	if err != nil {
		t.Fatal(err)
	}
	half, _ := io.ReadAll(rc)
	rc.Close()
	part := filepath.Join(restore.JobDir(f.Spool, job), hex.EncodeToString(cut.SHA256[:])+".pack.part")
	os.WriteFile(part, half, 0o600)

	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("%+v", pr)
	}
	for _, k := range done {
		if n := f.count("GetObject", k); n != 1 {
			t.Errorf("%s downloaded %d times", k, n)
		}
	}
	var resumed []int64
	for _, r := range f.Srv.Requests() {
		if r.Op == "GetObject" && r.Key == cut.Key && r.Status/100 == 2 {
			resumed = append(resumed, r.Size)
		}
	}
	if len(resumed) != 2 || resumed[1] != cut.Size-cut.Size/2 {
		t.Errorf("GETs of the cut pack sent %v bytes; want the first half, then only the rest (%d)", resumed, cut.Size-cut.Size/2)
	}
	testrepo.SameTree(t, f.src, filepath.Join(target, f.src))
}

// TestDamageNeverWritesWrongBytes: a tampered or truncated pack and a wrong
// identity give a clear error, and no file at its final name.
func TestDamageNeverWritesWrongBytes(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, f *fixture, packFile string)
		want   error
	}{
		{"tampered", func(t *testing.T, _ *fixture, p string) {
			// One flipped bit in every 64 KiB chunk of ciphertext: whatever
			// chunk the file's blobs sit in is damaged.
			b, _ := os.ReadFile(p)
			for i := 3000; i < len(b); i += 60000 {
				b[i] ^= 1
			}
			os.WriteFile(p, b, 0o600)
		}, nil},
		{"truncated", func(t *testing.T, _ *fixture, p string) {
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()-100)
		}, pack.ErrCorrupt},
		{"wrong identity", func(t *testing.T, f *fixture, _ string) {
			other, _ := age.GenerateHybridIdentity()
			f.keys.Identities = []age.Identity{other}
		}, pack.ErrWrongKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t)
			ctx := context.Background()
			file := filepath.Join(f.src, "photos", "a.raw")
			target := filepath.Join(t.TempDir(), "r")
			job := f.start(t, []string{file}, target, store.TierBulk, 3)
			f.Clock.Advance(49 * time.Hour)
			if _, err := restore.Refresh(ctx, f.Cat, f.Store, job, f.opts); err != nil {
				t.Fatal(err)
			}
			if err := restore.Download(ctx, f.Cat, f.Store, job, restore.JobDir(f.Spool, job), f.opts); err != nil {
				t.Fatal(err)
			}
			objs, _ := f.Cat.JobObjects(ctx, job)
			c.damage(t, f, objs[0].Path)
			j, _ := f.Cat.Job(ctx, job)
			plan, _ := restore.MakePlan(ctx, f.Cat, f.snap, j.Paths)
			_, err := restore.Assemble(ctx, f.Cat, j, plan, f.keys.Identities, f.keys.IDKey, f.opts)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("Assemble of a damaged pack: %v, want %v", err, c.want)
			}
			if _, err := os.Lstat(filepath.Join(target, file)); !os.IsNotExist(err) {
				t.Fatal("a file was written from a damaged pack")
			}
			if left, _ := filepath.Glob(filepath.Join(target, filepath.Dir(file), ".icevault-restore-*")); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

// TestExistingFilesAreNotReplaced: Start refuses before requesting anything.
func TestExistingFilesAreNotReplaced(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "r")
	file := filepath.Join(f.src, "docs", "letter.txt")
	testrepo.WriteFile(t, filepath.Join(target, file), []byte("mine, not from the backup"))
	p, _ := restore.MakePlan(ctx, f.Cat, f.snap, []string{filepath.Join(f.src, "docs")})
	_, err := restore.Start(ctx, f.Cat, f.Store, p, restore.Quote{}, target, store.TierBulk, 1, false, f.opts)
	if !errors.Is(err, restore.ErrConflict) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("Start over an existing file: %v", err)
	}
	if f.count("RestoreObject", "") != 0 {
		t.Fatal("a refused restore requested thaws")
	}
	if b, _ := os.ReadFile(filepath.Join(target, file)); string(b) != "mine, not from the backup" {
		t.Fatal("the existing file was changed")
	}
	job, err := restore.Start(ctx, f.Cat, f.Store, p, restore.Quote{}, target, store.TierBulk, 1, true, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(49 * time.Hour)
	if pr := f.step(t, job); !pr.Done {
		t.Fatalf("%+v", pr)
	}
	if b, _ := os.ReadFile(filepath.Join(target, file)); string(b) == "mine, not from the backup" {
		t.Fatal("--overwrite did not replace the file")
	}
}

func TestQuoteMatchesPriceTable(t *testing.T) {
	p := &restore.Plan{Files: 3, FileBytes: 150e9, PackBytes: 200e9,
		Packs: make([]restore.PackRef, 2000)}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := restore.QuoteFor(p, store.TierBulk, 10, cost.Default, now)
	// Bulk: 2,000 requests at $0.025/1000, 200 GB at $0.0025; the copy at
	// $0.023/GB-month for 10 days; 2,000 GETs; 100 GB beyond the free 100 GB at $0.09.
	want := map[string]float64{
		"request": 0.05, "retrieval": 0.5, "copy": 200 * 0.023 * 10 / 30, "get": 0.0008, "egress": 9,
	}
	got := map[string]float64{"request": q.Chosen.RequestCost, "retrieval": q.Chosen.RetrievalCost,
		"copy": q.Chosen.CopyCost, "get": q.Chosen.GetCost, "egress": q.Chosen.EgressCost}
	for k, w := range want {
		if d := got[k] - w; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if !q.Chosen.ReadyBy.Equal(now.Add(48*time.Hour)) || q.Tiers[0].Tier != store.TierStandard || !q.Tiers[0].ReadyBy.Equal(now.Add(12*time.Hour)) {
		t.Errorf("ready by: %+v", q.Tiers)
	}
	if q.Tiers[0].RetrievalCost != 200*0.02 || q.Tiers[0].RequestCost != 2*0.10 {
		t.Errorf("standard: %+v", q.Tiers[0])
	}
}

// TestStoppedBetweenRenameAndRecord: a run stopped after renaming a file
// into place but before recording it leaves the file unrecorded; the next
// run recognises its own bytes and goes on, while a different file that
// appeared there is still refused.
func TestStoppedBetweenRenameAndRecord(t *testing.T) {
	for _, same := range []bool{true, false} {
		f := setup(t)
		ctx := context.Background()
		file := filepath.Join(f.src, "photos", "a.raw")
		target := filepath.Join(t.TempDir(), "r")
		job := f.start(t, []string{file}, target, store.TierBulk, 3)
		data, _ := os.ReadFile(file)
		if !same {
			data = append([]byte(nil), data...)
			data[0] ^= 1
		}
		testrepo.WriteFile(t, filepath.Join(target, file), data)
		fi, _ := os.Stat(file)
		os.Chmod(filepath.Join(target, file), fi.Mode().Perm())
		f.Clock.Advance(49 * time.Hour)
		pr, err := restore.Step(ctx, f.Cat, f.Store, job, f.Spool, f.keys, f.opts)
		switch {
		case same && (err != nil || !pr.Done):
			t.Fatalf("own file already in place: %+v, %v", pr, err)
		case !same && !errors.Is(err, restore.ErrConflict):
			t.Fatalf("a different file in place: %v, want a conflict", err)
		}
		if got, _ := os.ReadFile(filepath.Join(target, file)); !bytes.Equal(got, data) {
			t.Fatal("the file in place was changed")
		}
	}
}
