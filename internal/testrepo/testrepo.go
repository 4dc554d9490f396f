// Package testrepo sets up a repository on the in-process Deep Archive
// simulator with a fake clock, for tests of everything that sits on a
// repository (backup, restore, recovery). It is test support: nothing in
// icevault's own commands imports it.
package testrepo

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/tree"
)

// Secrets keeps a repository's secrets in memory.
type Secrets struct {
	Identity string
	Key      [32]byte
}

// SaveSecrets implements repo.SecretSaver.
func (m *Secrets) SaveSecrets(_, identity string, key [32]byte) error {
	m.Identity, m.Key = identity, key
	return nil
}

// LoadBlobIDKey implements repo.BlobIDKeyLoader.
func (m *Secrets) LoadBlobIDKey(string) ([32]byte, error) { return m.Key, nil }

// AgeIdentity parses the identity.
func (m *Secrets) AgeIdentity(t testing.TB) age.Identity {
	id, err := age.ParseHybridIdentity(m.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Env is a repository on the simulator.
type Env struct {
	T       testing.TB
	Srv     *sim.Running
	Clock   *clock.Fake
	Store   *s3store.Store
	Cat     *catalog.Catalog
	Repo    *repo.Repo
	Secrets *Secrets
	Dir     string // scratch: catalog, spool
	Spool   string
	Bucket  string
}

// New creates a repository with the given pack size on a new simulator
// (in policy mode: only create-only DEEP_ARCHIVE puts are allowed).
func New(t testing.TB, packSize int64) *Env {
	t.Helper()
	srv, clk := StartSim(t, "", "backups")
	e := &Env{T: t, Srv: srv, Clock: clk, Secrets: &Secrets{}, Dir: t.TempDir(), Bucket: "backups"}
	e.Store = NewStore(t, srv.URL, "backups")
	e.Spool = filepath.Join(e.Dir, "spool")
	e.Cat = OpenCatalog(t, filepath.Join(e.Dir, "catalog.db"))
	layout, _ := repo.NewLayout("icevault/", "test")
	var err error
	e.Repo, _, err = repo.Init(context.Background(), e.Store, e.Cat, e.Secrets,
		repo.InitOptions{Bucket: "backups", Layout: layout, PackSize: packSize, Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// StartSim starts a simulator holding buckets, in policy mode (only
// create-only DEEP_ARCHIVE puts are allowed), on a fake clock set to the
// date New starts at. It keeps objects in dir, or in memory if dir is "",
// and is closed at the end of the test.
func StartSim(t testing.TB, dir string, buckets ...string) (*sim.Running, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	srv, err := sim.Start(sim.Options{Clock: clk, Dir: dir, Buckets: buckets, EnforcePolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, clk
}

// NewStore connects a store to the simulator at url.
func NewStore(t testing.TB, url, bucket string) *s3store.Store {
	t.Helper()
	client, err := s3store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")},
		s3store.ClientOptions{Endpoint: url, MaxAttempts: 2, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s3store.New(client, bucket, s3store.Options{})
}

// OpenCatalog opens a catalog closed at the end of the test.
func OpenCatalog(t testing.TB, path string) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// Run backs up with o (host, spool and clock filled in), a minute after
// the previous run.
func (e *Env) Run(o backup.Options) (backup.Summary, error) {
	o.Host, o.SpoolDir, o.Clock = "testhost", e.Spool, e.Clock
	e.Clock.Advance(time.Minute)
	return backup.Run(context.Background(), e.Repo, e.Cat, e.Store, o)
}

// Backup backs up paths or fails the test.
func (e *Env) Backup(paths ...string) backup.Summary {
	e.T.Helper()
	sum, err := e.Run(backup.Options{Paths: paths})
	if err != nil {
		e.T.Fatalf("backup: %v", err)
	}
	return sum
}

// WriteFile writes data at p, creating folders.
func WriteFile(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Random returns n random bytes.
func Random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// SameTree fails the test unless the tree at b matches the tree at a:
// names, types, contents, permissions, mtimes of files, symlink targets.
// FIFOs, sockets and devices in a are not expected in b.
func SameTree(t testing.TB, a, b string) {
	t.Helper()
	CompareTrees(t, a, b, TreeCheck{DirPerms: true, ModTimes: true})
}

// TreeCheck says what CompareTrees compares besides names, types, file
// contents and permissions, and symlink targets.
type TreeCheck struct {
	DirPerms bool // folders' permissions too
	ModTimes bool // files' mtimes
}

// TreeCount says how much CompareTrees compared.
type TreeCount struct {
	Entries int // entries of a (a included) found in b
	Files   int // regular files among them
}

// CompareTrees fails the test where the tree at b does not match the tree
// at a in what c asks for (everything under a must be in b; b may hold
// more). FIFOs, sockets and devices in a are not expected in b.
func CompareTrees(t testing.TB, a, b string, c TreeCheck) TreeCount {
	t.Helper()
	var n TreeCount
	err := filepath.Walk(a, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		if fi.Mode()&(os.ModeNamedPipe|os.ModeSocket|os.ModeDevice) != 0 {
			return nil
		}
		q := filepath.Join(b, rel)
		gi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: in %s, missing from %s", rel, a, b)
			return nil
		}
		n.Entries++
		perms := fi.Mode().IsRegular() || (c.DirPerms && fi.IsDir())
		if fi.Mode().Type() != gi.Mode().Type() || (perms && fi.Mode().Perm() != gi.Mode().Perm()) {
			t.Errorf("%s: mode %v in %s, %v in %s", rel, fi.Mode(), a, gi.Mode(), b)
		}
		switch {
		case fi.Mode().IsRegular():
			n.Files++
			x, _ := os.ReadFile(p)
			y, _ := os.ReadFile(q)
			if !bytes.Equal(x, y) {
				t.Errorf("%s: %d bytes in %s, %d different bytes in %s", rel, len(x), a, len(y), b)
			}
			if c.ModTimes && !fi.ModTime().Equal(gi.ModTime()) {
				t.Errorf("%s: mtime %v in %s, %v in %s", rel, fi.ModTime(), a, gi.ModTime(), b)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				t.Errorf("%s: link to %q in %s, to %q in %s", rel, x, a, y, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// WriteTree writes the tree blob id and everything below it under dir,
// reading blobs through blob: a minimal restore that proves a backup holds
// every byte, without the restore package.
func WriteTree(t testing.TB, blob func(pack.ID) []byte, id pack.ID, dir string) {
	t.Helper()
	tr, err := tree.Decode(blob(id))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		p := filepath.Join(dir, n.Name)
		switch n.Type {
		case tree.TypeDir:
			WriteTree(t, blob, n.Subtree, p)
		case tree.TypeSymlink:
			if err := os.Symlink(n.Target, p); err != nil {
				t.Fatal(err)
			}
		case tree.TypeFile:
			var buf bytes.Buffer
			for _, c := range n.Content {
				buf.Write(blob(c))
			}
			if err := os.WriteFile(p, buf.Bytes(), n.FileMode()); err != nil {
				t.Fatal(err)
			}
			mt := time.Unix(0, n.MtimeNs)
			os.Chtimes(p, mt, mt)
		}
	}
}

// TreeEntry is one entry of a tree read back by ReadTree.
type TreeEntry struct {
	Node tree.Node
	Data []byte // a file's content, joined from its blobs
}

// ReadTree reads the tree blob id and everything below it through blob,
// in memory, keyed by slash-separated path below the tree. It checks what
// WriteTree checks (every blob is there, a file's size is its content's)
// for trees that cannot be written back to disk, such as paths longer than
// PATH_MAX, and gives tests the nodes themselves (mtimes, content IDs).
func ReadTree(t testing.TB, blob func(pack.ID) []byte, id pack.ID) map[string]TreeEntry {
	t.Helper()
	out := map[string]TreeEntry{}
	readTree(t, blob, id, "", out)
	return out
}

func readTree(t testing.TB, blob func(pack.ID) []byte, id pack.ID, prefix string, out map[string]TreeEntry) {
	t.Helper()
	tr, err := tree.Decode(blob(id))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tr.Nodes {
		p := prefix + n.Name
		e := TreeEntry{Node: n}
		switch n.Type {
		case tree.TypeDir:
			readTree(t, blob, n.Subtree, p+"/", out)
		case tree.TypeFile:
			var buf bytes.Buffer
			for _, c := range n.Content {
				buf.Write(blob(c))
			}
			if int64(buf.Len()) != n.Size {
				t.Errorf("%s: size %d in its tree, %d bytes of content", p, n.Size, buf.Len())
			}
			e.Data = buf.Bytes()
		}
		out[p] = e
	}
}
