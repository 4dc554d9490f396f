// Package store is icevault's view of the bucket: create-only DEEP_ARCHIVE
// writes, heads, listings, restore requests and reads, with every failure
// translated into one of a few kinds the engine can act on.
//
// The types here are shared by the S3 implementation (package s3store), the
// conformance suite every implementation must pass (package storetest) and the
// engine. Consumers declare the smaller interfaces they actually call.
package store

import (
	"context"
	"io"
	"iter"
	"time"
)

// StorageClass is the only storage class icevault ever writes (DESIGN §2.1).
const StorageClass = "DEEP_ARCHIVE"

// Store is the full set of bucket operations icevault uses. There is no
// delete, copy or multipart upload, on purpose: the least-privilege policy
// does not allow them and a stolen credential must not be able to destroy
// history.
type Store interface {
	// Put uploads one object with a single create-only PutObject to
	// DEEP_ARCHIVE, carrying the body's SHA-256. If the key already holds an
	// object with the same size and SHA-256 (an earlier attempt that landed),
	// Put succeeds and reports Existed; any other existing object is ErrExists.
	Put(ctx context.Context, p PutRequest) (PutResult, error)
	// Head describes one object without reading its body; it works on
	// archived objects.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List yields every object under prefix in key order.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// RequestRestore asks S3 to thaw an archived object for days days.
	RequestRestore(ctx context.Context, key string, days int, tier Tier) (RestoreResult, error)
	// Get reads an object (or the byte range r, if r is not nil). An archived
	// object that is not restored yields ErrArchived or ErrRestoreInProgress.
	Get(ctx context.Context, key string, r *Range) (io.ReadCloser, error)
}

// PutRequest is one object to create.
type PutRequest struct {
	Key      string
	Body     io.ReadSeeker // read from its start; seekable so a retry can rewind it
	Size     int64
	SHA256   [32]byte          // of the body; S3 verifies it (BadDigest otherwise)
	Metadata map[string]string // user metadata, x-amz-meta-*; lower-case keys
}

// PutResult says how a Put succeeded.
type PutResult struct {
	// Existed is true when the object was already there with the same size
	// and checksum, so nothing new was created.
	Existed bool
}

// Range is a byte range of an object: Length bytes from Offset.
type Range struct {
	Offset int64
	Length int64
}

// Tier is a Deep Archive retrieval tier. Expedited does not exist for Deep
// Archive.
type Tier string

// Retrieval tiers.
const (
	TierStandard Tier = "Standard" // ready within 12 hours
	TierBulk     Tier = "Bulk"     // ready within 48 hours
)

// RestoreResult is what S3 answered to a restore request.
type RestoreResult int

// Restore request outcomes.
const (
	RestoreRequested       RestoreResult = iota + 1 // 202: the thaw has started
	RestoreAlreadyOngoing                           // 409 RestoreAlreadyInProgress
	RestoreAlreadyRestored                          // 200: a restored copy exists; its expiry was reset
)

func (r RestoreResult) String() string {
	switch r {
	case RestoreRequested:
		return "requested"
	case RestoreAlreadyOngoing:
		return "already in progress"
	case RestoreAlreadyRestored:
		return "already restored"
	}
	return "unknown"
}

// RestoreState is where an archived object stands.
type RestoreState int

// Restore states, as x-amz-restore or ListObjectsV2's RestoreStatus tell them.
const (
	RestoreUnknown    RestoreState = iota // the listing did not say (server without RestoreStatus)
	RestoreNone                           // archived, no restore requested
	RestoreInProgress                     // thawing
	RestoreDone                           // a readable copy exists until Restore.Expiry
)

func (s RestoreState) String() string {
	switch s {
	case RestoreNone:
		return "archived"
	case RestoreInProgress:
		return "thawing"
	case RestoreDone:
		return "restored"
	}
	return "unknown"
}

// Restore is an object's restore state and, once restored, when the copy
// expires.
type Restore struct {
	State  RestoreState
	Expiry time.Time // zero unless State is RestoreDone
}

// ObjectInfo describes one object.
type ObjectInfo struct {
	Key          string
	Size         int64
	StorageClass string
	LastModified time.Time
	ETag         string
	// SHA256 is the object's full-object SHA-256 when the server reported it
	// (Head with checksum mode); zero otherwise, and always zero in listings.
	SHA256   [32]byte
	Metadata map[string]string // Head only
	Restore  Restore
}

// HasSHA256 reports whether SHA256 was reported.
func (o ObjectInfo) HasSHA256() bool { return o.SHA256 != [32]byte{} }
