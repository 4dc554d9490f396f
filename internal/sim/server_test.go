package sim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/icevault/icevault/internal/clock"
)

func TestFaults(t *testing.T) {
	ctx := context.Background()
	put := func(c *s3.Client, key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}

	t.Run("Nth", func(t *testing.T) {
		rn := start(t, Options{})
		c := defaultClient(rn)
		rn.InjectFault(Fault{Op: "PutObject", Nth: 2, Status: 500, Code: "InternalError"})
		var codes []string
		for i := 0; i < 4; i++ {
			codes = append(codes, errCode(put(c, "k")))
		}
		if strings.Join(codes, ",") != ",InternalError,," {
			t.Errorf("codes = %q, want only the 2nd to fail", codes)
		}
		if got := lastRequest(t, rn.Server, "PutObject"); got.Status != 200 {
			t.Errorf("last put logged %+v", got)
		}
		if rn.Requests()[1].Status != 500 || rn.Requests()[1].Code != "InternalError" {
			t.Errorf("the faulted request must be logged with its status: %+v", rn.Requests()[1])
		}
	})

	t.Run("Times and op filter", func(t *testing.T) {
		rn := start(t, Options{})
		c := defaultClient(rn)
		remove := rn.InjectFault(Fault{Op: "PutObject", Times: 2, Status: 503, Code: "SlowDown", Message: "Please reduce your request rate."})
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(testBucket)}); err != nil {
			t.Errorf("HeadBucket must not match a PutObject fault: %v", err)
		}
		for i, want := range []string{"SlowDown", "SlowDown", ""} {
			if got := errCode(put(c, "k")); got != want {
				t.Errorf("put %d: %q, want %q", i, got, want)
			}
		}
		remove()
		// With the SDK's retries, two SlowDowns are absorbed.
		rn.InjectFault(Fault{Op: "PutObject", Times: 2, Status: 503, Code: "SlowDown"})
		retrying := client(rn.URL, DefaultAccessKey, DefaultSecretKey, func(o *s3.Options) { o.RetryMaxAttempts = 3 })
		before := rn.Counts()["PutObject"]
		if err := put(retrying, "k2"); err != nil {
			t.Errorf("put with retries: %v", err)
		}
		if n := rn.Counts()["PutObject"] - before; n != 3 {
			t.Errorf("%d PutObject requests, want 3 (two throttled, one through)", n)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		rn := start(t, Options{})
		c := defaultClient(rn)
		// Unlimited: net/http itself transparently retries an idempotent
		// request once when a reused connection dies before answering.
		remove := rn.InjectFault(Fault{Op: "GetObject", Reset: true})
		if err := put(c, "k"); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
		if err == nil || httpStatus(err) != 0 {
			t.Fatalf("GetObject through a reset: %v, want a transport error", err)
		}
		if got := lastRequest(t, rn.Server, "GetObject"); got.Status != 0 || got.Code != "ConnectionReset" {
			t.Errorf("reset logged as %+v", got)
		}
		remove()
		if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")}); err != nil {
			t.Errorf("after remove: %v", err)
		}
	})

	t.Run("Latency cancelled by the client", func(t *testing.T) {
		rn := start(t, Options{})
		c := defaultClient(rn)
		rn.InjectFault(Fault{Latency: time.Minute})
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		begin := time.Now()
		_, err := c.HeadBucket(cctx, &s3.HeadBucketInput{Bucket: aws.String(testBucket)})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > 10*time.Second {
			t.Errorf("HeadBucket with a 1 min latency and 100 ms timeout: %v after %v", err, time.Since(begin))
		}
	})

	t.Run("Rate is deterministic", func(t *testing.T) {
		pattern := func() string {
			rn := start(t, Options{})
			c := defaultClient(rn)
			rn.InjectFault(Fault{Op: "HeadBucket", Rate: 0.5, Status: 500})
			var b strings.Builder
			for i := 0; i < 32; i++ {
				_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(testBucket)})
				b.WriteByte("01"[min(1, httpStatus(err)/500)])
			}
			return b.String()
		}
		p1, p2 := pattern(), pattern()
		if p1 != p2 || !strings.Contains(p1, "0") || !strings.Contains(p1, "1") {
			t.Errorf("Rate 0.5 patterns %s and %s: want identical and mixed", p1, p2)
		}
	})
}

// TestRefusedOperations sends every operation icevault must never use with
// the SDK itself and checks they are recognised, logged and refused.
func TestRefusedOperations(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *s3.Client) error{
		"DeleteObject": func(c *s3.Client) error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
			return err
		},
		"DeleteObjects": func(c *s3.Client) error {
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(testBucket), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
			return err
		},
		"CopyObject": func(c *s3.Client) error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k2"), CopySource: aws.String(testBucket + "/k"), StorageClass: types.StorageClassDeepArchive})
			return err
		},
		"CreateMultipartUpload": func(c *s3.Client) error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("k"), StorageClass: types.StorageClassDeepArchive})
			return err
		},
		"UploadPart": func(c *s3.Client) error {
			_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("k"), UploadId: aws.String("u"), PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
			return err
		},
		"CompleteMultipartUpload": func(c *s3.Client) error {
			_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("k"), UploadId: aws.String("u")})
			return err
		},
		"AbortMultipartUpload": func(c *s3.Client) error {
			_, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("k"), UploadId: aws.String("u")})
			return err
		},
		"Unknown": func(c *s3.Client) error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Tagging: &types.Tagging{TagSet: []types.Tag{}}})
			return err
		},
	}
	for _, policy := range []bool{false, true} {
		rn := start(t, Options{EnforcePolicy: policy})
		c := defaultClient(rn)
		wantStatus, wantCode := 501, "NotImplemented"
		if policy {
			wantStatus, wantCode = 403, "AccessDenied"
		}
		for op, call := range calls {
			err := call(c)
			if httpStatus(err) != wantStatus || errCode(err) != wantCode {
				t.Errorf("policy=%v %s: %v, want %d %s", policy, op, err, wantStatus, wantCode)
			}
			if got := lastRequest(t, rn.Server, op); got.Status != wantStatus {
				t.Errorf("policy=%v %s logged as %+v", policy, op, got)
			}
		}
		for op := range calls {
			if rn.Counts()[op] != 1 {
				t.Errorf("Counts()[%s] = %d, want 1", op, rn.Counts()[op])
			}
		}
	}
}

func TestEnforcePolicy(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{EnforcePolicy: true, Clock: clock.NewFake(t0)})
	c := defaultClient(rn)
	body := []byte("x")
	tests := []struct {
		name  string
		class types.StorageClass
		inm   *string
		code  string
	}{
		{"no storage class", "", aws.String("*"), "AccessDenied"},
		{"STANDARD", types.StorageClassStandard, aws.String("*"), "AccessDenied"},
		{"GLACIER", types.StorageClassGlacier, aws.String("*"), "AccessDenied"},
		{"DEEP_ARCHIVE create-only", types.StorageClassDeepArchive, aws.String("*"), ""},
		{"DEEP_ARCHIVE again create-only", types.StorageClassDeepArchive, aws.String("*"), "PreconditionFailed"},
		{"DEEP_ARCHIVE overwrite", types.StorageClassDeepArchive, nil, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: bytes.NewReader(body), StorageClass: tt.class, IfNoneMatch: tt.inm})
			if errCode(err) != tt.code {
				t.Errorf("got %v, want %q", err, tt.code)
			}
		})
	}
	// A new key without If-None-Match is allowed (the seed's policy has no
	// create-only condition).
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("new"), Body: bytes.NewReader(body), StorageClass: types.StorageClassDeepArchive}); err != nil {
		t.Errorf("new key without If-None-Match: %v", err)
	}
	// Reads, listing and restores are allowed.
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")}); err != nil {
		t.Errorf("HeadObject: %v", err)
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)}); err != nil {
		t.Errorf("ListObjectsV2: %v", err)
	}
	if _, err := c.RestoreObject(ctx, restoreInput("k", 1, types.TierBulk)); err != nil {
		t.Errorf("RestoreObject: %v", err)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")}); errCode(err) != "InvalidObjectState" {
		t.Errorf("GetObject: %v", err)
	}
}

func TestDirPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fc := clock.NewFake(t0)
	rn, err := Start(Options{Dir: dir, Clock: fc, Buckets: []string{testBucket}})
	if err != nil {
		t.Fatal(err)
	}
	c := defaultClient(rn)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for key, body := range map[string][]byte{"thawing": []byte("one"), "cold": []byte("two"), "big/pack": big} {
		if _, err := putArchive(ctx, c, key, body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := putArchive(ctx, c, "cold", []byte("lost race")); errCode(err) != "PreconditionFailed" {
		t.Fatal(err)
	}
	if _, err := c.RestoreObject(ctx, restoreInput("thawing", 3, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RestoreObject(ctx, restoreInput("big/pack", 3, "")); err != nil {
		t.Fatal(err)
	}
	if err := rn.Close(); err != nil {
		t.Fatal(err)
	}

	rn2 := start(t, Options{Dir: dir, Clock: fc})
	c = defaultClient(rn2)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("thawing"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.Restore) != `ongoing-request="true"` || head.StorageClass != types.StorageClassDeepArchive ||
		head.Metadata["icevault-kind"] != "pack" || aws.ToString(head.ChecksumSHA256) != sha256b64([]byte("one")) {
		t.Fatalf("after restart HeadObject = %+v, %v", head, err)
	}
	if _, err := c.RestoreObject(ctx, restoreInput("thawing", 3, "")); errCode(err) != "RestoreAlreadyInProgress" {
		t.Errorf("restore after restart: %v, want RestoreAlreadyInProgress", err)
	}
	fc.Advance(12 * time.Hour)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("big/pack")})
	if err != nil {
		t.Fatalf("GetObject after thaw: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, big) {
		t.Errorf("big object: %d bytes back, want %d", len(got), len(big))
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("cold")}); errCode(err) != "InvalidObjectState" {
		t.Errorf("unrestored object after restart: %v", err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if err != nil || len(list.Contents) != 3 {
		t.Errorf("list after restart: %v %d objects", err, len(list.Contents))
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:9000", "example.com:80"} {
		if _, err := Listen(addr, Options{}); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Listen(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	rn, err := Listen("localhost:0", Options{})
	if err != nil {
		t.Fatalf("Listen(localhost:0): %v", err)
	}
	rn.Close()
}

func TestCreateBucketValidates(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"", "ab", "UPPER", "has_underscore", "-dash", strings.Repeat("a", 64), "../etc"} {
		if err := s.CreateBucket(name); !errors.Is(err, ErrInvalidBucketName) {
			t.Errorf("CreateBucket(%q) = %v", name, err)
		}
	}
	if err := s.CreateBucket("my.bucket-1"); err != nil {
		t.Errorf("CreateBucket(my.bucket-1) = %v", err)
	}
}
