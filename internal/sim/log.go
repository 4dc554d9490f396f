package sim

import (
	"maps"
	"time"
)

// Request is one entry of the request log. Every request is logged, refused
// and fault-injected ones included, so tests can prove what a client sent
// and what it never sent.
type Request struct {
	Time            time.Time // Options.Clock time when the request arrived
	Op, Bucket, Key string    // S3 operation name ("Unknown" if not recognised)
	Status          int       // HTTP status sent; 0 if a fault reset the connection
	Code            string    // S3 error code sent, "" on success
	AccessKey       string    // from the SigV4 credential scope, "" if unsigned
	StorageClass    string    // x-amz-storage-class as sent ("" if absent)
	IfNoneMatch     string    // If-None-Match as sent
	ChecksumSHA256  string    // x-amz-checksum-sha256 as sent, in a header or an aws-chunked trailer
	ContentSHA256   string    // x-amz-content-sha256 as sent
	Query           string    // raw query string
	Size            int64     // object bytes received (PutObject) or sent (GetObject)
}

func (s *Server) record(r Request) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = append(s.log, r)
	s.counts[r.Op]++
}

// Requests returns a copy of the request log, in the order requests finished.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.log...)
}

// Counts returns the number of logged requests per Op.
func (s *Server) Counts() map[string]int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return maps.Clone(s.counts)
}
