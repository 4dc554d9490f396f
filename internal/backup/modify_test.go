package backup_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/chunk"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/scan"
	"github.com/icevault/icevault/internal/testrepo"
)

// dataPacks counts the data packs the catalog knows.
func (e env) dataPacks() int {
	e.T.Helper()
	ps, err := e.Cat.Packs(context.Background(), catalog.PackFilter{Kind: catalog.PackData})
	if err != nil {
		e.T.Fatal(err)
	}
	return len(ps)
}

// TestModifiedFile edits a multi-MiB file in place, keeping its size or
// not: the next run reads it as changed (not new), stores only the chunks
// around the edit, and the snapshot reads back as the new bytes.
func TestModifiedFile(t *testing.T) {
	const size = 32 << 20 // ~20 chunks of ~1.5 MiB
	for _, tc := range []struct {
		name string
		edit func(old []byte) []byte
	}{
		{"overwrite same size", func(old []byte) []byte {
			b := bytes.Clone(old)
			copy(b[len(b)/2:], "sixteen new byte")
			return b
		}},
		{"insert grows", func(old []byte) []byte {
			mid := len(old)/2 + 12345
			return append(append(bytes.Clone(old[:mid]), bytes.Repeat([]byte("ins"), 40)...), old[mid:]...)
		}},
		{"delete shrinks", func(old []byte) []byte {
			mid := len(old)/3 + 777
			return append(bytes.Clone(old[:mid]), old[mid+5000:]...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 8<<20)
			src := filepath.Join(t.TempDir(), "src")
			big := filepath.Join(src, "big.bin")
			old := randomBytes(size)
			writeFile(t, big, old)
			writeFile(t, filepath.Join(src, "small.txt"), []byte("unchanged"))
			first := e.Backup(src)
			if first.FilesNew != 2 || first.BytesAdded != int64(size+len("unchanged")) {
				t.Fatalf("first backup: %+v", first)
			}
			oldContent := e.readBack(first.SnapshotID)["big.bin"].Node.Content
			ino := inode(t, big)

			// Edit in place: same inode, new bytes.
			data := tc.edit(old)
			f, err := os.OpenFile(big, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if inode(t, big) != ino {
				t.Fatal("the edit replaced the file")
			}

			sum := e.Backup(src)
			if sum.FilesChanged != 1 || sum.FilesNew != 0 || sum.FilesUnchanged != 1 || sum.Partial() ||
				sum.BytesRead != int64(len(data)) || sum.SnapshotID == first.SnapshotID {
				t.Fatalf("after the edit: %+v", sum)
			}
			// One blob reader for both checks: each thaws what it reads.
			root, blobData := e.snapshotRoot(sum.SnapshotID)
			got := testrepo.ReadTree(t, blobData, root.Nodes[0].Subtree)
			if !bytes.Equal(got["big.bin"].Data, data) {
				t.Fatal("the snapshot does not read back as the edited file")
			}
			if string(got["small.txt"].Data) != "unchanged" {
				t.Fatal("the unchanged file lost its content")
			}

			// Only the chunks around the edit are new: content-defined
			// cuts resynchronise at the next boundary, so at most the
			// edited chunk and its neighbour differ, and BytesAdded is
			// exactly their bytes.
			was := map[pack.ID]bool{}
			for _, id := range oldContent {
				was[id] = true
			}
			var added int64
			var fresh int
			for _, id := range got["big.bin"].Node.Content {
				if !was[id] {
					fresh++
					added += int64(len(blobData(id)))
				}
			}
			if fresh == 0 || fresh > 2 || sum.BytesAdded != added {
				t.Fatalf("%d new chunks of %d bytes (of %d), BytesAdded %d; want 1 or 2 and equal",
					fresh, added, len(got["big.bin"].Node.Content), sum.BytesAdded)
			}
			if sum.BytesAdded > 2*chunk.MaxSize || sum.BytesAdded > int64(len(data))/2 {
				t.Fatalf("BytesAdded %d for an edit of a %d-byte file", sum.BytesAdded, len(data))
			}
		})
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestTouchedFileAddsNoBlobs: a file whose mtime changed but whose content
// did not is read again (the cache cannot know), adds no blob and no data
// pack, and the snapshot records the new mtime.
func TestTouchedFileAddsNoBlobs(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	p := filepath.Join(src, "f.bin")
	data := randomBytes(3<<20 + 5)
	writeFile(t, p, data)
	first := e.Backup(src)
	before := e.readBack(first.SnapshotID)["f.bin"].Node
	packs, puts := e.dataPacks(), e.puts()

	mt := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	sum := e.Backup(src)
	if sum.FilesChanged != 1 || sum.FilesNew != 0 || sum.BytesRead != int64(len(data)) || sum.BytesAdded != 0 ||
		sum.Partial() || sum.Unchanged {
		t.Fatalf("after touch: %+v", sum)
	}
	if e.dataPacks() != packs {
		t.Fatalf("%d new data packs for a touched file", e.dataPacks()-packs)
	}
	// The new snapshot costs one metadata pack: the changed tree and the
	// snapshot record.
	if n := e.puts() - puts; n != 1 || sum.PutRequests != 1 {
		t.Fatalf("%d PUTs (summary %d) for a touched file, want 1", n, sum.PutRequests)
	}
	after := e.readBack(sum.SnapshotID)["f.bin"]
	if after.Node.MtimeNs != mt.UnixNano() || !bytes.Equal(after.Data, data) || !equalIDs(after.Node.Content, before.Content) {
		t.Fatalf("touched file reads back with mtime %v (want %v), same bytes %v, same blobs %v",
			time.Unix(0, after.Node.MtimeNs), mt, bytes.Equal(after.Data, data), equalIDs(after.Node.Content, before.Content))
	}
	if again := e.Backup(src); !again.Unchanged || again.BytesRead != 0 {
		t.Fatalf("run after the touch: %+v", again)
	}
}

func equalIDs(a, b []pack.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// runEvents backs up src with the hook-free defaults and returns the
// summary and the notices reported.
func (e env) runEvents(src string) (backup.Summary, []scan.Notice) {
	e.T.Helper()
	var notices []scan.Notice
	sum, err := e.Run(backup.Options{Paths: []string{src}, Events: func(ev backup.Event) {
		if ev.Kind == backup.EventNotice {
			notices = append(notices, *ev.Notice)
		}
	}})
	if err != nil {
		e.T.Fatalf("backup: %v", err)
	}
	return sum, notices
}

// rewrite replaces p's content in place and sets its mtime, so the change
// is visible even within the file system's timestamp granularity.
func rewrite(t *testing.T, p string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func mtimeNs(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().UnixNano()
}

// TestChangesWhileReadOnce: a file that changes while it is read is read a
// second time; when that read is stable the snapshot holds the new bytes
// with their mtime, there is no warning, and the file cache knows the file
// as it is now, so the next run does not read it again.
func TestChangesWhileReadOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		v2   []byte
	}{
		{"same size", bytes.Repeat([]byte("B"), 300<<10)},
		{"grows", randomBytes(700 << 10)},
		{"shrinks", []byte("short now")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1<<20)
			src := filepath.Join(t.TempDir(), "src")
			target := filepath.Join(src, "live.db")
			writeFile(t, target, bytes.Repeat([]byte("A"), 300<<10))
			writeFile(t, filepath.Join(src, "quiet.txt"), []byte("never changes"))
			v2Time := time.Now().Add(time.Hour).Truncate(time.Millisecond)
			var attempts []int
			backup.SetAfterRead(t, func(abs string, attempt int) {
				if abs != target {
					return
				}
				attempts = append(attempts, attempt)
				if attempt == 1 {
					rewrite(t, target, tc.v2, v2Time)
				}
			})
			sum, notices := e.runEvents(src)
			if len(attempts) != 2 {
				t.Fatalf("read %d times, want 2", len(attempts))
			}
			if sum.Partial() || len(notices) != 0 || sum.FilesNew != 2 || sum.SnapshotID == "" {
				t.Fatalf("summary %+v, notices %v; want a clean snapshot", sum, notices)
			}
			got := e.readBack(sum.SnapshotID)
			live := got["live.db"]
			if !bytes.Equal(live.Data, tc.v2) || live.Node.Size != int64(len(tc.v2)) {
				t.Fatalf("snapshot holds %d bytes (size %d), want the %d bytes of the re-read", len(live.Data), live.Node.Size, len(tc.v2))
			}
			if live.Node.MtimeNs != v2Time.UnixNano() {
				t.Errorf("snapshot records mtime %v for the re-read content, want %v", time.Unix(0, live.Node.MtimeNs), v2Time)
			}
			if string(got["quiet.txt"].Data) != "never changes" {
				t.Error("the other file is wrong")
			}
			st, ok, err := e.Cat.File(context.Background(), target)
			if err != nil || !ok || st.Size != int64(len(tc.v2)) || st.MtimeNs != v2Time.UnixNano() || !equalIDs(st.Blobs, live.Node.Content) {
				t.Fatalf("file cache row %+v, %v, %v; want the re-read", st, ok, err)
			}

			backup.SetAfterRead(t, nil)
			again, notices := e.runEvents(src)
			if !again.Unchanged || again.BytesRead != 0 || again.FilesUnchanged != 2 || len(notices) != 0 {
				t.Fatalf("next run: %+v %v; want nothing read", again, notices)
			}
		})
	}
}

// TestChangesWhileReadKeepsChanging: a file that changes during both reads
// is recorded as the second read got it — its bytes, its size and the
// mtime it had when that read began, all blobs stored — with a warning, so
// the run is partial; the file cache does not record it, so the next run
// reads it again and gets the settled content.
func TestChangesWhileReadKeepsChanging(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	target := filepath.Join(src, "sub", "busy.log")
	v1, v2, v3 := randomBytes(600<<10), randomBytes(900<<10), randomBytes(200<<10)
	writeFile(t, target, v1)
	writeFile(t, filepath.Join(src, "sub", "calm.txt"), []byte("calm"))
	base := time.Now().Truncate(time.Millisecond)
	backup.SetAfterRead(t, func(abs string, attempt int) {
		switch {
		case abs != target:
		case attempt == 1:
			rewrite(t, target, v2, base.Add(time.Hour))
		case attempt == 2:
			rewrite(t, target, v3, base.Add(2*time.Hour))
		default:
			t.Errorf("read attempt %d", attempt)
		}
	})
	sum, notices := e.runEvents(src)
	if !sum.Partial() || sum.Warnings != 1 || sum.SnapshotID == "" || sum.FilesNew != 2 {
		t.Fatalf("summary %+v; want a partial snapshot with both files and one warning", sum)
	}
	if len(notices) != 1 || notices[0].Path != "sub/busy.log" || notices[0].Kind != scan.ReadError || !notices[0].Warning() {
		t.Fatalf("notices %v; want one read-error warning for sub/busy.log", notices)
	}
	got := e.readBack(sum.SnapshotID)
	busy := got["sub/busy.log"]
	if !bytes.Equal(busy.Data, v2) || busy.Node.Size != int64(len(v2)) {
		t.Fatalf("snapshot holds %d bytes (size %d); want the %d bytes the second read got", len(busy.Data), busy.Node.Size, len(v2))
	}
	if busy.Node.MtimeNs != base.Add(time.Hour).UnixNano() {
		t.Errorf("snapshot records mtime %v, want %v (the file's when the second read began)", time.Unix(0, busy.Node.MtimeNs), base.Add(time.Hour))
	}
	if string(got["sub/calm.txt"].Data) != "calm" {
		t.Error("the other file is wrong")
	}
	if _, ok, err := e.Cat.File(context.Background(), target); ok || err != nil {
		t.Fatalf("the unstable file is in the file cache (%v, %v): the next run would skip it", ok, err)
	}
	if st, ok, _ := e.Cat.File(context.Background(), filepath.Join(src, "sub", "calm.txt")); !ok || st.Size != 4 {
		t.Fatal("the stable file is not in the file cache")
	}

	backup.SetAfterRead(t, nil)
	next, notices := e.runEvents(src)
	// Not in the file cache, the file counts as new again, though the
	// previous snapshot holds a version of it.
	if next.Partial() || len(notices) != 0 || next.FilesNew+next.FilesChanged != 1 || next.FilesUnchanged != 1 || next.BytesRead != int64(len(v3)) {
		t.Fatalf("next run: %+v %v; want the settled file read again", next, notices)
	}
	if b := e.readBack(next.SnapshotID)["sub/busy.log"].Data; !bytes.Equal(b, v3) {
		t.Fatalf("next snapshot holds %d bytes, want the settled %d", len(b), len(v3))
	}
	if mtimeNs(t, target) != base.Add(2*time.Hour).UnixNano() {
		t.Fatal("the file's mtime is not what the hook set")
	}
}
