package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dirStore persists objects under a directory:
//
//	buckets/<bucket>/meta/<sha256(key)>.json   objectMeta, one file per key
//	data/<ref>                                 object bytes, named by a random ref
//	tmp/                                       uploads and metadata being written
//
// Every file appears by rename after fsync, and metadata is written after the
// data it refers to, so a crash leaves either the old object or the new one.
// Data files no metadata refers to (a crash between the two renames, or an
// overwritten object) are removed at the next start.
type dirStore struct {
	root string
}

func openDirStore(root string) (*dirStore, error) {
	for _, d := range []string{"buckets", "data", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	// Anything left in tmp/ is an upload that never finished.
	ents, err := os.ReadDir(filepath.Join(root, "tmp"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	return &dirStore{root: root}, nil
}

func (d *dirStore) bucketMetaDir(bucket string) string {
	return filepath.Join(d.root, "buckets", bucket, "meta")
}

func (d *dirStore) metaPath(bucket, key string) string {
	// Keys may hold any UTF-8, slashes and names longer than a file name
	// allows, so files are named by a hash and the key lives in the JSON.
	h := sha256.Sum256([]byte(key))
	return filepath.Join(d.bucketMetaDir(bucket), hex.EncodeToString(h[:])+".json")
}

func (d *dirStore) load() (map[string]map[string]*objectMeta, error) {
	out := map[string]map[string]*objectMeta{}
	referenced := map[string]bool{}
	bents, err := os.ReadDir(filepath.Join(d.root, "buckets"))
	if err != nil {
		return nil, err
	}
	for _, be := range bents {
		if !be.IsDir() || !validBucketName(be.Name()) {
			continue
		}
		objs := map[string]*objectMeta{}
		out[be.Name()] = objs
		ments, err := os.ReadDir(d.bucketMetaDir(be.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, me := range ments {
			if !strings.HasSuffix(me.Name(), ".json") {
				continue
			}
			p := filepath.Join(d.bucketMetaDir(be.Name()), me.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			var m objectMeta
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			objs[m.Key] = &m
			referenced[m.Ref] = true
		}
	}
	dents, err := os.ReadDir(filepath.Join(d.root, "data"))
	if err != nil {
		return nil, err
	}
	for _, de := range dents {
		if !referenced[de.Name()] {
			os.Remove(filepath.Join(d.root, "data", de.Name()))
		}
	}
	return out, nil
}

func (d *dirStore) createBucket(bucket string) error {
	if err := os.MkdirAll(d.bucketMetaDir(bucket), 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Join(d.root, "buckets"))
}

func (d *dirStore) saveMeta(bucket string, m *objectMeta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	final := d.metaPath(bucket, m.Key)
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "meta-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := commitFile(f, final); err != nil {
		return fmt.Errorf("save metadata of %q: %w", m.Key, err)
	}
	return nil
}

func (d *dirStore) newBlob(int64) (blobWriter, error) {
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "upload-*")
	if err != nil {
		return nil, err
	}
	return &dirBlob{store: d, f: f}, nil
}

func (d *dirStore) open(ref string) (blobReader, error) {
	return os.Open(filepath.Join(d.root, "data", ref))
}

func (d *dirStore) removeBlob(ref string) {
	// An open reader keeps the bytes on POSIX systems, so a GET racing an
	// overwrite still sees the whole old object.
	os.Remove(filepath.Join(d.root, "data", ref))
}

func (d *dirStore) close() error { return nil }

type dirBlob struct {
	store *dirStore
	f     *os.File
	ref   string
}

func (b *dirBlob) Write(p []byte) (int, error) { return b.f.Write(p) }

func (b *dirBlob) finish() (string, error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	ref := hex.EncodeToString(rnd[:])
	if err := commitFile(b.f, filepath.Join(b.store.root, "data", ref)); err != nil {
		return "", err
	}
	b.ref = ref
	return ref, nil
}

func (b *dirBlob) abort() {
	if b.ref != "" {
		b.store.removeBlob(b.ref)
		return
	}
	b.f.Close()
	os.Remove(b.f.Name())
}

// commitFile fsyncs and closes f, renames it to final and fsyncs the parent,
// so final either does not change or holds all of f's bytes after a crash.
func commitFile(f *os.File, final string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
