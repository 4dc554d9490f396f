package s3store_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithy "github.com/aws/smithy-go"

	"github.com/icevault/icevault/internal/sim"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
	"github.com/icevault/icevault/internal/testenv"
)

// restoreNotArchived puts a STANDARD object with the raw SDK (the store can
// only write DEEP_ARCHIVE), then asks the real store to restore it: the
// answer must be store.ErrNotArchived, permanent, in one line that says to
// read the object directly — and reading it directly must work.
func restoreNotArchived(t *testing.T, endpoint, bucket, key, secret string) {
	t.Helper()
	ctx := t.Context()
	client, err := s3store.NewClient(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
	}, s3store.ClientOptions{Endpoint: endpoint, MaxAttempts: 2, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("a STANDARD object, readable at once")
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain/standard"),
		Body: bytes.NewReader(body), StorageClass: types.StorageClassStandard}); err != nil {
		t.Fatalf("raw STANDARD PutObject: %v", err)
	}
	s := s3store.New(client, bucket, s3store.Options{})

	info, err := s.Head(ctx, "plain/standard")
	if err != nil || (info.StorageClass != "" && info.StorageClass != "STANDARD") || info.Restore.State == store.RestoreInProgress {
		t.Fatalf("Head = %+v, %v; want a STANDARD object with no restore", info, err)
	}

	_, err = s.RequestRestore(ctx, "plain/standard", 3, store.TierBulk)
	if !errors.Is(err, store.ErrNotArchived) || store.KindOf(err) != store.KindPermanent {
		t.Fatalf("RequestRestore of a STANDARD object = %v (kind %s); want store.ErrNotArchived, permanent", err, store.KindOf(err))
	}
	var se *store.Error
	if !errors.As(err, &se) || se.Op != "restore" || se.Key != "plain/standard" || se.Code != "InvalidObjectState" {
		t.Errorf("error %#v: want op restore, the key, code InvalidObjectState", se)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, `"plain/standard"`) || !strings.Contains(msg, "not archived") ||
		!strings.Contains(msg, "read it directly") {
		t.Errorf("message %q: want one line naming the key, saying it is not archived and what to do", msg)
	}
	t.Logf("RequestRestore: %v", err)

	rc, err := s.Get(ctx, "plain/standard", nil)
	if err != nil {
		t.Fatalf("Get of the STANDARD object: %v", err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Get read %q, %v", got, err)
	}
}

// TestRestoreOfNonArchivedObjectSimulator: outside policy mode the
// simulator stores any valid storage class, so it holds a STANDARD object
// and answers its restore as S3 does (403 InvalidObjectState). In policy
// mode the same put is refused, as the seed's bucket policy would.
func TestRestoreOfNonArchivedObjectSimulator(t *testing.T) {
	srv, err := sim.Start(sim.Options{Buckets: []string{"mixed"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	restoreNotArchived(t, srv.URL, "mixed", sim.DefaultAccessKey, sim.DefaultSecretKey)
	var restores []string
	for _, r := range srv.Requests() {
		if r.Op == "RestoreObject" {
			restores = append(restores, r.Key+" "+r.Code)
		}
	}
	if len(restores) != 1 || restores[0] != "plain/standard InvalidObjectState" {
		t.Errorf("simulator restore log %q, want one InvalidObjectState", restores)
	}

	policy, err := sim.Start(sim.Options{Buckets: []string{"mixed"}, EnforcePolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { policy.Close() })
	client, err := s3store.NewClient(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sim.DefaultAccessKey, sim.DefaultSecretKey, "")},
		s3store.ClientOptions{Endpoint: policy.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("mixed"), Key: aws.String("k"),
		Body: strings.NewReader("x"), StorageClass: types.StorageClassStandard})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("STANDARD put in policy mode: %v, want access denied", err)
	}
}

// TestRestoreOfNonArchivedObjectMoto: moto answers the same.
func TestRestoreOfNonArchivedObjectMoto(t *testing.T) {
	m := testenv.Moto(t)
	m.CreateBucket(t, "mixed")
	restoreNotArchived(t, m.URL, "mixed", m.AccessKey, m.SecretKey)
}
