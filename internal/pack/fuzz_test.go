package pack

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// seedPayloads adds the frozen plaintext vector and a few small payloads.
func seedPayloads(f *testing.F) [][]byte {
	// Small hand-built payloads, no crypto involved. (The 80 KB frozen
	// vector is a poor seed: the fuzzer spends its time minimizing it.)
	var seeds [][]byte
	key := vectorKey()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	if err != nil {
		f.Fatal(err)
	}
	text := bytes.Repeat([]byte("abcabcabd"), 30)
	var p []byte
	p = appendHeader(p)
	var entries []Entry
	for i, d := range [][]byte{[]byte("a"), nil, []byte("tree!"), text} {
		e := Entry{ID: key.ID(d), Kind: Kind(1 + i%3), RawLength: int64(len(d)), Length: int64(len(d))}
		stored := d
		if len(d) > 100 {
			stored = enc.EncodeAll(d, nil)
			e.Compression, e.Length = CompressionZstd, int64(len(stored))
		}
		p = appendRecordHeader(p, e)
		e.Offset = int64(len(p))
		p = append(p, stored...)
		entries = append(entries, e)
	}
	idx := appendIndex(nil, entries)
	p = appendTrailer(append(p, idx...), int64(len(idx)))
	seeds = append(seeds, p)
	empty := appendHeader(nil)
	empty = appendTrailer(append(empty, indexTag, 0), 2)
	seeds = append(seeds, empty)
	return seeds
}

// FuzzPayload drives the crypto-free payload parser. It must never panic or
// allocate beyond a small multiple of its input, and whatever it accepts
// must re-encode to exactly the same bytes (so no two readings of one payload
// can differ) and satisfy the index rules.
func FuzzPayload(f *testing.F) {
	for _, s := range seedPayloads(f) {
		f.Add(s)
	}
	key := vectorKey()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		if len(p.Stored) != len(p.Entries) {
			t.Fatalf("%d stored slices for %d entries", len(p.Stored), len(p.Entries))
		}
		re := appendHeader(nil)
		for i, e := range p.Entries {
			if err := checkEntry(e); err != nil {
				t.Fatalf("accepted entry %d fails checkEntry: %v", i, err)
			}
			re = appendRecordHeader(re, e)
			if int64(len(re)) != e.Offset {
				t.Fatalf("entry %d offset %d, re-encoded at %d", i, e.Offset, len(re))
			}
			re = append(re, p.Stored[i]...)
			// Decoding must fail cleanly or yield exactly RawLength bytes;
			// with an arbitrary ID it practically always fails the ID check.
			if e.RawLength > 1<<20 {
				continue // bounded (MaxBlobSize) but slow to allocate per input
			}
			if raw, err := DecodeBlob(e, p.Stored[i], key); err == nil && int64(len(raw)) != e.RawLength {
				t.Fatalf("entry %d decoded to %d bytes, want %d", i, len(raw), e.RawLength)
			}
		}
		idx := appendIndex(nil, p.Entries)
		re = appendTrailer(append(re, idx...), int64(len(idx)))
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted payload does not re-encode to itself")
		}
	})
}

// FuzzIndex drives the index parser alone, at an arbitrary index offset.
func FuzzIndex(f *testing.F) {
	for _, s := range seedPayloads(f) {
		if p, err := ParsePayload(s); err == nil && len(p.Entries) > 0 {
			off := p.Entries[len(p.Entries)-1].End()
			f.Add(s[off:len(s)-trailerSize], off)
		}
	}
	f.Add([]byte{indexTag, 0}, int64(headerSize))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		entries, err := ParseIndex(b, off)
		if err != nil {
			return
		}
		if re := appendIndex(nil, entries); !bytes.Equal(re, b) {
			t.Fatalf("accepted index does not re-encode to itself")
		}
		prevEnd := int64(headerSize)
		seen := map[ID]bool{}
		for i, e := range entries {
			if err := checkEntry(e); err != nil {
				t.Fatalf("accepted entry %d fails checkEntry: %v", i, err)
			}
			if e.Offset < prevEnd+minRecordHeaderSize || e.End() > off || seen[e.ID] {
				t.Fatalf("accepted entry %d %+v is misplaced or duplicated", i, e)
			}
			seen[e.ID] = true
			prevEnd = e.End()
		}
	})
}
