package sim

import (
	"encoding/xml"
	"net/http"
	"strconv"
)

// s3Error is an S3 error response. Optional elements are the ones S3 adds
// for particular codes; clients (the SDK's InvalidObjectState.StorageClass,
// for one) read some of them.
type s3Error struct {
	XMLName           xml.Name `xml:"Error"`
	Status            int      `xml:"-"`
	Code              string   `xml:"Code"`
	Message           string   `xml:"Message"`
	Key               string   `xml:"Key,omitempty"`
	BucketName        string   `xml:"BucketName,omitempty"`
	StorageClass      string   `xml:"StorageClass,omitempty"`
	Condition         string   `xml:"Condition,omitempty"`
	Header            string   `xml:"Header,omitempty"`
	Region            string   `xml:"Region,omitempty"`
	RangeRequested    string   `xml:"RangeRequested,omitempty"`
	ActualObjectSize  string   `xml:"ActualObjectSize,omitempty"`
	AWSAccessKeyID    string   `xml:"AWSAccessKeyId,omitempty"`
	StringToSign      string   `xml:"StringToSign,omitempty"`
	SignatureProvided string   `xml:"SignatureProvided,omitempty"`
	CanonicalRequest  string   `xml:"CanonicalRequest,omitempty"`
	RequestID         string   `xml:"RequestId"`
	HostID            string   `xml:"HostId"`
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func newErr(status int, code, msg string) *s3Error {
	return &s3Error{Status: status, Code: code, Message: msg}
}

func errAccessDenied() *s3Error {
	return newErr(http.StatusForbidden, "AccessDenied", "Access Denied")
}

func errNotImplemented() *s3Error {
	return newErr(http.StatusNotImplemented, "NotImplemented",
		"A header you provided implies functionality that is not implemented")
}

func errNoSuchBucket(bucket string) *s3Error {
	e := newErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	e.BucketName = bucket
	return e
}

func errNoSuchKey(key string) *s3Error {
	e := newErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	e.Key = key
	return e
}

func errInvalidObjectState(storageClass string) *s3Error {
	e := newErr(http.StatusForbidden, "InvalidObjectState",
		"The operation is not valid for the object's storage class")
	e.StorageClass = storageClass
	return e
}

func errInvalidArgument(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "InvalidArgument", msg)
}

func errInvalidRequest(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "InvalidRequest", msg)
}

func errBadDigest(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "BadDigest", msg)
}

func errMalformedXML() *s3Error {
	return newErr(http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema")
}

func errInvalidRange(rng string, size int64) *s3Error {
	e := newErr(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
	e.RangeRequested = rng
	e.ActualObjectSize = strconv.FormatInt(size, 10)
	return e
}

func errIncompleteBody() *s3Error {
	return newErr(http.StatusBadRequest, "IncompleteBody",
		"You did not provide the number of bytes specified by the Content-Length HTTP header")
}

func errInternal(err error) *s3Error {
	return newErr(http.StatusInternalServerError, "InternalError",
		"We encountered an internal error. Please try again. ("+err.Error()+")")
}

// writeError sends e as S3 does: XML body except for HEAD, which has none
// (the SDK then maps the bare status, e.g. 404 to NotFound), and 304 which
// must not have one.
func (c *reqCtx) writeError(e *s3Error) {
	e.RequestID = c.requestID
	e.HostID = "icevault-sim"
	c.code = e.Code
	h := c.w.Header()
	if c.r.Method == http.MethodHead || e.Status == http.StatusNotModified {
		c.w.WriteHeader(e.Status)
		return
	}
	body, _ := xml.Marshal(e)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	c.w.WriteHeader(e.Status)
	c.w.Write([]byte(xml.Header))
	c.w.Write(body)
}

// writeXML sends a successful XML response.
func (c *reqCtx) writeXML(status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		c.writeError(errInternal(err))
		return
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	c.w.WriteHeader(status)
	c.w.Write([]byte(xml.Header))
	c.w.Write(body)
}
