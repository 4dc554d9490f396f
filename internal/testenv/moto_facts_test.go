package testenv_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/testenv"
)

// TestMotoFacts pins what moto 5.2.x does with the Deep Archive calls
// icevault makes, as measured when this harness was written. The store
// conformance suite and the Deep Archive simulator lean on these facts: where
// moto matches AWS (DESIGN §4) a store test may run against it; where it
// diverges ("moto divergence" below) that test must run against the
// simulator only. If a moto upgrade breaks one of these, revisit both.
func TestMotoFacts(t *testing.T) {
	t.Parallel()
	m := testenv.Moto(t)
	m.CreateBucket(t, "vault")
	c := m.S3Client(t, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	ctx := t.Context()
	bucket := aws.String("vault")
	body := []byte("pack bytes")
	sha := sha256.Sum256(body)
	sum := base64.StdEncoding.EncodeToString(sha[:])

	put := func(key string, sc types.StorageClass, mod func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: bytes.NewReader(body), StorageClass: sc}
		if mod != nil {
			mod(in)
		}
		_, err := c.PutObject(ctx, in)
		return err
	}
	head := func(key string) *s3.HeadObjectOutput {
		t.Helper()
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("HeadObject %q: %v", key, err)
		}
		return h
	}
	restore := func(key string, days int32, tier types.Tier) (int, error) {
		req := &types.RestoreRequest{GlacierJobParameters: &types.GlacierJobParameters{Tier: tier}}
		if days > 0 {
			req.Days = aws.Int32(days)
		}
		out, err := c.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: bucket, Key: aws.String(key), RestoreRequest: req})
		if err != nil {
			return status(err), err
		}
		raw, _ := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
		return raw.StatusCode, nil
	}
	get := func(key, rng string) ([]byte, error) {
		in := &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)}
		if rng != "" {
			in.Range = aws.String(rng)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
	wantErr := func(what string, err error, wantStatus int, wantCode string) {
		t.Helper()
		if got, code := status(err), errCode(err); got != wantStatus || code != wantCode {
			t.Errorf("%s: status %d code %q, want %d %q (err %v)", what, got, code, wantStatus, wantCode, err)
		}
	}

	// Create-only PUT to DEEP_ARCHIVE with checksum and metadata.
	createOnly := func(in *s3.PutObjectInput) {
		in.IfNoneMatch = aws.String("*")
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
		in.ChecksumSHA256 = aws.String(sum)
		in.Metadata = map[string]string{"icevault-sha256": "Ab1", "Mixed-Case": "v w"}
	}
	if err := put("data/p1", types.StorageClassDeepArchive, createOnly); err != nil {
		t.Fatalf("create-only PUT: %v", err)
	}
	wantErr("If-None-Match: * on an existing key", put("data/p1", types.StorageClassDeepArchive, createOnly),
		http.StatusPreconditionFailed, "PreconditionFailed")

	h := head("data/p1")
	if h.StorageClass != types.StorageClassDeepArchive || aws.ToInt64(h.ContentLength) != int64(len(body)) ||
		aws.ToString(h.ChecksumSHA256) != sum || h.Restore != nil {
		t.Errorf("HEAD archived: class %q size %d sha256 %q restore %v; want DEEP_ARCHIVE %d %q nil",
			h.StorageClass, aws.ToInt64(h.ContentLength), aws.ToString(h.ChecksumSHA256), h.Restore, len(body), sum)
	}
	if got := h.Metadata; got["icevault-sha256"] != "Ab1" || got["mixed-case"] != "v w" {
		t.Errorf("HEAD metadata = %v; want values kept, keys lower-cased", got)
	}

	// Archived objects cannot be read, whole or ranged, until restored.
	_, err := get("data/p1", "")
	wantErr("GET unrestored", err, http.StatusForbidden, "InvalidObjectState")
	_, err = get("data/p1", "bytes=0-1")
	wantErr("ranged GET unrestored", err, http.StatusForbidden, "InvalidObjectState")

	if code, err := restore("data/p1", 2, types.TierBulk); code != http.StatusAccepted || err != nil {
		t.Errorf("first restore: %d %v, want 202", code, err)
	}
	if r := aws.ToString(head("data/p1").Restore); !strings.HasPrefix(r, `ongoing-request="false", expiry-date="`) {
		t.Errorf("x-amz-restore after restore = %q; moto restores instantly", r)
	}
	// moto divergence: AWS answers 409 RestoreAlreadyInProgress while thawing;
	// moto has no thawing, so a repeat is 200 (AWS: 200 once restored).
	if code, err := restore("data/p1", 2, types.TierBulk); code != http.StatusOK || err != nil {
		t.Errorf("repeat restore: %d %v, want 200", code, err)
	}
	if b, err := get("data/p1", ""); err != nil || !bytes.Equal(b, body) {
		t.Errorf("GET restored = %q, %v", b, err)
	}
	if b, err := get("data/p1", "bytes=1-3"); err != nil || string(b) != string(body[1:4]) {
		t.Errorf("ranged GET restored = %q, %v", b, err)
	}

	// Restore errors.
	if err := put("std", types.StorageClassStandard, nil); err != nil {
		t.Fatal(err)
	}
	_, err = restore("std", 1, types.TierBulk)
	wantErr("restore STANDARD object", err, http.StatusForbidden, "InvalidObjectState")
	_, err = restore("missing", 1, types.TierBulk)
	wantErr("restore missing key", err, http.StatusNotFound, "NoSuchKey")
	// moto divergence: AWS rejects Expedited for Deep Archive; moto accepts it.
	if err := put("exp", types.StorageClassDeepArchive, nil); err != nil {
		t.Fatal(err)
	}
	if code, err := restore("exp", 1, types.TierExpedited); code != http.StatusAccepted || err != nil {
		t.Errorf("Expedited restore: %d %v, want moto's 202", code, err)
	}
	// moto divergence: without Days moto answers 202 but restores nothing.
	if err := put("nodays", types.StorageClassDeepArchive, nil); err != nil {
		t.Fatal(err)
	}
	if code, err := restore("nodays", 0, types.TierBulk); code != http.StatusAccepted || err != nil {
		t.Errorf("restore without Days: %d %v, want moto's 202", code, err)
	}
	if r := head("nodays").Restore; r != nil {
		t.Errorf("x-amz-restore after a restore without Days = %q, want none", *r)
	}

	// moto divergence: a wrong x-amz-checksum-sha256 is stored, not rejected
	// with 400 BadDigest, and HEAD echoes it. Only the simulator can test
	// icevault's handling of BadDigest.
	wrong := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if err := put("bad-sum", types.StorageClassDeepArchive, func(in *s3.PutObjectInput) {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
		in.ChecksumSHA256 = aws.String(wrong)
	}); err != nil {
		t.Errorf("PUT with a wrong SHA-256: %v; moto used to accept it", err)
	}
	if got := aws.ToString(head("bad-sum").ChecksumSHA256); got != wrong {
		t.Errorf("HEAD of a PUT with a wrong SHA-256 = %q, want the wrong value echoed", got)
	}

	// Listing: StorageClass yes; moto divergence: RestoreStatus is accepted
	// but never returned.
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket,
		OptionalObjectAttributes: []types.OptionalObjectAttributes{types.OptionalObjectAttributesRestoreStatus}})
	if err != nil {
		t.Fatalf("ListObjectsV2 with RestoreStatus: %v", err)
	}
	for _, o := range l.Contents {
		if o.StorageClass == "" || o.RestoreStatus != nil {
			t.Errorf("listed %q: class %q restore status %+v; want a class and no status", aws.ToString(o.Key), o.StorageClass, o.RestoreStatus)
		}
	}

	// Missing things.
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) || status(err) != http.StatusNotFound {
		t.Errorf("HEAD missing key: %v; want 404 *types.NotFound", err)
	}
	_, err = get("missing", "")
	wantErr("GET missing key", err, http.StatusNotFound, "NoSuchKey")
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	wantErr("LIST missing bucket", err, http.StatusNotFound, "NoSuchBucket")
}

// Keys are opaque to S3: spaces, non-ASCII and URL metacharacters must
// survive PUT, HEAD and LIST unchanged, and pagination must visit each once.
func TestMotoKeysAndPagination(t *testing.T) {
	t.Parallel()
	m := testenv.Moto(t)
	m.CreateBucket(t, "vault")
	c := m.S3Client(t)
	ctx := t.Context()
	keys := []string{"a b/c d", "p%20q", "p%q", "x+y", "~!@$&'()*,;=:", "dir//double", "trail/", "ünï/cødé ✓"}
	for _, k := range keys {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String(k),
			Body: strings.NewReader(k), StorageClass: types.StorageClassDeepArchive})
		if err != nil {
			t.Fatalf("PUT %q: %v", k, err)
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String(k)}); err != nil {
			t.Errorf("HEAD %q: %v", k, err)
		}
	}
	var listed []string
	pages := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("vault"), MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, o := range out.Contents {
			listed = append(listed, aws.ToString(o.Key))
			if o.StorageClass != types.ObjectStorageClassDeepArchive {
				t.Errorf("listed %q with class %q", aws.ToString(o.Key), o.StorageClass)
			}
		}
	}
	want := append([]string(nil), keys...)
	slices.Sort(want) // S3 lists in UTF-8 byte order, as Go compares strings
	if strings.Join(listed, "\n") != strings.Join(want, "\n") || pages != (len(keys)+1)/2 {
		t.Errorf("listed %q in %d pages, want %q in %d", listed, pages, want, (len(keys)+1)/2)
	}
}

// status is the HTTP status of a failed SDK call, or 0.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
