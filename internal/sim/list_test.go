package sim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/icevault/icevault/internal/clock"
)

func TestListObjectsV2Paging(t *testing.T) {
	ctx := context.Background()
	rn := start(t, Options{})
	c := defaultClient(rn)
	keys := []string{"a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d d/1", "e"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k), Body: strings.NewReader(k), StorageClass: types.StorageClassDeepArchive}); err != nil {
			t.Fatal(err)
		}
	}
	// listAll pages with the SDK paginator and flattens keys and prefixes.
	listAll := func(in *s3.ListObjectsV2Input) []string {
		t.Helper()
		var got []string
		p := s3.NewListObjectsV2Paginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListObjectsV2: %v", err)
			}
			if int(aws.ToInt32(page.KeyCount)) != len(page.Contents)+len(page.CommonPrefixes) {
				t.Errorf("KeyCount %d for %d entries", aws.ToInt32(page.KeyCount), len(page.Contents)+len(page.CommonPrefixes))
			}
			for _, o := range page.Contents {
				if o.StorageClass != types.ObjectStorageClassDeepArchive {
					t.Errorf("%s: StorageClass %q", aws.ToString(o.Key), o.StorageClass)
				}
				got = append(got, aws.ToString(o.Key))
			}
			for _, cp := range page.CommonPrefixes {
				got = append(got, "CP:"+aws.ToString(cp.Prefix))
			}
		}
		slices.Sort(got)
		return got
	}
	tests := []struct {
		name string
		in   s3.ListObjectsV2Input
		want []string
	}{
		{"all", s3.ListObjectsV2Input{}, keys},
		{"pages of 3", s3.ListObjectsV2Input{MaxKeys: aws.Int32(3)}, keys},
		{"pages of 1", s3.ListObjectsV2Input{MaxKeys: aws.Int32(1)}, keys},
		{"prefix", s3.ListObjectsV2Input{Prefix: aws.String("a/")}, []string{"a/1", "a/2", "a/b/3"}},
		{"prefix with space", s3.ListObjectsV2Input{Prefix: aws.String("d d")}, []string{"d d/1"}},
		{"delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"CP:a/", "CP:c/", "CP:d d/", "b", "e"}},
		{"delimiter, pages of 1", s3.ListObjectsV2Input{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1)}, []string{"CP:a/", "CP:c/", "CP:d d/", "b", "e"}},
		{"prefix and delimiter", s3.ListObjectsV2Input{Prefix: aws.String("a/"), Delimiter: aws.String("/")}, []string{"CP:a/b/", "a/1", "a/2"}},
		{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("c/1")}, []string{"c/2", "d d/1", "e"}},
		{"url encoding", s3.ListObjectsV2Input{EncodingType: types.EncodingTypeUrl, Prefix: aws.String("d d")}, []string{"d+d/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Bucket = aws.String(testBucket)
			if got := listAll(&in); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nobucket")})
	if errCode(err) != "NoSuchBucket" {
		t.Errorf("listing a missing bucket: %v", err)
	}
}

func TestListRestoreStatusOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	fc := clock.NewFake(t0)
	rn := start(t, Options{Clock: fc})
	c := defaultClient(rn)
	for _, k := range []string{"restoring", "restored", "untouched"} {
		if _, err := putArchive(ctx, c, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.RestoreObject(ctx, restoreInput("restored", 2, "")); err != nil {
		t.Fatal(err)
	}
	fc.Advance(12 * time.Hour)
	if _, err := c.RestoreObject(ctx, restoreInput("restoring", 2, types.TierBulk)); err != nil {
		t.Fatal(err)
	}
	list := func(attrs []types.OptionalObjectAttributes) map[string]*types.RestoreStatus {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), OptionalObjectAttributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*types.RestoreStatus{}
		for _, o := range out.Contents {
			m[aws.ToString(o.Key)] = o.RestoreStatus
		}
		return m
	}
	for k, rs := range list(nil) {
		if rs != nil {
			t.Errorf("%s: RestoreStatus without the header: %+v", k, rs)
		}
	}
	got := list([]types.OptionalObjectAttributes{types.OptionalObjectAttributesRestoreStatus})
	if rs := got["restoring"]; rs == nil || !aws.ToBool(rs.IsRestoreInProgress) || rs.RestoreExpiryDate != nil {
		t.Errorf("restoring: %+v", rs)
	}
	wantExpiry := time.Date(2030, 10, 18, 0, 0, 0, 0, time.UTC)
	if rs := got["restored"]; rs == nil || aws.ToBool(rs.IsRestoreInProgress) || !aws.ToTime(rs.RestoreExpiryDate).Equal(wantExpiry) {
		t.Errorf("restored: %+v", rs)
	}
	if rs := got["untouched"]; rs != nil {
		t.Errorf("untouched: %+v", rs)
	}
}

func TestListV1BucketOpsAndRawEncoding(t *testing.T) {
	rn := start(t, Options{Region: "eu-central-1"})
	for i := 0; i < 5; i++ {
		path := fmt.Sprintf("/vault/k%d%%20x", i)
		if resp, b := (rawRequest{method: "PUT", path: path, body: []byte("x"), region: "eu-central-1"}).do(t, rn); resp.StatusCode != 200 {
			t.Fatalf("put: %s", b)
		}
	}
	resp, b := rawRequest{method: "GET", path: "/vault?max-keys=2&marker=k1%20x", region: "eu-central-1"}.do(t, rn)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<Key>k2 x</Key><") || !strings.Contains(string(b), "<IsTruncated>true</IsTruncated>") || strings.Contains(string(b), "<Key>k1 x</Key>") {
		t.Errorf("ListObjects v1: %s", b)
	}
	if lastRequest(t, rn.Server, "ListObjects").Status != 200 {
		t.Errorf("ListObjects not logged")
	}
	resp, b = rawRequest{method: "GET", path: "/vault?list-type=2&encoding-type=url&prefix=k0", region: "eu-central-1"}.do(t, rn)
	if !strings.Contains(string(b), "<Key>k0+x</Key>") || !strings.Contains(string(b), "<EncodingType>url</EncodingType>") {
		t.Errorf("encoding-type=url: %s", b)
	}
	resp, b = rawRequest{method: "GET", path: "/vault?location", region: "eu-central-1"}.do(t, rn)
	if resp.StatusCode != 200 || !strings.Contains(string(b), ">eu-central-1</LocationConstraint>") {
		t.Errorf("GetBucketLocation: %s", b)
	}
	resp, _ = rawRequest{method: "HEAD", path: "/vault", region: "eu-central-1"}.do(t, rn)
	if resp.StatusCode != 200 || resp.Header.Get("x-amz-bucket-region") != "eu-central-1" {
		t.Errorf("HeadBucket: %d", resp.StatusCode)
	}
	resp, b = rawRequest{method: "HEAD", path: "/nobucket", region: "eu-central-1"}.do(t, rn)
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Errorf("HeadBucket on a missing bucket: %d %q", resp.StatusCode, b)
	}
	// us-east-1 answers an empty LocationConstraint.
	rn2 := start(t, Options{})
	_, err := defaultClient(rn2).GetBucketLocation(context.Background(), &s3.GetBucketLocationInput{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Errorf("GetBucketLocation via SDK: %v", err)
	}
	if _, b := (rawRequest{method: "GET", path: "/vault?location"}).do(t, rn2); !strings.Contains(string(b), `"></LocationConstraint>`) {
		t.Errorf("us-east-1 location: %s", b)
	}
}
