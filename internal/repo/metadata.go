package repo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/icevault/icevault/internal/pack"
)

// Meta blob tags (see the package documentation).
var (
	snapshotTag  = []byte("ICEVSNAP")
	packIndexTag = []byte("ICEVPIDX")
)

const packIndexVersion = 1

// SnapshotRecord is a snapshot as stored in the bucket.
type SnapshotRecord struct {
	ID      string          `json:"id"`
	Time    time.Time       `json:"time"`
	Host    string          `json:"host"`
	Paths   []string        `json:"paths"`
	Tags    []string        `json:"tags"`
	Root    string          `json:"root"` // hex tree ID
	Summary json.RawMessage `json:"summary,omitempty"`
}

// EncodeSnapshot makes the meta blob for a snapshot record.
func EncodeSnapshot(s SnapshotRecord) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append(bytes.Clone(snapshotTag), b...), nil
}

// PackIndex is a copy of one data pack's index.
type PackIndex struct {
	Key     string
	Size    int64
	SHA256  [32]byte
	Entries []pack.Entry
}

// EncodePackIndex makes the meta blob for a data pack's index.
func EncodePackIndex(p PackIndex) []byte {
	b := bytes.Clone(packIndexTag)
	b = append(b, packIndexVersion)
	b = binary.AppendUvarint(b, uint64(len(p.Key)))
	b = append(b, p.Key...)
	b = binary.AppendUvarint(b, uint64(p.Size))
	b = append(b, p.SHA256[:]...)
	b = append(b, 1) // data pack
	return pack.AppendIndex(b, p.Entries)
}

// MetaBlob is a decoded meta blob: exactly one of the fields is set.
type MetaBlob struct {
	Snapshot  *SnapshotRecord
	PackIndex *PackIndex
}

// DecodeMeta parses a meta blob.
func DecodeMeta(b []byte) (MetaBlob, error) {
	switch {
	case bytes.HasPrefix(b, snapshotTag):
		var s SnapshotRecord
		if err := json.Unmarshal(b[len(snapshotTag):], &s); err != nil {
			return MetaBlob{}, fmt.Errorf("snapshot record: %w", err)
		}
		if _, err := pack.ParseID(s.Root); err != nil || s.ID == "" {
			return MetaBlob{}, fmt.Errorf("snapshot record %q: bad root %q", s.ID, s.Root)
		}
		return MetaBlob{Snapshot: &s}, nil
	case bytes.HasPrefix(b, packIndexTag):
		p, err := decodePackIndex(b[len(packIndexTag):])
		if err != nil {
			return MetaBlob{}, fmt.Errorf("pack index record: %w", err)
		}
		return MetaBlob{PackIndex: &p}, nil
	}
	return MetaBlob{}, errors.New("unknown meta blob")
}

func decodePackIndex(b []byte) (PackIndex, error) {
	var p PackIndex
	if len(b) < 1 || b[0] != packIndexVersion {
		return p, errors.New("unsupported version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1024 || uint64(len(b)-k) < n {
		return p, errors.New("bad key length")
	}
	p.Key = string(b[k : k+int(n)])
	b = b[k+int(n):]
	size, k := binary.Uvarint(b)
	if k <= 0 || size > 1<<40 {
		return p, errors.New("bad size")
	}
	p.Size = int64(size)
	b = b[k:]
	if len(b) < 33 || b[32] != 1 {
		return p, errors.New("bad checksum or kind")
	}
	copy(p.SHA256[:], b)
	entries, err := pack.ParseIndex(b[33:], pack.MaxPayloadSize)
	if err != nil {
		return p, err
	}
	p.Entries = entries
	return p, nil
}
