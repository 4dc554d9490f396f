package backup_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLongPathRoundTrip backs up a tree whose paths are longer than
// PATH_MAX (40 levels of 200-byte names, built with *at calls since
// mkdir(2) refuses the full path) and reads it back in memory: every name,
// and the content of files at the bottom and half way down, intact; a
// second run finds them all unchanged through the file cache.
func TestLongPathRoundTrip(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "top.txt"), []byte("shallow"))
	fd, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"top.txt": []byte("shallow")}
	var rel []string
	put := func(dirfd int, name string, data []byte) {
		t.Helper()
		ffd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(ffd, data); err != nil {
			t.Fatal(err)
		}
		unix.Close(ffd)
		want[strings.Join(append(rel[:len(rel):len(rel)], name), "/")] = data
	}
	for i := range 40 {
		// Non-ASCII and non-UTF-8 bytes too, so the names are not only
		// long but raw.
		name := strings.Repeat(string(rune('a'+i%26)), 197) + "\xc3\xa9\xff"
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
		rel = append(rel, name)
		if i == 20 {
			put(fd, "middle.bin", randomBytes(700<<10))
		}
	}
	put(fd, "bottom.txt", []byte("deep down"))
	unix.Close(fd)
	if n := len(src) + len(strings.Join(rel, "/")); n <= unix.PathMax {
		t.Fatalf("deepest folder only %d bytes", n)
	}

	sum := e.Backup(src)
	if sum.FilesNew != 3 || sum.Dirs != 41 || sum.Partial() {
		t.Fatalf("backup of the deep tree: %+v", sum)
	}
	got := e.readBack(sum.SnapshotID)
	for p, data := range want {
		if g, ok := got[p]; !ok || !bytes.Equal(g.Data, data) {
			t.Errorf("%d-byte path %.40q...: in the snapshot %v, %d bytes (want %d)", len(p), p, ok, len(g.Data), len(data))
		}
	}
	// Every folder on the way down, with its exact name.
	for i := range rel {
		if _, ok := got[strings.Join(rel[:i+1], "/")]; !ok {
			t.Fatalf("folder %d on the way down is missing", i+1)
		}
	}
	if len(got) != len(want)+len(rel) {
		t.Errorf("%d entries read back, want %d", len(got), len(want)+len(rel))
	}
	deep := filepath.Join(append([]string{src}, append(rel, "bottom.txt")...)...)
	if st, ok, err := e.Cat.File(context.Background(), deep); err != nil || !ok || st.Size != int64(len("deep down")) {
		t.Fatalf("file cache for the %d-byte path: %+v %v %v", len(deep), st, ok, err)
	}
	if again := e.Backup(src); !again.Unchanged || again.BytesRead != 0 || again.FilesUnchanged != 3 {
		t.Fatalf("second run over the deep tree: %+v", again)
	}
}
