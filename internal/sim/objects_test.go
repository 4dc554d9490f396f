package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// putArchive uploads body the way icevault does (DESIGN §2.1).
func putArchive(ctx context.Context, c *s3.Client, key string, body []byte) (*s3.PutObjectOutput, error) {
	return c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(testBucket),
		Key:            aws.String(key),
		Body:           bytes.NewReader(body),
		StorageClass:   types.StorageClassDeepArchive,
		IfNoneMatch:    aws.String("*"),
		ChecksumSHA256: aws.String(sha256b64(body)),
		Metadata:       map[string]string{"icevault-kind": "pack"},
	})
}

func TestSDKPutHeadGetArchive(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	body := []byte("sealed pack bytes")

	out, err := putArchive(ctx, c, "packs/p1", body)
	if err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	if aws.ToString(out.ETag) != `"`+md5hex(body)+`"` {
		t.Errorf("ETag = %s, want quoted MD5", aws.ToString(out.ETag))
	}
	put := lastRequest(t, rn.Server, "PutObject")
	if put.StorageClass != "DEEP_ARCHIVE" || put.IfNoneMatch != "*" || put.ChecksumSHA256 != sha256b64(body) || put.AccessKey != DefaultAccessKey || put.Size != int64(len(body)) {
		t.Errorf("logged PutObject = %+v", put)
	}

	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("packs/p1"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if head.StorageClass != types.StorageClassDeepArchive || aws.ToInt64(head.ContentLength) != int64(len(body)) ||
		head.Metadata["icevault-kind"] != "pack" || aws.ToString(head.ChecksumSHA256) != sha256b64(body) ||
		head.Restore != nil || head.LastModified == nil {
		t.Errorf("HeadObject = %+v", head)
	}

	// Without checksum mode the checksum is not returned.
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("packs/p1")})
	if err != nil || head.ChecksumSHA256 != nil {
		t.Errorf("HeadObject without checksum mode: %v, checksum %v", err, head.ChecksumSHA256)
	}

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("packs/p1")})
	var ios *types.InvalidObjectState
	if !errors.As(err, &ios) || ios.StorageClass != types.StorageClassDeepArchive || httpStatus(err) != 403 {
		t.Fatalf("GetObject on an archived object: %v, want 403 InvalidObjectState with StorageClass", err)
	}

	_, err = putArchive(ctx, c, "packs/p1", body)
	if errCode(err) != "PreconditionFailed" || httpStatus(err) != 412 {
		t.Errorf("second create-only put: %v, want 412 PreconditionFailed", err)
	}

	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject on a missing key: %v, want NotFound", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("missing")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GetObject on a missing key: %v, want NoSuchKey", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if errCode(err) != "NoSuchBucket" {
		t.Errorf("PutObject to a missing bucket: %v, want NoSuchBucket", err)
	}
}

func TestSDKStandardObjectsAndOverwrite(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	for _, body := range []string{"first", "second version"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader(body), ContentType: aws.String("text/plain")}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "second version" || got.StorageClass != "" || aws.ToString(got.ContentType) != "text/plain" {
		t.Errorf("GetObject = %q class %q type %q; an overwrite without If-None-Match replaces, STANDARD has no class header",
			b, got.StorageClass, aws.ToString(got.ContentType))
	}
}

func TestPutValidation(t *testing.T) {
	rn := start(t, Options{})
	body := []byte("payload")
	wrong := sha256b64([]byte("other"))
	if _, b := (rawRequest{method: "PUT", path: "/vault/exists", body: body}).do(t, rn); len(b) != 0 {
		t.Fatalf("setup put: %s", b)
	}
	tests := []struct {
		name   string
		key    string
		header map[string]string
		hash   string
		status int
		code   string
	}{
		{"unknown storage class", "a", map[string]string{"X-Amz-Storage-Class": "FROZEN"}, "", 400, "InvalidStorageClass"},
		{"If-None-Match with an etag", "a", map[string]string{"If-None-Match": `"abc"`}, "", 501, "NotImplemented"},
		{"If-None-Match * on an existing key", "exists", map[string]string{"If-None-Match": "*"}, "", 412, "PreconditionFailed"},
		{"wrong x-amz-checksum-sha256", "bad-sha", map[string]string{"X-Amz-Checksum-Sha256": wrong}, "", 400, "BadDigest"},
		{"malformed x-amz-checksum-sha256", "bad-sha2", map[string]string{"X-Amz-Checksum-Sha256": "notbase64!"}, "", 400, "InvalidRequest"},
		{"wrong Content-MD5", "bad-md5", map[string]string{"Content-MD5": base64Std(make([]byte, 16))}, "", 400, "BadDigest"},
		{"wrong crc32", "bad-crc", map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, "", 400, "BadDigest"},
		{"wrong crc32c", "bad-crc32c", map[string]string{"X-Amz-Checksum-Crc32c": "AAAAAA=="}, "", 400, "BadDigest"},
		{"body does not match x-amz-content-sha256", "bad-payload", nil, strings.Repeat("ab", 32), 400, "XAmzContentSHA256Mismatch"},
		{"nonsense x-amz-content-sha256", "bad-payload2", nil, "whatever", 400, "InvalidArgument"},
		{"missing bucket", "k", nil, "", 404, "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/vault/" + tt.key
			if tt.code == "NoSuchBucket" {
				path = "/nobucket/k"
			}
			resp, b := rawRequest{method: "PUT", path: path, body: body, header: tt.header, payloadHash: tt.hash}.do(t, rn)
			wantS3Error(t, resp, b, tt.status, tt.code)
			if tt.key != "exists" && tt.code != "NoSuchBucket" {
				resp, _ := rawRequest{method: "HEAD", path: path}.do(t, rn)
				if resp.StatusCode != 404 {
					t.Errorf("after a refused put HEAD = %d, want 404: nothing may be stored", resp.StatusCode)
				}
			}
		})
	}
	// Correct checksums of every kind are accepted and echoed.
	good := map[string]string{
		"X-Amz-Checksum-Sha256": sha256b64(body),
		"Content-MD5":           base64Std(md5sum(body)),
	}
	if resp, b := (rawRequest{method: "PUT", path: "/vault/good", body: body, header: good}).do(t, rn); resp.StatusCode != 200 || resp.Header.Get("x-amz-checksum-sha256") != sha256b64(body) {
		t.Fatalf("put with correct checksums: %d %s", resp.StatusCode, b)
	}
}

func TestGetRanges(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	body := []byte("0123456789")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("r"), Body: bytes.NewReader(body), ChecksumSHA256: aws.String(sha256b64(body))}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rng, want, contentRange string
		status                  int
	}{
		{"", "0123456789", "", 200},
		{"bytes=2-4", "234", "bytes 2-4/10", 206},
		{"bytes=7-", "789", "bytes 7-9/10", 206},
		{"bytes=-3", "789", "bytes 7-9/10", 206},
		{"bytes=5-100", "56789", "bytes 5-9/10", 206},
		{"bytes=-100", "0123456789", "bytes 0-9/10", 206},
		{"bytes=10-", "", "", 416},
		{"bytes=junk", "0123456789", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			hdr := map[string]string{"X-Amz-Checksum-Mode": "ENABLED"}
			if tt.rng != "" {
				hdr["Range"] = tt.rng
			}
			resp, b := rawRequest{method: "GET", path: "/vault/r", header: hdr}.do(t, rn)
			if tt.status == 416 {
				wantS3Error(t, resp, b, 416, "InvalidRange")
				return
			}
			if resp.StatusCode != tt.status || string(b) != tt.want || resp.Header.Get("Content-Range") != tt.contentRange {
				t.Fatalf("got %d %q range %q", resp.StatusCode, b, resp.Header.Get("Content-Range"))
			}
			if sum := resp.Header.Get("x-amz-checksum-sha256"); (sum != "") != (tt.status == 200) {
				t.Errorf("x-amz-checksum-sha256 = %q: only whole-object reads carry it", sum)
			}
		})
	}
}

func TestCRC64NVMECheckValue(t *testing.T) {
	h := checksumAlgos[2].new()
	h.Write([]byte("123456789"))
	if got := h.(hash.Hash64).Sum64(); got != 0xae8b14860a799888 {
		t.Fatalf("CRC-64/NVME check value = %#x", got)
	}
}

func TestConcurrentCreateOnlyPuts(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	const n = 24
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := putArchive(ctx, c, "contended", bytes.Repeat([]byte{byte(i)}, 100<<10))
			errs <- err
		}()
		go func() {
			_, err := putArchive(ctx, c, "distinct/"+string(rune('a'+i)), []byte{byte(i)})
			errs <- err
		}()
	}
	won, lost := 0, 0
	for i := 0; i < 2*n; i++ {
		switch err := <-errs; errCode(err) {
		case "":
			won++
		case "PreconditionFailed":
			lost++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != n+1 || lost != n-1 {
		t.Fatalf("won %d lost %d: exactly one create-only put of the contended key may win", won, lost)
	}
}
