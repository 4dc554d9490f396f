package sim

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// reqCtx carries one request through faults, authentication and the
// operation handler, and collects what the request log needs.
type reqCtx struct {
	s         *Server
	w         *statusWriter
	r         *http.Request
	requestID string
	op        string
	bucket    string
	key       string
	auth      *sigV4

	status        int    // for the log; 0 when the connection was reset
	code          string // S3 error code sent, if any
	hijacked      bool
	size          int64
	trailerSHA256 string // x-amz-checksum-sha256 received as a trailer
}

var requestCounter atomic.Uint64

// ServeHTTP handles one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	c := &reqCtx{s: s, w: sw, r: r}
	c.requestID = fmt.Sprintf("ICEVAULTSIM%05X", requestCounter.Add(1))
	h := w.Header()
	h.Set("x-amz-request-id", c.requestID)
	h.Set("x-amz-id-2", "icevault-sim/"+c.requestID)
	h.Set("Server", "AmazonS3")
	c.bucket, c.key = splitPath(r.URL.Path)
	c.op = classify(r, c.bucket, c.key)

	entry := Request{
		Time:           s.clock.Now(),
		Op:             c.op,
		Bucket:         c.bucket,
		Key:            c.key,
		AccessKey:      credentialAccessKey(r.Header.Get("Authorization")),
		StorageClass:   r.Header.Get("X-Amz-Storage-Class"),
		IfNoneMatch:    r.Header.Get("If-None-Match"),
		ChecksumSHA256: r.Header.Get("X-Amz-Checksum-Sha256"),
		ContentSHA256:  r.Header.Get("X-Amz-Content-Sha256"),
		Query:          r.URL.RawQuery,
	}
	// Deferred so that a request aborted by a Reset fault (which may panic
	// with http.ErrAbortHandler) is logged too.
	defer func() {
		entry.Status = sw.status
		if sw.status == 0 && !c.hijacked && c.code == "" {
			entry.Status = http.StatusOK
		}
		if c.hijacked {
			entry.Status = 0
		}
		entry.Code = c.code
		entry.Size = c.size
		if entry.ChecksumSHA256 == "" {
			entry.ChecksumSHA256 = c.trailerSHA256
		}
		s.record(entry)
	}()

	if c.applyFaults() {
		return
	}
	auth, e := s.authenticate(r)
	if e != nil {
		c.writeError(e)
		return
	}
	c.auth = auth
	if s.opts.EnforcePolicy && !policyAllows[c.op] {
		c.writeError(errAccessDenied())
		return
	}
	switch c.op {
	case "PutObject":
		c.putObject()
	case "HeadObject", "GetObject":
		c.getObject(c.op == "HeadObject")
	case "RestoreObject":
		c.restoreObject()
	case "ListObjectsV2":
		c.listObjectsV2()
	case "ListObjects":
		c.listObjectsV1()
	case "HeadBucket":
		c.headBucket()
	case "GetBucketLocation":
		c.getBucketLocation()
	default:
		e := newErr(http.StatusNotImplemented, "NotImplemented",
			"The icevault simulator does not implement "+c.op+" (icevault never sends it)")
		c.writeError(e)
	}
	if sw.discard {
		c.reset()
		c.code = "ResponseLost"
	}
}

// policyAllows is the seed's bucket policy: s3:ListBucket, s3:GetObject,
// s3:PutObject (checked further in putObject) and s3:RestoreObject. Delete,
// Copy and the multipart calls are all denied, whichever permission IAM
// would map them to, because icevault must never need them.
var policyAllows = map[string]bool{
	"ListObjectsV2":     true,
	"ListObjects":       true,
	"HeadBucket":        true,
	"GetBucketLocation": true,
	"GetObject":         true,
	"HeadObject":        true,
	"PutObject":         true,
	"RestoreObject":     true,
}

// splitPath splits a path-style URL path into bucket and key.
func splitPath(p string) (bucket, key string) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// classify names the S3 operation a request is, from method, subresources
// and headers, the way S3's front end routes it. Anything not recognised is
// "Unknown", logged and refused like the other operations icevault must not
// use.
func classify(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	q.Del("x-id") // aws-sdk-go-v2 adds ?x-id=<Operation> to many requests
	has := func(k string) bool { _, ok := q[k]; return ok }
	if bucket == "" {
		return "Unknown"
	}
	if key == "" {
		switch r.Method {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case has("location"):
				return "GetBucketLocation"
			case onlyParams(q, "prefix", "marker", "max-keys", "delimiter", "encoding-type"):
				return "ListObjects"
			}
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		}
		return "Unknown"
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case has("partNumber") && has("uploadId"):
			return "UploadPart" // UploadPartCopy included
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject"
		case len(q) == 0:
			return "PutObject"
		}
	case http.MethodGet, http.MethodHead:
		for _, sub := range []string{"acl", "tagging", "attributes", "legal-hold", "retention", "torrent", "uploadId", "restore", "select"} {
			if has(sub) {
				return "Unknown"
			}
		}
		if r.Method == http.MethodHead {
			return "HeadObject"
		}
		return "GetObject"
	case http.MethodPost:
		switch {
		case has("restore"):
			return "RestoreObject"
		case has("uploads"):
			return "CreateMultipartUpload"
		case has("uploadId"):
			return "CompleteMultipartUpload"
		}
	case http.MethodDelete:
		if has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return "Unknown"
}

func onlyParams(q url.Values, allowed ...string) bool {
	for k := range q {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// credentialAccessKey extracts the access key ID for the log, even from a
// request whose signature turns out to be wrong.
func credentialAccessKey(authz string) string {
	_, after, ok := strings.Cut(authz, "Credential=")
	if !ok {
		return ""
	}
	akid, _, _ := strings.Cut(after, "/")
	return akid
}

// bucketExists reports whether bucket exists.
func (s *Server) bucketExists(bucket string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.buckets[bucket]
	return ok
}

// statusWriter remembers the status for the log and lets faults hijack.
type statusWriter struct {
	http.ResponseWriter
	status  int
	n       int64
	discard bool // a LoseResponse fault: nothing reaches the client
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	if !w.discard {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.discard {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return hj.Hijack()
}
