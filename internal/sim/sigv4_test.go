package sim

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestAuthFailures(t *testing.T) {
	rn := start(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name   string
		req    rawRequest
		status int
		code   string
	}{
		{"unsigned", rawRequest{method: "GET", path: "/vault?list-type=2", unsigned: true}, 403, "AccessDenied"},
		{"unknown access key", rawRequest{method: "GET", path: "/vault?list-type=2", akid: "AKIANOBODY", secret: "x"}, 403, "InvalidAccessKeyId"},
		{"wrong secret", rawRequest{method: "GET", path: "/vault?list-type=2", akid: DefaultAccessKey, secret: "wrong"}, 403, "SignatureDoesNotMatch"},
		{"clock 20 minutes slow", rawRequest{method: "GET", path: "/vault?list-type=2", signTime: time.Now().Add(-20 * time.Minute)}, 403, "RequestTimeTooSkewed"},
		{"clock 20 minutes fast", rawRequest{method: "GET", path: "/vault?list-type=2", signTime: time.Now().Add(20 * time.Minute)}, 403, "RequestTimeTooSkewed"},
		{"wrong region", rawRequest{method: "GET", path: "/vault?list-type=2", region: "eu-west-1"}, 400, "AuthorizationHeaderMalformed"},
		{"presigned", rawRequest{method: "GET", path: "/vault/k?X-Amz-Signature=abc", unsigned: true}, 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.req.do(t, rn)
			wantS3Error(t, resp, body, tt.status, tt.code)
		})
	}

	// The SDK itself with a wrong secret or an unknown key.
	for _, tc := range []struct{ akid, secret, code string }{
		{DefaultAccessKey, "not-the-secret", "SignatureDoesNotMatch"},
		{"AKIAUNKNOWN", DefaultSecretKey, "InvalidAccessKeyId"},
	} {
		_, err := client(rn.URL, tc.akid, tc.secret).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
		if errCode(err) != tc.code {
			t.Errorf("SDK with key %s: %v, want %s", tc.akid, err, tc.code)
		}
	}

	// Unsigned extra headers are allowed, as in S3; altering a signed one
	// or the query is not.
	req, _ := http.NewRequest("GET", rn.URL+"/vault?list-type=2", nil)
	signed := signForTest(t, req, nil)
	signed.Header.Set("X-Unsigned-Extra", "1")
	if got := doCode(t, signed); got != "" {
		t.Errorf("request with an extra unsigned header: %s", got)
	}
	req, _ = http.NewRequest("GET", rn.URL+"/vault?list-type=2", nil)
	signed = signForTest(t, req, nil)
	signed.URL.RawQuery = "list-type=2&prefix=x"
	if got := doCode(t, signed); !strings.Contains(got, "SignatureDoesNotMatch") {
		t.Errorf("request with an altered query: %s", got)
	}

	reqs := rn.Requests()
	if len(reqs) == 0 || reqs[0].Code != "AccessDenied" || reqs[0].Status != 403 {
		t.Errorf("refused requests must be logged with status and code, got %+v", reqs[0])
	}
	if reqs[2].AccessKey != DefaultAccessKey {
		t.Errorf("a request with a bad signature is logged with its access key, got %+v", reqs[2])
	}
}

func signForTest(t *testing.T, req *http.Request, body []byte) *http.Request {
	t.Helper()
	ph := hexSHA256(body)
	req.Header.Set("X-Amz-Content-Sha256", ph)
	if err := testSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: DefaultAccessKey, SecretAccessKey: DefaultSecretKey}, req, ph, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func doCode(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 300 {
		return ""
	}
	return strconv.Itoa(resp.StatusCode) + " " + string(b)
}

// oddKeys are keys that break naive SigV4 canonicalisation or URL handling.
var oddKeys = []string{
	"plain",
	"with space/and more  spaces",
	"unicode/ünïcødé/日本語/🧊",
	"plus+sign",
	"percent%20literal%",
	"equals=sign&amp",
	"tilde~and_under-score.dot",
	"deep/nested/path/",
	"/leading-slash",
	"double//slash",
	"question?mark#hash",
	"brackets[]{}()!*'$,;:@",
	"quote\"backslash\\",
}

func TestOddKeysRoundTrip(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	for _, key := range oddKeys {
		t.Run(key, func(t *testing.T) {
			body := []byte("body of " + key)
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumSHA256: aws.String(sha256b64(body))}); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject = %q", got)
			}
			list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(key)})
			if err != nil {
				t.Fatalf("ListObjectsV2 prefix=%q: %v", key, err)
			}
			if len(list.Contents) == 0 || aws.ToString(list.Contents[0].Key) != key {
				t.Fatalf("ListObjectsV2 prefix=%q: %+v", key, list.Contents)
			}
			if lastRequest(t, rn.Server, "PutObject").Key != key {
				t.Errorf("logged key = %q", lastRequest(t, rn.Server, "PutObject").Key)
			}
		})
	}
}

func TestKeysAndQueriesWithOddCharactersSigned(t *testing.T) {
	rn := start(t, Options{})
	// Hand-escaped paths and queries as different clients send them.
	for _, path := range []string{
		"/vault/a%20b",
		"/vault/a+b",
		"/vault/%E6%97%A5%E6%9C%AC",
		"/vault/x~y",
	} {
		if resp, b := (rawRequest{method: "PUT", path: path, body: []byte("x")}).do(t, rn); resp.StatusCode != 200 {
			t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, b)
		}
	}
	for _, q := range []string{
		"list-type=2&prefix=a%20b",
		"list-type=2&prefix=a%2Bb&max-keys=1",
		"list-type=2&continuation-token=" + "djE6YQ&prefix=",
		"list-type=2&start-after=%E6%97%A5&encoding-type=url",
		"prefix=a&list-type=2",
	} {
		if resp, b := (rawRequest{method: "GET", path: "/vault?" + q}).do(t, rn); resp.StatusCode != 200 {
			t.Fatalf("GET ?%s: %d %s", q, resp.StatusCode, b)
		}
	}
}

// TestSDKOverTLSUsesChunkedTrailer runs the SDK over HTTPS, where it sends
// the body aws-chunked with a trailing checksum instead of a payload hash.
func TestSDKOverTLSUsesChunkedTrailer(t *testing.T) {
	s, err := New(Options{Buckets: []string{testBucket}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewTLSServer(s)
	defer ts.Close()
	c := client(ts.URL, DefaultAccessKey, DefaultSecretKey, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	})
	ctx := context.Background()
	body := bytes.Repeat([]byte("deep archive "), 10000)
	for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1} {
		key := "tls/" + string(algo)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(testBucket), Key: aws.String(key),
			Body:          io.NopCloser(bytes.NewReader(body)), // unseekable: forces aws-chunked
			ContentLength: aws.Int64(int64(len(body))), ChecksumAlgorithm: algo,
			StorageClass: types.StorageClassDeepArchive, IfNoneMatch: aws.String("*"),
		})
		if err != nil {
			t.Fatalf("PutObject over TLS with %s: %v", algo, err)
		}
		put := lastRequest(t, s, "PutObject")
		if !strings.HasPrefix(put.ContentSHA256, "STREAMING-") || put.Size != int64(len(body)) {
			t.Errorf("%s: logged %+v; expected an aws-chunked upload", algo, put)
		}
		if algo == types.ChecksumAlgorithmSha256 && put.ChecksumSHA256 != sha256b64(body) {
			t.Errorf("trailer SHA-256 not logged: %+v", put)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
			t.Fatalf("HeadObject: %v %+v", err, head)
		}
		if algo == types.ChecksumAlgorithmSha256 && aws.ToString(head.ChecksumSHA256) != sha256b64(body) {
			t.Errorf("HeadObject checksum = %q", aws.ToString(head.ChecksumSHA256))
		}
	}
}

// TestSignedChunkedAWSExample replays the signed streaming upload from the
// S3 API reference ("Signature Calculations for the Authorization Header:
// Transferring Payload in Multiple Chunks"), with AWS's published seed and
// chunk signatures, so chunk verification is checked against AWS rather
// than against itself.
func TestSignedChunkedAWSExample(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	chunks := []struct {
		size int
		sig  string
	}{
		{65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"},
		{1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"},
		{0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"},
	}
	build := func(corrupt bool) []byte {
		var b bytes.Buffer
		for _, c := range chunks {
			b.WriteString(strconv.FormatInt(int64(c.size), 16) + ";chunk-signature=" + c.sig + "\r\n")
			data := bytes.Repeat([]byte("a"), c.size)
			if corrupt && c.size == 1024 {
				data[7] = 'b'
			}
			b.Write(data)
			b.WriteString("\r\n")
		}
		return b.Bytes()
	}
	for _, corrupt := range []bool{false, true} {
		s, err := New(Options{Keys: map[string]string{"AKIAIOSFODNN7EXAMPLE": secret}, Buckets: []string{"examplebucket"}})
		if err != nil {
			t.Fatal(err)
		}
		s.wall = func() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }
		body := build(corrupt)
		req := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body))
		req.Host = "s3.amazonaws.com"
		for k, v := range map[string]string{
			"Content-Encoding":             "aws-chunked",
			"Content-Length":               "66824",
			"X-Amz-Content-Sha256":         streamingSigned,
			"X-Amz-Date":                   "20130524T000000Z",
			"X-Amz-Decoded-Content-Length": "66560",
			"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
			"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
				"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class," +
				"Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
		} {
			req.Header.Set(k, v)
		}
		req.RequestURI = "/examplebucket/chunkObject.txt"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if corrupt {
			if w.Code != 403 || !strings.Contains(w.Body.String(), "SignatureDoesNotMatch") {
				t.Errorf("corrupted chunk: %d %s", w.Code, w.Body)
			}
			if _, e := s.lookup("examplebucket", "chunkObject.txt"); e == nil {
				t.Errorf("a body with a bad chunk signature was stored")
			}
			continue
		}
		if w.Code != 200 {
			t.Fatalf("AWS example upload: %d %s", w.Code, w.Body)
		}
		m, e := s.lookup("examplebucket", "chunkObject.txt")
		if e != nil || m.Size != 66560 || m.StorageClass != "REDUCED_REDUNDANCY" {
			t.Fatalf("stored %+v %v", m, e)
		}
		s.Close()
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"list-type=2&prefix=a%20b", "list-type=2&prefix=a%20b"},
		{"restore", "restore="},
		{"b=2&a=1&a=0", "a=0&a=1&b=2"},
		{"prefix=%7e%2f", "prefix=~%2F"},
		{"prefix=a+b", "prefix=a%2Bb"},
	}
	for _, tt := range tests {
		if got := canonicalQuery(tt.raw); got != tt.want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
