package chunk

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
)

// testPol is a fixed irreducible polynomial of degree 53 so that boundaries
// are reproducible.
const testPol = "3da3358b4dc173"

func mustPol(t testing.TB, s string) Polynomial {
	t.Helper()
	p, err := ParsePolynomial(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randomData is deterministic across Go versions: ChaCha8's output is
// specified, unlike math/rand's default source.
func randomData(seed byte, n int) []byte {
	var s [32]byte
	s[0] = seed
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

type cut struct {
	off  int64
	size int
}

func chunkAll(t testing.TB, data []byte, pol Polynomial) ([]cut, [][32]byte) {
	t.Helper()
	c := NewChunker(bytes.NewReader(data), pol, nil)
	var cuts []cut
	var sums [][32]byte
	var next int64
	for {
		ch, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Offset != next {
			t.Fatalf("chunk at offset %d, want %d", ch.Offset, next)
		}
		if !bytes.Equal(ch.Data, data[ch.Offset:ch.Offset+int64(len(ch.Data))]) {
			t.Fatalf("chunk at %d does not match the input", ch.Offset)
		}
		next += int64(len(ch.Data))
		cuts = append(cuts, cut{ch.Offset, len(ch.Data)})
		sums = append(sums, sha256.Sum256(ch.Data))
	}
	if next != int64(len(data)) {
		t.Fatalf("chunks cover %d bytes, want %d", next, len(data))
	}
	return cuts, sums
}

func offsets(cuts []cut) []int64 {
	var o []int64
	for _, c := range cuts {
		o = append(o, c.off)
	}
	return o
}

// TestFrozenBoundaries pins the boundaries for a fixed polynomial and input:
// if this changes, every existing repository loses deduplication.
func TestFrozenBoundaries(t *testing.T) {
	data := randomData(1, 32<<20)
	cuts, _ := chunkAll(t, data, mustPol(t, testPol))
	want := frozenOffsets
	if got := offsets(cuts); !slices.Equal(got, want) {
		t.Fatalf("boundaries changed:\n got %#v\nwant %#v", got, want)
	}
}

var frozenOffsets = []int64{
	0, 533173, 1972754, 4347042, 5393906, 7125794, 11304334, 12200469, 12893890, 15413384,
	16087084, 16636717, 18291582, 19458516, 20270998, 21328312, 22626045, 26105537, 28744651,
	29515397, 32475057,
}

func TestSizesWithinBounds(t *testing.T) {
	data := randomData(2, 64<<20)
	// A run of one repeated byte has a constant fingerprint that (for this
	// polynomial) never matches the split mask, so it exercises the MaxSize
	// cut. (Zeros would not: their fingerprint is 0, which always matches.)
	data = append(data, bytes.Repeat([]byte{0xa5}, 20<<20)...)
	cuts, _ := chunkAll(t, data, mustPol(t, testPol))
	sawMax := false
	var total int
	for i, c := range cuts {
		total += c.size
		if c.size > MaxSize {
			t.Errorf("chunk %d: %d bytes > MaxSize", i, c.size)
		}
		if c.size < MinSize && i != len(cuts)-1 {
			t.Errorf("chunk %d: %d bytes < MinSize", i, c.size)
		}
		if c.size == MaxSize {
			sawMax = true
		}
	}
	if !sawMax {
		t.Error("no chunk was cut at MaxSize in 20 MiB of one repeated byte")
	}
	// Guard against gross misconfiguration (e.g. 8 KiB chunks): cuts are
	// expected every MinSize + ~AvgSize bytes of random data.
	random := 0
	for _, c := range cuts {
		if c.off < 64<<20 {
			random++
		}
	}
	if avg := (64 << 20) / random; avg < AvgSize || avg > MinSize+2*AvgSize {
		t.Errorf("average chunk size %d over random data, want about %d", avg, MinSize+AvgSize)
	}
}

func TestSmallAndEmpty(t *testing.T) {
	pol := mustPol(t, testPol)
	for _, n := range []int{0, 1, 4096, MinSize - 1, MinSize} {
		data := randomData(3, n)
		cuts, _ := chunkAll(t, data, pol)
		switch {
		case n == 0 && len(cuts) != 0:
			t.Errorf("empty input: %d chunks, want 0", len(cuts))
		case n > 0 && len(cuts) != 1:
			t.Errorf("%d bytes: %d chunks, want 1", n, len(cuts))
		}
	}
	c := NewChunker(bytes.NewReader(nil), pol, nil)
	for range 2 {
		if _, err := c.Next(); err != io.EOF {
			t.Fatalf("Next on empty input: %v, want io.EOF", err)
		}
	}
}

func TestResyncAfterInsertion(t *testing.T) {
	pol := mustPol(t, testPol)
	data := randomData(4, 32<<20)
	_, orig := chunkAll(t, data, pol)

	edited := slices.Concat(data[:1000], []byte("a few inserted bytes"), data[1000:])
	_, after := chunkAll(t, edited, pol)

	seen := map[[32]byte]bool{}
	for _, s := range orig {
		seen[s] = true
	}
	shared := 0
	for _, s := range after {
		if seen[s] {
			shared++
		}
	}
	// Only the chunk holding the insertion should differ.
	if shared < len(orig)-2 {
		t.Fatalf("only %d of %d chunks shared after a small insertion", shared, len(orig))
	}
}

func TestPolynomialKeysBoundaries(t *testing.T) {
	data := randomData(5, 16<<20)
	a, _ := chunkAll(t, data, mustPol(t, testPol))
	p2, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := chunkAll(t, data, p2)
	common := 0
	set := map[int64]bool{}
	for _, o := range offsets(a) {
		set[o] = true
	}
	for _, o := range offsets(b)[1:] {
		if set[o] {
			common++
		}
	}
	if common > 1 {
		t.Fatalf("%d of %d boundaries shared between polynomials %s and %s", common, len(b), testPol, p2)
	}
}

func TestPolynomialRoundTrip(t *testing.T) {
	p, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePolynomial(p.String())
	if err != nil || q != p {
		t.Fatalf("round trip %s -> %s, %v", p, q, err)
	}
	for _, bad := range []string{"", "xyz", "0", "3", "3da3358b4dc172", "ffffffffffffffffff"} {
		if _, err := ParsePolynomial(bad); err == nil {
			t.Errorf("ParsePolynomial(%q) accepted", bad)
		}
	}
}

func TestReaderErrorAndReset(t *testing.T) {
	pol := mustPol(t, testPol)
	boom := errors.New("boom")
	c := NewChunker(io.MultiReader(bytes.NewReader(randomData(6, 100)), errReader{boom}), pol, make([]byte, MaxSize))
	if _, err := c.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next: %v, want %v", err, boom)
	}
	data := randomData(7, 3<<20)
	c.Reset(bytes.NewReader(data))
	var n int64
	for {
		ch, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ch.Offset != n {
			t.Fatalf("offset %d after Reset, want %d", ch.Offset, n)
		}
		n += int64(len(ch.Data))
	}
	if n != int64(len(data)) {
		t.Fatalf("read %d bytes after Reset, want %d", n, len(data))
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestNoAllocPerChunk(t *testing.T) {
	pol := mustPol(t, testPol)
	data := randomData(8, 8<<20)
	r := bytes.NewReader(data)
	c := NewChunker(r, pol, nil)
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per 8 MiB stream, want 0", allocs)
	}
}

func BenchmarkChunker(b *testing.B) {
	pol := mustPol(b, testPol)
	data := randomData(9, 64<<20)
	r := bytes.NewReader(data)
	c := NewChunker(r, pol, nil)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		r.Reset(data)
		c.Reset(r)
		for {
			if _, err := c.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
