package pack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"filippo.io/age"
)

// randomBytes returns n deterministic incompressible bytes.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

// textBytes returns n deterministic bytes of word soup that zstd compresses
// roughly 3:1, like source code or documents.
func textBytes(seed uint64, n int) []byte {
	words := strings.Fields("the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their")
	r := rand.New(rand.NewPCG(seed, 42))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteString(".\n")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

type testBlob struct {
	kind Kind
	data []byte
}

func mixedBlobs() []testBlob {
	blobs := []testBlob{
		{KindData, nil},
		{KindData, []byte("x")},
		{KindTree, textBytes(1, 3000)},
		{KindData, randomBytes(2, 5<<20)},
		{KindMeta, []byte("hello, icevault")},
		{KindData, textBytes(3, 5<<20)},
		{KindData, bytes.Repeat([]byte{0}, 100000)},
	}
	for i := range 150 {
		if i%2 == 0 {
			blobs = append(blobs, testBlob{KindData, randomBytes(uint64(100+i), 1+i*997)})
		} else {
			blobs = append(blobs, testBlob{KindTree, textBytes(uint64(100+i), 1+i*997)})
		}
	}
	return blobs
}

func testKey(t testing.TB) IDKey {
	t.Helper()
	k, err := NewIDKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writePack writes blobs to a pack in memory and checks the Sealed summary.
func writePack(t testing.TB, key IDKey, blobs []testBlob, recipients ...age.Recipient) ([]byte, Sealed) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, recipients, WriterOptions{VerifyKey: &key})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if err := w.Add(b.kind, key.ID(b.data), b.data); err != nil {
			t.Fatal(err)
		}
	}
	if w.Count() != len(blobs) {
		t.Fatalf("Count = %d, want %d", w.Count(), len(blobs))
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != int64(buf.Len()) {
		t.Errorf("Sealed.Size = %d, wrote %d", s.Size, buf.Len())
	}
	if s.SHA256 != sha256.Sum256(buf.Bytes()) {
		t.Error("Sealed.SHA256 is not the SHA-256 of the ciphertext")
	}
	return buf.Bytes(), s
}

func newX25519(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newHybrid(t testing.TB) *age.HybridIdentity {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkAllBlobs reads every blob through both readers and compares.
func checkAllBlobs(t *testing.T, obj []byte, key IDKey, blobs []testBlob, s Sealed, ids ...age.Identity) {
	t.Helper()
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), ids...)
	if err != nil {
		t.Fatal(err)
	}
	idx := r.Index()
	if len(idx) != len(blobs) || !equalEntryLists(idx, s.Entries) {
		t.Fatalf("index has %d entries, differs from Sealed.Entries", len(idx))
	}
	for i, b := range blobs {
		e := idx[i]
		if e.ID != key.ID(b.data) || e.Kind != b.kind || e.RawLength != int64(len(b.data)) {
			t.Fatalf("entry %d = %+v, want blob of kind %v, %d bytes", i, e, b.kind, len(b.data))
		}
		got, err := r.Blob(e.ID, key)
		if err != nil {
			t.Fatalf("blob %d: %v", i, err)
		}
		if !bytes.Equal(got, b.data) {
			t.Fatalf("blob %d: wrong bytes", i)
		}
	}
	n := 0
	err = Scan(bytes.NewReader(obj), key, func(e Entry, data []byte) error {
		if e != idx[n] || !bytes.Equal(data, blobs[n].data) {
			return fmt.Errorf("scan blob %d differs", n)
		}
		n++
		return nil
	}, ids...)
	if err != nil || n != len(blobs) {
		t.Fatalf("Scan: %v after %d of %d blobs", err, n, len(blobs))
	}
}

func equalEntryLists(a, b []Entry) bool {
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

func TestRoundTrip(t *testing.T) {
	blobs := mixedBlobs()
	key := testKey(t)
	x, h := newX25519(t), newHybrid(t)
	for _, tc := range []struct {
		name string
		rcpt age.Recipient
		id   age.Identity
	}{
		{"hybrid", h.Recipient(), h},
		{"x25519", x.Recipient(), x},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, s := writePack(t, key, blobs, tc.rcpt)
			checkAllBlobs(t, obj, key, blobs, s, tc.id)

			// Compression choices: incompressible data raw, text zstd.
			byID := map[ID]Entry{}
			for _, e := range s.Entries {
				byID[e.ID] = e
			}
			for _, c := range []struct {
				data []byte
				want Compression
			}{
				{nil, CompressionNone},
				{[]byte("x"), CompressionNone},
				{randomBytes(2, 5<<20), CompressionNone},
				{textBytes(3, 5<<20), CompressionZstd},
				{bytes.Repeat([]byte{0}, 100000), CompressionZstd},
			} {
				if got := byID[key.ID(c.data)].Compression; got != c.want {
					t.Errorf("%d-byte blob stored with %v, want %v", len(c.data), got, c.want)
				}
			}
		})
	}
}

func TestEmptyPack(t *testing.T) {
	key := testKey(t)
	id := newHybrid(t)
	obj, s := writePack(t, key, nil, id.Recipient())
	checkAllBlobs(t, obj, key, nil, s, id)
}

func TestMultipleRecipients(t *testing.T) {
	key := testKey(t)
	blobs := []testBlob{{KindData, textBytes(7, 200000)}, {KindTree, []byte("tree")}}
	h1, h2 := newHybrid(t), newHybrid(t)
	obj, s := writePack(t, key, blobs, h1.Recipient(), h2.Recipient())
	checkAllBlobs(t, obj, key, blobs, s, h1)
	checkAllBlobs(t, obj, key, blobs, s, h2)
	checkAllBlobs(t, obj, key, blobs, s, newHybrid(t), h2) // first non-matching identity is skipped

	x1, x2 := newX25519(t), newX25519(t)
	obj, s = writePack(t, key, blobs, x1.Recipient(), x2.Recipient())
	checkAllBlobs(t, obj, key, blobs, s, x2)

	// age refuses to weaken a post-quantum file with a classic recipient.
	if _, err := NewWriter(io.Discard, []age.Recipient{h1.Recipient(), x1.Recipient()}, WriterOptions{}); err == nil {
		t.Error("NewWriter accepted mixed hybrid and X25519 recipients")
	}
	if _, err := NewWriter(io.Discard, nil, WriterOptions{}); err == nil {
		t.Error("NewWriter accepted no recipients")
	}
}

func TestWrongIdentity(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	obj, _ := writePack(t, key, []testBlob{{KindData, []byte("secret")}}, h.Recipient())
	for _, id := range []age.Identity{newHybrid(t), newX25519(t)} {
		_, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), id)
		if !errors.Is(err, ErrWrongKey) {
			t.Errorf("OpenReader with wrong %T: %v, want ErrWrongKey", id, err)
		}
		err = Scan(bytes.NewReader(obj), key, func(Entry, []byte) error { return nil }, id)
		if !errors.Is(err, ErrWrongKey) {
			t.Errorf("Scan with wrong %T: %v, want ErrWrongKey", id, err)
		}
	}
}

func TestWrongIDKey(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	blobs := []testBlob{{KindData, []byte("raw blob")}, {KindData, textBytes(1, 10000)}}
	obj, _ := writePack(t, key, blobs, h.Recipient())
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), h)
	if err != nil {
		t.Fatal(err)
	}
	other := testKey(t)
	for _, e := range r.Index() {
		if _, err := r.ReadBlob(e, other); !errors.Is(err, ErrBlobMismatch) {
			t.Errorf("ReadBlob(%v) with wrong ID key: %v, want ErrBlobMismatch", e.Compression, err)
		}
	}
	err = Scan(bytes.NewReader(obj), other, func(Entry, []byte) error { return nil }, h)
	if !errors.Is(err, ErrBlobMismatch) {
		t.Errorf("Scan with wrong ID key: %v, want ErrBlobMismatch", err)
	}
}

// readAll opens obj and reads every blob, returning the first error; it
// fails the test if any blob is returned with bytes that differ from want.
func readAll(t *testing.T, obj []byte, key IDKey, want map[ID][]byte, id age.Identity) error {
	t.Helper()
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), id)
	if err != nil {
		return err
	}
	var firstErr error
	for _, e := range r.Index() {
		got, err := r.ReadBlob(e, key)
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		if w, ok := want[e.ID]; !ok || !bytes.Equal(got, w) {
			t.Fatalf("blob %s: returned wrong bytes without an error", e.ID)
		}
	}
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func TestTamperedCiphertext(t *testing.T) {
	key := testKey(t)
	x := newX25519(t)
	var blobs []testBlob
	want := map[ID][]byte{}
	for i := range 8 {
		b := testBlob{KindData, randomBytes(uint64(i), 40000)}
		if i%2 == 1 {
			b.data = textBytes(uint64(i), 40000)
		}
		blobs = append(blobs, b)
		want[key.ID(b.data)] = b.data
	}
	obj, _ := writePack(t, key, blobs, x.Recipient())
	if err := readAll(t, obj, key, want, x); err != nil {
		t.Fatal(err)
	}
	// Every position in the age header, then a stride through the body,
	// and the last bytes (final chunk, tag).
	var positions []int
	for i := 0; i < len(obj); i++ {
		if i < 300 || i%509 == 0 || i >= len(obj)-40 {
			positions = append(positions, i)
		}
	}
	for _, pos := range positions {
		bad := bytes.Clone(obj)
		bad[pos] ^= 0x01
		err := Scan(bytes.NewReader(bad), key, func(e Entry, data []byte) error {
			if !bytes.Equal(want[e.ID], data) {
				t.Fatalf("byte %d flipped: Scan returned wrong bytes", pos)
			}
			return nil
		}, x)
		if err == nil {
			t.Fatalf("byte %d flipped: Scan succeeded", pos)
		}
		if err := readAll(t, bad, key, want, x); err == nil {
			t.Fatalf("byte %d flipped: every blob read without error", pos)
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongKey) {
			t.Fatalf("byte %d flipped: error %v is neither ErrCorrupt nor ErrWrongKey", pos, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	blobs := []testBlob{{KindData, randomBytes(1, 200000)}, {KindTree, textBytes(2, 50000)}}
	want := map[ID][]byte{key.ID(blobs[0].data): blobs[0].data, key.ID(blobs[1].data): blobs[1].data}
	obj, _ := writePack(t, key, blobs, h.Recipient())
	chunk := 65536 + 16
	for _, cut := range []int{0, 1, 100, len(obj) / 2, len(obj) - chunk, len(obj) - chunk - 1, len(obj) - 17, len(obj) - 1} {
		short := obj[:cut]
		if err := readAll(t, short, key, want, h); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d of %d bytes: %v, want ErrCorrupt", cut, len(obj), err)
		}
		err := Scan(bytes.NewReader(short), key, func(e Entry, data []byte) error {
			if !bytes.Equal(want[e.ID], data) {
				t.Fatalf("truncated to %d: Scan returned wrong bytes", cut)
			}
			return nil
		}, h)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Scan truncated to %d of %d bytes: %v, want ErrCorrupt", cut, len(obj), err)
		}
	}
}

// countingReaderAt counts the bytes a reader asks for.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes atomic.Int64
	calls atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.bytes.Add(int64(len(p)))
	c.calls.Add(1)
	return c.r.ReadAt(p, off)
}

func TestRandomAccess(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	var blobs []testBlob
	for i := range 64 {
		blobs = append(blobs, testBlob{KindData, randomBytes(uint64(i), 256<<10)})
	}
	obj, s := writePack(t, key, blobs, h.Recipient()) // 16 MiB
	cr := &countingReaderAt{r: bytes.NewReader(obj)}
	r, err := OpenReader(cr, int64(len(obj)), h)
	if err != nil {
		t.Fatal(err)
	}
	opened := cr.bytes.Load()
	e := s.Entries[37]
	got, err := r.ReadBlob(e, key)
	if err != nil || !bytes.Equal(got, blobs[37].data) {
		t.Fatalf("ReadBlob: %v", err)
	}
	read := cr.bytes.Load() - opened
	// Open: age header, first chunk (payload header), final chunk(s)
	// (trailer and index). Blob: its bytes rounded out to whole chunks.
	const encChunk = 65536 + 16
	if max := int64(8 * encChunk); opened > max {
		t.Errorf("OpenReader read %d bytes of a %d-byte pack, want <= %d", opened, len(obj), max)
	}
	if max := e.Length + 2*encChunk; read > max {
		t.Errorf("ReadBlob of %d bytes read %d, want <= %d", e.Length, read, max)
	}
	t.Logf("pack %d bytes; open read %d, one %d-byte blob read %d", len(obj), opened, e.Length, read)
}

// errReaderAt fails every read with its error.
type errReaderAt struct {
	r   io.ReaderAt
	err error
	off int64 // fail reads at or past this offset
}

func (e errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > e.off {
		return 0, e.err
	}
	return e.r.ReadAt(p, off)
}

func TestSourceErrorIsNotCorrupt(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	blobs := []testBlob{{KindData, randomBytes(1, 300000)}}
	obj, s := writePack(t, key, blobs, h.Recipient())
	errNet := errors.New("connection reset")
	// Failing at open.
	_, err := OpenReader(errReaderAt{bytes.NewReader(obj), errNet, 0}, int64(len(obj)), h)
	if !errors.Is(err, errNet) || errors.Is(err, ErrCorrupt) {
		t.Errorf("OpenReader over failing source: %v, want the source error and not ErrCorrupt", err)
	}
	// Failing mid-blob, after a successful open.
	fr := &errReaderAt{bytes.NewReader(obj), errNet, int64(len(obj))}
	r, err := OpenReader(fr, int64(len(obj)), h)
	if err != nil {
		t.Fatal(err)
	}
	fr.off = 0
	_, err = r.ReadBlob(s.Entries[0], key)
	if !errors.Is(err, errNet) || errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadBlob over failing source: %v, want the source error and not ErrCorrupt", err)
	}
}

func TestReadBlobForeignEntry(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	blobs := []testBlob{{KindData, []byte("aaaa")}, {KindData, []byte("bbbb")}}
	obj, s := writePack(t, key, blobs, h.Recipient())
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), h)
	if err != nil {
		t.Fatal(err)
	}
	swapped := s.Entries[0]
	swapped.ID = s.Entries[1].ID // right place, wrong name
	if _, err := r.ReadBlob(swapped, key); !errors.Is(err, ErrBlobMismatch) {
		t.Errorf("entry with another blob's ID: %v, want ErrBlobMismatch", err)
	}
	far := s.Entries[1]
	far.Offset += 1000
	if _, err := r.ReadBlob(far, key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("entry past the records: %v, want ErrCorrupt", err)
	}
	if _, err := r.Blob(key.ID([]byte("absent")), key); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent blob: %v, want ErrNotFound", err)
	}
}

func TestWriterRejects(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	w, err := NewWriter(io.Discard, []age.Recipient{h.Recipient()}, WriterOptions{VerifyKey: &key})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("blob")
	if err := w.Add(Kind(0), key.ID(data), data); err == nil {
		t.Error("Add accepted kind 0")
	}
	if err := w.Add(Kind(9), key.ID(data), data); err == nil {
		t.Error("Add accepted kind 9")
	}
	if err := w.Add(KindData, key.ID([]byte("other")), data); !errors.Is(err, ErrBlobMismatch) {
		t.Errorf("Add with wrong ID and VerifyKey: %v, want ErrBlobMismatch", err)
	}
	if err := w.Add(KindData, key.ID(data), data); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(KindData, key.ID(data), data); err == nil {
		t.Error("Add accepted a duplicate ID")
	}
	big := make([]byte, MaxBlobSize+1)
	if err := w.Add(KindData, ID{1}, big); err == nil {
		t.Error("Add accepted a blob over MaxBlobSize")
	}
	if w.Count() != 1 {
		t.Errorf("Count = %d after rejected adds, want 1", w.Count())
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(KindData, ID{2}, data); err == nil {
		t.Error("Add after Close succeeded")
	}
	if _, err := w.Close(); err == nil {
		t.Error("second Close succeeded")
	}
}

func TestDisableCompression(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, []age.Recipient{h.Recipient()}, WriterOptions{DisableCompression: true})
	if err != nil {
		t.Fatal(err)
	}
	data := textBytes(1, 100000)
	if err := w.Add(KindData, key.ID(data), data); err != nil {
		t.Fatal(err)
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.Entries[0].Compression != CompressionNone {
		t.Errorf("compression %v with DisableCompression", s.Entries[0].Compression)
	}
	checkAllBlobs(t, buf.Bytes(), key, []testBlob{{KindData, data}}, s, h)
}

func TestLenTracksPayload(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, []age.Recipient{h.Recipient()}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Len() != headerSize {
		t.Errorf("Len of new writer = %d, want %d", w.Len(), headerSize)
	}
	data := randomBytes(1, 1000)
	if err := w.Add(KindData, key.ID(data), data); err != nil {
		t.Fatal(err)
	}
	if w.Len() < int64(headerSize+len(data)) {
		t.Errorf("Len = %d after a %d-byte blob", w.Len(), len(data))
	}
	s, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s.PlaintextSize <= w.Len()-1 || s.Entries[0].End() > s.PlaintextSize {
		t.Errorf("PlaintextSize %d inconsistent with entries", s.PlaintextSize)
	}
}

func TestIDs(t *testing.T) {
	k1, k2 := testKey(t), testKey(t)
	data := []byte("the same file")
	if k1.ID(data) == k2.ID(data) {
		t.Error("same ID under two keys")
	}
	if k1.ID(data) == k1.ID([]byte("another file")) {
		t.Error("same ID for different data")
	}
	for _, n := range []int{0, 1, 55, 63, 64, 65, 1000, 1 << 20} {
		d := randomBytes(uint64(n), n)
		mac := hmac.New(sha256.New, k1[:])
		mac.Write(d)
		if got := k1.ID(d); !bytes.Equal(got[:], mac.Sum(nil)) {
			t.Errorf("ID of %d bytes differs from crypto/hmac", n)
		}
	}
	id := k1.ID(data)
	s := id.String()
	if len(s) != 64 || strings.ToLower(s) != s {
		t.Errorf("String = %q", s)
	}
	back, err := ParseID(s)
	if err != nil || back != id {
		t.Errorf("ParseID(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "00", s[:63], s + "0", strings.Repeat("g", 64)} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
}

// decryptPayload returns the plaintext payload of a pack object.
func decryptPayload(t testing.TB, obj []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(obj), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePayloadRejects(t *testing.T) {
	key := testKey(t)
	x := newX25519(t)
	blobs := []testBlob{{KindData, []byte("one")}, {KindTree, textBytes(1, 5000)}, {KindData, nil}}
	obj, s := writePack(t, key, blobs, x.Recipient())
	good := decryptPayload(t, obj, x)
	p, err := ParsePayload(good)
	if err != nil {
		t.Fatal(err)
	}
	if !equalEntryLists(p.Entries, s.Entries) {
		t.Fatal("ParsePayload entries differ from Sealed")
	}
	for i, e := range p.Entries {
		raw, err := DecodeBlob(e, p.Stored[i], key)
		if err != nil || !bytes.Equal(raw, blobs[i].data) {
			t.Fatalf("DecodeBlob %d: %v", i, err)
		}
	}

	indexOff := int(s.Entries[len(s.Entries)-1].End()) // records end where the index starts
	reindex := func(entries []Entry) []byte {
		b := bytes.Clone(good[:indexOff])
		idx := appendIndex(nil, entries)
		b = append(b, idx...)
		return appendTrailer(b, int64(len(idx)))
	}
	mod := func(f func(es []Entry)) []byte {
		es := append([]Entry(nil), s.Entries...)
		f(es)
		return reindex(es)
	}
	if _, err := ParsePayload(reindex(s.Entries)); err != nil {
		t.Fatalf("re-indexed good payload rejected: %v", err)
	}
	cases := map[string][]byte{
		"empty":          nil,
		"bad magic":      append([]byte("ICEVPACX"), good[8:]...),
		"version 2":      append(append([]byte("ICEVPACK"), 2), good[9:]...),
		"bad end magic":  append(bytes.Clone(good[:len(good)-1]), 'X'),
		"index too long": append(binaryLE(good, uint64(len(good))), "ICEVPEND"...),
		"index len 0":    append(binaryLE(good, 0), "ICEVPEND"...),
		"truncated":      good[:len(good)-1],
		"extra byte":     append(append(bytes.Clone(good[:indexOff]), 0), good[indexOff:]...),
		"kind 0":         mod(func(es []Entry) { es[0].Kind = 0 }),
		"kind 4":         mod(func(es []Entry) { es[0].Kind = 4 }),
		"compression 2":  mod(func(es []Entry) { es[0].Compression = 2 }),
		"raw mismatch":   mod(func(es []Entry) { es[0].RawLength++ }),
		"overlap":        mod(func(es []Entry) { es[1].Offset = es[0].Offset }),
		"reordered":      mod(func(es []Entry) { es[0], es[1] = es[1], es[0] }),
		"duplicate":      mod(func(es []Entry) { es[2].ID = es[0].ID }),
		"past index":     mod(func(es []Entry) { es[2].Offset += 100 }),
		"dropped entry":  mod(func(es []Entry) { es[1] = es[2] }),
		"wrong ID":       mod(func(es []Entry) { es[1].ID[0] ^= 1 }),
	}
	for name, b := range cases {
		if _, err := ParsePayload(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: ParsePayload = %v, want ErrCorrupt", name, err)
		}
	}

	// A non-canonical varint (count 3 as 0x83 0x00).
	idx := good[indexOff : len(good)-trailerSize]
	nc := bytes.Clone(good[:indexOff])
	nc = append(nc, indexTag, 0x83, 0x00)
	nc = append(nc, idx[2:]...)
	nc = appendTrailer(nc, int64(len(idx)+1))
	if _, err := ParsePayload(nc); !errors.Is(err, ErrCorrupt) {
		t.Errorf("non-canonical count: %v, want ErrCorrupt", err)
	}
}

func binaryLE(good []byte, n uint64) []byte {
	b := bytes.Clone(good[:len(good)-trailerSize])
	for range 8 {
		b = append(b, byte(n))
		n >>= 8
	}
	return b
}

func TestConcurrentReads(t *testing.T) {
	key := testKey(t)
	h := newHybrid(t)
	var blobs []testBlob
	for i := range 16 {
		blobs = append(blobs, testBlob{KindData, textBytes(uint64(i), 50000+i)})
	}
	obj, s := writePack(t, key, blobs, h.Recipient())
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), h)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 64 {
				n := (i + g) % len(blobs)
				got, err := r.ReadBlob(s.Entries[n], key)
				if err == nil && !bytes.Equal(got, blobs[n].data) {
					err = fmt.Errorf("blob %d: wrong bytes", n)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
