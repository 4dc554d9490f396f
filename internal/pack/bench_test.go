package pack

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"
)

const benchBlobSize = 1 << 20 // the chunker's average chunk

func BenchmarkID(b *testing.B) {
	key := testKey(b)
	data := randomBytes(1, benchBlobSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		key.ID(data)
	}
}

// benchWriter adds 1 MiB blobs from a pool of 16 distinct ones, starting a new
// pack every 64 blobs (as the backup would, well before the format's limits;
// IDs must be unique per pack) so the age header's cost is amortized as it
// is in real 64 MiB packs.
func benchWriter(b *testing.B, gen func(seed uint64, n int) []byte) {
	key := testKey(b)
	id := newHybrid(b)
	rcpt := []age.Recipient{id.Recipient()}
	const distinct = 64
	blobs := make([][]byte, distinct)
	ids := make([]ID, distinct)
	for i := range blobs {
		blobs[i] = gen(uint64(i), benchBlobSize)
		ids[i] = key.ID(blobs[i])
	}
	b.SetBytes(benchBlobSize)
	var w *Writer
	i := 0
	for b.Loop() {
		if w == nil {
			var err error
			if w, err = NewWriter(io.Discard, rcpt, WriterOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Add(KindData, ids[i], blobs[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == distinct {
			if _, err := w.Close(); err != nil {
				b.Fatal(err)
			}
			w, i = nil, 0
		}
	}
	if w != nil {
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriterIncompressible(b *testing.B) { benchWriter(b, randomBytes) }
func BenchmarkWriterCompressible(b *testing.B)   { benchWriter(b, textBytes) }

func benchReadBlob(b *testing.B, gen func(seed uint64, n int) []byte) {
	key := testKey(b)
	id := newHybrid(b)
	var blobs []testBlob
	for i := range 16 {
		blobs = append(blobs, testBlob{KindData, gen(uint64(i), benchBlobSize)})
	}
	obj, s := writePack(b, key, blobs, id.Recipient())
	r, err := OpenReader(bytes.NewReader(obj), int64(len(obj)), id)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchBlobSize)
	i := 0
	for b.Loop() {
		if _, err := r.ReadBlob(s.Entries[i%len(s.Entries)], key); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkReadBlob(b *testing.B)             { benchReadBlob(b, randomBytes) }
func BenchmarkReadBlobCompressible(b *testing.B) { benchReadBlob(b, textBytes) }
