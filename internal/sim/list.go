package sim

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// s3TimeFormat is how S3 writes timestamps in XML bodies.
const s3TimeFormat = "2006-01-02T15:04:05.000Z"

type listEntry struct {
	Key               string            `xml:"Key"`
	LastModified      string            `xml:"LastModified"`
	ETag              string            `xml:"ETag"`
	ChecksumAlgorithm string            `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string            `xml:"ChecksumType,omitempty"`
	Size              int64             `xml:"Size"`
	StorageClass      string            `xml:"StorageClass"`
	RestoreStatus     *restoreStatusXML `xml:"RestoreStatus,omitempty"`
}

type restoreStatusXML struct {
	IsRestoreInProgress bool   `xml:"IsRestoreInProgress"`
	RestoreExpiryDate   string `xml:"RestoreExpiryDate,omitempty"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listV2Result struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	Xmlns                 string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	Contents              []listEntry    `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type listV1Result struct {
	XMLName        xml.Name       `xml:"ListBucketResult"`
	Xmlns          string         `xml:"xmlns,attr"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	Contents       []listEntry    `xml:"Contents"`
	CommonPrefixes []commonPrefix `xml:"CommonPrefixes"`
}

// listPage is one page of a listing: objects and common prefixes in key
// order, at most maxKeys of them together, as S3 counts.
type listPage struct {
	contents  []listEntry
	prefixes  []commonPrefix
	truncated bool
	last      string // last key or common prefix returned: where the next page starts
}

// list pages through bucket after `after` (exclusive). A key rolled up into
// a common prefix equal to `after` is skipped, so a page that ended on a
// common prefix resumes past all of its keys.
func (s *Server) list(bucket, prefix, delimiter, after string, maxKeys int, restoreStatus bool) (listPage, *s3Error) {
	now := s.clock.Now()
	s.mu.Lock()
	objs, ok := s.buckets[bucket]
	if !ok {
		s.mu.Unlock()
		return listPage{}, errNoSuchBucket(bucket)
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	snap := make([]objectMeta, 0, min(len(keys), maxKeys+1))
	var page listPage
	lastCP := ""
	count := 0
	for _, k := range keys {
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				cp := k[:len(prefix)+i+len(delimiter)]
				if cp == after || cp == lastCP {
					continue
				}
				if count == maxKeys {
					page.truncated = true
					break
				}
				page.prefixes = append(page.prefixes, commonPrefix{cp})
				lastCP, page.last = cp, cp
				count++
				continue
			}
		}
		if count == maxKeys {
			page.truncated = true
			break
		}
		snap = append(snap, *objs[k])
		page.last = k
		count++
	}
	s.mu.Unlock()

	for _, m := range snap {
		e := listEntry{
			Key:          m.Key,
			LastModified: m.LastModified.UTC().Format(s3TimeFormat),
			ETag:         `"` + m.ETag + `"`,
			Size:         m.Size,
			StorageClass: m.StorageClass,
		}
		if m.ChecksumAlgorithm != "" {
			e.ChecksumAlgorithm = m.ChecksumAlgorithm
			e.ChecksumType = "FULL_OBJECT"
		}
		// RestoreStatus is an optional attribute: S3 includes it only when
		// asked, and only for objects that have a restore to report.
		if restoreStatus {
			switch m.Restore.phase(now) {
			case restoreOngoing:
				e.RestoreStatus = &restoreStatusXML{IsRestoreInProgress: true}
			case restoreDone:
				e.RestoreStatus = &restoreStatusXML{RestoreExpiryDate: m.Restore.Expiry.UTC().Format(s3TimeFormat)}
			}
		}
		page.contents = append(page.contents, e)
	}
	return page, nil
}

func parseMaxKeys(v string) (int, *s3Error) {
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errInvalidArgument("Provided max-keys not an integer or within integer range")
	}
	return min(n, 1000), nil
}

func parseEncodingType(v string) (bool, *s3Error) {
	switch v {
	case "":
		return false, nil
	case "url":
		return true, nil
	}
	return false, errInvalidArgument("Invalid Encoding Method specified in Request")
}

// urlEncodeKey encodes like S3's encoding-type=url: form encoding (space as
// '+'), which botocore undoes with unquote_plus, with '/' left readable.
func urlEncodeKey(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/")
}

func (p *listPage) encode() {
	for i := range p.contents {
		p.contents[i].Key = urlEncodeKey(p.contents[i].Key)
	}
	for i := range p.prefixes {
		p.prefixes[i].Prefix = urlEncodeKey(p.prefixes[i].Prefix)
	}
}

func (c *reqCtx) listObjectsV2() {
	q := c.r.URL.Query()
	maxKeys, e := parseMaxKeys(q.Get("max-keys"))
	if e != nil {
		c.writeError(e)
		return
	}
	enc, e := parseEncodingType(q.Get("encoding-type"))
	if e != nil {
		c.writeError(e)
		return
	}
	prefix, delim, startAfter, token := q.Get("prefix"), q.Get("delimiter"), q.Get("start-after"), q.Get("continuation-token")
	after := startAfter
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !strings.HasPrefix(string(raw), "v1:") {
			c.writeError(errInvalidArgument("The continuation token provided is incorrect"))
			return
		}
		if t := string(raw[3:]); t > after {
			after = t
		}
	}
	wantRestore := false
	for _, v := range c.r.Header.Values("X-Amz-Optional-Object-Attributes") {
		for _, a := range strings.Split(v, ",") {
			if strings.TrimSpace(a) == "RestoreStatus" {
				wantRestore = true
			}
		}
	}
	page, e := c.s.list(c.bucket, prefix, delim, after, maxKeys, wantRestore)
	if e != nil {
		c.writeError(e)
		return
	}
	res := listV2Result{
		Xmlns: s3Namespace, Name: c.bucket, Prefix: prefix, Delimiter: delim, MaxKeys: maxKeys,
		KeyCount: len(page.contents) + len(page.prefixes), IsTruncated: page.truncated,
		ContinuationToken: token, StartAfter: startAfter,
	}
	if page.truncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte("v1:" + page.last))
	}
	if enc {
		page.encode()
		res.EncodingType = "url"
		res.Prefix, res.Delimiter, res.StartAfter = urlEncodeKey(prefix), urlEncodeKey(delim), urlEncodeKey(startAfter)
	}
	res.Contents, res.CommonPrefixes = page.contents, page.prefixes
	c.writeXML(http.StatusOK, res)
}

func (c *reqCtx) listObjectsV1() {
	q := c.r.URL.Query()
	maxKeys, e := parseMaxKeys(q.Get("max-keys"))
	if e != nil {
		c.writeError(e)
		return
	}
	enc, e := parseEncodingType(q.Get("encoding-type"))
	if e != nil {
		c.writeError(e)
		return
	}
	prefix, delim, marker := q.Get("prefix"), q.Get("delimiter"), q.Get("marker")
	page, e := c.s.list(c.bucket, prefix, delim, marker, maxKeys, false)
	if e != nil {
		c.writeError(e)
		return
	}
	res := listV1Result{
		Xmlns: s3Namespace, Name: c.bucket, Prefix: prefix, Marker: marker, MaxKeys: maxKeys,
		Delimiter: delim, IsTruncated: page.truncated,
	}
	// S3 returns NextMarker only with a delimiter; without one clients use
	// the last key.
	if page.truncated && delim != "" {
		res.NextMarker = page.last
	}
	if enc {
		page.encode()
		res.EncodingType = "url"
		res.Prefix, res.Marker, res.Delimiter = urlEncodeKey(prefix), urlEncodeKey(marker), urlEncodeKey(delim)
		res.NextMarker = urlEncodeKey(res.NextMarker)
	}
	res.Contents, res.CommonPrefixes = page.contents, page.prefixes
	c.writeXML(http.StatusOK, res)
}

func (c *reqCtx) headBucket() {
	if !c.s.bucketExists(c.bucket) {
		c.writeError(errNoSuchBucket(c.bucket))
		return
	}
	c.w.Header().Set("x-amz-bucket-region", c.s.opts.Region)
	c.w.WriteHeader(http.StatusOK)
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Region  string   `xml:",chardata"`
}

func (c *reqCtx) getBucketLocation() {
	if !c.s.bucketExists(c.bucket) {
		c.writeError(errNoSuchBucket(c.bucket))
		return
	}
	region := c.s.opts.Region
	if region == "us-east-1" {
		region = "" // S3's historical answer for us-east-1
	}
	c.writeXML(http.StatusOK, locationConstraint{Xmlns: s3Namespace, Region: region})
}
