package sim

import (
	"bytes"
	"fmt"
	"sync"
)

// memStore keeps bodies in memory; metadata lives only in the Server index.
type memStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
	seq   uint64
}

func newMemStore() *memStore { return &memStore{blobs: map[string][]byte{}} }

func (m *memStore) load() (map[string]map[string]*objectMeta, error) { return nil, nil }
func (m *memStore) createBucket(string) error                        { return nil }
func (m *memStore) saveMeta(string, *objectMeta) error               { return nil }
func (m *memStore) close() error                                     { return nil }

// newBlob sizes the buffer once from the request's Content-Length: growing
// it by doubling copied a 128 MiB pack about twice over.
func (m *memStore) newBlob(sizeHint int64) (blobWriter, error) {
	b := &memBlob{store: m}
	if sizeHint > 0 && sizeHint <= maxPutSize {
		b.buf.Grow(int(sizeHint))
	}
	return b, nil
}

func (m *memStore) open(ref string) (blobReader, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[ref]
	if !ok {
		return nil, fmt.Errorf("blob %s missing", ref)
	}
	// The slice is never mutated after finish, so readers share it.
	return nopCloserReaderAt{bytes.NewReader(b)}, nil
}

func (m *memStore) removeBlob(ref string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, ref)
}

type memBlob struct {
	store *memStore
	buf   bytes.Buffer
	ref   string
}

func (b *memBlob) Write(p []byte) (int, error) { return b.buf.Write(p) }

func (b *memBlob) finish() (string, error) {
	b.store.mu.Lock()
	defer b.store.mu.Unlock()
	b.store.seq++
	b.ref = fmt.Sprintf("m%d", b.store.seq)
	b.store.blobs[b.ref] = b.buf.Bytes()
	return b.ref, nil
}

func (b *memBlob) abort() {
	if b.ref != "" {
		b.store.removeBlob(b.ref)
	}
	b.buf = bytes.Buffer{}
}

type nopCloserReaderAt struct{ *bytes.Reader }

func (nopCloserReaderAt) Close() error { return nil }
