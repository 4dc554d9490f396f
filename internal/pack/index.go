package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Format constants. See the package documentation for the layout they belong
// to; changing any of them is a format change and needs a new Version.
const (
	// Version is the payload format version written after the header magic.
	Version = 1

	headerMagic  = "ICEVPACK"
	trailerMagic = "ICEVPEND"
	headerSize   = 9  // len(headerMagic) + version byte
	trailerSize  = 16 // uint64 index length + len(trailerMagic)

	recordTag byte = 'B' // starts every blob record
	indexTag  byte = 'X' // starts the index

	// MaxBlobSize bounds a blob's raw (uncompressed) length. Chunks average
	// ~1 MiB and trees are split long before this; the bound exists so a
	// corrupt or hostile length can never make a reader allocate more.
	MaxBlobSize = 64 << 20

	// MaxBlobs bounds the number of blobs in one pack (a 256 MiB pack of
	// 256-byte trees) and so the index a reader must hold in memory.
	MaxBlobs = 1 << 20

	// MaxPayloadSize bounds the plaintext payload: it keeps every offset in
	// 32 bits and the ciphertext under S3's 5 GiB single-PUT limit.
	MaxPayloadSize = 4 << 30

	// MaxIndexSize bounds the serialized index: MaxBlobs entries of the
	// largest size (32+1+1+5+5+5 bytes) plus tag and count, rounded up.
	MaxIndexSize = 64 << 20

	// minRecordHeaderSize is a record header with 1-byte varints:
	// tag + ID + kind + compression + rawLen + storedLen.
	minRecordHeaderSize = 1 + 32 + 1 + 1 + 1 + 1
	// minEntrySize is an index entry with 1-byte varints.
	minEntrySize = 32 + 1 + 1 + 1 + 1 + 1
	// maxVarint is the largest value any varint in the format may hold; it
	// also caps a varint's encoding at 5 bytes.
	maxVarint = MaxPayloadSize
)

// Kind says what a blob holds. It is recorded so that a catalog can be rebuilt
// from packs alone and so data and trees can be told apart when salvaging.
type Kind uint8

const (
	KindData Kind = 1 // a content chunk of a file
	KindTree Kind = 2 // a serialized directory tree
	KindMeta Kind = 3 // other small repository metadata
)

func (k Kind) valid() bool { return k >= KindData && k <= KindMeta }

func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindTree:
		return "tree"
	case KindMeta:
		return "meta"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Compression says how a blob's stored bytes encode its raw bytes.
type Compression uint8

const (
	CompressionNone Compression = 0 // stored bytes are the raw bytes
	CompressionZstd Compression = 1 // stored bytes are one zstd frame (RFC 8878)
)

func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// Entry locates one blob inside a pack's plaintext payload.
type Entry struct {
	ID          ID
	Kind        Kind
	Compression Compression
	// Offset is the payload offset of the first stored byte (just past the
	// record header), so a reader can fetch the blob with one ranged read.
	Offset int64
	// Length is the number of stored bytes (compressed, if compressed).
	Length int64
	// RawLength is the blob's length after decompression.
	RawLength int64
}

// End is the payload offset just past the blob's stored bytes.
func (e Entry) End() int64 { return e.Offset + e.Length }

// Sentinel errors. Callers test with errors.Is; the wrapped text says where.
var (
	// ErrCorrupt means the pack is not a well-formed pack: bad magic,
	// unsupported version, failed age authentication (tampering or
	// truncation), or an inconsistent index.
	ErrCorrupt = errors.New("pack: corrupt")
	// ErrWrongKey means none of the given age identities can open the pack.
	ErrWrongKey = errors.New("pack: no identity matches the pack's recipients")
	// ErrBlobMismatch means a blob decoded but its keyed hash is not its ID:
	// the wrong blob-ID key was supplied, or something wrote wrong bytes.
	ErrBlobMismatch = errors.New("pack: blob content does not match its ID")
	// ErrNotFound means the pack holds no blob with the requested ID.
	ErrNotFound = errors.New("pack: blob not in pack")
	// ErrFull means adding the blob would exceed MaxBlobs or MaxPayloadSize.
	ErrFull = errors.New("pack: pack is full")
)

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// checkEntry validates one entry's fields in isolation (not its position).
func checkEntry(e Entry) error {
	if !e.Kind.valid() {
		return corruptf("blob %s: unknown kind %d", e.ID, e.Kind)
	}
	if e.RawLength < 0 || e.RawLength > MaxBlobSize {
		return corruptf("blob %s: raw length %d out of range", e.ID, e.RawLength)
	}
	switch e.Compression {
	case CompressionNone:
		if e.Length != e.RawLength {
			return corruptf("blob %s: uncompressed but stored length %d != raw length %d", e.ID, e.Length, e.RawLength)
		}
	case CompressionZstd:
		// The writer only keeps a compressed form that is strictly smaller,
		// so anything else is corruption (and bounds the read we'd do).
		if e.Length <= 0 || e.Length >= e.RawLength {
			return corruptf("blob %s: zstd stored length %d not in (0, raw length %d)", e.ID, e.Length, e.RawLength)
		}
	default:
		return corruptf("blob %s: unknown compression %d", e.ID, e.Compression)
	}
	if e.Offset < int64(headerSize+minRecordHeaderSize) || e.Offset > MaxPayloadSize-e.Length {
		return corruptf("blob %s: offset %d out of range", e.ID, e.Offset)
	}
	return nil
}

// appendUvarint appends v as an unsigned LEB128 varint (Go's binary.Uvarint
// encoding, also protobuf's).
func appendUvarint(b []byte, v int64) []byte { return binary.AppendUvarint(b, uint64(v)) }

func appendRecordHeader(b []byte, e Entry) []byte {
	b = append(b, recordTag)
	b = append(b, e.ID[:]...)
	b = append(b, byte(e.Kind), byte(e.Compression))
	b = appendUvarint(b, e.RawLength)
	return appendUvarint(b, e.Length)
}

func appendEntry(b []byte, e Entry) []byte {
	b = append(b, e.ID[:]...)
	b = append(b, byte(e.Kind), byte(e.Compression))
	b = appendUvarint(b, e.RawLength)
	b = appendUvarint(b, e.Length)
	return appendUvarint(b, e.Offset)
}

func appendIndex(b []byte, entries []Entry) []byte {
	b = append(b, indexTag)
	b = appendUvarint(b, int64(len(entries)))
	for _, e := range entries {
		b = appendEntry(b, e)
	}
	return b
}

func appendHeader(b []byte) []byte {
	b = append(b, headerMagic...)
	return append(b, Version)
}

func appendTrailer(b []byte, indexLen int64) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(indexLen))
	return append(b, trailerMagic...)
}

// decoder reads the format's primitives from a byte slice, remembering the
// first error so call sites stay linear.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corruptf(format, args...)
	}
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("need %d bytes at %d, have %d", n, d.off, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) byte() byte {
	p := d.bytes(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// uvarint reads a canonical (shortest-form) varint no larger than maxVarint.
// Requiring the shortest form makes every accepted index re-encode to the
// same bytes, which the fuzz target checks.
func (d *decoder) uvarint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail("truncated varint at %d", d.off)
		return 0
	case n < 0 || v > maxVarint:
		d.fail("varint at %d too large", d.off)
		return 0
	case n > 1 && d.b[d.off+n-1] == 0:
		d.fail("non-canonical varint at %d", d.off)
		return 0
	}
	d.off += n
	return int64(v)
}

func (d *decoder) entryFields() Entry {
	var e Entry
	copy(e.ID[:], d.bytes(len(e.ID)))
	e.Kind = Kind(d.byte())
	e.Compression = Compression(d.byte())
	e.RawLength = d.uvarint()
	e.Length = d.uvarint()
	return e
}

func parseHeader(b []byte) error {
	if len(b) < headerSize || string(b[:len(headerMagic)]) != headerMagic {
		return corruptf("bad header magic")
	}
	if v := b[len(headerMagic)]; v != Version {
		return corruptf("unsupported format version %d (this reader knows %d)", v, Version)
	}
	return nil
}

// parseTrailer returns the index length recorded in a payload of payloadSize
// bytes whose last trailerSize bytes are b.
func parseTrailer(b []byte, payloadSize int64) (int64, error) {
	if len(b) != trailerSize || string(b[8:]) != trailerMagic {
		return 0, corruptf("bad trailer magic")
	}
	n := binary.LittleEndian.Uint64(b[:8])
	// The smallest index is a tag and a zero count.
	if n < 2 || n > MaxIndexSize || int64(n) > payloadSize-int64(headerSize+trailerSize) {
		return 0, corruptf("index length %d out of range for payload of %d bytes", n, payloadSize)
	}
	return int64(n), nil
}

// ParseIndex parses and validates a serialized index that starts at payload
// offset indexOffset. It returns entries only if the whole index is sane:
// known kinds and compressions, lengths within limits, blobs in ascending
// payload order with room for a record header before each and no overlap,
// every blob ending before the index, unique IDs, and no trailing bytes.
// It allocates at most in proportion to len(b).
func ParseIndex(b []byte, indexOffset int64) ([]Entry, error) {
	if indexOffset < int64(headerSize) || indexOffset > MaxPayloadSize {
		return nil, corruptf("index offset %d out of range", indexOffset)
	}
	if len(b) > MaxIndexSize {
		return nil, corruptf("index of %d bytes exceeds limit %d", len(b), MaxIndexSize)
	}
	d := &decoder{b: b}
	if d.byte() != indexTag {
		d.fail("bad index tag")
	}
	n := d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	// Bound the count by what the bytes can hold before allocating for it.
	if n > MaxBlobs || n > int64(len(b)-d.off)/minEntrySize {
		return nil, corruptf("index claims %d entries in %d bytes", n, len(b))
	}
	entries := make([]Entry, 0, n)
	seen := make(map[ID]struct{}, n)
	prevEnd := int64(headerSize)
	for i := range n {
		e := d.entryFields()
		e.Offset = d.uvarint()
		if d.err != nil {
			return nil, fmt.Errorf("index entry %d: %w", i, d.err)
		}
		if err := checkEntry(e); err != nil {
			return nil, fmt.Errorf("index entry %d: %w", i, err)
		}
		if e.Offset < prevEnd+minRecordHeaderSize {
			return nil, corruptf("index entry %d: blob at %d overlaps previous record ending at %d", i, e.Offset, prevEnd)
		}
		if e.End() > indexOffset {
			return nil, corruptf("index entry %d: blob [%d, %d) runs into the index at %d", i, e.Offset, e.End(), indexOffset)
		}
		if _, dup := seen[e.ID]; dup {
			return nil, corruptf("index entry %d: duplicate blob %s", i, e.ID)
		}
		seen[e.ID] = struct{}{}
		entries = append(entries, e)
		prevEnd = e.End()
	}
	if d.off != len(b) {
		return nil, corruptf("%d trailing bytes after index", len(b)-d.off)
	}
	return entries, nil
}

// Payload is a fully parsed plaintext payload.
type Payload struct {
	Entries []Entry
	// Stored[i] is entry i's stored (possibly compressed) bytes, aliasing
	// the parsed buffer.
	Stored [][]byte
}

// ParsePayload parses a complete decrypted payload held in memory and checks
// it end to end: header, every record header against its index entry, records
// tiling the space between header and index exactly, index and trailer. It
// does not decompress or check IDs (that needs the blob-ID key; see
// [DecodeBlob]). It is the pure, crypto-free parser the fuzz target drives.
func ParsePayload(p []byte) (*Payload, error) {
	if len(p) > MaxPayloadSize {
		return nil, corruptf("payload of %d bytes exceeds limit", len(p))
	}
	if len(p) < headerSize+trailerSize {
		return nil, corruptf("payload of %d bytes is too short", len(p))
	}
	if err := parseHeader(p); err != nil {
		return nil, err
	}
	size := int64(len(p))
	indexLen, err := parseTrailer(p[size-trailerSize:], size)
	if err != nil {
		return nil, err
	}
	indexOff := size - trailerSize - indexLen
	entries, err := ParseIndex(p[indexOff:size-trailerSize], indexOff)
	if err != nil {
		return nil, err
	}
	stored := make([][]byte, len(entries))
	d := &decoder{b: p[:indexOff], off: headerSize}
	for i, want := range entries {
		if d.byte() != recordTag {
			d.fail("record %d: bad record tag", i)
		}
		got := d.entryFields()
		got.Offset = int64(d.off)
		if d.err != nil {
			return nil, fmt.Errorf("record %d: %w", i, d.err)
		}
		if got != want {
			return nil, corruptf("record %d header %+v disagrees with index entry %+v", i, got, want)
		}
		stored[i] = d.bytes(int(want.Length))
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(d.b) {
		return nil, corruptf("%d unindexed bytes before the index", len(d.b)-d.off)
	}
	return &Payload{Entries: entries, Stored: stored}, nil
}

// AppendIndex appends entries encoded as a pack index (the "index" rule of the
// payload grammar). Repository metadata stores copies of data packs' indexes
// in this encoding, so that recovery reads them without thawing the packs;
// ParseIndex(b, MaxPayloadSize) reads such a copy back.
func AppendIndex(b []byte, entries []Entry) []byte { return appendIndex(b, entries) }
