package recovery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/recovery"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testrepo"
	"github.com/icevault/icevault/internal/tree"
)

// env is a repository on the simulator with a fake clock.
type env struct{ *testrepo.Env }

func newEnv(t *testing.T) *env { return &env{testrepo.New(t, 1<<20)} }

// run backs up paths with the tag t1 (so that rebuilt catalogs have tags
// to compare).
func (e *env) run(paths ...string) (backup.Summary, error) {
	return e.Run(backup.Options{Paths: paths, Tags: []string{"t1"}})
}

func (e *env) backup(paths ...string) backup.Summary {
	e.T.Helper()
	sum, err := e.run(paths...)
	if err != nil {
		e.T.Fatalf("backup: %v", err)
	}
	return sum
}

// stoppedRun runs a backup that S3 stops (access denied) at its nth PUT.
func (e *env) stoppedRun(nth int, paths ...string) {
	e.T.Helper()
	remove := e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied", Nth: nth,
		Latency: 300 * time.Millisecond}) // so that the PUTs before it finish first
	_, err := e.run(paths...)
	remove()
	if !errors.Is(err, store.ErrAccessDenied) {
		e.T.Fatalf("stopped run: %v, want access denied", err)
	}
}

func (e *env) kit() keystore.Kit {
	e.T.Helper()
	text, err := keystore.FormatKit(keystore.Kit{RepoID: e.Repo.Config.ID, Bucket: "backups", Prefix: "icevault/", Region: "us-east-1",
		Identity: e.Secrets.Identity, BlobIDKey: e.Secrets.Key, Created: e.Clock.Now()})
	if err != nil {
		e.T.Fatal(err)
	}
	k, err := keystore.ParseKit(text)
	if err != nil {
		e.T.Fatal(err)
	}
	return k
}

// download lists the bucket as a new machine would, thaws what recovery
// needs on the fake clock (one round) and downloads it to local files.
func (e *env) download(allData bool) (recovery.Listing, recovery.Input) {
	t := e.T
	t.Helper()
	ctx := context.Background()
	ls, err := recovery.Objects(ctx, e.Store, e.Repo.Layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ls.Thaw(allData) {
		if o.StorageClass != store.StorageClass {
			t.Errorf("%s is %s", o.Key, o.StorageClass)
		}
		if _, err := e.Store.RequestRestore(ctx, o.Key, 2, store.TierBulk); err != nil {
			t.Fatal(err)
		}
	}
	e.Clock.Advance(49 * time.Hour)
	dir := t.TempDir()
	fetch := func(o store.ObjectInfo) recovery.File {
		rc, err := e.Store.Get(ctx, o.Key, nil)
		if err != nil {
			t.Fatalf("get %s: %v", o.Key, err)
		}
		defer rc.Close()
		p := filepath.Join(dir, strings.ReplaceAll(o.Key, "/", "_"))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, rc); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return recovery.FileOf(o, p)
	}
	in := recovery.Input{Layout: e.Repo.Layout, Bucket: "backups", Config: fetch(ls.Config), Data: []recovery.File{}}
	for _, o := range ls.Meta {
		in.Meta = append(in.Meta, fetch(o))
	}
	for _, o := range ls.Data {
		if allData {
			in.Data = append(in.Data, fetch(o))
		} else {
			in.Data = append(in.Data, recovery.FileOf(o, ""))
		}
	}
	return ls, in
}

// history makes a repository with several snapshots: a first backup, a
// run stopped midway (some of its data packs uploaded, indexed by the next
// snapshot), the run that finishes it, a no-change run, a change, and a
// second root; and finally, if unfinished, a run stopped for good, leaving
// uploaded data packs that no snapshot lists.
func history(t *testing.T, e *env, unfinished bool) string {
	src := filepath.Join(t.TempDir(), "src")
	testrepo.WriteFile(t, filepath.Join(src, "docs", "a.txt"), []byte(strings.Repeat("hello deep archive\n", 1000)))
	testrepo.WriteFile(t, filepath.Join(src, "docs", "empty"), nil)
	testrepo.WriteFile(t, filepath.Join(src, "photos", "big.raw"), testrepo.Random(3<<20+12345))
	testrepo.WriteFile(t, filepath.Join(src, "odd", "name\xff\xfe with space"), []byte("non-UTF-8 name"))
	os.MkdirAll(filepath.Join(src, "empty-dir"), 0o755)
	os.Symlink("../docs/a.txt", filepath.Join(src, "odd", "link"))
	e.backup(src)

	for i := range 6 {
		testrepo.WriteFile(t, filepath.Join(src, "f", string(rune('a'+i))), testrepo.Random(900<<10))
	}
	e.stoppedRun(3, src)
	if un, _ := e.Cat.Packs(context.Background(), catalog.PackFilter{Kind: catalog.PackData, State: catalog.Uploaded, Unindexed: true}); len(un) == 0 {
		t.Fatal("the stopped run uploaded no data pack")
	}
	if sum := e.backup(src); sum.ResumedPacks == 0 {
		t.Fatalf("resumed run: %+v", sum)
	}
	if sum := e.backup(src); !sum.Unchanged {
		t.Fatalf("no-change run: %+v", sum)
	}
	testrepo.WriteFile(t, filepath.Join(src, "docs", "new.txt"), []byte("a new small file"))
	os.Rename(filepath.Join(src, "photos", "big.raw"), filepath.Join(src, "photos", "renamed.raw"))
	e.backup(src)
	other := filepath.Join(t.TempDir(), "other")
	testrepo.WriteFile(t, filepath.Join(other, "x", "y", "z.bin"), testrepo.Random(1500<<10))
	e.backup(src, other)

	if unfinished {
		for i := range 4 {
			testrepo.WriteFile(t, filepath.Join(other, "late", string(rune('a'+i))), testrepo.Random(900<<10))
		}
		e.stoppedRun(2, src, other)
	}
	return src
}

// TestRecoverRebuildsIdenticalCatalog is issue 4's test: `recover` on an
// empty machine rebuilds snapshots, trees and the blob index identical to
// the original catalog.
func TestRecoverRebuildsIdenticalCatalog(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	history(t, e, true)
	orig := e.Cat
	snaps, _ := orig.Snapshots(ctx)
	if len(snaps) != 4 {
		t.Fatalf("%d snapshots, want 4", len(snaps))
	}
	unindexed, err := orig.Packs(ctx, catalog.PackFilter{Kind: catalog.PackData, State: catalog.Uploaded, Unindexed: true})
	if err != nil || len(unindexed) == 0 {
		t.Fatalf("the last stopped run left no uploaded, unindexed data pack: %v", err)
	}

	for _, allData := range []bool{false, true} {
		name := map[bool]string{false: "metadata-only", true: "all-data"}[allData]
		t.Run(name, func(t *testing.T) {
			e.T = t
			before := e.Srv.Counts()
			ls, in := e.download(allData)
			thawed := e.Srv.Counts()["RestoreObject"] - before["RestoreObject"]
			if want := 1 + len(ls.Meta) + map[bool]int{false: 0, true: len(ls.Data)}[allData]; thawed != want {
				t.Errorf("%d restore requests, want %d", thawed, want)
			}
			if e.Srv.Counts()["ListObjectsV2"]-before["ListObjectsV2"] != 1 {
				t.Errorf("recovery listed the bucket %d times", e.Srv.Counts()["ListObjectsV2"]-before["ListObjectsV2"])
			}
			fresh := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "new", "catalog.db"))
			res, err := recovery.Rebuild(ctx, fresh, e.kit(), in)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("result: %+v", res)

			var wantUnindexed []string
			for _, p := range unindexed {
				wantUnindexed = append(wantUnindexed, p.Key)
			}
			slices.Sort(wantUnindexed)
			if !slices.Equal(res.Unindexed, wantUnindexed) {
				t.Errorf("unindexed data packs %v, want %v", res.Unindexed, wantUnindexed)
			}
			if res.Snapshots != 4 || len(res.Missing) != 0 || len(res.Incomplete) != 0 || res.RepoID != e.Repo.Config.ID {
				t.Errorf("result %+v", res)
			}
			skip := map[string]bool{}
			if !allData {
				skip = map[string]bool{}
				for _, k := range wantUnindexed {
					skip[k] = true
				}
			}
			sameCatalog(t, orig, fresh, skip)

			// The rebuilt catalog opens as the repository.
			r, err := repo.Open(ctx, fresh, e.Secrets)
			if err != nil {
				t.Fatal(err)
			}
			if r.Config.ID != e.Repo.Config.ID || r.Layout != e.Repo.Layout || r.Bucket != "backups" || r.Polynomial != e.Repo.Polynomial {
				t.Errorf("reopened repository: %+v", r)
			}
			// Recovering into it again is refused.
			if _, err := recovery.Rebuild(ctx, fresh, e.kit(), in); !errors.Is(err, recovery.ErrNotEmpty) {
				t.Errorf("second rebuild: %v", err)
			}
		})
	}
}

// sameCatalog compares two catalogs through their public API: snapshots,
// every tree reachable from them, uploaded packs and the blob index.
// Packs named in skip (and their blobs) are expected only in a.
func sameCatalog(t *testing.T, a, b *catalog.Catalog, skip map[string]bool) {
	t.Helper()
	ctx := context.Background()
	sa, err := a.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != len(sb) {
		t.Fatalf("%d snapshots, rebuilt %d", len(sa), len(sb))
	}
	for i := range sa {
		x, y := sa[i], sb[i]
		var xs, ys any
		json.Unmarshal(x.Summary, &xs)
		json.Unmarshal(y.Summary, &ys)
		xj, _ := json.Marshal(xs)
		yj, _ := json.Marshal(ys)
		if x.ID != y.ID || !x.Time.Equal(y.Time) || x.Host != y.Host || !slices.Equal(x.Paths, y.Paths) ||
			!slices.Equal(x.Tags, y.Tags) || x.Root != y.Root || !slices.Equal(x.MetaKeys, y.MetaKeys) || !bytes.Equal(xj, yj) {
			t.Errorf("snapshot %d:\n original %+v\n rebuilt  %+v", i, x, y)
		}
	}

	// Trees: every tree reachable from every snapshot, byte for byte.
	seen := map[pack.ID]bool{}
	var walk func(id pack.ID)
	walk = func(id pack.ID) {
		if seen[id] {
			return
		}
		seen[id] = true
		x, err := a.Tree(ctx, id)
		if err != nil {
			t.Fatalf("original tree %s: %v", id, err)
		}
		y, err := b.Tree(ctx, id)
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("tree %s: rebuilt %q, %v", id, y, err)
			return
		}
		tr, err := tree.Decode(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			if n.Type == tree.TypeDir {
				walk(n.Subtree)
			}
		}
	}
	for _, s := range sa {
		walk(s.Root)
	}
	if len(seen) < 8 {
		t.Errorf("only %d trees reachable", len(seen))
	}

	// Uploaded packs, and every blob of each.
	pa, err := a.Packs(ctx, catalog.PackFilter{State: catalog.Uploaded})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Packs(ctx, catalog.PackFilter{})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := map[string]catalog.Pack{}
	for _, p := range pb {
		rebuilt[p.Key] = p
	}
	blobs, kinds := 0, map[catalog.PackKind]int{}
	for _, x := range pa {
		y, ok := rebuilt[x.Key]
		delete(rebuilt, x.Key)
		if skip[x.Key] {
			if ok {
				t.Errorf("pack %s should not be in the rebuilt catalog", x.Key)
			}
			continue
		}
		if !ok {
			t.Errorf("pack %s (%s) missing from the rebuilt catalog", x.Key, x.Kind)
			continue
		}
		kinds[x.Kind]++
		if x.Kind != y.Kind || x.Size != y.Size || x.SHA256 != y.SHA256 || y.State != catalog.Uploaded || x.Blobs != y.Blobs || x.IndexedBy != y.IndexedBy {
			t.Errorf("pack %s:\n original %+v\n rebuilt  %+v", x.Key, x, y)
		}
		entries, err := a.PackEntries(ctx, x.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range entries {
			blobs++
			la, err := a.Blob(ctx, en.ID)
			if err != nil {
				t.Fatal(err)
			}
			lb, err := b.Blob(ctx, en.ID)
			if err != nil {
				t.Errorf("blob %s (%s, in %s): %v", en.ID, en.Kind, x.Key, err)
				continue
			}
			if la.PackKey != lb.PackKey || la.Entry != lb.Entry || lb.State != catalog.Uploaded {
				t.Errorf("blob %s:\n original %+v\n rebuilt  %+v", en.ID, la, lb)
			}
		}
	}
	for k := range rebuilt {
		t.Errorf("rebuilt catalog has pack %s the original does not", k)
	}
	if kinds[catalog.PackData] < 4 || kinds[catalog.PackMeta] < 4 {
		t.Errorf("compared %v packs: too few to mean much", kinds)
	}
	st, _ := b.Stats(ctx)
	if st.Blobs != int64(blobs) {
		t.Errorf("rebuilt catalog has %d blobs, the original's uploaded packs %d", st.Blobs, blobs)
	}
	t.Logf("compared %d snapshots, %d trees, %v packs, %d blobs", len(sa), len(seen), kinds, blobs)
}

// TestRecoverRefusals: a wrong kit, a truncated or tampered metadata pack,
// a truncated download: a clear error and an empty catalog.
func TestRecoverRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	testrepo.WriteFile(t, filepath.Join(src, "a"), testrepo.Random(200<<10))
	e.backup(src)
	testrepo.WriteFile(t, filepath.Join(src, "b"), testrepo.Random(200<<10))
	e.backup(src)
	_, in := e.download(true)
	good := e.kit()

	empty := func(t *testing.T, c *catalog.Catalog) {
		t.Helper()
		if st, err := c.Stats(ctx); err != nil || !st.Empty() {
			t.Errorf("catalog not empty after a refused rebuild: %+v, %v", st, err)
		}
	}
	try := func(t *testing.T, kit keystore.Kit, in recovery.Input) (*catalog.Catalog, error) {
		c := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
		_, err := recovery.Rebuild(ctx, c, kit, in)
		if err == nil {
			t.Fatal("rebuild succeeded")
		}
		t.Logf("error: %v", err)
		empty(t, c)
		return c, err
	}

	t.Run("wrong identity", func(t *testing.T) {
		other, _ := age.GenerateHybridIdentity()
		k := good
		k.Identity = other.String()
		if _, err := try(t, k, in); !errors.Is(err, recovery.ErrWrongKit) || !strings.Contains(err.Error(), "config") {
			t.Errorf("error %v", err)
		}
		x, _ := age.GenerateX25519Identity()
		k.Identity = x.String()
		if _, err := try(t, k, in); !errors.Is(err, recovery.ErrWrongKit) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("wrong blob-ID key", func(t *testing.T) {
		k := good
		k.BlobIDKey[0] ^= 1
		if _, err := try(t, k, in); !errors.Is(err, recovery.ErrWrongKit) || !strings.Contains(err.Error(), "blob-ID key") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("another repository's kit", func(t *testing.T) {
		k := good
		k.RepoID = strings.Repeat("ab", 16)
		if _, err := try(t, k, in); !errors.Is(err, recovery.ErrWrongKit) || !strings.Contains(err.Error(), k.RepoID) {
			t.Errorf("error %v", err)
		}
	})

	// Damage one copy of a metadata pack.
	damaged := func(t *testing.T, i int, mutate func([]byte) []byte) recovery.Input {
		b, err := os.ReadFile(in.Meta[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		b = mutate(b)
		p := filepath.Join(t.TempDir(), "damaged")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out := in
		out.Meta = slices.Clone(in.Meta)
		out.Meta[i].Path = p
		return out
	}
	last := len(in.Meta) - 1
	key := in.Meta[last].Key
	t.Run("truncated download", func(t *testing.T) {
		d := damaged(t, last, func(b []byte) []byte { return b[:len(b)-100] })
		if _, err := try(t, good, d); !errors.Is(err, recovery.ErrBadObject) || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("truncated object", func(t *testing.T) {
		d := damaged(t, last, func(b []byte) []byte { return b[:len(b)-100] })
		d.Meta[last].Size -= 100 // as if the bucket held the short object
		if _, err := try(t, good, d); !errors.Is(err, recovery.ErrBadObject) || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v", err)
		}
	})
	for _, at := range []int{200, 2000, -300, -20} { // age header, payload, index, final chunk
		t.Run(fmt.Sprintf("tampered at %d", at), func(t *testing.T) {
			d := damaged(t, 0, func(b []byte) []byte {
				if at < 0 {
					at += len(b)
				}
				b[at] ^= 0x40
				return b
			})
			if _, err := try(t, good, d); !errors.Is(err, recovery.ErrBadObject) || !strings.Contains(err.Error(), in.Meta[0].Key) {
				t.Errorf("error %v", err)
			}
		})
	}
	t.Run("tampered data pack", func(t *testing.T) {
		b, _ := os.ReadFile(in.Data[0].Path)
		b[100] ^= 1
		p := filepath.Join(t.TempDir(), "data")
		os.WriteFile(p, b, 0o600)
		d := in
		d.Data = slices.Clone(in.Data)
		d.Data[0].Path = p
		if _, err := try(t, good, d); !errors.Is(err, recovery.ErrBadObject) || !strings.Contains(err.Error(), in.Data[0].Key) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("not empty", func(t *testing.T) {
		c := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
		c.SetSetting(ctx, "something", []byte("x"))
		if _, err := recovery.Rebuild(ctx, c, good, in); !errors.Is(err, recovery.ErrNotEmpty) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no repository", func(t *testing.T) {
		l, _ := repo.NewLayout("icevault/", "nothing-here")
		if _, err := recovery.Objects(ctx, e.Store, l); !errors.Is(err, recovery.ErrNoRepository) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("good", func(t *testing.T) {
		c := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
		res, err := recovery.Rebuild(ctx, c, good, in)
		if err != nil || res.Snapshots != 2 || len(res.Warnings) != 0 {
			t.Fatalf("%+v, %v", res, err)
		}
	})
}

// TestRecoverOddObjects: a metadata pack of a run that crashed (trees, no
// snapshot record), a data pack no record lists, a stray object: recovery
// succeeds and says what it found.
func TestRecoverOddObjects(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	testrepo.WriteFile(t, filepath.Join(src, "a"), testrepo.Random(200<<10))
	first := e.backup(src)

	put := func(key string, body []byte) {
		t.Helper()
		if _, err := e.Store.Put(ctx, store.PutRequest{Key: key, Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: sha256.Sum256(body)}); err != nil {
			t.Fatal(err)
		}
	}
	makePack := func(kind pack.Kind, blobs ...[]byte) []byte {
		var buf bytes.Buffer
		w, err := pack.NewWriter(&buf, e.Repo.Recipients, pack.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blobs {
			if err := w.Add(kind, e.Repo.IDKey.ID(b), b); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// A crashed run's metadata pack: one tree, no snapshot record.
	orphanTree, _ := tree.Encode(tree.Tree{Nodes: []tree.Node{{Name: "lost", Type: tree.TypeFile, Mode: 0o644}}})
	e.Clock.Advance(time.Hour)
	orphanKey := e.Repo.Layout.MetaKey(e.Clock.Now(), "deadbeefdeadbeefdeadbeefdeadbeef", 0)
	put(orphanKey, makePack(pack.KindTree, orphanTree))
	// A data pack no record lists.
	lostData := []byte("data of a run that never finished")
	body := makePack(pack.KindData, lostData)
	unindexedKey := e.Repo.Layout.DataKey(sha256.Sum256(body))
	put(unindexedKey, body)
	// Something that is not part of the layout.
	put(e.Repo.Layout.Root+"README", []byte("hello"))

	ls, err := recovery.Objects(ctx, e.Store, e.Repo.Layout)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ls.Other, []string{e.Repo.Layout.Root + "README"}) || len(ls.Meta) != 2 {
		t.Fatalf("listing %+v", ls)
	}
	for _, allData := range []bool{false, true} {
		_, in := e.download(allData)
		c := testrepo.OpenCatalog(t, filepath.Join(t.TempDir(), "catalog.db"))
		res, err := recovery.Rebuild(ctx, c, e.kit(), in)
		if err != nil {
			t.Fatal(err)
		}
		if res.Snapshots != 1 || !slices.Equal(res.Unindexed, []string{unindexedKey}) || len(res.Incomplete) != 0 {
			t.Errorf("result %+v", res)
		}
		if got, err := c.Tree(ctx, e.Repo.IDKey.ID(orphanTree)); err != nil || !bytes.Equal(got, orphanTree) {
			t.Errorf("orphan tree: %q, %v", got, err)
		}
		un, _ := c.Packs(ctx, catalog.PackFilter{Unindexed: true})
		var keys []string
		for _, p := range un {
			keys = append(keys, p.Key)
		}
		want := []string{orphanKey}
		if allData {
			want = append(want, unindexedKey)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("all-data %v: unindexed packs %v, want %v", allData, keys, want)
		}
		has, _ := c.HasBlob(ctx, e.Repo.IDKey.ID(lostData))
		if has != allData {
			t.Errorf("all-data %v: blob of the unindexed pack known: %v", allData, has)
		}
		s, err := c.FindSnapshot(ctx, "latest")
		if err != nil || s.ID != first.SnapshotID {
			t.Errorf("latest %+v, %v", s, err)
		}
	}
}
