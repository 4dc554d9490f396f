package sim

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Values of x-amz-content-sha256 that are not a hash of the body.
const (
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
)

// payload is a request body with its x-amz-content-sha256 promise enforced:
// every error a reader returns is an *s3Error (or a transport error), and
// trailers are filled in once the reader has hit EOF.
type payload struct {
	io.Reader
	size     int64             // decoded length the client declared; -1 if unknown
	trailers map[string]string // aws-chunked trailing headers, lower-case names
}

// payload wraps the request body according to x-amz-content-sha256.
func (c *reqCtx) payload() (*payload, *s3Error) {
	r := c.r
	mode := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case isHexSHA256(mode):
		return &payload{Reader: &hashCheckReader{r: r.Body, h: sha256.New(), want: mode}, size: r.ContentLength}, nil
	case mode == unsignedPayload:
		return &payload{Reader: r.Body, size: r.ContentLength}, nil
	case mode == streamingUnsignedTrailer, mode == streamingSigned, mode == streamingSignedTrailer:
		dl := r.Header.Get("X-Amz-Decoded-Content-Length")
		size, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || size < 0 {
			return nil, newErr(http.StatusLengthRequired, "MissingContentLength",
				"You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked bodies).")
		}
		p := &payload{size: size, trailers: map[string]string{}}
		cr := &chunkedReader{
			br:       bufio.NewReaderSize(r.Body, 64<<10),
			want:     size,
			trailers: p.trailers,
		}
		if mode != streamingUnsignedTrailer {
			cr.auth = c.auth
			cr.prevSig = c.auth.signature
			cr.signedTrailer = mode == streamingSignedTrailer
			cr.chunkHash = sha256.New()
		}
		p.Reader = cr
		return p, nil
	}
	return nil, errInvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER), or a valid sha256 value.")
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// hashCheckReader fails at EOF if the body does not hash to the signed
// x-amz-content-sha256, so a corrupted body is never committed.
type hashCheckReader struct {
	r    io.Reader
	h    hash.Hash
	want string
}

func (h *hashCheckReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(h.h.Sum(nil)) != strings.ToLower(h.want) {
		return n, newErr(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return n, err
}

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
//
// With auth set, each chunk's signature chains from the previous one,
// starting at the Authorization header's signature.
type chunkedReader struct {
	br            *bufio.Reader
	auth          *sigV4
	signedTrailer bool
	prevSig       string
	chunkHash     hash.Hash // nil for unsigned chunks
	chunkSig      string
	remaining     int64 // bytes left in the current chunk
	inChunk       bool
	want, decoded int64
	trailers      map[string]string
	err           error
}

func errChunk(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "IncompleteBody", "Malformed aws-chunked body: "+msg)
}

func errChunkSignature() *s3Error {
	return newErr(http.StatusForbidden, "SignatureDoesNotMatch",
		"The chunk signature we calculated does not match the signature you provided.")
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !c.inChunk {
		if err := c.startChunk(); err != nil {
			c.err = err
			return 0, err
		}
		if c.err != nil { // the final chunk
			return 0, c.err
		}
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	n, err := c.br.Read(p)
	c.remaining -= int64(n)
	c.decoded += int64(n)
	if c.chunkHash != nil {
		c.chunkHash.Write(p[:n])
	}
	if err == io.EOF {
		err = errChunk("body ended inside a chunk")
	}
	if err != nil {
		c.err = err
		return n, err
	}
	if c.remaining == 0 {
		c.inChunk = false
		if err := c.expectCRLF(); err != nil {
			c.err = err
			return n, err
		}
		if err := c.verifyChunk(); err != nil {
			c.err = err
			return n, err
		}
	}
	return n, nil
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return "", errChunk("line too long")
	}
	if err != nil {
		return string(line), err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func (c *chunkedReader) expectCRLF() error {
	line, err := c.readLine()
	if err != nil || line != "" {
		return errChunk("chunk data not followed by CRLF")
	}
	return nil
}

// startChunk reads a chunk header; on the final (zero-size) chunk it also
// reads the trailers and sets c.err to io.EOF.
func (c *chunkedReader) startChunk() error {
	line, err := c.readLine()
	if err != nil {
		return errChunk("missing chunk header")
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeStr), 16, 64)
	if err != nil || size < 0 {
		return errChunk("bad chunk size " + strconv.Quote(sizeStr))
	}
	c.chunkSig = ""
	if v, ok := strings.CutPrefix(strings.TrimSpace(ext), "chunk-signature="); ok {
		c.chunkSig = v
	}
	if c.chunkHash != nil {
		if c.chunkSig == "" {
			return errChunkSignature()
		}
		c.chunkHash.Reset()
	}
	if size > 0 {
		c.remaining = size
		c.inChunk = true
		return nil
	}
	if err := c.verifyChunk(); err != nil {
		return err
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	if c.decoded != c.want {
		return errIncompleteBody()
	}
	c.err = io.EOF
	return nil
}

func (c *chunkedReader) verifyChunk() error {
	if c.chunkHash == nil {
		return nil
	}
	sts := strings.Join([]string{
		sigV4Algorithm + "-PAYLOAD", c.auth.amzDate, c.auth.scope, c.prevSig,
		emptySHA256, hex.EncodeToString(c.chunkHash.Sum(nil)),
	}, "\n")
	want := c.auth.sign(sts)
	if !hmac.Equal([]byte(want), []byte(c.chunkSig)) {
		return errChunkSignature()
	}
	c.prevSig = want
	return nil
}

func (c *chunkedReader) readTrailers() error {
	var canonical bytes.Buffer
	trailerSig := ""
	for {
		line, err := c.readLine()
		if err == io.EOF && line == "" {
			break // some clients omit the final empty line
		}
		if err != nil {
			return errChunk("truncated trailer")
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return errChunk("bad trailer line")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			trailerSig = value
			continue
		}
		c.trailers[name] = value
		canonical.WriteString(name + ":" + value + "\n")
	}
	if !c.signedTrailer {
		return nil
	}
	sts := strings.Join([]string{
		sigV4Algorithm + "-TRAILER", c.auth.amzDate, c.auth.scope, c.prevSig,
		hexSHA256(canonical.Bytes()),
	}, "\n")
	if !hmac.Equal([]byte(c.auth.sign(sts)), []byte(trailerSig)) {
		return errChunkSignature()
	}
	return nil
}
