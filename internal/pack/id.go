package pack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// ID names a blob: HMAC-SHA-256(IDKey, blob bytes).
//
// It is keyed rather than a plain hash of the content so that someone holding
// the bucket (and the index, if it ever leaked) cannot confirm whether a known
// file is stored in the repository.
type ID [32]byte

// String returns the ID as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the all-zero ID, which no real blob has in
// practice and which callers can use as "unset".
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the 64-hex-digit form produced by [ID.String].
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("pack: parse ID %q: want %d hex digits, have %d", s, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("pack: parse ID %q: %w", s, err)
	}
	return id, nil
}

// IDKey is the repository's 32-byte secret blob-ID key. It is stored in the
// repository config encrypted to the recipients, so writers need it (they
// compute IDs) but it grants no ability to decrypt packs.
type IDKey [32]byte

// NewIDKey returns a fresh random key from the OS CSPRNG.
func NewIDKey() (IDKey, error) {
	var k IDKey
	if _, err := rand.Read(k[:]); err != nil {
		return IDKey{}, fmt.Errorf("pack: generate blob-ID key: %w", err)
	}
	return k, nil
}

// sha256Pool recycles SHA-256 states: ID is called once per chunk (~1 MiB)
// on the hot path, and crypto/hmac.New would allocate two fresh states and
// re-derive the pads each time. The pool is keyless, so one pool serves every
// IDKey (tests use several).
var sha256Pool = sync.Pool{New: func() any { return sha256.New() }}

const hmacBlockSize = 64 // SHA-256 block size; the HMAC pads are one block.

// ID returns HMAC-SHA-256(k, data) (RFC 2104; the 32-byte key is shorter than
// the block so it is zero-padded, never hashed). It is safe for concurrent
// use.
//
// HMAC is spelled out over pooled SHA-256 states instead of calling
// crypto/hmac so that the only per-call cost beyond hashing data is two extra
// compression-function blocks (the pads) and one for the outer hash.
func (k IDKey) ID(data []byte) ID {
	var pad [hmacBlockSize]byte
	copy(pad[:], k[:])
	for i := range pad {
		pad[i] ^= 0x36
	}
	h := sha256Pool.Get().(hash.Hash)
	h.Reset()
	h.Write(pad[:])
	h.Write(data)
	var inner [sha256.Size]byte
	h.Sum(inner[:0])

	// Turn the ipad into the opad in place: (k^0x36)^0x36^0x5c == k^0x5c.
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad[:])
	h.Write(inner[:])
	var id ID
	h.Sum(id[:0])
	sha256Pool.Put(h)
	return id
}
