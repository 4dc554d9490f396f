package sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	// maxSkew is S3's limit between the request's x-amz-date and the server's
	// wall clock.
	maxSkew = 15 * time.Minute

	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// sigV4 is a verified SigV4 Authorization header; chunk and trailer
// signatures of aws-chunked bodies chain from it.
type sigV4 struct {
	accessKey  string
	amzDate    string
	scope      string // date/region/service/aws4_request
	signature  string // seed signature for aws-chunked bodies
	signingKey []byte
}

// authenticate verifies the request's SigV4 header signature. It recomputes
// the canonical request from what arrived on the wire rather than re-signing
// with an SDK, so it accepts any correct client (Go SDK, botocore) and
// exercises the same rules as S3: the path as sent (S3 does not
// double-encode or normalise it), the query re-encoded and sorted, and only
// the headers the client listed in SignedHeaders.
func (s *Server) authenticate(r *http.Request) (*sigV4, *s3Error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			return nil, newErr(http.StatusForbidden, "AccessDenied",
				"Presigned URLs are not supported by the icevault simulator")
		}
		return nil, errAccessDenied()
	}
	rest, ok := strings.CutPrefix(authz, sigV4Algorithm+" ")
	if !ok {
		return nil, errInvalidArgument("Unsupported Authorization Type")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, errAuthMalformed("the authorization header is malformed")
		}
		fields[k] = v
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signed == "" || sig == "" {
		return nil, errAuthMalformed("the authorization header is malformed; Credential, SignedHeaders and Signature are required")
	}
	cp := strings.Split(cred, "/")
	if len(cp) != 5 || cp[4] != "aws4_request" {
		return nil, errAuthMalformed("the authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"")
	}
	akid, date, region, service := cp[0], cp[1], cp[2], cp[3]
	secret, ok := s.opts.Keys[akid]
	if !ok {
		e := newErr(http.StatusForbidden, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records.")
		e.AWSAccessKeyID = akid
		return nil, e
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return nil, newErr(http.StatusForbidden, "AccessDenied",
			"AWS authentication requires a valid Date or x-amz-date header")
	}
	// Skew is judged by the wall clock: Options.Clock is Glacier time and may
	// be fake or scaled, while the client signs with its real clock.
	if d := s.wall().Sub(t); d > maxSkew || d < -maxSkew {
		return nil, newErr(http.StatusForbidden, "RequestTimeTooSkewed",
			"The difference between the request time and the current time is too large.")
	}
	if date != amzDate[:8] {
		return nil, errAuthMalformed("Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if region != s.opts.Region {
		e := errAuthMalformed(fmt.Sprintf("the region '%s' is wrong; expecting '%s'", region, s.opts.Region))
		e.Region = s.opts.Region
		return nil, e
	}
	if service != "s3" {
		return nil, errAuthMalformed(fmt.Sprintf("the service '%s' is wrong; expecting 's3'", service))
	}
	signedHeaders := strings.Split(signed, ";")
	if !slices.Contains(signedHeaders, "host") {
		return nil, errAuthMalformed("the authorization header is malformed; SignedHeaders must include host")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, errInvalidRequest("Missing required header for this request: x-amz-content-sha256")
	}

	creq := canonicalRequest(r, signedHeaders, payload)
	scope := strings.Join(cp[1:], "/")
	sts := strings.Join([]string{sigV4Algorithm, amzDate, scope, hexSHA256([]byte(creq))}, "\n")
	key := signingKey(secret, date, region, service)
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		e := newErr(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		e.AWSAccessKeyID = akid
		e.StringToSign = sts
		e.SignatureProvided = sig
		e.CanonicalRequest = creq
		return nil, e
	}
	return &sigV4{accessKey: akid, amzDate: amzDate, scope: scope, signature: sig, signingKey: key}, nil
}

func errAuthMalformed(msg string) *s3Error {
	return newErr(http.StatusBadRequest, "AuthorizationHeaderMalformed", msg)
}

// sign returns the hex signature of a string to sign with this request's key.
func (a *sigV4) sign(stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(a.signingKey, stringToSign))
}

func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery))
	b.WriteByte('\n')
	for _, h := range signedHeaders {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI is the path exactly as the client sent it: S3 signatures use
// the once-encoded path without normalisation, and re-encoding a decoded
// path would not round-trip every client's choice of escapes.
func canonicalURI(r *http.Request) string {
	p := r.RequestURI
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if u, err := url.Parse(p); err == nil && u.IsAbs() {
		p = u.EscapedPath()
	}
	if p == "" {
		return "/"
	}
	return p
}

// canonicalQuery decodes each parameter as sent and re-encodes it with the
// SigV4 rules, then sorts, so "a b", "a%20b" and "a+b" sent by different
// clients canonicalise the way each client computed them.
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		params = append(params, kv{awsURIEncode(queryUnescape(k), true), awsURIEncode(queryUnescape(v), true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	parts := make([]string, len(params))
	for i, p := range params {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// queryUnescape decodes %XX but keeps '+' literal: the AWS SDKs encode a
// space as %20 and a plus as %2B, so a bare '+' was meant as a plus.
func queryUnescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// awsURIEncode is SigV4's UriEncode: everything but A-Z a-z 0-9 - _ . ~ is
// percent-encoded with upper-case hex.
func awsURIEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// canonicalHeaderValue recovers a signed header as the client saw it. Go's
// server moves Host and Transfer-Encoding out of r.Header, so those come from
// the request fields.
func canonicalHeaderValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "transfer-encoding":
		vals = r.TransferEncoding
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	out := make([]string, len(vals)) // never write into r.Header's slices
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
