package s3store_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/store/storetest"
	"github.com/icevault/icevault/internal/testenv"
)

func newStores(t *testing.T, endpoint, bucket, key, secret string, opts s3store.Options) (*s3store.Store, *s3store.Store) {
	t.Helper()
	client, err := s3store.NewClient(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
	}, s3store.ClientOptions{Endpoint: endpoint, MaxAttempts: 3, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	paged := opts
	paged.ListPageSize = 2
	return s3store.New(client, bucket, opts), s3store.New(client, bucket, paged)
}

// TestConformanceSimulator runs the suite against the Deep Archive simulator
// with a fake clock, then reads the simulator's request log to prove the
// store sent nothing but create-only DEEP_ARCHIVE puts with a checksum, and
// never a delete, a copy or a multipart upload (DESIGN §2.1).
func TestConformanceSimulator(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	srv, err := sim.Start(sim.Options{Clock: clk, Buckets: []string{"conformance"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, paged := newStores(t, srv.URL, "conformance", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})
	storetest.Run(t, storetest.Harness{
		Store:              s,
		PagedStore:         paged,
		Thaw:               func(*testing.T) { clk.Advance(48*time.Hour + time.Minute) },
		Now:                clk.Now,
		ListsRestoreStatus: true,
		ReportsChecksum:    true,
		VerifiesChecksum:   true,
	})

	puts := 0
	for _, r := range srv.Requests() {
		switch r.Op {
		case "PutObject":
			puts++
			if r.StorageClass != "DEEP_ARCHIVE" || r.IfNoneMatch != "*" || r.ChecksumSHA256 == "" {
				t.Errorf("PutObject %q sent storage class %q, If-None-Match %q, checksum %q", r.Key, r.StorageClass, r.IfNoneMatch, r.ChecksumSHA256)
			}
		case "HeadObject", "GetObject", "ListObjectsV2", "RestoreObject":
		default:
			t.Errorf("the store sent %s %q; it may only put, head, get, list and restore", r.Op, r.Key)
		}
	}
	if puts < 20 {
		t.Fatalf("the request log holds only %d PutObjects; the suite makes more, so the log is not recording", puts)
	}
}

// TestConformanceMoto runs the same suite against moto, an independent S3
// emulator. moto completes restores at once and never answers 409, so the
// thawing states are checked against the simulator only.
func TestConformanceMoto(t *testing.T) {
	m := testenv.Moto(t)
	m.CreateBucket(t, "conformance")
	s, paged := newStores(t, m.URL, "conformance", m.AccessKey, m.SecretKey, s3store.Options{})
	storetest.Run(t, storetest.Harness{
		Store:              s,
		PagedStore:         paged,
		ListsRestoreStatus: false, // moto ignores x-amz-optional-object-attributes
		ReportsChecksum:    true,
		VerifiesChecksum:   false, // moto stores a body whose checksum is wrong
	})
}

func TestPutSurvivesTransientFaults(t *testing.T) {
	srv, err := sim.Start(sim.Options{Buckets: []string{"faults"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, _ := newStores(t, srv.URL, "faults", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})
	remove := srv.InjectFault(sim.Fault{Op: "PutObject", Status: 503, Code: "SlowDown", Times: 2})
	defer remove()
	o := storetest.NewObject("k", 100)
	storetest.Put(t, s, o)
	if got := srv.Counts()["PutObject"]; got != 3 {
		t.Fatalf("PutObject sent %d times, want 3 (two throttled, one accepted)", got)
	}
}

// TestPutAfterLostResponse is the crash-safety case of DESIGN §2.5: S3
// stored the object but the answer never arrived. The SDK retries, S3 says
// 412, and the store must recognise its own bytes (same size and SHA-256)
// as success instead of failing the upload or writing anything twice.
func TestPutAfterLostResponse(t *testing.T) {
	srv, err := sim.Start(sim.Options{Buckets: []string{"faults"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s, _ := newStores(t, srv.URL, "faults", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})
	srv.InjectFault(sim.Fault{Op: "PutObject", LoseResponse: true, Times: 1})
	o := storetest.NewObject("landed-but-unconfirmed", 2048)
	res, err := s.Put(t.Context(), o.Request())
	if err != nil || !res.Existed {
		t.Fatalf("Put after a lost response = %+v, %v; want success with Existed", res, err)
	}
	var codes []string
	for _, r := range srv.Requests() {
		codes = append(codes, fmt.Sprintf("%s %d %s", r.Op, r.Status, r.Code))
	}
	want := []string{"PutObject 0 ResponseLost", "PutObject 412 PreconditionFailed", "HeadObject 200 "}
	if !slices.Equal(codes, want) {
		t.Fatalf("requests = %q, want %q", codes, want)
	}

	// A different object under the same key is still a conflict.
	other := storetest.NewObject(o.Key, 2048)
	if _, err := s.Put(t.Context(), other.Request()); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Put of other bytes over it = %v, want ErrExists", err)
	}
}

// TestClassifiedFailures checks what the store makes of a server that
// refuses, throttles without end, or is not there at all.
func TestClassifiedFailures(t *testing.T) {
	srv, err := sim.Start(sim.Options{Buckets: []string{"faults"}, EnforcePolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := t.Context()
	s, _ := newStores(t, srv.URL, "faults", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})
	wrongSecret, _ := newStores(t, srv.URL, "faults", sim.DefaultAccessKey, "not-the-secret", s3store.Options{})
	wrongKey, _ := newStores(t, srv.URL, "faults", "AKIANOSUCHKEY0000000", "x", s3store.Options{})
	noBucket, _ := newStores(t, srv.URL, "no-such-bucket", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})

	o := storetest.NewObject("k", 10)
	for _, c := range []struct {
		name string
		err  func() error
		want store.Kind
		msg  string
	}{
		{"wrong secret", func() error { _, err := wrongSecret.Put(ctx, o.Request()); return err }, store.KindLoginRequired, "icevault keys set"},
		// (Through HEAD, which has no response body, S3 reports a bad key as
		// a bare 403; only calls with a body carry InvalidAccessKeyId.)
		{"unknown key", func() error { _, err := wrongKey.Put(ctx, o.Request()); return err }, store.KindLoginRequired, "icevault login"},
		{"missing bucket", func() error { _, err := noBucket.Put(ctx, o.Request()); return err }, store.KindNotFound, "does not exist"},
		{"denied by policy", func() error {
			remove := srv.InjectFault(sim.Fault{Op: "PutObject", Status: 403, Code: "AccessDenied"})
			defer remove()
			_, err := s.Put(ctx, o.Request())
			return err
		}, store.KindAccessDenied, "icevault policy"},
		{"throttled past the retries", func() error {
			remove := srv.InjectFault(sim.Fault{Op: "HeadObject", Status: 503, Code: "SlowDown"})
			defer remove()
			_, err := s.Head(ctx, "k")
			return err
		}, store.KindTransient, ""},
		{"connection reset every time", func() error {
			remove := srv.InjectFault(sim.Fault{Op: "ListObjectsV2", Reset: true})
			defer remove()
			for _, err := range s.List(ctx, "") {
				return err
			}
			return nil
		}, store.KindTransient, ""},
	} {
		err := c.err()
		if store.KindOf(err) != c.want || !strings.Contains(fmt.Sprint(err), c.msg) {
			t.Errorf("%s: %v (kind %s); want kind %s mentioning %q", c.name, err, store.KindOf(err), c.want, c.msg)
		}
	}

	// Nothing listening at all.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	down, _ := newStores(t, dead, "faults", sim.DefaultAccessKey, sim.DefaultSecretKey, s3store.Options{})
	if _, err := down.Head(ctx, "k"); store.KindOf(err) != store.KindTransient {
		t.Errorf("unreachable endpoint: %v (kind %s), want transient", err, store.KindOf(err))
	}
}
