package s3store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/icevault/icevault/internal/store"
)

// API is the part of the S3 client this package calls. Nothing that deletes,
// copies or uploads in parts is here, so nothing here can.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	RestoreObject(ctx context.Context, in *s3.RestoreObjectInput, optFns ...func(*s3.Options)) (*s3.RestoreObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Options tune a Store.
type Options struct {
	// IsLoginRequired is the credential classifier's hook: it reports whether
	// an error (typically from the credential chain) means the user must log
	// in again. Nil means only S3's own expired-token codes count.
	IsLoginRequired func(error) bool
	// ListPageSize is ListObjectsV2's max-keys; 0 means S3's maximum, 1000.
	ListPageSize int32
	// NoRestoreStatus stops List asking for RestoreStatus, for servers that
	// reject x-amz-optional-object-attributes; listings then report
	// store.RestoreUnknown.
	NoRestoreStatus bool
}

// Store is a store.Store over one S3 bucket.
type Store struct {
	api    API
	bucket string
	opts   Options
}

var _ store.Store = (*Store)(nil)

// New returns a Store for bucket.
func New(api API, bucket string, opts Options) *Store {
	return &Store{api: api, bucket: bucket, opts: opts}
}

// Bucket is the bucket this store writes to.
func (s *Store) Bucket() string { return s.bucket }

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, p store.PutRequest) (store.PutResult, error) {
	if _, err := p.Body.Seek(0, io.SeekStart); err != nil {
		return store.PutResult{}, fmt.Errorf("put %q: rewind body: %w", p.Key, err)
	}
	sum := base64.StdEncoding.EncodeToString(p.SHA256[:])
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(s.bucket),
		Key:               aws.String(p.Key),
		Body:              p.Body,
		ContentLength:     aws.Int64(p.Size),
		StorageClass:      types.StorageClassDeepArchive,
		IfNoneMatch:       aws.String("*"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(sum),
		Metadata:          p.Metadata,
	}, unsignedPayload)
	if err == nil {
		return store.PutResult{}, nil
	}
	err = s.classify("put", p.Key, err)
	if errors.Is(err, store.ErrTransient) {
		// The PUT may have landed with its answer lost, and a retry of
		// a large body can then die on the connection instead of
		// showing the 412 (Expect: 100-continue meets an early error).
		// The object itself is the word that counts.
		if info, herr := s.Head(ctx, p.Key); herr == nil && info.Size == p.Size && info.SHA256 == p.SHA256 {
			return store.PutResult{Existed: true}, nil
		}
		return store.PutResult{}, err
	}
	if !errors.Is(err, store.ErrExists) {
		return store.PutResult{}, err
	}
	// A 412 is also what a retried PUT sees when its first attempt landed
	// but the answer was lost (and what a re-run sees after a crash between
	// S3's 200 and the catalog update). The same bytes under the key are a
	// success; anything else is a real conflict.
	info, herr := s.Head(ctx, p.Key)
	if herr != nil {
		return store.PutResult{}, fmt.Errorf("%w; checking the existing object: %w", err, herr)
	}
	if info.Size == p.Size && info.SHA256 == p.SHA256 {
		return store.PutResult{Existed: true}, nil
	}
	if !info.HasSHA256() {
		return store.PutResult{}, fmt.Errorf("%w; the server did not report the existing object's SHA-256, so it cannot be confirmed as the same", err)
	}
	return store.PutResult{}, fmt.Errorf("%w; it holds different content (%d bytes)", err, info.Size)
}

// unsignedPayload stops the SDK from hashing the body for the signature
// over plain http (loopback only): the x-amz-checksum-sha256 header, which
// S3 verifies, already binds the body, and hashing a pack twice cost a
// second per GiB. Over https the SDK does this by itself.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// Head implements store.Store.
func (s *Store) Head(ctx context.Context, key string) (store.ObjectInfo, error) {
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return store.ObjectInfo{}, s.classify("head", key, err)
	}
	info := store.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		StorageClass: storageClass(string(out.StorageClass)),
		LastModified: aws.ToTime(out.LastModified),
		ETag:         aws.ToString(out.ETag),
		Metadata:     out.Metadata,
	}
	if c := aws.ToString(out.ChecksumSHA256); c != "" {
		if b, err := base64.StdEncoding.DecodeString(c); err == nil && len(b) == 32 {
			copy(info.SHA256[:], b)
		}
	}
	if info.Restore, err = ParseRestoreHeader(aws.ToString(out.Restore)); err != nil {
		return info, &store.Error{Op: "head", Key: key, Kind: store.KindPermanent, Err: err}
	}
	if info.Restore.State == store.RestoreUnknown {
		info.Restore.State = store.RestoreNone
	}
	return info, nil
}

// List implements store.Store. Listing works on archived objects and, on AWS,
// reports each object's restore status too, so one LIST polls up to a
// thousand thaws.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	return func(yield func(store.ObjectInfo, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
		if s.opts.ListPageSize > 0 {
			in.MaxKeys = aws.Int32(s.opts.ListPageSize)
		}
		if !s.opts.NoRestoreStatus {
			in.OptionalObjectAttributes = []types.OptionalObjectAttributes{types.OptionalObjectAttributesRestoreStatus}
		}
		pages := s3.NewListObjectsV2Paginator(s.api, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(store.ObjectInfo{}, s.classify("list", prefix, err))
				return
			}
			for _, o := range page.Contents {
				info := store.ObjectInfo{
					Key:          aws.ToString(o.Key),
					Size:         aws.ToInt64(o.Size),
					StorageClass: storageClass(string(o.StorageClass)),
					LastModified: aws.ToTime(o.LastModified),
					ETag:         aws.ToString(o.ETag),
				}
				info.Restore = listRestore(o.RestoreStatus, info.StorageClass, s.opts.NoRestoreStatus)
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

func listRestore(rs *types.RestoreStatus, class string, notAsked bool) store.Restore {
	switch {
	case rs != nil && aws.ToBool(rs.IsRestoreInProgress):
		return store.Restore{State: store.RestoreInProgress}
	case rs != nil && rs.RestoreExpiryDate != nil:
		return store.Restore{State: store.RestoreDone, Expiry: *rs.RestoreExpiryDate}
	case notAsked || !isArchived(class):
		return store.Restore{State: store.RestoreUnknown}
	default:
		// S3 reports RestoreStatus only for objects with a restore
		// requested; an archived object without one is simply archived.
		return store.Restore{State: store.RestoreNone}
	}
}

// RequestRestore implements store.Store.
func (s *Store) RequestRestore(ctx context.Context, key string, days int, tier store.Tier) (store.RestoreResult, error) {
	if tier != store.TierStandard && tier != store.TierBulk {
		return 0, &store.Error{Op: "restore", Key: key, Kind: store.KindPermanent,
			Err: fmt.Errorf("tier %q is not available for Deep Archive: use Standard (≤ 12 h) or Bulk (≤ 48 h)", tier)}
	}
	if days < 1 {
		return 0, &store.Error{Op: "restore", Key: key, Kind: store.KindPermanent,
			Err: fmt.Errorf("a restored copy must be kept at least 1 day, not %d", days)}
	}
	out, err := s.api.RestoreObject(ctx, &s3.RestoreObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
		RestoreRequest: &types.RestoreRequest{
			Days:                 aws.Int32(int32(days)),
			GlacierJobParameters: &types.GlacierJobParameters{Tier: types.Tier(tier)},
		},
	})
	if err != nil {
		switch code, _ := errorCode(err); code {
		case "RestoreAlreadyInProgress":
			return store.RestoreAlreadyOngoing, nil
		case "InvalidObjectState":
			return 0, &store.Error{Op: "restore", Key: key, Kind: store.KindPermanent, Code: code,
				Err: store.ErrNotArchived}
		}
		return 0, s.classify("restore", key, err)
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && raw.StatusCode == http.StatusOK {
		return store.RestoreAlreadyRestored, nil
	}
	return store.RestoreRequested, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string, r *store.Range) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if r != nil {
		if r.Offset < 0 || r.Length <= 0 {
			return nil, &store.Error{Op: "get", Key: key, Kind: store.KindPermanent,
				Err: fmt.Errorf("invalid range: %d bytes at offset %d", r.Length, r.Offset)}
		}
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1))
	} else {
		// Whole-object reads are checked against the stored SHA-256 by the
		// SDK as the body streams.
		in.ChecksumMode = types.ChecksumModeEnabled
	}
	out, err := s.api.GetObject(ctx, in)
	if err == nil {
		return out.Body, nil
	}
	err = s.classify("get", key, err)
	if errors.Is(err, store.ErrArchived) {
		// S3 answers the same 403 whether a thaw is under way or not; one
		// HEAD (a fraction of a cent per thousand) tells which.
		if info, herr := s.Head(ctx, key); herr == nil && info.Restore.State == store.RestoreInProgress {
			var se *store.Error
			if errors.As(err, &se) {
				se.Kind = store.KindRestoreInProgress
			}
		}
	}
	return nil, err
}

func storageClass(c string) string {
	if c == "" {
		return "STANDARD"
	}
	return c
}

func isArchived(class string) bool { return class == "DEEP_ARCHIVE" || class == "GLACIER" }
