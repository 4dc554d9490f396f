package chunk

import (
	"fmt"
	"io"
	"strconv"

	"github.com/restic/chunker"
)

// Chunk size parameters. They are part of the repository format: changing
// them changes every boundary and so defeats deduplication against older
// snapshots.
const (
	MinSize = chunker.MinSize // 512 KiB
	MaxSize = chunker.MaxSize // 8 MiB
	AvgSize = 1 << 20         // 1 MiB: restic/chunker's default 20-bit split mask
)

// Polynomial is the irreducible polynomial over GF(2) that keys the Rabin
// fingerprint. Store it in the repository config with String and read it
// back with ParsePolynomial.
type Polynomial struct{ p chunker.Pol }

// RandomPolynomial returns a new random irreducible polynomial of degree 53,
// for a new repository.
func RandomPolynomial() (Polynomial, error) {
	p, err := chunker.RandomPolynomial()
	if err != nil {
		return Polynomial{}, fmt.Errorf("chunk: random polynomial: %w", err)
	}
	return Polynomial{p}, nil
}

// ParsePolynomial parses the hexadecimal form written by String and checks
// that it is usable (degree 53, irreducible), so a corrupt config is caught
// before it silently breaks deduplication.
func ParsePolynomial(s string) (Polynomial, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return Polynomial{}, fmt.Errorf("chunk: parse polynomial %q: %w", s, err)
	}
	p := chunker.Pol(v)
	if p.Deg() != 53 {
		return Polynomial{}, fmt.Errorf("chunk: polynomial %q has degree %d, want 53", s, p.Deg())
	}
	if !p.Irreducible() {
		return Polynomial{}, fmt.Errorf("chunk: polynomial %q is not irreducible", s)
	}
	return Polynomial{p}, nil
}

// String returns the polynomial in lowercase hexadecimal.
func (p Polynomial) String() string { return strconv.FormatUint(uint64(p.p), 16) }

// IsZero reports whether p is the zero value (not a usable polynomial).
func (p Polynomial) IsZero() bool { return p.p == 0 }

// Chunk is one piece of the stream.
type Chunk struct {
	// Data aliases the buffer given to NewChunker: it is valid only until
	// the next call to Next or Reset.
	Data []byte
	// Offset is the position of Data[0] in the stream.
	Offset int64
}

// Chunker splits one stream at a time. It is not safe for concurrent use;
// keep one per worker and Reset it for each file, which reuses its read
// buffer and the caller's chunk buffer (no per-file or per-chunk allocation).
type Chunker struct {
	c      *chunker.Chunker
	pol    Polynomial
	buf    []byte
	offset int64
}

// NewChunker returns a Chunker reading r. buf receives chunk data; if its
// capacity is below MaxSize a buffer of MaxSize bytes is allocated instead.
func NewChunker(r io.Reader, pol Polynomial, buf []byte) *Chunker {
	if cap(buf) < MaxSize {
		buf = make([]byte, MaxSize)
	}
	return &Chunker{
		c:   chunker.New(r, pol.p),
		pol: pol,
		buf: buf[:MaxSize],
	}
}

// Reset makes the Chunker read a new stream from r with the same polynomial.
func (c *Chunker) Reset(r io.Reader) {
	c.c.Reset(r, c.pol.p)
	c.offset = 0
}

// Next returns the next chunk, or io.EOF after the last one. An empty stream
// yields io.EOF at once. Errors from the reader are returned as they are.
func (c *Chunker) Next() (Chunk, error) {
	ch, err := c.c.Next(c.buf)
	if err != nil {
		return Chunk{}, err
	}
	out := Chunk{Data: ch.Data, Offset: c.offset}
	c.offset += int64(len(ch.Data))
	return out, nil
}
