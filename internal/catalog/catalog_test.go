package catalog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/pack"
)

func open(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "sub", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func id(b byte) pack.ID {
	var i pack.ID
	i[0], i[31] = b, b
	return i
}

func addPack(t *testing.T, c *Catalog, key string, ids ...byte) int64 {
	t.Helper()
	var entries []pack.Entry
	for i, b := range ids {
		entries = append(entries, pack.Entry{ID: id(b), Kind: pack.KindData, Offset: int64(9 + 100*i), Length: 50, RawLength: 50})
	}
	pid, err := c.AddSealedPack(context.Background(), Pack{Key: key, Kind: PackData, Size: 1000, LocalPath: "/tmp/" + key, Created: time.Now()}, entries)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	names, _ := migrations.ReadDir("migrations")
	if err := c.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(names) || v < 2 {
		t.Fatalf("user_version = %d, %v", v, err)
	}
	var mode string
	if err := c.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if err := c.SetSetting(ctx, "repo", []byte("r1")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Setting(ctx, "repo"); err != nil || string(v) != "r1" {
		t.Fatalf("setting after reopen = %q, %v", v, err)
	}
	if _, err := c.Setting(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing setting: %v", err)
	}
	if err := c.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFileIsRefusedAndKept(t *testing.T) {
	for name, body := range map[string][]byte{
		"not sqlite": bytes.Repeat([]byte("this is not a database "), 500),
		"truncated":  nil, // filled below from a real catalog
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			if body == nil {
				c, err := Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				for i := range 200 {
					addPack(t, c, "p"+string(rune('a'+i%26))+strings.Repeat("x", i), byte(i))
				}
				c.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
				c.Close()
				full, _ := os.ReadFile(path)
				body = append(full[:4096:4096], bytes.Repeat([]byte{0xAB}, len(full)-4096)...)
			}
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(context.Background(), path)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "icevault recover") {
				t.Fatalf("Open of a damaged file: %v", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, body) {
				t.Fatal("Open changed the damaged file")
			}
		})
	}
}

func TestPacksAndBlobs(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	p1 := addPack(t, c, "data/1", 1, 2, 3)
	if ok, err := c.HasBlob(ctx, id(2)); !ok || err != nil {
		t.Fatalf("HasBlob = %v, %v", ok, err)
	}
	if ok, _ := c.HasBlob(ctx, id(9)); ok {
		t.Fatal("HasBlob found a blob never added")
	}
	loc, err := c.Blob(ctx, id(3))
	if err != nil || loc.PackID != p1 || loc.PackKey != "data/1" || loc.State != Sealed || loc.Entry.Offset != 209 {
		t.Fatalf("Blob = %+v, %v", loc, err)
	}
	// A pack repeating a known blob is rejected whole.
	_, err = c.AddSealedPack(ctx, Pack{Key: "data/2", Kind: PackData}, []pack.Entry{{ID: id(7)}, {ID: id(2)}})
	if !errors.Is(err, ErrDuplicateBlob) {
		t.Fatalf("duplicate blob: %v", err)
	}
	if ok, _ := c.HasBlob(ctx, id(7)); ok {
		t.Fatal("a rejected pack left a blob behind")
	}
	sealed, _ := c.Packs(ctx, PackFilter{State: Sealed})
	if len(sealed) != 1 || sealed[0].LocalPath != "/tmp/data/1" || sealed[0].Blobs != 3 {
		t.Fatalf("sealed packs = %+v", sealed)
	}
	if err := c.MarkUploaded(ctx, p1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkUploaded(ctx, p1, time.Now()); err == nil {
		t.Fatal("a pack was marked uploaded twice")
	}
	if err := c.DropSealedPack(ctx, p1); err == nil {
		t.Fatal("an uploaded pack was dropped")
	}
	p, _ := c.PackByID(ctx, p1)
	if p.State != Uploaded || p.LocalPath != "" || p.Uploaded.IsZero() {
		t.Fatalf("after upload: %+v", p)
	}
	p3 := addPack(t, c, "data/3", 5)
	if err := c.DropSealedPack(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.HasBlob(ctx, id(5)); ok {
		t.Fatal("dropping a sealed pack kept its blobs")
	}
	entries, err := c.PackEntries(ctx, p1)
	if err != nil || len(entries) != 3 || entries[0].ID != id(1) {
		t.Fatalf("PackEntries = %+v, %v", entries, err)
	}
}

func TestCommitSnapshot(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	p1 := addPack(t, c, "data/1", 1)
	run, err := c.NextRun(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := FileState{Path: "/r/a\xff", Root: "/r", Size: 5, MtimeNs: 1, CtimeNs: 2, Inode: 3, Dev: 4, Blobs: []pack.ID{id(1)}}
	if err := c.StageFiles(ctx, run, []FileState{f}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.File(ctx, f.Path); ok {
		t.Fatal("a staged file is visible before its snapshot commits")
	}
	snap := Snapshot{ID: "abcdef01", Time: time.Unix(100, 0), Host: "h", Paths: []string{"/r"}, Root: id(1), MetaKeys: []string{"meta/1"}}
	if err := c.CommitSnapshot(ctx, snap, "meta/1", run); !errors.Is(err, ErrUnconfirmedPacks) {
		t.Fatalf("commit with a sealed pack: %v", err)
	}
	if err := c.MarkUploaded(ctx, p1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitSnapshot(ctx, snap, "meta/1", run); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.File(ctx, f.Path)
	if !ok || err != nil || !got.Same(f) || len(got.Blobs) != 1 || got.Blobs[0] != id(1) {
		t.Fatalf("file after commit = %+v, %v, %v", got, ok, err)
	}
	if un, _ := c.Packs(ctx, PackFilter{Unindexed: true}); len(un) != 0 {
		t.Fatalf("packs left unindexed: %+v", un)
	}
	p, _ := c.PackByID(ctx, p1)
	if p.IndexedBy != "meta/1" {
		t.Fatalf("indexed_by = %q", p.IndexedBy)
	}

	// A second run that stages nothing leaves the cache as it was.
	run2, _ := c.NextRun(ctx)
	if run2 <= run {
		t.Fatalf("NextRun = %d after %d", run2, run)
	}
	snap2 := Snapshot{ID: "abcdef02", Time: time.Unix(200, 0), Host: "h", Root: id(1)}
	if err := c.CommitSnapshot(ctx, snap2, "meta/2", run2); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := c.File(ctx, f.Path); !ok || !got.Same(f) {
		t.Fatal("a cache row changed although no run staged it")
	}
	if m, err := c.Files(ctx, []string{f.Path, "/nope"}); err != nil || len(m) != 1 || len(m[f.Path].Blobs) != 1 {
		t.Fatalf("Files = %v, %v", m, err)
	}

	for ref, want := range map[string]string{"latest": "abcdef02", "abcdef01": "abcdef01", "ABCDEF01": "abcdef01"} {
		s, err := c.FindSnapshot(ctx, ref)
		if err != nil || s.ID != want {
			t.Errorf("FindSnapshot(%q) = %q, %v; want %q", ref, s.ID, err, want)
		}
	}
	if _, err := c.FindSnapshot(ctx, "abcdef"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := c.FindSnapshot(ctx, "99"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown snapshot: %v", err)
	}
	all, err := c.Snapshots(ctx)
	if err != nil || len(all) != 2 || all[0].Paths[0] != "/r" || all[1].Paths == nil {
		t.Fatalf("Snapshots = %+v, %v", all, err)
	}
}

func TestTrees(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if err := c.PutTree(ctx, id(1), []byte("tree")); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTree(ctx, id(1), []byte("tree")); err != nil {
		t.Fatal("caching a tree twice failed:", err)
	}
	if d, err := c.Tree(ctx, id(1)); err != nil || string(d) != "tree" {
		t.Fatalf("Tree = %q, %v", d, err)
	}
	if _, err := c.Tree(ctx, id(2)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing tree: %v", err)
	}
}

func TestRestoreJobs(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	now := time.Unix(1000, 0)
	id, err := c.CreateJob(ctx, Job{Kind: "restore", Snapshot: "s1", Paths: []string{"/a"}, Target: "/t", Tier: "Bulk", Days: 3, Created: now},
		[]JobObject{{Key: "k1", Size: 10, SHA256: [32]byte{1}}, {Key: "k2", Size: 20}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := c.JobObjects(ctx, id)
	if err != nil || len(objs) != 2 || objs[0].State != ObjPending || objs[0].SHA256[0] != 1 || objs[1].SHA256 != ([32]byte{}) {
		t.Fatalf("objects = %+v, %v", objs, err)
	}
	o := objs[0]
	o.State, o.Requested, o.Expiry, o.Requests, o.Path = ObjDownloaded, now, now.Add(time.Hour), 2, "/spool/x"
	if err := c.UpdateJobObject(ctx, id, o); err != nil {
		t.Fatal(err)
	}
	objs, _ = c.JobObjects(ctx, id)
	if objs[0].State != ObjDownloaded || !objs[0].Expiry.Equal(now.Add(time.Hour)) || objs[0].Requests != 2 || objs[0].Path != "/spool/x" || !objs[0].Ready.IsZero() {
		t.Fatalf("after update: %+v", objs[0])
	}
	if err := c.MarkRestored(ctx, id, "/t/a/f\xff"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Restored(ctx, id, "/t/a/f\xff"); !ok {
		t.Fatal("Restored = false after MarkRestored")
	}
	if n, _ := c.RestoredCount(ctx, id); n != 1 {
		t.Fatalf("RestoredCount = %d", n)
	}
	active, _ := c.Jobs(ctx, true)
	if len(active) != 1 || active[0].Paths[0] != "/a" || active[0].Days != 3 {
		t.Fatalf("active jobs = %+v", active)
	}
	if err := c.FinishJob(ctx, id, "done", now); err != nil {
		t.Fatal(err)
	}
	if active, _ := c.Jobs(ctx, true); len(active) != 0 {
		t.Fatal("a finished job is still active")
	}
	if _, err := c.Job(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing job: %v", err)
	}
}
