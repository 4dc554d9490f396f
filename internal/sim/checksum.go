package sim

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
)

// checksumAlgo is one of S3's additional checksum algorithms.
type checksumAlgo struct {
	name   string // as in x-amz-checksum-algorithm: "SHA256"
	header string // lower-case header/trailer name
	size   int    // digest bytes
	new    func() hash.Hash
}

// crc64NVME is CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5 with
// all-ones init and final XOR, which is exactly what hash/crc64 computes for
// that table.
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var checksumAlgos = []checksumAlgo{
	{"CRC32", "x-amz-checksum-crc32", 4, func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", 4, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", 8, func() hash.Hash { return crc64.New(crc64NVME) }},
	{"SHA1", "x-amz-checksum-sha1", 20, sha1.New},
	{"SHA256", "x-amz-checksum-sha256", 32, sha256.New},
}

func algoByHeader(h string) *checksumAlgo {
	for i := range checksumAlgos {
		if checksumAlgos[i].header == h {
			return &checksumAlgos[i]
		}
	}
	return nil
}

// bodyChecker hashes a request body as it streams and then verifies every
// integrity promise the client made: Content-MD5 and one x-amz-checksum-*
// value, sent as a header or announced in x-amz-trailer.
type bodyChecker struct {
	md5, sha256 hash.Hash
	contentMD5  []byte // decoded Content-MD5, nil if absent

	algo     *checksumAlgo // the additional checksum in use, nil if none
	sum      hash.Hash
	expected string // base64 from the header; "" when it comes as a trailer
	trailer  bool
}

func newBodyChecker(r *http.Request) (*bodyChecker, *s3Error) {
	b := &bodyChecker{md5: md5.New(), sha256: sha256.New()}
	if v := r.Header.Get("Content-MD5"); v != "" {
		d, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(d) != md5.Size {
			return nil, newErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.")
		}
		b.contentMD5 = d
	}
	for i := range checksumAlgos {
		a := &checksumAlgos[i]
		v := r.Header.Get(a.header)
		if v == "" {
			continue
		}
		if b.algo != nil {
			return nil, errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		if d, err := base64.StdEncoding.DecodeString(v); err != nil || len(d) != a.size {
			return nil, errInvalidRequest("Value for " + a.header + " header is invalid.")
		}
		b.algo, b.expected = a, v
	}
	if t := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))); t != "" {
		a := algoByHeader(t)
		if a == nil {
			return nil, errInvalidRequest("The value specified in the x-amz-trailer header is not supported")
		}
		if b.algo != nil {
			return nil, errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		b.algo, b.trailer = a, true
	}
	switch {
	case b.algo != nil && b.algo.name == "SHA256":
		// The object's SHA-256 is computed anyway (HEAD reports it): the
		// checksum is the same digest, not a second pass over the body.
		b.sum = b.sha256
	case b.algo != nil:
		b.sum = b.algo.new()
	}
	return b, nil
}

// writer returns where the body should be copied besides its destination.
func (b *bodyChecker) writer() io.Writer {
	if b.sum != nil && b.sum != b.sha256 {
		return io.MultiWriter(b.md5, b.sha256, b.sum)
	}
	return io.MultiWriter(b.md5, b.sha256)
}

// verify checks the digests once the whole body has been read. It returns
// the checksum algorithm and base64 value the client supplied, if any.
func (b *bodyChecker) verify(trailers map[string]string) (algo, value string, e *s3Error) {
	if b.contentMD5 != nil && string(b.contentMD5) != string(b.md5.Sum(nil)) {
		return "", "", errBadDigest("The Content-MD5 you specified did not match what we received.")
	}
	if b.algo == nil {
		return "", "", nil
	}
	want := b.expected
	if b.trailer {
		want = trailers[b.algo.header]
		if d, err := base64.StdEncoding.DecodeString(want); err != nil || len(d) != b.algo.size {
			return "", "", newErr(http.StatusBadRequest, "MalformedTrailerError",
				"The request contained trailing data that was not well-formed or did not conform to our published schema.")
		}
	}
	got := base64.StdEncoding.EncodeToString(b.sum.Sum(nil))
	if got != want {
		return "", "", errBadDigest("The " + b.algo.name + " you specified did not match the calculated checksum.")
	}
	return b.algo.name, want, nil
}
