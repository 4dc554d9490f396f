// Package pack reads and writes pack objects: the immutable S3 objects
// (DEEP_ARCHIVE, written once) that hold a repository's blobs — content
// chunks of files and serialized directory trees.
//
// Packs live for decades and may have to be decoded by someone who has only
// this text, the age CLI (https://age-encryption.org) and the repository's
// identity, so the format below is the specification; the code follows it.
//
// # Layers
//
// A pack object is one age v1 file (age-encryption.org/v1) whose plaintext is
// the pack payload:
//
//	object  = age header | 16-byte nonce | STREAM ciphertext of payload
//	payload = header | record* | index | trailer
//
// With the identity file in hand, `age -d -i key.txt pack > payload` recovers
// the payload; everything after that is plain bytes described below.
//
// # Encryption (age)
//
// One age header per pack, encrypting a random 16-byte file key to every
// repository recipient: "mlkem768x25519" stanzas (post-quantum hybrid,
// ML-KEM-768 + X25519; preferred, Deep Archive data outlives today's
// cryptography) or "X25519" stanzas. age refuses to mix the two kinds in one
// file. The hybrid header is ~1–2 KB per recipient, which is why there is one
// header per pack and not one per blob.
//
// The payload is encrypted with age's STREAM construction: ChaCha20-Poly1305
// under HKDF-SHA-256(file key, salt=nonce, info "payload"), in 64 KiB
// plaintext chunks, each sealed with a 12-byte nonce made of an 11-byte
// big-endian chunk counter and a final byte that is 0x01 on the last chunk and
// 0x00 otherwise. Each ciphertext chunk is its plaintext plus a 16-byte tag.
// So payload offset P lies in chunk P/65536, which starts at ciphertext offset
// len(age header)+16+(P/65536)*65552: a thawed object can be read with ranged
// GETs, and that is how [Reader] reads the trailer, the index and single
// blobs without fetching the rest.
//
// What authenticates what: the header MAC (HMAC keyed from the file key)
// authenticates the header; each chunk's Poly1305 tag authenticates that
// chunk and its position; the last-chunk flag authenticates where the stream
// ends, so truncation, reordering and tampering are all detected. Every byte
// of the payload is therefore authenticated by age before this package parses
// it. On top of that, every blob is re-hashed after decompression and must
// equal its ID (see IDs), so a wrong blob-ID key or a bug anywhere yields an
// error and never wrong bytes. Readers additionally validate the index
// structurally (below) before trusting any offset in it, as a defence against
// writer bugs and to keep the parser safe to fuzz.
//
// # Payload
//
// All integers are either single bytes, unsigned LEB128 varints ("uvarint":
// 7 bits per byte, least significant group first, high bit set on all bytes
// but the last; Go's encoding/binary.AppendUvarint, protobuf's varint) that
// must be in shortest form and at most 2^32 (so at most 5 bytes), or the
// trailer's fixed 8-byte little-endian length.
//
//	header  = "ICEVPACK" (8 ASCII bytes) | version (1 byte, = 0x01)
//
//	record  = 0x42 ('B')
//	        | id          (32 bytes)
//	        | kind        (1 byte)
//	        | compression (1 byte)
//	        | rawLen      (uvarint)  blob length after decompression
//	        | storedLen   (uvarint)  length of stored
//	        | stored      (storedLen bytes)
//
//	index   = 0x58 ('X')
//	        | count (uvarint)
//	        | entry * count
//	entry   = id (32) | kind (1) | compression (1)
//	        | rawLen (uvarint) | storedLen (uvarint)
//	        | offset (uvarint)  payload offset of the record's first stored byte
//
//	trailer = indexLen (8 bytes, uint64 little-endian; bytes in index,
//	                    from its 'X' tag up to the trailer)
//	        | "ICEVPEND" (8 ASCII bytes)
//
// A reader with random access reads the last 16 bytes (trailer), then the
// indexLen bytes before it (index), then any blob's storedLen bytes at its
// offset. A sequential reader walks the records from offset 9 until it meets
// the 'X' tag. The record headers repeat the index so that blobs can be
// salvaged from a pack whose end is lost; the index repeats the record headers
// so that one blob can be found without reading the others.
//
// kind: 1 = data (a file content chunk), 2 = tree (a directory listing),
// 3 = meta (other small repository metadata). Other values are invalid in
// version 1.
//
// compression: 0 = none (stored is the blob; storedLen = rawLen), 1 = zstd
// (stored is one or more zstd frames, RFC 8878, decompressing to exactly
// rawLen bytes; 0 < storedLen < rawLen). The writer compresses with zstd and
// keeps the result only if it saves at least 1/32 of the size, so
// incompressible data (photos, video) is stored raw and costs no CPU to
// restore. Frames carry no checksum: age and the ID check cover integrity.
//
// Rules every valid payload obeys, and that readers check:
//
//   - header magic and version as above; trailer magic as above;
//     2 <= indexLen <= 64 MiB and the index fits between header and trailer;
//   - records are back to back from offset 9 to the index, in the order of
//     the index entries, each record header equal to its entry;
//   - entry offsets strictly increase, each at least one minimal record
//     header (37 bytes) past the previous blob's end, and every blob ends at
//     or before the index; no two entries share an ID;
//   - rawLen <= 64 MiB (MaxBlobSize); count <= 2^20 (MaxBlobs); payload
//     <= 4 GiB (MaxPayloadSize); no bytes follow the last entry in the index.
//
// An empty blob is a record with rawLen = storedLen = 0 and compression 0.
//
// # IDs
//
// A blob's ID is HMAC-SHA-256(blob-ID key, raw blob bytes), where the
// 32-byte blob-ID key is a repository secret (kept in the repository config,
// encrypted to the recipients). It is keyed so that whoever holds the bucket
// cannot test whether a known file is stored. IDs are written as 64 lowercase
// hex digits.
//
// # Compatibility
//
// The version byte changes on any incompatible change; readers reject
// versions they do not know rather than guess. testdata/ holds frozen packs
// (ciphertext, with their test identities, and a plaintext payload) that
// every future reader must decode to the same blobs.
package pack
