package sim

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxPutSize is S3's limit for a single PutObject.
const maxPutSize = 5 << 30

// maxUserMetadata is S3's limit on the total size of x-amz-meta-* headers.
const maxUserMetadata = 2 << 10

var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "OUTPOSTS": true,
	"GLACIER_IR": true, "SNOW": true, "EXPRESS_ONEZONE": true,
}

// archived reports whether objects of this class need a restore before GET.
func archived(storageClass string) bool {
	return storageClass == "GLACIER" || storageClass == "DEEP_ARCHIVE"
}

func (c *reqCtx) putObject() {
	s, r := c.s, c.r
	sentClass := r.Header.Get("X-Amz-Storage-Class")
	if s.opts.EnforcePolicy && sentClass != "DEEP_ARCHIVE" {
		// The seed's policy denies s3:PutObject unless
		// s3:x-amz-storage-class is DEEP_ARCHIVE; an absent header counts
		// as "not equal".
		c.writeError(errAccessDenied())
		return
	}
	if !s.bucketExists(c.bucket) {
		c.writeError(errNoSuchBucket(c.bucket))
		return
	}
	ifNoneMatch, ifMatch := r.Header.Get("If-None-Match"), r.Header.Get("If-Match")
	if ifNoneMatch != "" && ifNoneMatch != "*" {
		e := errNotImplemented()
		e.Header = "If-None-Match"
		c.writeError(e)
		return
	}
	class := sentClass
	if class == "" {
		class = "STANDARD"
	}
	if !storageClasses[class] {
		c.writeError(newErr(http.StatusBadRequest, "InvalidStorageClass", "The storage class you specified is not valid"))
		return
	}
	meta, e := userMetadata(r.Header)
	if e != nil {
		c.writeError(e)
		return
	}
	// Refuse a doomed upload before reading a possibly large body; the
	// decision is taken again at commit time under the lock.
	if e := s.checkWrite(c.bucket, c.key, ifNoneMatch, ifMatch); e != nil {
		c.writeError(e)
		return
	}
	p, e := c.payload()
	if e != nil {
		c.writeError(e)
		return
	}
	if p.size < 0 {
		c.writeError(newErr(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header."))
		return
	}
	if p.size > maxPutSize {
		c.writeError(newErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"))
		return
	}
	check, e := newBodyChecker(r)
	if e != nil {
		c.writeError(e)
		return
	}

	blob, err := s.store.newBlob(p.size)
	if err != nil {
		c.writeError(errInternal(err))
		return
	}
	n, err := io.Copy(io.MultiWriter(blob, check.writer()), p)
	c.size = n
	if err == nil && n != p.size {
		err = errIncompleteBody()
	}
	if sha := p.trailers["x-amz-checksum-sha256"]; sha != "" {
		c.trailerSHA256 = sha
	}
	if err != nil {
		blob.abort()
		var se *s3Error
		switch {
		case errors.As(err, &se):
			c.writeError(se)
		case errors.Is(err, io.ErrUnexpectedEOF):
			c.writeError(errIncompleteBody())
		default:
			// The client went away or the disk failed; either way nothing
			// is stored.
			c.writeError(errInternal(err))
		}
		return
	}
	algo, sum, e := check.verify(p.trailers)
	if e != nil {
		blob.abort()
		c.writeError(e)
		return
	}
	ref, err := blob.finish()
	if err != nil {
		blob.abort()
		c.writeError(errInternal(err))
		return
	}
	ctype := r.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "binary/octet-stream"
	}
	m := &objectMeta{
		Key:               c.key,
		Size:              n,
		ETag:              hex.EncodeToString(check.md5.Sum(nil)),
		LastModified:      s.clock.Now().UTC(),
		StorageClass:      class,
		ContentType:       ctype,
		Meta:              meta,
		SHA256:            hex.EncodeToString(check.sha256.Sum(nil)),
		ChecksumAlgorithm: algo,
		Checksum:          sum,
		Ref:               ref,
	}
	if e := s.commit(c.bucket, m, ifNoneMatch, ifMatch); e != nil {
		blob.abort()
		c.writeError(e)
		return
	}
	h := c.w.Header()
	h.Set("ETag", `"`+m.ETag+`"`)
	if algo != "" {
		h.Set("x-amz-checksum-"+strings.ToLower(algo), sum)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	h.Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
}

// checkWrite evaluates the conditional and create-only rules for writing key.
func (s *Server) checkWrite(bucket, key, ifNoneMatch, ifMatch string) *s3Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkWriteLocked(bucket, key, ifNoneMatch, ifMatch)
}

func (s *Server) checkWriteLocked(bucket, key, ifNoneMatch, ifMatch string) *s3Error {
	objs, ok := s.buckets[bucket]
	if !ok {
		return errNoSuchBucket(bucket)
	}
	old, exists := objs[key]
	if ifNoneMatch == "*" && exists {
		e := newErr(http.StatusPreconditionFailed, "PreconditionFailed",
			"At least one of the pre-conditions you specified did not hold")
		e.Condition = "If-None-Match"
		return e
	}
	if ifMatch != "" {
		if !exists {
			return errNoSuchKey(key)
		}
		if strings.Trim(ifMatch, `"`) != old.ETag {
			e := newErr(http.StatusPreconditionFailed, "PreconditionFailed",
				"At least one of the pre-conditions you specified did not hold")
			e.Condition = "If-Match"
			return e
		}
	}
	// The create-only policy icevault generates denies s3:PutObject without
	// s3:if-none-match for object-creating calls, so an overwrite is
	// AccessDenied before it can be anything else.
	if s.opts.EnforcePolicy && exists && ifNoneMatch != "*" {
		return errAccessDenied()
	}
	return nil
}

// commit makes m the current version of its key, atomically with the
// conditional checks, so two racing create-only PUTs cannot both win.
func (s *Server) commit(bucket string, m *objectMeta, ifNoneMatch, ifMatch string) *s3Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.checkWriteLocked(bucket, m.Key, ifNoneMatch, ifMatch); e != nil {
		return e
	}
	if err := s.store.saveMeta(bucket, m); err != nil {
		return errInternal(err)
	}
	if old := s.buckets[bucket][m.Key]; old != nil {
		s.store.removeBlob(old.Ref)
	}
	s.buckets[bucket][m.Key] = m
	return nil
}

// lookup returns a snapshot of an object's metadata. objectMeta values are
// replaced, never mutated, once published, so the copy may be read without
// the lock.
func (s *Server) lookup(bucket, key string) (objectMeta, *s3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, ok := s.buckets[bucket]
	if !ok {
		return objectMeta{}, errNoSuchBucket(bucket)
	}
	m, ok := objs[key]
	if !ok {
		return objectMeta{}, errNoSuchKey(key)
	}
	return *m, nil
}

func userMetadata(h http.Header) (map[string]string, *s3Error) {
	meta := map[string]string{}
	total := 0
	for name, vals := range h {
		k, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok {
			continue
		}
		v := strings.Join(vals, ",")
		meta[k] = v
		total += len(k) + len(v)
	}
	if total > maxUserMetadata {
		return nil, newErr(http.StatusBadRequest, "MetadataTooLarge",
			"Your metadata headers exceed the maximum allowed metadata size")
	}
	if len(meta) == 0 {
		return nil, nil
	}
	return meta, nil
}

func (c *reqCtx) getObject(head bool) {
	s, r := c.s, c.r
	m, e := s.lookup(c.bucket, c.key)
	if e != nil {
		c.writeError(e)
		return
	}
	now := s.clock.Now()
	phase := m.Restore.phase(now)
	if !head && archived(m.StorageClass) && phase != restoreDone {
		c.writeError(errInvalidObjectState(m.StorageClass))
		return
	}
	if e := c.checkReadConditions(&m); e != nil {
		c.writeError(e)
		return
	}
	start, length, partial, e := parseRange(r.Header.Get("Range"), m.Size)
	if e != nil {
		c.writeError(e)
		return
	}

	h := c.w.Header()
	h.Set("ETag", `"`+m.ETag+`"`)
	h.Set("Last-Modified", m.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Content-Type", m.ContentType)
	h.Set("Accept-Ranges", "bytes")
	if m.StorageClass != "STANDARD" {
		// S3 omits the header for STANDARD objects.
		h.Set("x-amz-storage-class", m.StorageClass)
	}
	for k, v := range m.Meta {
		// Lower case as S3 sends it: botocore takes the metadata name from
		// the header name verbatim, and Set would canonicalise it.
		h["x-amz-meta-"+k] = []string{v}
	}
	if v := m.Restore.header(now); v != "" {
		h.Set("x-amz-restore", v)
	}
	// A checksum describes the whole object, so S3 returns it only for
	// whole-object reads.
	if strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && !partial && m.Checksum != "" {
		h.Set("x-amz-checksum-"+strings.ToLower(m.ChecksumAlgorithm), m.Checksum)
		h.Set("x-amz-checksum-type", "FULL_OBJECT")
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(m.Size, 10))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if head {
		if partial {
			// HEAD with Range is rare; S3 answers 206 with the range headers.
			c.w.WriteHeader(status)
			return
		}
		h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
		c.w.WriteHeader(status)
		return
	}
	blob, err := s.store.open(m.Ref)
	if err != nil {
		c.writeError(errInternal(err))
		return
	}
	defer blob.Close()
	c.w.WriteHeader(status)
	n, _ := io.Copy(c.w, io.NewSectionReader(blob, start, length))
	c.size = n
}

// checkReadConditions implements If-Match, If-None-Match, If-Modified-Since
// and If-Unmodified-Since for GET and HEAD with S3's precedence.
func (c *reqCtx) checkReadConditions(m *objectMeta) *s3Error {
	h := c.r.Header
	etag := `"` + m.ETag + `"`
	matches := func(list string) bool {
		for _, t := range strings.Split(list, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || t == etag || t == m.ETag {
				return true
			}
		}
		return false
	}
	mod := m.LastModified.Truncate(time.Second)
	if v := h.Get("If-Match"); v != "" {
		if !matches(v) {
			return preconditionFailed("If-Match")
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return preconditionFailed("If-Unmodified-Since")
		}
	}
	if v := h.Get("If-None-Match"); v != "" {
		if matches(v) {
			return &s3Error{Status: http.StatusNotModified, Code: "NotModified", Message: "Not Modified"}
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return &s3Error{Status: http.StatusNotModified, Code: "NotModified", Message: "Not Modified"}
		}
	}
	return nil
}

func preconditionFailed(cond string) *s3Error {
	e := newErr(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	e.Condition = cond
	return e
}

// parseRange interprets a single-range "bytes=" header the way S3 does: a
// syntactically invalid or multi-range header is ignored (whole object), an
// unsatisfiable one is 416 InvalidRange.
func parseRange(h string, size int64) (start, length int64, partial bool, e *s3Error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if h == "" || !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, errInvalidRange(h, size)
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, size, false, nil
	}
	last := size - 1
	if b != "" {
		last, err = strconv.ParseInt(b, 10, 64)
		if err != nil || last < first {
			return 0, size, false, nil
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, false, errInvalidRange(h, size)
	}
	return first, last - first + 1, true, nil
}
