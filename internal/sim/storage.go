package sim

import (
	"io"
	"time"
)

// objectMeta is everything the simulator knows about an object except its
// bytes. In Dir mode it is stored as JSON next to the data.
type objectMeta struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // hex MD5, unquoted
	LastModified time.Time         `json:"lastModified"`
	StorageClass string            `json:"storageClass"` // never empty
	ContentType  string            `json:"contentType,omitempty"`
	Meta         map[string]string `json:"meta,omitempty"` // x-amz-meta-* without the prefix, lower case
	SHA256       string            `json:"sha256"`         // hex, always computed by the simulator
	// ChecksumAlgorithm and Checksum are the full-object checksum the client
	// sent (header or trailer), returned with x-amz-checksum-mode: ENABLED.
	ChecksumAlgorithm string        `json:"checksumAlgorithm,omitempty"`
	Checksum          string        `json:"checksum,omitempty"` // base64
	Restore           *restoreState `json:"restore,omitempty"`
	Ref               string        `json:"ref"` // blobStore handle of the bytes
}

// blobStore keeps object bytes and persists metadata. The Server keeps the
// authoritative index in memory; a blobStore only has to make it durable.
type blobStore interface {
	// load returns every bucket and object a previous run left.
	load() (map[string]map[string]*objectMeta, error)
	createBucket(bucket string) error
	// newBlob starts writing an object body of about sizeHint bytes;
	// nothing is visible until the caller stores metadata referring to the
	// finished blob.
	newBlob(sizeHint int64) (blobWriter, error)
	open(ref string) (blobReader, error)
	removeBlob(ref string)
	saveMeta(bucket string, m *objectMeta) error
	close() error
}

type blobWriter interface {
	io.Writer
	// finish makes the bytes durable and returns their ref.
	finish() (ref string, err error)
	// abort discards the bytes; safe to call after finish (it then removes
	// the finished blob).
	abort()
}

type blobReader interface {
	io.ReaderAt
	io.Closer
}
