package backup_test

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/tree"
)

// TestFolderLocality checks that a folder's files are kept together in
// packs, so restoring one folder thaws few packs: with 1 MiB packs, each
// folder's own files (not its subfolders') occupy a contiguous run of data
// packs, sharing at most the packs at either end with the folders before
// and after it, and a folder smaller than a pack lives in at most two.
// Folders mix files and subfolders, with files sorting both before and
// after the subfolders.
func TestFolderLocality(t *testing.T) {
	const packSize = 1 << 20
	e := newEnv(t, packSize)
	src := filepath.Join(t.TempDir(), "src")
	// Files below chunk.MinSize are one blob each; random, so no blob is
	// shared between folders.
	folders := map[string]struct{ files, size int }{
		"a":         {12, 250 << 10}, // 3 MiB
		"a/0sub":    {3, 200 << 10},  // smaller than a pack
		"a/msub":    {10, 300 << 10}, // 3 MiB, between a's files
		"a/msub/in": {2, 100 << 10},
		"b":         {3, 150 << 10},
		"c":         {1, 50 << 10},
		"d":         {8, 400 << 10},
		"d/zsub":    {4, 120 << 10},
		"e":         {5, 180 << 10},
	}
	for dir, f := range folders {
		for i := range f.files {
			// a/ gets files named before and after its subfolders.
			name := fmt.Sprintf("%c%02d.bin", "0nz"[i%3], i)
			writeFile(t, filepath.Join(src, filepath.FromSlash(dir), name), randomBytes(f.size+i))
		}
	}
	sum := e.Backup(src)
	if sum.Partial() || sum.Packs < 10 {
		t.Fatalf("backup: %+v", sum)
	}

	ctx := context.Background()
	packs, err := e.Cat.Packs(ctx, catalog.PackFilter{Kind: catalog.PackData})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(packs, func(i, j int) bool { return packs[i].ID < packs[j].ID }) // the order they were sealed in
	seq := map[string]int{}
	for i, p := range packs {
		seq[p.Key] = i
	}

	// Each folder's own file blobs, from the snapshot's trees in the
	// catalog, mapped to the packs the catalog places them in.
	snap, err := e.Cat.FindSnapshot(ctx, sum.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	readTree := func(id pack.ID) tree.Tree {
		t.Helper()
		var tr tree.Tree
		data, err := e.Cat.Tree(ctx, id)
		if err == nil {
			tr, err = tree.Decode(data)
		}
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	inPacks := map[string]map[int]bool{}
	var walk func(dir string, tr tree.Tree)
	walk = func(dir string, tr tree.Tree) {
		for _, n := range tr.Nodes {
			switch n.Type {
			case tree.TypeDir:
				walk(path.Join(dir, n.Name), readTree(n.Subtree))
			case tree.TypeFile:
				for _, id := range n.Content {
					loc, err := e.Cat.Blob(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if inPacks[dir] == nil {
						inPacks[dir] = map[int]bool{}
					}
					inPacks[dir][seq[loc.PackKey]] = true
				}
			}
		}
	}
	walk("", readTree(readTree(snap.Root).Nodes[0].Subtree))

	type run struct{ dir, packs string }
	var runs []run
	first := map[string]int{}
	last := map[string]int{}
	for dir, f := range folders {
		ps := inPacks[dir]
		lo, hi := len(packs), -1
		for p := range ps {
			lo, hi = min(lo, p), max(hi, p)
		}
		first[dir], last[dir] = lo, hi
		runs = append(runs, run{dir, fmt.Sprint(sortedKeys(ps))})
		if len(ps) == 0 {
			t.Errorf("%s: no blobs found", dir)
			continue
		}
		if hi-lo+1 != len(ps) {
			t.Errorf("%s: its files are in packs %v, not one run", dir, sortedKeys(ps))
		}
		if int64(f.files)*int64(f.size+f.files) < packSize && len(ps) > 2 {
			t.Errorf("%s: smaller than a pack, but in %d packs %v", dir, len(ps), sortedKeys(ps))
		}
	}
	// Folders do not interleave: two runs share at most one pack, at
	// their ends.
	for a := range folders {
		for b := range folders {
			if a < b && first[a] < last[b] && first[b] < last[a] {
				t.Errorf("%s (packs %d-%d) and %s (packs %d-%d) interleave", a, first[a], last[a], b, first[b], last[b])
			}
		}
	}
	if t.Failed() {
		sort.Slice(runs, func(i, j int) bool { return runs[i].dir < runs[j].dir })
		t.Logf("%d data packs; %s", len(packs), strings.ReplaceAll(fmt.Sprint(runs), "} {", "}\n{"))
	}
}

func sortedKeys(m map[int]bool) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
