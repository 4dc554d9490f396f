package sim

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/icevault/icevault/internal/clock"
)

// t0 is 10:30 UTC, so expiry rounding is visible.
var t0 = time.Date(2030, 10, 15, 10, 30, 0, 0, time.UTC)

func restoreInput(key string, days int32, tier types.Tier) *s3.RestoreObjectInput {
	in := &s3.RestoreObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), RestoreRequest: &types.RestoreRequest{Days: aws.Int32(days)}}
	if tier != "" {
		in.RestoreRequest.GlacierJobParameters = &types.GlacierJobParameters{Tier: tier}
	}
	return in
}

// restoreStatus performs RestoreObject and returns the HTTP status or the
// error code.
func restoreStatus(t *testing.T, c *s3.Client, in *s3.RestoreObjectInput) string {
	t.Helper()
	var status int
	_, err := c.RestoreObject(context.Background(), in, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, captureStatus(&status))
	})
	if err != nil {
		return errCode(err)
	}
	return http.StatusText(status)
}

func TestRestoreLifecycle(t *testing.T) {
	tests := []struct {
		name   string
		tier   types.Tier
		thaw   time.Duration
		days   int32
		expiry time.Time // of the first restore, per the documented rule
	}{
		{"standard 3 days", types.TierStandard, 12 * time.Hour, 3, time.Date(2030, 10, 19, 0, 0, 0, 0, time.UTC)},
		{"default tier is standard", "", 12 * time.Hour, 3, time.Date(2030, 10, 19, 0, 0, 0, 0, time.UTC)},
		{"bulk 7 days", types.TierBulk, 48 * time.Hour, 7, time.Date(2030, 10, 23, 0, 0, 0, 0, time.UTC)},
		// Counting from the request would expire the copy on Oct 17 00:00,
		// before a 48 h thaw ends; the simulator counts from completion then.
		{"bulk 1 day", types.TierBulk, 48 * time.Hour, 1, time.Date(2030, 10, 19, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fc := clock.NewFake(t0)
			rn := start(t, Options{Clock: fc})
			c := defaultClient(rn)
			body := []byte("thaw me")
			if _, err := putArchive(ctx, c, "k", body); err != nil {
				t.Fatal(err)
			}
			head := func() *string {
				t.Helper()
				h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
				if err != nil {
					t.Fatalf("HeadObject: %v", err)
				}
				return h.Restore
			}
			get := func() string {
				t.Helper()
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
				if err != nil {
					return errCode(err)
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				return string(b)
			}

			if r := head(); r != nil {
				t.Fatalf("x-amz-restore before any restore: %q", *r)
			}
			if got := restoreStatus(t, c, restoreInput("k", tt.days, tt.tier)); got != "Accepted" {
				t.Fatalf("first restore: %s, want 202 Accepted", got)
			}
			if r := head(); aws.ToString(r) != `ongoing-request="true"` {
				t.Fatalf("x-amz-restore while thawing: %v", aws.ToString(r))
			}
			if got := restoreStatus(t, c, restoreInput("k", tt.days, tt.tier)); got != "RestoreAlreadyInProgress" {
				t.Fatalf("restore while thawing: %s, want 409 RestoreAlreadyInProgress", got)
			}
			if got := get(); got != "InvalidObjectState" {
				t.Fatalf("GET while thawing: %s", got)
			}
			fc.Advance(tt.thaw - time.Second)
			if got := get(); got != "InvalidObjectState" {
				t.Fatalf("GET a second before the thaw ends: %s", got)
			}
			fc.Advance(time.Second)
			want := `ongoing-request="false", expiry-date="` + tt.expiry.Format(http.TimeFormat) + `"`
			if r := head(); aws.ToString(r) != want {
				t.Fatalf("x-amz-restore when restored: %s, want %s", aws.ToString(r), want)
			}
			if got := get(); got != string(body) {
				t.Fatalf("GET when restored: %s", got)
			}

			// Extending: 200, expiry = now + Days rounded to midnight.
			if got := restoreStatus(t, c, restoreInput("k", 10, tt.tier)); got != "OK" {
				t.Fatalf("restore of a restored object: %s, want 200 OK", got)
			}
			extended := nextMidnightUTC(fc.Now().Add(10 * 24 * time.Hour))
			if r := head(); aws.ToString(r) != `ongoing-request="false", expiry-date="`+extended.Format(http.TimeFormat)+`"` {
				t.Fatalf("x-amz-restore after extension: %s", aws.ToString(r))
			}
			fc.Set(extended.Add(-time.Second))
			if got := get(); got != string(body) {
				t.Fatalf("GET just before expiry: %s", got)
			}
			fc.Set(extended)
			if got := get(); got != "InvalidObjectState" {
				t.Fatalf("GET after expiry: %s", got)
			}
			if r := head(); r != nil {
				t.Fatalf("x-amz-restore after expiry: %q", *r)
			}
			if got := restoreStatus(t, c, restoreInput("k", 1, tt.tier)); got != "Accepted" {
				t.Fatalf("restore after expiry: %s, want 202 again", got)
			}
		})
	}
}

func TestRestoreErrors(t *testing.T) {
	rn := start(t, Options{Clock: clock.NewFake(t0)})
	for _, p := range []struct{ key, class string }{{"std", ""}, {"deep", "DEEP_ARCHIVE"}, {"glacier", "GLACIER"}} {
		hdr := map[string]string{}
		if p.class != "" {
			hdr["X-Amz-Storage-Class"] = p.class
		}
		if resp, b := (rawRequest{method: "PUT", path: "/vault/" + p.key, body: []byte("x"), header: hdr}).do(t, rn); resp.StatusCode != 200 {
			t.Fatalf("setup: %s", b)
		}
	}
	xmlBody := func(days, tier string) []byte {
		s := `<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + days
		if tier != "" {
			s += `<GlacierJobParameters><Tier>` + tier + `</Tier></GlacierJobParameters>`
		}
		return []byte(s + `</RestoreRequest>`)
	}
	tests := []struct {
		name, path string
		body       []byte
		status     int
		code       string
	}{
		{"standard object", "/vault/std?restore", xmlBody("<Days>1</Days>", ""), 403, "InvalidObjectState"},
		{"expedited on deep archive", "/vault/deep?restore", xmlBody("<Days>1</Days>", "Expedited"), 400, "InvalidArgument"},
		{"days missing", "/vault/deep?restore", xmlBody("", "Bulk"), 400, "MalformedXML"},
		{"days zero", "/vault/deep?restore", xmlBody("<Days>0</Days>", ""), 400, "InvalidArgument"},
		{"unknown tier", "/vault/deep?restore", xmlBody("<Days>1</Days>", "Instant"), 400, "MalformedXML"},
		{"not xml", "/vault/deep?restore", []byte("days=1"), 400, "MalformedXML"},
		{"missing key", "/vault/nope?restore", xmlBody("<Days>1</Days>", ""), 404, "NoSuchKey"},
		{"missing bucket", "/nobucket/deep?restore", xmlBody("<Days>1</Days>", ""), 404, "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := rawRequest{method: "POST", path: tt.path, body: tt.body}.do(t, rn)
			wantS3Error(t, resp, b, tt.status, tt.code)
		})
	}
	// GLACIER (Flexible Retrieval) does have Expedited.
	if resp, b := (rawRequest{method: "POST", path: "/vault/glacier?restore", body: xmlBody("<Days>1</Days>", "Expedited")}).do(t, rn); resp.StatusCode != 202 {
		t.Fatalf("expedited on GLACIER: %d %s", resp.StatusCode, b)
	}
}

func TestExpiryRuleMatchesUserGuideExample(t *testing.T) {
	// S3 User Guide, "Restoring an archived object": restored Oct 15, 2012
	// 10:30 AM UTC for 3 days is available until Oct 19, 2012 00:00 UTC;
	// changed on Oct 16 11:00 to 1 day, until Oct 18 00:00 UTC.
	if got := expiryAfter(time.Date(2012, 10, 15, 10, 30, 0, 0, time.UTC), 3); !got.Equal(time.Date(2012, 10, 19, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("3 days from Oct 15 10:30 = %v", got)
	}
	if got := expiryAfter(time.Date(2012, 10, 16, 11, 0, 0, 0, time.UTC), 1); !got.Equal(time.Date(2012, 10, 18, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("1 day from Oct 16 11:00 = %v", got)
	}
}
