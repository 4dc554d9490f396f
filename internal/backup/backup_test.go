package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/scan"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/testrepo"
	"github.com/icevault/icevault/internal/tree"
)

// env is a repository on the simulator (package testrepo) with the few
// helpers these tests add.
type env struct{ *testrepo.Env }

func newEnv(t *testing.T, packSize int64) env { return env{testrepo.New(t, packSize)} }

func (e env) puts() int { return e.Srv.Counts()["PutObject"] }

// restoreTree reads a snapshot back out of the bucket (thawing every pack it
// needs on the fake clock) and writes it under dst: a minimal restore that
// proves the backup holds every byte.
func (e env) restoreTree(snap string, dst string) {
	t := e.T
	t.Helper()
	root, blobData := e.snapshotRoot(snap)
	for i, n := range root.Nodes {
		testrepo.WriteTree(t, blobData, n.Subtree, filepath.Join(dst, strings.Repeat("r", i+1)))
	}
}

// snapshotRoot returns a snapshot's root tree (one node per backed-up
// folder) and a function that reads any blob out of the bucket, thawing
// the packs it needs on the fake clock. Each call thaws again and moves the
// clock past the thaws of earlier calls (their copies expire), so a check
// reads everything it needs through one such function.
func (e env) snapshotRoot(snap string) (tree.Tree, func(pack.ID) []byte) {
	t := e.T
	t.Helper()
	ctx := context.Background()
	s, err := e.Cat.FindSnapshot(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	ident, err := age.ParseHybridIdentity(e.Secrets.Identity)
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]*pack.Reader{}
	blobData := func(id pack.ID) []byte {
		loc, err := e.Cat.Blob(ctx, id)
		if err != nil {
			t.Fatalf("blob %s: %v", id, err)
		}
		r := readers[loc.PackKey]
		if r == nil {
			if _, err := e.Store.RequestRestore(ctx, loc.PackKey, 1, store.TierBulk); err != nil {
				t.Fatal(err)
			}
			e.Clock.Advance(49 * time.Hour)
			rc, err := e.Store.Get(ctx, loc.PackKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if r, err = pack.OpenReader(bytes.NewReader(b), int64(len(b)), ident); err != nil {
				t.Fatal(err)
			}
			readers[loc.PackKey] = r
		}
		data, err := r.ReadBlob(loc.Entry, e.Repo.IDKey)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	root, err := tree.Decode(blobData(s.Root))
	if err != nil {
		t.Fatal(err)
	}
	return root, blobData
}

// readBack reads the first backed-up folder of a snapshot back out of the
// bucket, in memory (testrepo.ReadTree).
func (e env) readBack(snap string) map[string]testrepo.TreeEntry {
	e.T.Helper()
	root, blobData := e.snapshotRoot(snap)
	return testrepo.ReadTree(e.T, blobData, root.Nodes[0].Subtree)
}

var (
	sameTree    = testrepo.SameTree
	writeFile   = testrepo.WriteFile
	randomBytes = testrepo.Random
)

func sampleTree(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "docs", "a.txt"), []byte(strings.Repeat("hello deep archive\n", 1000)))
	writeFile(t, filepath.Join(src, "docs", "empty"), nil)
	writeFile(t, filepath.Join(src, "photos", "big.raw"), randomBytes(3<<20+12345))
	writeFile(t, filepath.Join(src, "odd", "name\xff\xfe with space"), []byte("non-UTF-8 name"))
	os.MkdirAll(filepath.Join(src, "empty-dir"), 0o755)
	os.Symlink("../docs/a.txt", filepath.Join(src, "odd", "link"))
	os.Symlink("loop", filepath.Join(src, "odd", "loop"))
	os.Chmod(filepath.Join(src, "docs", "a.txt"), 0o600)
	syscall.Mkfifo(filepath.Join(src, "odd", "fifo"), 0o644)
	return src
}

func TestBackupRoundTripAndIncrementals(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := sampleTree(t)

	first := e.Backup(src)
	if first.SnapshotID == "" || first.FilesNew != 4 || first.FilesUnchanged != 0 || first.Packs < 2 || first.Partial() {
		t.Fatalf("first backup: %+v", first)
	}
	if int64(e.puts()) != 1+first.PutRequests { // 1: the config object
		t.Fatalf("simulator saw %d PUTs, summary says %d", e.puts(), first.PutRequests)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	e.restoreTree(first.SnapshotID, dst)
	sameTree(t, src, filepath.Join(dst, "r"))
	if _, err := os.Lstat(filepath.Join(dst, "r", "odd", "fifo")); err == nil {
		t.Error("a FIFO was backed up as a file")
	}

	// No change: no snapshot, no PUT at all.
	before := e.puts()
	again := e.Backup(src)
	if !again.Unchanged || again.SnapshotID != first.SnapshotID || again.FilesUnchanged != 4 || again.BytesRead != 0 || e.puts() != before {
		t.Fatalf("no-change run: %+v, %d new PUTs", again, e.puts()-before)
	}

	// One changed file: only its new blobs are stored.
	writeFile(t, filepath.Join(src, "docs", "new.txt"), []byte("a new small file"))
	changed := e.Backup(src)
	if changed.Unchanged || changed.FilesNew != 1 || changed.FilesUnchanged != 4 || changed.BytesAdded != int64(len("a new small file")) {
		t.Fatalf("one new file: %+v", changed)
	}

	// A renamed and a copied file add no data blobs.
	os.Rename(filepath.Join(src, "photos", "big.raw"), filepath.Join(src, "photos", "renamed.raw"))
	data, _ := os.ReadFile(filepath.Join(src, "docs", "a.txt"))
	writeFile(t, filepath.Join(src, "copy-of-a.txt"), data)
	moved := e.Backup(src)
	if moved.BytesAdded != 0 || moved.FilesNew != 2 || moved.BytesRead == 0 {
		t.Fatalf("rename + copy: %+v", moved)
	}
	dst2 := filepath.Join(t.TempDir(), "restored2")
	e.restoreTree(moved.SnapshotID, dst2)
	sameTree(t, src, filepath.Join(dst2, "r"))

	snaps, _ := e.Cat.Snapshots(context.Background())
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots, want 3", len(snaps))
	}
	for _, r := range e.Srv.Requests() {
		if r.Op != "PutObject" && r.Op != "HeadObject" && r.Op != "RestoreObject" && r.Op != "GetObject" {
			t.Errorf("unexpected %s %s", r.Op, r.Key)
		}
		if r.Op == "GetObject" && !strings.Contains(r.Key, "/data/") && !strings.Contains(r.Key, "/meta/") {
			t.Errorf("backup read %s", r.Key)
		}
	}
}

// TestBackupNeverReads checks DESIGN §2.2: a run of backups sends only PUTs
// (and the one HEAD of init).
func TestBackupNeverReads(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := sampleTree(t)
	e.Backup(src)
	writeFile(t, filepath.Join(src, "x"), randomBytes(100))
	e.Backup(src)
	for op, n := range e.Srv.Counts() {
		if op != "PutObject" && !(op == "HeadObject" && n == 1) {
			t.Errorf("backups sent %d %s", n, op)
		}
	}
}

// TestStoppedRunResumes stops a backup at its first data pack upload
// (access denied, as an expired policy would), then checks that the next
// run uploads the sealed packs first, uploads no pack twice, and commits.
func TestStoppedRunResumes(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	for i := range 6 {
		writeFile(t, filepath.Join(src, "f", string(rune('a'+i))), randomBytes(900<<10))
	}
	remove := e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied", Nth: 3})
	_, err := e.Run(backup.Options{Paths: []string{src}, Uploaders: 1})
	remove()
	if !errors.Is(err, store.ErrAccessDenied) {
		t.Fatalf("first run: %v, want access denied", err)
	}
	if snaps, _ := e.Cat.Snapshots(context.Background()); len(snaps) != 0 {
		t.Fatal("a stopped run committed a snapshot")
	}
	sum := e.Backup(src)
	if sum.ResumedPacks == 0 || sum.SnapshotID == "" {
		t.Fatalf("second run: %+v", sum)
	}
	seen := map[string]int{}
	for _, r := range e.Srv.Requests() {
		if r.Op == "PutObject" && r.Status == 200 {
			seen[r.Key]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s uploaded %d times", k, n)
		}
	}
	dst := filepath.Join(t.TempDir(), "restored")
	e.restoreTree(sum.SnapshotID, dst)
	sameTree(t, src, filepath.Join(dst, "r"))
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := sampleTree(t)
	before := e.puts()
	sum, err := e.Run(backup.Options{Paths: []string{src}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.puts() != before || sum.BytesAdded == 0 || sum.Packs == 0 || sum.SnapshotID != "" {
		t.Fatalf("dry run: %+v, %d PUTs", sum, e.puts()-before)
	}
	if snaps, _ := e.Cat.Snapshots(context.Background()); len(snaps) != 0 {
		t.Fatal("a dry run committed a snapshot")
	}
}

func TestBadPaths(t *testing.T) {
	e := newEnv(t, 1<<20)
	f := filepath.Join(t.TempDir(), "file")
	writeFile(t, f, []byte("x"))
	for _, p := range []string{"relative/path", "/no/such/dir", f} {
		if _, err := e.Run(backup.Options{Paths: []string{p}}); err == nil {
			t.Errorf("backup of %q succeeded", p)
		}
	}
	if _, err := e.Run(backup.Options{}); err == nil {
		t.Error("backup of nothing succeeded")
	}
}

// TestLoginRequiredAndThrottling: an expired session mid-run stops the run
// as "login required" with every confirmed pack kept; throttling is retried
// and does not fail the run.
func TestLoginRequiredAndThrottling(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	for i := range 4 {
		writeFile(t, filepath.Join(src, string(rune('a'+i))), randomBytes(1200<<10))
	}
	remove := e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 400, Code: "ExpiredToken", Message: "The provided token has expired.", Nth: 3})
	// One uploader: the two PUTs before the failing one are confirmed
	// before it fails (with several, the failure cancels them in flight).
	_, err := e.Run(backup.Options{Paths: []string{src}, Uploaders: 1})
	remove()
	if !errors.Is(err, store.ErrLoginRequired) {
		t.Fatalf("run with an expired token: %v, want login required", err)
	}
	uploaded, _ := e.Cat.Packs(context.Background(), catalog.PackFilter{State: catalog.Uploaded})
	if len(uploaded) == 0 {
		t.Fatal("no confirmed pack was kept")
	}

	remove = e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 503, Code: "SlowDown", Rate: 0.3})
	sum, err := e.Run(backup.Options{Paths: []string{src}, Uploaders: 1}) // one uploader: the seeded faults hit the same requests every time
	remove()
	if err != nil {
		t.Fatalf("run under throttling: %v", err)
	}
	for _, p := range uploaded {
		for _, r := range e.Srv.Requests() {
			if r.Key == p.Key && r.Op == "PutObject" && r.Status == 200 && r.Time.After(p.Uploaded) {
				t.Errorf("confirmed pack %s was uploaded again", p.Key)
			}
		}
	}
	dst := filepath.Join(t.TempDir(), "restored")
	e.restoreTree(sum.SnapshotID, dst)
	sameTree(t, src, filepath.Join(dst, "r"))
}

// TestSparseFileLargerThanAnObject backs up a sparse file larger than S3's
// 5 GB single-PUT limit: chunking keeps every object far smaller, and the
// zero runs deduplicate to one blob.
func TestSparseFileLargerThanAnObject(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 5.5 GiB of zeros (about 15 s); runs without -short")
	}
	e := newEnv(t, 8<<20)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	f, err := os.Create(filepath.Join(src, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 5<<30 + 512<<20
	f.WriteAt([]byte("header"), 0)
	f.WriteAt([]byte("footer"), size-6)
	f.Close()
	sum := e.Backup(src)
	if sum.BytesRead != size || sum.BytesAdded > 16<<20 || sum.Packs > 3 {
		t.Fatalf("sparse file: %+v", sum)
	}
	for _, r := range e.Srv.Requests() {
		if r.Op == "PutObject" && r.Size > 64<<20 {
			t.Errorf("object %s of %d bytes", r.Key, r.Size)
		}
	}
}

func TestEstimate(t *testing.T) {
	src := sampleTree(t)
	files, bytes, err := backup.Estimate(context.Background(), []string{src}, scan.Options{Excludes: []string{"photos/"}})
	want := int64(len(strings.Repeat("hello deep archive\n", 1000)) + len("non-UTF-8 name"))
	if err != nil || files != 3 || bytes != want {
		t.Fatalf("Estimate = %d files, %d bytes, %v; want 3, %d", files, bytes, err, want)
	}
}

// TestSnapshotRecordUploadedLater: a run stopped at its very last PUT (the
// metadata pack with the snapshot record) leaves that pack sealed; the next
// run uploads it and records that snapshot, so the catalog lists exactly
// the snapshots the bucket holds.
func TestSnapshotRecordUploadedLater(t *testing.T) {
	e := newEnv(t, 1<<20)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "a"), []byte("one small file"))
	remove := e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 503, Code: "SlowDown", Nth: 2, Times: 1})
	remove2 := e.Srv.InjectFault(sim.Fault{Op: "PutObject", Status: 503, Code: "SlowDown", Nth: 3, Times: 1})
	_, err := e.Run(backup.Options{Paths: []string{src}})
	remove()
	remove2()
	if err == nil {
		t.Fatal("the run with a failing last PUT succeeded")
	}
	if snaps, _ := e.Cat.Snapshots(context.Background()); len(snaps) != 0 {
		t.Fatal("a snapshot was recorded before its record was confirmed")
	}
	sealed, _ := e.Cat.Packs(context.Background(), catalog.PackFilter{State: catalog.Sealed, Kind: catalog.PackMeta})
	if len(sealed) != 1 {
		t.Fatalf("%d sealed metadata packs, want the one with the snapshot record", len(sealed))
	}
	sum := e.Backup(src)
	snaps, _ := e.Cat.Snapshots(context.Background())
	if len(snaps) != 1 || !sum.Unchanged || sum.SnapshotID != snaps[0].ID || sum.ResumedPacks != 1 {
		t.Fatalf("after the resumed run: %+v, snapshots %v", sum, snaps)
	}
	if snaps[0].MetaKeys[len(snaps[0].MetaKeys)-1] != sealed[0].Key {
		t.Fatalf("snapshot meta keys %v, want it to end with %s", snaps[0].MetaKeys, sealed[0].Key)
	}
}
