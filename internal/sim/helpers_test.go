package sim

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const testBucket = "vault"

// start runs a simulator with testBucket for the duration of the test.
func start(t *testing.T, opts Options) *Running {
	t.Helper()
	if opts.Buckets == nil {
		opts.Buckets = []string{testBucket}
	}
	rn, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := rn.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rn
}

// client is the real aws-sdk-go-v2 S3 client pointed at url. Retries are
// off unless a test asks for them, so an injected fault shows up as-is.
func client(url, akid, secret string, optFns ...func(*s3.Options)) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
	}
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(url)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	}}, optFns...)
	return s3.NewFromConfig(cfg, fns...)
}

func defaultClient(rn *Running) *s3.Client {
	return client(rn.URL, DefaultAccessKey, DefaultSecretKey)
}

// errCode returns the S3 error code of an SDK error, "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

// httpStatus returns the HTTP status of an SDK error, 0 if there is none.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// rawRequest is a hand-made request for what the SDK will not send.
type rawRequest struct {
	method, path string // path as sent, already escaped, with query
	body         []byte
	header       map[string]string
	akid, secret string    // "" = default key; use unsigned for no Authorization
	unsigned     bool      // send no Authorization header
	payloadHash  string    // x-amz-content-sha256; "" = hash of body
	signTime     time.Time // zero = now
	region       string
}

// do signs the request with the SDK's own SigV4 signer (S3 flavour: no
// double path escaping) and sends it.
func (rr rawRequest) do(t *testing.T, rn *Running) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(rr.method, rn.URL+rr.path, bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rr.header {
		req.Header.Set(k, v)
	}
	if !rr.unsigned {
		ph := rr.payloadHash
		if ph == "" {
			h := sha256.Sum256(rr.body)
			ph = hex.EncodeToString(h[:])
		}
		req.Header.Set("X-Amz-Content-Sha256", ph)
		akid, secret := rr.akid, rr.secret
		if akid == "" {
			akid, secret = DefaultAccessKey, DefaultSecretKey
		}
		st := rr.signTime
		if st.IsZero() {
			st = time.Now()
		}
		region := rr.region
		if region == "" {
			region = "us-east-1"
		}
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
		if err := signer.SignHTTP(context.Background(), creds, req, ph, "s3", region, st); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rr.method, rr.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// wantS3Error checks status and the <Code> of an S3 XML error body.
func wantS3Error(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || !strings.Contains(string(body), "<Code>"+code+"</Code>") {
		t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, status, code)
	}
	if resp.Header.Get("x-amz-request-id") == "" {
		t.Errorf("error response without x-amz-request-id")
	}
}

func sha256b64(b []byte) string {
	h := sha256.Sum256(b)
	return base64Std(h[:])
}

// lastRequest returns the last logged request for op.
func lastRequest(t *testing.T, s *Server, op string) Request {
	t.Helper()
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Op == op {
			return reqs[i]
		}
	}
	t.Fatalf("no %s in the request log", op)
	return Request{}
}

func md5sum(b []byte) []byte {
	h := md5.Sum(b)
	return h[:]
}

func md5hex(b []byte) string { return hex.EncodeToString(md5sum(b)) }

func testSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// captureStatus records the HTTP status of an SDK call's response.
func captureStatus(status *int) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("captureStatus",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok {
					*status = resp.StatusCode
				}
				return out, md, err
			}), middleware.After)
	}
}
