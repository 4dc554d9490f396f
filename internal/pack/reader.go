package pack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
)

// decoderPool recycles zstd decoders across Readers and goroutines. With
// concurrency 1 and only DecodeAll used, a decoder starts no goroutines, so a
// pooled decoder that is dropped by the GC leaks nothing.
var decoderPool = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		// Never decode more than the entry says (cap of dst), so a
		// corrupt frame cannot balloon memory.
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxMemory(MaxBlobSize),
		zstd.WithDecoderMaxWindow(MaxBlobSize),
	)
	if err != nil {
		// Only reachable if the constant options above are invalid.
		panic(fmt.Sprintf("pack: zstd decoder: %v", err))
	}
	return d
}}

// DecodeBlob turns a blob's stored bytes into its raw bytes and checks that
// they hash to e.ID under key. It never returns bytes that fail the check.
func DecodeBlob(e Entry, stored []byte, key IDKey) ([]byte, error) {
	if err := checkEntry(e); err != nil {
		return nil, err
	}
	if int64(len(stored)) != e.Length {
		return nil, corruptf("blob %s: have %d stored bytes, entry says %d", e.ID, len(stored), e.Length)
	}
	raw := stored
	if e.Compression == CompressionZstd {
		dec := decoderPool.Get().(*zstd.Decoder)
		out, err := dec.DecodeAll(stored, make([]byte, 0, e.RawLength))
		decoderPool.Put(dec)
		if err != nil {
			return nil, fmt.Errorf("%w: blob %s: zstd: %w", ErrCorrupt, e.ID, err)
		}
		raw = out
	}
	if int64(len(raw)) != e.RawLength {
		return nil, corruptf("blob %s: decoded %d bytes, entry says %d", e.ID, len(raw), e.RawLength)
	}
	if key.ID(raw) != e.ID {
		return nil, fmt.Errorf("blob %s: %w", e.ID, ErrBlobMismatch)
	}
	return raw, nil
}

// Reader gives random access to the blobs of one pack. It reads the trailer
// and index at open, then each blob with one ranged read of its stored bytes
// (rounded out to age's 64 KiB chunks). A Reader is safe for concurrent use.
type Reader struct {
	ra       io.ReaderAt // decrypted payload
	size     int64       // payload size
	indexOff int64
	entries  []Entry
	byID     map[ID]int
}

// sourceError marks an error from the caller's ReaderAt, so that I/O trouble
// (a dropped connection) is not reported as a corrupt pack.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

type sourceReaderAt struct{ r io.ReaderAt }

func (s sourceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

type sourceReader struct{ r io.Reader }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// classify maps an error from the age layer onto the package's sentinels.
func classify(op string, err error) error {
	var se *sourceError
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("pack: %s: %w", op, se.err)
	case errors.As(err, &nm):
		return fmt.Errorf("pack: %s: %w (%w)", op, ErrWrongKey, err)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("pack: %s: %w", op, err)
	default:
		// Header parse errors, bad header MAC, failed chunk
		// authentication, short objects: all mean the bytes are not the
		// pack that was written.
		return fmt.Errorf("pack: %s: %w: %w", op, ErrCorrupt, err)
	}
}

// OpenReader opens the pack in r (size ciphertext bytes) with the first of
// identities that matches. It authenticates the age header and final chunk,
// then reads and validates the payload header, trailer and index. Errors wrap
// ErrWrongKey, ErrCorrupt, or the ReaderAt's own error.
func OpenReader(r io.ReaderAt, size int64, identities ...age.Identity) (*Reader, error) {
	ra, psize, err := age.DecryptReaderAt(sourceReaderAt{r}, size, identities...)
	if err != nil {
		return nil, classify("open", err)
	}
	if psize < int64(headerSize+trailerSize) || psize > MaxPayloadSize {
		return nil, classify("open", corruptf("payload size %d out of range", psize))
	}
	var hdr [headerSize]byte
	if err := readFullAt(ra, hdr[:], 0); err != nil {
		return nil, classify("read header", err)
	}
	if err := parseHeader(hdr[:]); err != nil {
		return nil, classify("read header", err)
	}
	var tr [trailerSize]byte
	if err := readFullAt(ra, tr[:], psize-trailerSize); err != nil {
		return nil, classify("read trailer", err)
	}
	indexLen, err := parseTrailer(tr[:], psize)
	if err != nil {
		return nil, classify("read trailer", err)
	}
	indexOff := psize - trailerSize - indexLen
	idx := make([]byte, indexLen)
	if err := readFullAt(ra, idx, indexOff); err != nil {
		return nil, classify("read index", err)
	}
	entries, err := ParseIndex(idx, indexOff)
	if err != nil {
		return nil, classify("read index", err)
	}
	byID := make(map[ID]int, len(entries))
	for i, e := range entries {
		byID[e.ID] = i
	}
	return &Reader{ra: ra, size: psize, indexOff: indexOff, entries: entries, byID: byID}, nil
}

func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil // io.ReaderAt may report io.EOF with a full read at the end
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Index returns the pack's entries in payload order. The slice is a copy.
func (r *Reader) Index() []Entry { return slices.Clone(r.entries) }

// Lookup returns the entry for id.
func (r *Reader) Lookup(id ID) (Entry, bool) {
	i, ok := r.byID[id]
	if !ok {
		return Entry{}, false
	}
	return r.entries[i], true
}

// Blob reads, decompresses and verifies the blob named id.
func (r *Reader) Blob(id ID, key IDKey) ([]byte, error) {
	e, ok := r.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("pack: read blob %s: %w", id, ErrNotFound)
	}
	return r.ReadBlob(e, key)
}

// ReadBlob reads the blob e describes. e may come from the caller's catalog
// rather than from Index; it is bounds-checked against this pack, and the
// decoded bytes are returned only if they hash to e.ID.
func (r *Reader) ReadBlob(e Entry, key IDKey) ([]byte, error) {
	if err := checkEntry(e); err != nil {
		return nil, fmt.Errorf("pack: read blob %s: %w", e.ID, err)
	}
	if e.End() > r.indexOff {
		return nil, fmt.Errorf("pack: read blob %s: %w", e.ID, corruptf("blob [%d, %d) beyond records ending at %d", e.Offset, e.End(), r.indexOff))
	}
	stored := make([]byte, e.Length)
	if err := readFullAt(r.ra, stored, e.Offset); err != nil {
		return nil, classify("read blob "+e.ID.String(), err)
	}
	raw, err := DecodeBlob(e, stored, key)
	if err != nil {
		return nil, fmt.Errorf("pack: read blob %s: %w", e.ID, err)
	}
	return raw, nil
}

// Scan decrypts a whole pack sequentially from r (for example a downloaded
// object being streamed) and calls fn with each blob, verified, in payload
// order. It needs no random access and holds one blob at a time plus the
// index. At the end it checks that the index agrees with the records it saw
// and that the age stream ended authentically.
//
// fn may have been called for some blobs before Scan reports that the pack
// is truncated or corrupt further on; every blob passed to fn is authentic
// and verified regardless. If fn returns an error, Scan stops and returns it.
func Scan(r io.Reader, key IDKey, fn func(e Entry, data []byte) error, identities ...age.Identity) error {
	pr, err := age.Decrypt(sourceReader{r}, identities...)
	if err != nil {
		return classify("scan", err)
	}
	br := bufio.NewReaderSize(pr, 64<<10)
	var hdr [headerSize]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return classify("scan header", err)
	}
	if err := parseHeader(hdr[:]); err != nil {
		return classify("scan header", err)
	}
	off := int64(headerSize)
	var seen []Entry
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return classify("scan", err)
		}
		if tag == indexTag {
			break
		}
		if tag != recordTag {
			return classify("scan", corruptf("bad record tag at %d", off))
		}
		e, n, err := readRecordHeader(br)
		if err != nil {
			return classify(fmt.Sprintf("scan record at %d", off), err)
		}
		e.Offset = off + 1 + int64(n)
		if err := checkEntry(e); err != nil {
			return classify("scan", err)
		}
		if len(seen) >= MaxBlobs {
			return classify("scan", corruptf("more than %d records", MaxBlobs))
		}
		stored := make([]byte, e.Length)
		if _, err := io.ReadFull(br, stored); err != nil {
			return classify("scan blob "+e.ID.String(), err)
		}
		raw, err := DecodeBlob(e, stored, key)
		if err != nil {
			return fmt.Errorf("pack: scan: %w", err)
		}
		if err := fn(e, raw); err != nil {
			return err
		}
		seen = append(seen, e)
		off = e.End()
	}

	// The rest is the index (whose tag we consumed) and the trailer.
	rest, err := io.ReadAll(io.LimitReader(br, MaxIndexSize+trailerSize))
	if err != nil {
		return classify("scan index", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			err = corruptf("index longer than %d bytes", MaxIndexSize)
		}
		return classify("scan index", err)
	}
	if len(rest) < trailerSize {
		return classify("scan", corruptf("missing trailer"))
	}
	idx := append([]byte{indexTag}, rest[:len(rest)-trailerSize]...)
	indexLen, err := parseTrailer(rest[len(rest)-trailerSize:], off+int64(len(rest))+1)
	if err != nil {
		return classify("scan trailer", err)
	}
	if indexLen != int64(len(idx)) {
		return classify("scan trailer", corruptf("trailer says index is %d bytes, found %d", indexLen, len(idx)))
	}
	entries, err := ParseIndex(idx, off)
	if err != nil {
		return classify("scan index", err)
	}
	if !slices.Equal(entries, seen) {
		return classify("scan index", corruptf("index does not match the records"))
	}
	return nil
}

// readRecordHeader reads a record header after its tag, returning the entry
// (without Offset) and the number of bytes consumed.
func readRecordHeader(br *bufio.Reader) (Entry, int, error) {
	// The header is at most 32+2+2*maxVarintLen bytes; Peek what is there
	// (a short read near the end is fine) and parse it with the same
	// decoder the in-memory parser uses.
	p, err := br.Peek(32 + 2 + 2*maxVarintLen)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return Entry{}, 0, err
	}
	d := &decoder{b: p}
	e := d.entryFields()
	if d.err != nil {
		if len(p) < 32+2+2*maxVarintLen {
			// Ran out of bytes: the stream ended (age reports whether
			// that was truncation) mid-header.
			return Entry{}, 0, fmt.Errorf("%w: truncated record header", ErrCorrupt)
		}
		return Entry{}, 0, d.err
	}
	if _, err := br.Discard(d.off); err != nil {
		return Entry{}, 0, err
	}
	return e, d.off, nil
}
