package pack

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// WriterOptions tunes a Writer. The zero value is the recommended setting.
type WriterOptions struct {
	// Level is the zstd level to try on each blob. Zero means
	// zstd.SpeedFastest: backups are CPU-bound on a small machine and the
	// bigger levels buy a few percent of space on text for several times
	// the CPU; Deep Archive storage is cheap, the user's time is not.
	Level zstd.EncoderLevel
	// DisableCompression stores every blob raw.
	DisableCompression bool
	// VerifyKey, if set, makes Add recompute each blob's ID and reject a
	// mismatch. It costs one extra hash per blob; it exists for callers that
	// would rather catch an ID bug at write time than at restore time.
	VerifyKey *IDKey
}

// Sealed describes a finished pack.
type Sealed struct {
	// Entries lists the blobs in payload order, exactly as the index does.
	Entries []Entry
	// Size is the number of ciphertext bytes written (the object size).
	Size int64
	// PlaintextSize is the size of the decrypted payload.
	PlaintextSize int64
	// SHA256 is the SHA-256 of the ciphertext, computed while writing so
	// the caller can send x-amz-checksum-sha256 without re-reading the file.
	SHA256 [sha256.Size]byte
}

// Writer streams a pack into an io.Writer. It holds only the index (plus
// one blob's compression buffer) in memory. A Writer is not safe for
// concurrent use.
type Writer struct {
	out   *countingWriter
	age   io.WriteCloser
	enc   *zstd.Encoder // nil when compression is disabled
	opts  WriterOptions
	off   int64 // plaintext bytes written so far
	index []Entry
	ids   map[ID]struct{}
	buf   []byte // reused compression output and record-header scratch
	err   error  // sticky: a failed write leaves the pack unusable
}

// countingWriter counts and hashes the ciphertext on its way to the caller.
type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

var errClosed = errors.New("pack: writer is closed")

// NewWriter starts a pack encrypted to recipients and writes its age header
// and payload header to w. Prefer *age.HybridRecipient; age refuses to mix
// post-quantum and classic recipients in one file.
func NewWriter(w io.Writer, recipients []age.Recipient, opts WriterOptions) (*Writer, error) {
	if len(recipients) == 0 {
		return nil, errors.New("pack: new writer: no recipients")
	}
	pw := &Writer{
		out:  &countingWriter{w: w, h: sha256.New()},
		opts: opts,
		ids:  make(map[ID]struct{}),
	}
	if !opts.DisableCompression {
		level := opts.Level
		if level == 0 {
			level = zstd.SpeedFastest
		}
		// Concurrency 1: one pack is written by one goroutine; the backup
		// pipeline gets its parallelism from several packs or from hashing.
		// No CRC: age authenticates every byte and we re-check the ID.
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(level),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, fmt.Errorf("pack: new writer: zstd: %w", err)
		}
		pw.enc = enc
	}
	aw, err := age.Encrypt(pw.out, recipients...)
	if err != nil {
		return nil, fmt.Errorf("pack: new writer: age: %w", err)
	}
	pw.age = aw
	if err := pw.write(appendHeader(nil)); err != nil {
		return nil, err
	}
	return pw, nil
}

func (w *Writer) write(p []byte) error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.age.Write(p); err != nil {
		w.err = fmt.Errorf("pack: write at payload offset %d: %w", w.off, err)
		return w.err
	}
	w.off += int64(len(p))
	return nil
}

// Len returns the plaintext bytes written so far. The finished object is
// Len plus the index (~45 bytes a blob), the trailer, the age header and
// 16 bytes per 64 KiB, so callers can cut packs near a target size.
func (w *Writer) Len() int64 { return w.off }

// Count returns the number of blobs added.
func (w *Writer) Count() int { return len(w.index) }

// Add appends one blob. id must be the blob's ID under the repository's
// IDKey; it is not recomputed unless WriterOptions.VerifyKey is set (the
// reader always re-checks it). data is not retained. Add returns ErrFull,
// without damaging the pack, if the blob does not fit the format's limits;
// the caller then closes this pack and starts another.
func (w *Writer) Add(kind Kind, id ID, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if !kind.valid() {
		return fmt.Errorf("pack: add blob %s: invalid kind %d", id, kind)
	}
	if len(data) > MaxBlobSize {
		return fmt.Errorf("pack: add blob %s: %d bytes exceeds MaxBlobSize %d", id, len(data), MaxBlobSize)
	}
	if _, dup := w.ids[id]; dup {
		return fmt.Errorf("pack: add blob %s: already in this pack", id)
	}
	if w.opts.VerifyKey != nil && w.opts.VerifyKey.ID(data) != id {
		return fmt.Errorf("pack: add blob %s: %w", id, ErrBlobMismatch)
	}

	e := Entry{ID: id, Kind: kind, Compression: CompressionNone, RawLength: int64(len(data)), Length: int64(len(data))}
	stored := data
	if w.enc != nil && len(data) > 0 && w.worthCompressing(data) {
		// Keep the compressed form only if it saves at least 1/32: below
		// that, the CPU spent decompressing on every restore buys almost
		// nothing, and incompressible data (photos, video, archives) must
		// restore at copy speed.
		w.buf = w.enc.EncodeAll(data, w.buf[:0])
		if len(w.buf) <= len(data)-len(data)/32 && len(w.buf) < len(data) {
			e.Compression = CompressionZstd
			e.Length = int64(len(w.buf))
			stored = w.buf
		}
	}

	var hdr [minRecordHeaderSize + 2*(maxVarintLen-1)]byte
	h := appendRecordHeader(hdr[:0], e)
	e.Offset = w.off + int64(len(h))
	// Checked before writing anything so that ErrFull leaves a valid pack.
	if len(w.index) >= MaxBlobs || e.End()+int64(indexSizeBound(len(w.index)+1))+trailerSize > MaxPayloadSize {
		return fmt.Errorf("pack: add blob %s: %w", id, ErrFull)
	}
	if err := w.write(h); err != nil {
		return err
	}
	if err := w.write(stored); err != nil {
		return err
	}
	w.index = append(w.index, e)
	w.ids[id] = struct{}{}
	return nil
}

// Sampling parameters for worthCompressing: four 16 KiB samples are 1/16 of
// a 1 MiB chunk, and they must save 1/64 (half the keep threshold, as a
// margin for the smaller window) for the whole blob to be tried.
const (
	sampleSize     = 16 << 10
	samples        = 4
	minSampledBlob = 16 * sampleSize
)

// worthCompressing reports whether a full compression attempt is worth its
// CPU. For large blobs it compresses a few evenly spaced samples first: on
// incompressible data (the bulk of a photo library) that skips most of the
// attempt, which otherwise costs about a fifth of the writer's time. Small
// blobs are cheap to just try.
func (w *Writer) worthCompressing(data []byte) bool {
	if len(data) < minSampledBlob {
		return true
	}
	step := (len(data) - sampleSize) / (samples - 1)
	var in, out int
	for i := range samples {
		s := data[i*step : i*step+sampleSize]
		w.buf = w.enc.EncodeAll(s, w.buf[:0])
		in += len(s)
		out += len(w.buf)
	}
	return out <= in-in/64
}

// maxVarintLen is the longest varint the format produces (values < 2^35).
const maxVarintLen = 5

// indexSizeBound is an upper bound on the serialized size of n entries.
func indexSizeBound(n int) int { return 1 + maxVarintLen + n*(32+2+3*maxVarintLen) }

// Close writes the index and trailer, finishes the age stream and returns
// the pack's description. It does not close the underlying writer.
func (w *Writer) Close() (Sealed, error) {
	if w.err != nil {
		return Sealed{}, w.err
	}
	idx := appendIndex(make([]byte, 0, indexSizeBound(len(w.index))+trailerSize), w.index)
	idx = appendTrailer(idx, int64(len(idx)))
	if err := w.write(idx); err != nil {
		return Sealed{}, err
	}
	if err := w.age.Close(); err != nil {
		w.err = fmt.Errorf("pack: finish age stream: %w", err)
		return Sealed{}, w.err
	}
	w.err = errClosed
	if w.enc != nil {
		w.enc.Close()
	}
	s := Sealed{Entries: w.index, Size: w.out.n, PlaintextSize: w.off}
	w.out.h.Sum(s.SHA256[:0])
	return s, nil
}
