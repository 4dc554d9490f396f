package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/icevault/icevault/internal/testenv"
)

// tree creates files ("name"), directories ("name/") and their parents
// under dir.
func tree(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("content of "+p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type walked struct {
	entries map[string]Entry // by path relative to the root; dirs end in "/"
	notices []Notice
}

func (w walked) paths() []string {
	var ps []string
	for p := range w.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

func (w walked) notice(path string, kind NoticeKind) bool {
	for _, n := range w.notices {
		if n.Path == path && n.Kind == kind {
			return true
		}
	}
	return false
}

// walk does what the backup engine does: ReadDir from the root, recursing
// into every directory entry.
func walk(t *testing.T, s *Scanner) walked {
	t.Helper()
	w := walked{entries: map[string]Entry{}}
	var rec func(rel string, dir Entry)
	rec = func(rel string, dir Entry) {
		entries, notices, err := s.ReadDir(context.Background(), rel, dir)
		if err != nil {
			t.Fatalf("ReadDir(%q): %v", rel, err)
		}
		w.notices = append(w.notices, notices...)
		if !slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }) {
			t.Errorf("ReadDir(%q) not sorted", rel)
		}
		for _, e := range entries {
			p := joinPath(rel, e.Name)
			if e.Type == Dir {
				w.entries[p+"/"] = e
				rec(p, e)
			} else {
				w.entries[p] = e
			}
		}
	}
	rec("", s.Root())
	return w
}

func newScanner(t *testing.T, root string, opts Options) *Scanner {
	t.Helper()
	s, err := NewScanner(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReadDirSortedNonUTF8(t *testing.T) {
	dir := t.TempDir()
	names := []string{"b", "\xff\xfe", "a", "B", "é", "\x01", "a\xff"}
	for _, n := range names {
		write(t, filepath.Join(dir, n), n)
	}
	s := newScanner(t, dir, Options{})
	entries, notices, err := s.ReadDir(context.Background(), "", s.Root())
	if err != nil || len(notices) != 0 {
		t.Fatalf("ReadDir: %v, %v", err, notices)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
		if e.Type != File || e.Size != int64(len(e.Name)) {
			t.Errorf("%q: type %v size %d", e.Name, e.Type, e.Size)
		}
	}
	want := slices.Clone(names)
	slices.Sort(want) // bytewise
	if !slices.Equal(got, want) {
		t.Fatalf("names %q, want %q", got, want)
	}
	f, err := s.Open(context.Background(), "", "\xff\xfe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "\xff\xfe" {
		t.Fatalf("read %q", b)
	}
}

func TestEntryMetadata(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f"), "hello")
	if err := os.Chmod(filepath.Join(dir, "f"), 0o751|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 123456789)
	if err := os.Chtimes(filepath.Join(dir, "f"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sticky"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sticky"), 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	s := newScanner(t, dir, Options{})
	w := walk(t, s)
	f, hard := w.entries["f"], w.entries["hard"]
	if f.Mode != 0o751|fs.ModeSetuid || f.Size != 5 || f.MtimeNs != mtime.UnixNano() || f.CtimeNs == 0 {
		t.Errorf("f: %+v", f)
	}
	if f.Nlink != 2 || f.Inode != hard.Inode || f.Dev != hard.Dev || f.Dev != s.Root().Dev {
		t.Errorf("hard link not detectable: %+v vs %+v", f, hard)
	}
	if f.UID != uint32(os.Getuid()) || f.GID != uint32(os.Getgid()) {
		t.Errorf("owner %d:%d", f.UID, f.GID)
	}
	if st := w.entries["sticky/"]; st.Mode != 0o777|fs.ModeSticky || st.Type != Dir {
		t.Errorf("sticky: %v %v", st.Mode, st.Type)
	}
	if s.Root().Type != Dir || s.Root().Name != filepath.Base(dir) {
		t.Errorf("root entry %+v", s.Root())
	}
}

func TestExcludes(t *testing.T) {
	files := []string{
		"a.log", "keep.log", "sub/b.log", "sub/keep.log",
		"build/out", "sub/build/out", "notdir/build", // "build" the file
		"top.txt", "sub/top.txt",
		"x/deep/a.tmp", "x/y/deep/b.tmp", "deep/c.tmp", "x/deep/keep.txt",
		"doc/a.md", "doc/sub/b.md",
		"cat", "bat", "hat",
		"node_modules/m/index.js", "src/node_modules/n/x.js",
		"\xff\xfe.bin", "plain.bin",
	}
	tests := []struct {
		name     string
		excludes []string
		gone     []string // files (or dirs with "/") that must be excluded
		kept     []string // must still be there
	}{
		{"basename glob", []string{"*.log"}, []string{"a.log", "sub/b.log", "keep.log"}, []string{"top.txt"}},
		{"negation", []string{"*.log", "!keep.log"}, []string{"a.log", "sub/b.log"}, []string{"keep.log", "sub/keep.log"}},
		{"negation order matters", []string{"!keep.log", "*.log"}, []string{"keep.log"}, nil},
		{"dir only", []string{"build/"}, []string{"build/", "sub/build/"}, []string{"notdir/build"}},
		{"anchored", []string{"/top.txt"}, []string{"top.txt"}, []string{"sub/top.txt"}},
		{"anchored dir path", []string{"sub/build"}, []string{"sub/build/"}, []string{"build/out"}},
		{"double star prefix", []string{"**/deep/*.tmp"}, []string{"x/deep/a.tmp", "x/y/deep/b.tmp", "deep/c.tmp"}, []string{"x/deep/keep.txt"}},
		{"double star middle", []string{"x/**/b.tmp"}, []string{"x/y/deep/b.tmp"}, []string{"deep/c.tmp"}},
		{"double star suffix", []string{"doc/**"}, []string{"doc/a.md", "doc/sub/"}, []string{"doc/"}},
		{"single star is one level", []string{"doc/*.md"}, []string{"doc/a.md"}, []string{"doc/sub/b.md"}},
		{"char class", []string{"[bc]at"}, []string{"bat", "cat"}, []string{"hat"}},
		{"negated char class", []string{"[!bc]at"}, []string{"hat"}, []string{"bat", "cat"}},
		{"node_modules anywhere", []string{"node_modules/"}, []string{"node_modules/", "src/node_modules/"}, []string{"src/"}},
		{"non-UTF-8", []string{"\xff*"}, []string{"\xff\xfe.bin"}, []string{"plain.bin"}},
		{"cannot re-include below excluded dir", []string{"build/", "!build/out"}, []string{"build/"}, nil},
		{"re-include dir then exclude contents", []string{"sub/*", "!sub/build/"}, []string{"sub/b.log", "sub/top.txt"}, []string{"sub/build/out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tree(t, dir, files...)
			w := walk(t, newScanner(t, dir, Options{Excludes: tt.excludes}))
			for _, p := range tt.gone {
				if _, ok := w.entries[p]; ok {
					t.Errorf("%s not excluded", p)
				}
			}
			for _, p := range tt.kept {
				if _, ok := w.entries[p]; !ok {
					t.Errorf("%s excluded", p)
				}
			}
			for _, p := range tt.gone {
				top := strings.TrimSuffix(p, "/")
				// Excluded entries (not those inside an excluded dir) get a notice.
				if !w.notice(top, Excluded) && !strings.HasPrefix(p, "doc/sub") && !slices.ContainsFunc(tt.gone, func(g string) bool {
					return strings.HasSuffix(g, "/") && strings.HasPrefix(p, g) && g != p
				}) {
					t.Errorf("no Excluded notice for %s", top)
				}
			}
		})
	}
}

func TestNestedIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a.txt", "a.tmp", "sub/a.txt", "sub/a.tmp", "sub/keep.tmp", "sub/only", "sub/deeper/only", "sub/deeper/b.tmp", "other/a.tmp")
	write(t, filepath.Join(dir, ".icevaultignore"), "# root\n*.tmp\n")
	write(t, filepath.Join(dir, "sub", ".icevaultignore"), "!keep.tmp\n/only\n*.txt\n")
	opts := Options{IgnoreFileName: ".icevaultignore", Excludes: []string{"!sub/deeper/b.tmp"}}
	s := newScanner(t, dir, opts)
	w := walk(t, s)
	want := []string{
		".icevaultignore", "a.txt", "other/", "sub/", "sub/.icevaultignore", "sub/deeper/",
		"sub/deeper/b.tmp", // re-included by Options.Excludes, which win
		"sub/deeper/only",  // "/only" is anchored to sub/
		"sub/keep.tmp",     // deeper ignore file overrides the root's
	}
	if got := w.paths(); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	// An Entry not made by ReadDir (zero value) still gets its
	// ancestors' ignore files.
	entries, _, err := s.ReadDir(context.Background(), "sub/deeper", Entry{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"b.tmp", "only"}) {
		t.Fatalf("sub/deeper with a zero Entry: %q", names)
	}
}

// TestIgnoreMatchesGit compares the walk with git's own idea of what is
// ignored: `git ls-files --others --exclude-standard` over the same tree.
func TestIgnoreMatchesGit(t *testing.T) {
	gitBin := testenv.RequireTool(t, "git", "apt-get install git")
	dir := t.TempDir()
	files := []string{
		"a.log", "keep.log", "b/keep.log", "b/c.log", "build/x", "b/build/y", "nb/build",
		"top.txt", "b/top.txt", "x/deep/a.tmp", "x/y/deep/b.tmp", "deep/c.tmp",
		"doc/a.md", "doc/s/b.md", "cat", "bat", "hat", "f1", "f2", "fx",
		"#hash", "!bang", "sp ace ", "q/a", "q/r/s", "Foo.txt", "foo.txt",
		"a/x/y/z", "a/z", "az/z", "dir1/f", "dir2/f", "dfile",
		"\xff\xfe", "\xff\xfd.log", "m/n/o/p.c", "m/n/o/p.h", "m/q.c",
		"s/.gitignore.d/x", "s/important.txt", "s/other.txt", "s/anchored", "s/t/anchored", "s/t/u.txt",
		"s/t/v/w.md", "r/a/b/c", "r/a/keep", "r/x",
	}
	tree(t, dir, files...)
	write(t, filepath.Join(dir, ".gitignore"), strings.Join([]string{
		"*.log", "!keep.log", "build/", "/top.txt", "**/deep/*.tmp", "a/**/z", "doc/*.md",
		"[bc]at", "f[[:digit:]]", `\#hash`, `\!bang`, `sp\ ace\ `, "q/**", "[Ff]oo.txt",
		"dir*/", "m/**/*.c", "r/*", "!r/a/", "r/a/b",
	}, "\n")+"\n")
	write(t, filepath.Join(dir, "s", ".gitignore"), "*.txt\n!important.txt\n/anchored\nt/v/\n")

	cmd := exec.Command(gitBin, "init", "-q")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	cmd = exec.Command(gitBin, "-c", "core.excludesFile=/dev/null", "-c", "core.quotePath=false",
		"ls-files", "-z", "--others", "--exclude-standard")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var want []string
	for p := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		want = append(want, p)
	}
	slices.Sort(want)

	w := walk(t, newScanner(t, dir, Options{IgnoreFileName: ".gitignore", Excludes: []string{".git/"}}))
	var got []string
	for _, p := range w.paths() {
		if !strings.HasSuffix(p, "/") {
			got = append(got, p)
		}
	}
	t.Logf("%d of %d files kept by both", len(got), len(files))
	if !slices.Equal(got, want) {
		t.Fatalf("walk and git disagree\n got  %q\n git  %q", got, want)
	}
}

func TestCacheDirTag(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "valid/data", "valid/sub/more", "invalid/data", "plain/data")
	write(t, filepath.Join(dir, "valid", CacheDirTagName), cacheDirSignature+"\n# This file is a cache directory tag.\n")
	write(t, filepath.Join(dir, "invalid", CacheDirTagName), "Signature: 00000000000000000000000000000000\n")

	w := walk(t, newScanner(t, dir, Options{ExcludeCaches: true}))
	want := []string{"invalid/", "invalid/CACHEDIR.TAG", "invalid/data", "plain/", "plain/data", "valid/", "valid/CACHEDIR.TAG"}
	if got := w.paths(); !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if !w.notice("valid", CacheDir) || w.notice("invalid", CacheDir) {
		t.Fatalf("notices %v", w.notices)
	}

	// Without the option, a cache directory is backed up like any other.
	w = walk(t, newScanner(t, dir, Options{}))
	if _, ok := w.entries["valid/sub/more"]; !ok {
		t.Fatal("cache directory excluded without ExcludeCaches")
	}
}

func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Socket paths are limited to ~104 bytes; bind relative to the dir.
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", "sock")
	os.Chdir(wd)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	devOK := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) == nil

	s := newScanner(t, dir, Options{})
	w := walk(t, s)
	if e := w.entries["fifo"]; e.Type != FIFO || !w.notice("fifo", SkippedSpecial) {
		t.Errorf("fifo: %v", e.Type)
	}
	if e := w.entries["sock"]; e.Type != Socket || !w.notice("sock", SkippedSpecial) {
		t.Errorf("sock: %v", e.Type)
	}
	if devOK {
		if e := w.entries["null"]; e.Type != CharDevice || e.Rdev != uint64(unix.Mkdev(1, 3)) {
			t.Errorf("null: %v rdev %x", e.Type, e.Rdev)
		}
	} else {
		t.Log("mknod not permitted here: character device not tested")
	}

	// Opening a FIFO must fail at once rather than block the backup.
	done := make(chan error, 1)
	go func() {
		f, err := s.Open(context.Background(), "", "fifo")
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("Open(fifo): %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open(fifo) blocked")
	}
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "real/file")
	for link, target := range map[string]string{
		"loop":         "loop",
		"real/up":      "..",
		"real/a":       "b",
		"real/b":       "a",
		"toreal":       "real",
		"abs":          "/etc/passwd",
		"\xffbad\xfe":  "\xfe\xff",
		"real/tofile":  "file",
		"real/dangles": "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	s := newScanner(t, dir, Options{})
	w := walk(t, s) // must terminate: links are never followed
	for p, target := range map[string]string{"loop": "loop", "real/up": "..", "toreal": "real", "abs": "/etc/passwd", "\xffbad\xfe": "\xfe\xff", "real/dangles": "nowhere"} {
		e := w.entries[p]
		if e.Type != Symlink || e.LinkTarget != target {
			t.Errorf("%q: %v -> %q", p, e.Type, e.LinkTarget)
		}
	}
	if _, ok := w.entries["toreal/file"]; ok {
		t.Error("walk followed a symlink")
	}
	ctx := context.Background()
	if _, err := s.Open(ctx, "real", "tofile"); !errors.Is(err, unix.ELOOP) {
		t.Errorf("Open(symlink) = %v, want ELOOP", err)
	}
	if _, err := s.Open(ctx, "toreal", "file"); err == nil {
		t.Error("Open through a symlinked directory succeeded")
	}
	if target, err := s.ReadLink(ctx, "", "loop"); err != nil || target != "loop" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	// A directory replaced by a symlink between listing and reading is
	// reported as vanished, not followed.
	if _, n, err := s.ReadDir(ctx, "toreal", Entry{Type: Dir}); err != nil || len(n) != 1 || n[0].Kind != Vanished {
		t.Errorf("ReadDir(symlink) = %v, %v", n, err)
	}
	for _, bad := range []string{"..", "../x", "/etc", "a//b", "."} {
		if _, _, err := s.ReadDir(ctx, bad, Entry{Type: Dir}); err == nil {
			t.Errorf("ReadDir(%q) accepted", bad)
		}
	}
}

func TestLongPath(t *testing.T) {
	dir := t.TempDir()
	// Build 40 levels of 200-byte names (> 8000 bytes) with *at calls:
	// the full path is too long for mkdir(2).
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for i := range 40 {
		name := strings.Repeat(string(rune('a'+i%26)), 200)
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
	}
	ffd, err := unix.Openat(fd, "bottom.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(ffd, []byte("deep"))
	unix.Close(ffd)
	unix.Close(fd)
	t.Cleanup(func() { removeDeep(dir, rel) })

	relPath := strings.Join(rel, "/")
	if len(relPath) <= 4096 {
		t.Fatalf("path only %d bytes", len(relPath))
	}
	s := newScanner(t, dir, Options{})
	w := walk(t, s)
	e, ok := w.entries[relPath+"/bottom.txt"]
	if !ok || e.Size != 4 || len(w.notices) != 0 {
		t.Fatalf("bottom file not found (%v) or notices %v", ok, w.notices)
	}
	f, err := s.Open(context.Background(), relPath, "bottom.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "deep" {
		t.Fatalf("read %q", b)
	}
}

// removeDeep removes the nested tree bottom-up with *at calls, since
// os.RemoveAll would need the too-long path.
func removeDeep(dir string, rel []string) {
	fds := []int{}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return
	}
	fds = append(fds, fd)
	for _, name := range rel {
		if fd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
			break
		}
		fds = append(fds, fd)
	}
	unix.Unlinkat(fds[len(fds)-1], "bottom.txt", 0)
	for i := len(fds) - 1; i > 0; i-- {
		unix.Close(fds[i])
		unix.Unlinkat(fds[i-1], rel[i-1], unix.AT_REMOVEDIR)
	}
	unix.Close(fds[0])
}

func TestVanished(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a", "gone", "z", "gonedir/x")
	s := newScanner(t, dir, Options{})
	s.beforeLstat = func(dirRel, name string) {
		if name == "gone" {
			os.Remove(filepath.Join(dir, name))
		}
	}
	entries, notices, err := s.ReadDir(context.Background(), "", s.Root())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"a", "gonedir", "z"}) {
		t.Fatalf("entries %q", names)
	}
	if len(notices) != 1 || notices[0].Path != "gone" || notices[0].Kind != Vanished || !errors.Is(notices[0].Err, fs.ErrNotExist) {
		t.Fatalf("notices %v", notices)
	}
	if notices[0].Warning() {
		t.Error("a vanished file should not make the backup partial")
	}
	// A directory that vanishes after its parent was listed.
	if err := os.RemoveAll(filepath.Join(dir, "gonedir")); err != nil {
		t.Fatal(err)
	}
	entries, notices, err = s.ReadDir(context.Background(), "gonedir", entries[1])
	if err != nil || len(entries) != 0 || len(notices) != 1 || notices[0].Kind != Vanished {
		t.Fatalf("vanished dir: %v %v %v", entries, notices, err)
	}
}

func TestOneFileSystem(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "mnt/inside", "local/file")
	s := newScanner(t, dir, Options{OneFileSystem: true})
	// Mounting needs privileges a test cannot count on; pretend "mnt" is
	// on another device by changing the root's device number instead.
	w := walk(t, s)
	if _, ok := w.entries["mnt/inside"]; !ok {
		t.Fatal("same-device directory not descended")
	}
	s.root.Dev++
	entries, notices, err := s.ReadDir(context.Background(), "", s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || !slices.ContainsFunc(notices, func(n Notice) bool { return n.Path == "mnt" && n.Kind == OtherFS }) {
		t.Fatalf("entries %v notices %v", entries, notices)
	}
	sub, notices, err := s.ReadDir(context.Background(), "mnt", entries[1])
	if err != nil || len(sub) != 0 || len(notices) != 0 {
		t.Fatalf("ReadDir of another file system: %v %v %v", sub, notices, err)
	}
}

func TestCanceled(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a")
	s := newScanner(t, dir, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.ReadDir(ctx, "", s.Root()); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadDir: %v", err)
	}
	if _, err := s.Open(ctx, "", "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open: %v", err)
	}
}

// TestDirCacheBounded walks more directories than the cache holds, from
// several goroutines, and checks no descriptor leaks.
func TestDirCacheBounded(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 200 {
		paths = append(paths, filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i/26), "f"))
	}
	tree(t, dir, paths...)
	s := newScanner(t, dir, Options{})
	before := countFDs(t)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			walk(t, s)
		}()
	}
	for range 4 {
		<-done
	}
	s.dirs.mu.Lock()
	n := len(s.dirs.m)
	s.dirs.mu.Unlock()
	if n > dirCacheSize {
		t.Fatalf("%d cached descriptors, limit %d", n, dirCacheSize)
	}
	s.Close()
	if after := countFDs(t); after > before {
		t.Fatalf("%d descriptors open after Close, %d before", after, before)
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		// Linux always has it (CI runs there); only macOS lacks it.
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// permResult is what the unprivileged child of TestPermissionDenied reports.
type permResult struct {
	Paths   []string
	Notices []string
	OpenErr string
}

const permChildEnv = "ICEVAULT_SCAN_PERM_CHILD"

// TestPermissionDenied needs a user that permissions apply to. Tests run
// as root here, which bypasses them, so as root the test re-executes its
// own binary as nobody (uid 65534) via SysProcAttr.Credential and reads
// the child's result as JSON.
func TestPermissionDenied(t *testing.T) {
	if dir := os.Getenv(permChildEnv); dir != "" {
		json.NewEncoder(os.Stdout).Encode(permScan(dir))
		return
	}
	base, err := os.MkdirTemp("", "icevault-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(filepath.Join(base, "tree", "locked"), 0o755)
		os.RemoveAll(base)
	})
	dir := filepath.Join(base, "tree")
	tree(t, dir, "ok/file", "locked/secret", "unreadable", "after")
	if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "unreadable"), 0); err != nil {
		t.Fatal(err)
	}

	var res permResult
	if os.Geteuid() != 0 {
		res = permScan(dir)
	} else {
		// The child must be able to reach the binary and the tree.
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(base, "scan.test")
		data, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestPermissionDenied$", "-test.count=1")
		cmd.Dir = base
		cmd.Env = append(os.Environ(), permChildEnv+"="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("child: %v\n%s%s", err, out.Bytes(), stderr.Bytes())
		}
		line, _, _ := strings.Cut(out.String(), "\n")
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("child output %q: %v", out.String(), err)
		}
	}
	want := []string{"after", "locked/", "ok/", "ok/file", "unreadable"}
	if !slices.Equal(res.Paths, want) {
		t.Errorf("paths %q, want %q", res.Paths, want)
	}
	if !slices.Equal(res.Notices, []string{"locked: permission denied"}) {
		t.Errorf("notices %q", res.Notices)
	}
	if res.OpenErr != "permission" {
		t.Errorf("Open(unreadable): %q", res.OpenErr)
	}
}

func permScan(dir string) permResult {
	var res permResult
	s, err := NewScanner(dir, Options{})
	if err != nil {
		res.Notices = []string{err.Error()}
		return res
	}
	defer s.Close()
	var rec func(rel string, d Entry)
	rec = func(rel string, d Entry) {
		entries, notices, err := s.ReadDir(context.Background(), rel, d)
		if err != nil {
			res.Notices = append(res.Notices, "error: "+err.Error())
			return
		}
		for _, n := range notices {
			s := n.Path + ": " + n.Kind.String()
			if !n.Warning() || !errors.Is(n.Err, fs.ErrPermission) {
				s += " (unexpected)"
			}
			res.Notices = append(res.Notices, s)
		}
		for _, e := range entries {
			p := joinPath(rel, e.Name)
			if e.Type == Dir {
				res.Paths = append(res.Paths, p+"/")
				rec(p, e)
			} else {
				res.Paths = append(res.Paths, p)
			}
		}
	}
	rec("", s.Root())
	sort.Strings(res.Paths)
	f, err := s.Open(context.Background(), "", "unreadable")
	switch {
	case err == nil:
		f.Close()
		res.OpenErr = "none"
	case errors.Is(err, fs.ErrPermission):
		res.OpenErr = "permission"
	default:
		res.OpenErr = err.Error()
	}
	return res
}

// BenchmarkReadDir lists a directory of 10,000 files (lstat of each): the
// cost that bounds a no-change re-run.
func BenchmarkReadDir(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		if err := os.WriteFile(filepath.Join(dir, "file"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strconv.Itoa(i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	s, err := NewScanner(dir, Options{Excludes: []string{"*.o", "node_modules/", "!keep.o"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for b.Loop() {
		entries, _, err := s.ReadDir(context.Background(), "", s.Root())
		if err != nil || len(entries) != 10000 {
			b.Fatal(len(entries), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/entry")
}

// TestRestat: Restat on an open file reports what the file is now, after
// it changed since ReadDir, with the identity of the same inode.
func TestRestat(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newScanner(t, dir, Options{})
	w := walk(t, s)
	e := w.entries["f"]
	f, err := s.Open(context.Background(), "", "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mt := time.Unix(1_700_000_000, 123456789)
	if err := os.WriteFile(p, []byte("after, and longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	now := e
	if err := Restat(f, &now); err != nil {
		t.Fatal(err)
	}
	if now.Size != int64(len("after, and longer")) || now.MtimeNs != mt.UnixNano() || now.CtimeNs < e.CtimeNs ||
		now.Inode != e.Inode || now.Dev != e.Dev || now.Name != "f" || now.Type != File {
		t.Fatalf("Restat = %+v; scan saw %+v", now, e)
	}
}
