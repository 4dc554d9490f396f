package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/store"
)

// fakeAPI stands in for the S3 client; each test sets the calls it expects.
type fakeAPI struct {
	put     func(*s3.PutObjectInput) (*s3.PutObjectOutput, error)
	head    func(*s3.HeadObjectInput) (*s3.HeadObjectOutput, error)
	get     func(*s3.GetObjectInput) (*s3.GetObjectOutput, error)
	restore func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error)
	list    func(*s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error)
}

func (f *fakeAPI) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return f.put(in)
}
func (f *fakeAPI) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return f.head(in)
}
func (f *fakeAPI) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return f.get(in)
}
func (f *fakeAPI) RestoreObject(_ context.Context, in *s3.RestoreObjectInput, _ ...func(*s3.Options)) (*s3.RestoreObjectOutput, error) {
	return f.restore(in)
}
func (f *fakeAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return f.list(in)
}

func apiErr(code string, status int) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "test"},
	}
}

func putReq(data []byte) store.PutRequest {
	return store.PutRequest{Key: "k", Body: bytes.NewReader(data), Size: int64(len(data)), SHA256: sha256.Sum256(data)}
}

func TestPutSendsCreateOnlyDeepArchiveWithChecksum(t *testing.T) {
	data := []byte("pack bytes")
	var got *s3.PutObjectInput
	s := New(&fakeAPI{put: func(in *s3.PutObjectInput) (*s3.PutObjectOutput, error) {
		got = in
		body, _ := io.ReadAll(in.Body)
		if !bytes.Equal(body, data) {
			return nil, fmt.Errorf("body %q", body)
		}
		return &s3.PutObjectOutput{}, nil
	}}, "b", Options{})
	req := putReq(data)
	req.Metadata = map[string]string{"icevault-kind": "data"}
	// A body already read to the end must be rewound.
	_, _ = io.ReadAll(req.Body)
	if _, err := s.Put(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	switch {
	case got.StorageClass != types.StorageClassDeepArchive:
		t.Errorf("storage class %q", got.StorageClass)
	case aws.ToString(got.IfNoneMatch) != "*":
		t.Errorf("If-None-Match %q", aws.ToString(got.IfNoneMatch))
	case aws.ToString(got.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]):
		t.Errorf("checksum %q", aws.ToString(got.ChecksumSHA256))
	case got.ChecksumAlgorithm != types.ChecksumAlgorithmSha256:
		t.Errorf("checksum algorithm %q", got.ChecksumAlgorithm)
	case aws.ToInt64(got.ContentLength) != int64(len(data)):
		t.Errorf("content length %d", aws.ToInt64(got.ContentLength))
	case got.Metadata["icevault-kind"] != "data" || aws.ToString(got.Bucket) != "b":
		t.Errorf("metadata %v bucket %q", got.Metadata, aws.ToString(got.Bucket))
	}
}

func TestPutPreconditionFailed(t *testing.T) {
	data := []byte("same bytes")
	sum := sha256.Sum256(data)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	other := sha256.Sum256([]byte("other"))
	for _, c := range []struct {
		name       string
		headSize   int64
		headSum    string
		headErr    error
		wantExists bool
		wantKind   store.Kind
	}{
		{"same content landed earlier", int64(len(data)), b64, nil, true, 0},
		{"different content", int64(len(data)), base64.StdEncoding.EncodeToString(other[:]), nil, false, store.KindExists},
		{"different size", 3, b64, nil, false, store.KindExists},
		{"no checksum reported", int64(len(data)), "", nil, false, store.KindExists},
		{"head fails", 0, "", apiErr("SlowDown", 503), false, store.KindExists},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(&fakeAPI{
				put: func(*s3.PutObjectInput) (*s3.PutObjectOutput, error) { return nil, apiErr("PreconditionFailed", 412) },
				head: func(in *s3.HeadObjectInput) (*s3.HeadObjectOutput, error) {
					if in.ChecksumMode != types.ChecksumModeEnabled {
						t.Error("Head did not ask for the checksum")
					}
					if c.headErr != nil {
						return nil, c.headErr
					}
					return &s3.HeadObjectOutput{ContentLength: aws.Int64(c.headSize), ChecksumSHA256: aws.String(c.headSum), StorageClass: types.StorageClassDeepArchive}, nil
				},
			}, "b", Options{})
			res, err := s.Put(context.Background(), putReq(data))
			if c.wantExists {
				if err != nil || !res.Existed {
					t.Fatalf("Put = %+v, %v; want Existed", res, err)
				}
				return
			}
			if err == nil || store.KindOf(err) != c.wantKind || !errors.Is(err, store.ErrExists) {
				t.Fatalf("Put err = %v (kind %s), want %s", err, store.KindOf(err), c.wantKind)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestClassify(t *testing.T) {
	expired := errors.New("cached SSO token is expired, or not present, and cannot be refreshed")
	s := New(nil, "bucket", Options{IsLoginRequired: func(err error) bool { return errors.Is(err, expired) }})
	for _, c := range []struct {
		err  error
		want store.Kind
	}{
		{apiErr("PreconditionFailed", 412), store.KindExists},
		{apiErr("NoSuchKey", 404), store.KindNotFound},
		{apiErr("NotFound", 404), store.KindNotFound},
		{apiErr("NoSuchBucket", 404), store.KindNotFound},
		{apiErr("InvalidObjectState", 403), store.KindArchived},
		{apiErr("AccessDenied", 403), store.KindAccessDenied},
		{apiErr("Forbidden", 403), store.KindAccessDenied},
		{apiErr("", 403), store.KindAccessDenied},
		{apiErr("ExpiredToken", 400), store.KindLoginRequired},
		{apiErr("InvalidAccessKeyId", 403), store.KindLoginRequired},
		{apiErr("SignatureDoesNotMatch", 403), store.KindLoginRequired},
		{apiErr("SlowDown", 503), store.KindTransient},
		{apiErr("InternalError", 500), store.KindTransient},
		{apiErr("WeirdNew5xx", 502), store.KindTransient},
		{apiErr("", 429), store.KindTransient},
		{apiErr("BadDigest", 400), store.KindPermanent},
		{apiErr("InvalidStorageClass", 400), store.KindPermanent},
		{fmt.Errorf("get credentials: %w", expired), store.KindLoginRequired},
		{&smithyhttp.RequestSendError{Err: timeoutErr{}}, store.KindTransient},
		{errors.New("something odd"), store.KindPermanent},
	} {
		err := s.classify("get", "key", c.err)
		if got := store.KindOf(err); got != c.want {
			t.Errorf("classify(%v) = %s, want %s", c.err, got, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("classify(%v) lost the cause: %v", c.err, err)
		}
	}
	if err := s.classify("get", "k", context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("cancellation not kept: %v", err)
	}
}

func TestGetRefinesArchivedToInProgress(t *testing.T) {
	for _, c := range []struct {
		restore string
		want    store.Kind
	}{
		{"", store.KindArchived},
		{`ongoing-request="true"`, store.KindRestoreInProgress},
	} {
		s := New(&fakeAPI{
			get: func(*s3.GetObjectInput) (*s3.GetObjectOutput, error) { return nil, apiErr("InvalidObjectState", 403) },
			head: func(*s3.HeadObjectInput) (*s3.HeadObjectOutput, error) {
				return &s3.HeadObjectOutput{Restore: aws.String(c.restore), StorageClass: types.StorageClassDeepArchive}, nil
			},
		}, "b", Options{})
		_, err := s.Get(context.Background(), "k", nil)
		if got := store.KindOf(err); got != c.want {
			t.Errorf("restore %q: kind %s, want %s", c.restore, got, c.want)
		}
	}
}

func TestGetRange(t *testing.T) {
	var got *s3.GetObjectInput
	s := New(&fakeAPI{get: func(in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
		got = in
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(nil))}, nil
	}}, "b", Options{})
	if _, err := s.Get(context.Background(), "k", &store.Range{Offset: 10, Length: 5}); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.Range) != "bytes=10-14" || got.ChecksumMode != "" {
		t.Fatalf("range %q checksum mode %q", aws.ToString(got.Range), got.ChecksumMode)
	}
	if _, err := s.Get(context.Background(), "k", &store.Range{Offset: 10}); store.KindOf(err) != store.KindPermanent || err == nil {
		t.Fatalf("empty range err = %v", err)
	}
}

func TestRequestRestoreValidatesBeforeCalling(t *testing.T) {
	s := New(&fakeAPI{restore: func(*s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
		t.Fatal("RestoreObject called with invalid input")
		return nil, nil
	}}, "b", Options{})
	for _, tier := range []store.Tier{"Expedited", "standard", ""} {
		if _, err := s.RequestRestore(context.Background(), "k", 1, tier); err == nil {
			t.Errorf("tier %q accepted", tier)
		}
	}
	if _, err := s.RequestRestore(context.Background(), "k", 0, store.TierBulk); err == nil {
		t.Error("0 days accepted")
	}
}

func TestRequestRestoreConflictAndNotArchived(t *testing.T) {
	var code string
	s := New(&fakeAPI{restore: func(in *s3.RestoreObjectInput) (*s3.RestoreObjectOutput, error) {
		if aws.ToInt32(in.RestoreRequest.Days) != 7 || in.RestoreRequest.GlacierJobParameters.Tier != types.TierBulk {
			t.Errorf("request %+v", in.RestoreRequest)
		}
		return nil, apiErr(code, map[string]int{"RestoreAlreadyInProgress": 409, "InvalidObjectState": 403}[code])
	}}, "b", Options{})
	code = "RestoreAlreadyInProgress"
	if res, err := s.RequestRestore(context.Background(), "k", 7, store.TierBulk); err != nil || res != store.RestoreAlreadyOngoing {
		t.Fatalf("409: %v %v", res, err)
	}
	code = "InvalidObjectState"
	if _, err := s.RequestRestore(context.Background(), "k", 7, store.TierBulk); store.KindOf(err) != store.KindPermanent || !errors.Is(err, store.ErrNotArchived) {
		t.Fatalf("restore of a non-archived object: %v", err)
	}
}

func TestListPagesAndRestoreStatus(t *testing.T) {
	exp := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	var asked []types.OptionalObjectAttributes
	calls := 0
	s := New(&fakeAPI{list: func(in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
		calls++
		asked = in.OptionalObjectAttributes
		if aws.ToInt32(in.MaxKeys) != 2 {
			t.Errorf("max keys %d", aws.ToInt32(in.MaxKeys))
		}
		if in.ContinuationToken == nil {
			return &s3.ListObjectsV2Output{IsTruncated: aws.Bool(true), NextContinuationToken: aws.String("t"), Contents: []types.Object{
				{Key: aws.String("a"), StorageClass: types.ObjectStorageClassDeepArchive},
				{Key: aws.String("b"), StorageClass: types.ObjectStorageClassDeepArchive, RestoreStatus: &types.RestoreStatus{IsRestoreInProgress: aws.Bool(true)}},
			}}, nil
		}
		return &s3.ListObjectsV2Output{Contents: []types.Object{
			{Key: aws.String("c"), StorageClass: types.ObjectStorageClassDeepArchive, RestoreStatus: &types.RestoreStatus{IsRestoreInProgress: aws.Bool(false), RestoreExpiryDate: &exp}},
			{Key: aws.String("d")},
		}}, nil
	}}, "b", Options{ListPageSize: 2})
	var states []store.RestoreState
	for info, err := range s.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, info.Restore.State)
	}
	want := []store.RestoreState{store.RestoreNone, store.RestoreInProgress, store.RestoreDone, store.RestoreUnknown}
	if fmt.Sprint(states) != fmt.Sprint(want) || calls != 2 || len(asked) != 1 {
		t.Fatalf("states %v (want %v), %d calls, asked %v", states, want, calls, asked)
	}
}

func TestParseRestoreHeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want store.Restore
		bad  bool
	}{
		{"", store.Restore{}, false},
		{`ongoing-request="true"`, store.Restore{State: store.RestoreInProgress}, false},
		{`ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`,
			store.Restore{State: store.RestoreDone, Expiry: time.Date(2012, 12, 21, 0, 0, 0, 0, time.UTC)}, false},
		{`ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT", restore-request-date="Tue, 18 Dec 2012 00:00:00 GMT"`,
			store.Restore{State: store.RestoreDone, Expiry: time.Date(2012, 12, 21, 0, 0, 0, 0, time.UTC)}, false},
		{`ongoing-request="maybe"`, store.Restore{}, true},
		{`ongoing-request="false"`, store.Restore{}, true},
		{`ongoing-request=true`, store.Restore{}, true},
		{`ongoing-request="true`, store.Restore{}, true},
	} {
		got, err := ParseRestoreHeader(c.in)
		if (err != nil) != c.bad || got.State != c.want.State || !got.Expiry.Equal(c.want.Expiry) {
			t.Errorf("ParseRestoreHeader(%q) = %+v, %v; want %+v (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func FuzzParseRestoreHeader(f *testing.F) {
	f.Add(`ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`)
	f.Add(`ongoing-request="true"`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRestoreHeader(s)
		if err == nil && r.State == store.RestoreDone && r.Expiry.IsZero() {
			t.Fatalf("%q parsed as restored with no expiry", s)
		}
	})
}

func TestValidateEndpoint(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"", true},
		{"https://s3.example.com", true},
		{"http://127.0.0.1:9000", true},
		{"http://127.1.2.3:9000", true},
		{"http://localhost:9000", true},
		{"http://[::1]:9000", true},
		{"http://192.168.1.10:9000", false},
		{"http://example.com", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:9000", false},
		{"::nonsense", false},
	} {
		err := ValidateEndpoint(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ValidateEndpoint(%q) = %v, want ok=%v", c.in, err, c.ok)
		}
	}
}
