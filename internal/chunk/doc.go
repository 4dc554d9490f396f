// Package chunk cuts file contents into content-defined chunks so that equal
// data is stored once across files, renames and snapshots.
//
// Boundaries come from a Rabin fingerprint over a 64-byte window
// (github.com/restic/chunker) with a random, per-repository irreducible
// polynomial of degree 53. The polynomial is secret-ish repository
// configuration: it keys where cuts fall, so chunk sizes do not reveal which
// well-known files a repository holds. Chunks are at least MinSize bytes
// (except the last chunk of a stream, which may be shorter, so files smaller
// than MinSize are a single chunk), at most MaxSize bytes, and AvgSize on
// average.
package chunk
