package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/pack"
)

func entries(kind pack.Kind, ids ...byte) []pack.Entry {
	var out []pack.Entry
	for i, b := range ids {
		out = append(out, pack.Entry{ID: id(b), Kind: kind, Offset: int64(46 + 100*i), Length: 50, RawLength: 50})
	}
	return out
}

func TestAddUploadedPack(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if s, err := c.Stats(ctx); err != nil || !s.Empty() {
		t.Fatalf("new catalog: %+v, %v", s, err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p1 := Pack{Key: "r/data/01", Kind: PackData, Size: 1000, SHA256: [32]byte{1}, Created: at, IndexedBy: "r/meta/x-000"}
	id1, err := c.AddUploadedPack(ctx, p1, entries(pack.KindData, 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.PackByID(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Uploaded || got.IndexedBy != "r/meta/x-000" || got.Blobs != 3 || got.SHA256 != p1.SHA256 ||
		got.Size != 1000 || got.LocalPath != "" || !got.Uploaded.Equal(at) || got.Kind != PackData {
		t.Fatalf("pack row: %+v", got)
	}

	// Blob 3 also sits in a second pack (a crash can do that): the first
	// location stays, and the second pack is recorded whole.
	p2 := Pack{Key: "r/data/02", Kind: PackData, Size: 2000, SHA256: [32]byte{2}, Created: at}
	id2, err := c.AddUploadedPack(ctx, p2, entries(pack.KindData, 3, 4))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := c.Blob(ctx, id(3))
	if err != nil || loc.PackKey != "r/data/01" || loc.Entry.Offset != 246 {
		t.Fatalf("blob 3: %+v, %v", loc, err)
	}
	if loc, err := c.Blob(ctx, id(4)); err != nil || loc.PackID != id2 || loc.State != Uploaded {
		t.Fatalf("blob 4: %+v, %v", loc, err)
	}
	if un, _ := c.Packs(ctx, PackFilter{Unindexed: true}); len(un) != 1 || un[0].Key != "r/data/02" {
		t.Fatalf("unindexed: %+v", un)
	}

	// Same key again: refused, nothing changed.
	if _, err := c.AddUploadedPack(ctx, Pack{Key: "r/data/01", Kind: PackData, Size: 5, Created: at}, entries(pack.KindData, 9)); !errors.Is(err, ErrPackExists) {
		t.Fatalf("re-adding a pack: %v", err)
	}
	if ok, _ := c.HasBlob(ctx, id(9)); ok {
		t.Fatal("a refused pack left a blob behind")
	}
	// A bad pack is refused.
	if _, err := c.AddUploadedPack(ctx, Pack{Key: "r/x", Kind: 7, Size: 5}, nil); err == nil {
		t.Fatal("kind 7 accepted")
	}

	// A meta pack with trees.
	if _, err := c.AddUploadedPack(ctx, Pack{Key: "r/meta/x-000", Kind: PackMeta, Size: 300, Created: at, IndexedBy: "r/meta/x-000"},
		entries(pack.KindTree, 20, 21)); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTrees(ctx, []TreeBlob{{ID: id(20), Data: []byte("t20")}, {ID: id(21), Data: []byte("t21")}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTrees(ctx, []TreeBlob{{ID: id(20), Data: []byte("other")}}); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Tree(ctx, id(20)); err != nil || string(b) != "t20" {
		t.Fatalf("tree 20: %q, %v", b, err)
	}

	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Packs: 3, DataPacks: 2, MetaPacks: 1, Blobs: 6, Trees: 2, UnindexedPacks: 1}
	if s != want || s.Empty() {
		t.Fatalf("stats %+v, want %+v", s, want)
	}
	// A rebuilt pack is as good as an uploaded one: snapshots commit.
	if err := c.CommitSnapshot(ctx, Snapshot{ID: "s1", Time: at, Root: id(20)}, "r/meta/y-000", 1); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.PackByID(ctx, id2); p.IndexedBy != "r/meta/y-000" {
		t.Fatalf("after commit: %+v", p)
	}
}

func TestAddSnapshot(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s := Snapshot{ID: "abc", Time: at, Host: "h", Paths: []string{"/a", "/b"}, Tags: []string{"t"}, Root: id(7),
		MetaKeys: []string{"r/meta/1-abc-000", "r/meta/1-abc-001"}, Summary: json.RawMessage(`{"files_new":3}`)}
	if err := c.AddSnapshot(ctx, s); err != nil {
		t.Fatal(err)
	}
	// A duplicate ID is ignored; the first row stays.
	if err := c.AddSnapshot(ctx, Snapshot{ID: "abc", Time: at.Add(time.Hour), Root: id(8)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddSnapshot(ctx, Snapshot{ID: "def", Time: at.Add(time.Hour), Root: id(9)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddSnapshot(ctx, Snapshot{}); err == nil {
		t.Fatal("a snapshot without an ID was added")
	}
	got, err := c.FindSnapshot(ctx, "abc")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(at) || got.Host != "h" || got.Root != id(7) || len(got.Paths) != 2 || got.Tags[0] != "t" ||
		len(got.MetaKeys) != 2 || string(got.Summary) != `{"files_new":3}` {
		t.Fatalf("snapshot: %+v", got)
	}
	if d, err := c.FindSnapshot(ctx, "def"); err != nil || d.Paths == nil || d.Tags == nil || string(d.Summary) != "{}" {
		t.Fatalf("snapshot def: %+v, %v", d, err)
	}
	if s, _ := c.Stats(ctx); s.Snapshots != 2 || s.Empty() {
		t.Fatalf("stats: %+v", s)
	}
}
