package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/pack"
)

// PackKind says what a pack holds.
type PackKind int

// Pack kinds.
const (
	PackData PackKind = 1 // file content blobs
	PackMeta PackKind = 2 // trees, pack indexes and the snapshot record
)

func (k PackKind) String() string {
	if k == PackMeta {
		return "meta"
	}
	return "data"
}

// PackState is where a pack stands with S3.
type PackState int

// Pack states.
const (
	Sealed   PackState = 1 // written locally; S3 has not confirmed it
	Uploaded PackState = 2 // S3 confirmed it
)

// Pack is one pack object.
type Pack struct {
	ID        int64
	Key       string
	Kind      PackKind
	State     PackState
	Size      int64
	SHA256    [32]byte
	Blobs     int
	LocalPath string // the sealed file, until uploaded
	Created   time.Time
	Uploaded  time.Time
	IndexedBy string // the metadata object that lists it
}

// ErrDuplicateBlob means a pack repeats a blob the catalog already places
// elsewhere: the engine deduplicates before packing, so this is a bug.
var ErrDuplicateBlob = errors.New("blob already in the catalog")

// AddSealedPack records a pack written locally and its blobs, in one
// transaction.
func (c *Catalog) AddSealedPack(ctx context.Context, p Pack, entries []pack.Entry) (int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO packs(key, kind, state, size, sha256, blobs, local_path, created_ns)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, p.Key, p.Kind, Sealed, p.Size, p.SHA256[:], len(entries), nullString(p.LocalPath), p.Created.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO blobs(id, pack_id, kind, compression, offset, length, raw_length) VALUES(?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.ID[:], id, e.Kind, e.Compression, e.Offset, e.Length, e.RawLength); err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return 0, fmt.Errorf("catalog: pack %s: blob %s: %w", p.Key, e.ID, ErrDuplicateBlob)
			}
			return 0, fmt.Errorf("catalog: pack %s: blob %s: %w", p.Key, e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	return id, nil
}

// MarkUploaded records that S3 confirmed the pack. Only the engine's upload
// step calls it, after a successful Put.
func (c *Catalog) MarkUploaded(ctx context.Context, id int64, at time.Time) error {
	res, err := c.db.ExecContext(ctx, `UPDATE packs SET state = ?, uploaded_ns = ?, local_path = NULL WHERE id = ? AND state = ?`,
		Uploaded, at.UnixNano(), id, Sealed)
	if err != nil {
		return fmt.Errorf("catalog: marking pack %d uploaded: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("catalog: pack %d is not a sealed pack", id)
	}
	return nil
}

// DropSealedPack forgets a sealed pack and its blobs, for when its local
// file is gone before it could be uploaded. The blobs will be packed again.
func (c *Catalog) DropSealedPack(ctx context.Context, id int64) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var state PackState
	if err := tx.QueryRowContext(ctx, "SELECT state FROM packs WHERE id = ?", id).Scan(&state); err != nil {
		return fmt.Errorf("catalog: pack %d: %w", id, err)
	}
	if state != Sealed {
		return fmt.Errorf("catalog: pack %d was uploaded; uploaded packs are never forgotten", id)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM blobs WHERE pack_id = ?", id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM packs WHERE id = ?", id); err != nil {
		return err
	}
	return tx.Commit()
}

// PackFilter selects packs; zero fields match everything.
type PackFilter struct {
	State     PackState
	Kind      PackKind
	Unindexed bool // only packs no metadata object lists yet
}

const packColumns = `id, key, kind, state, size, sha256, blobs, coalesce(local_path, ''), created_ns, coalesce(uploaded_ns, 0), coalesce(indexed_by, '')`

func scanPack(s interface{ Scan(...any) error }) (Pack, error) {
	var p Pack
	var sum []byte
	var created, uploaded int64
	if err := s.Scan(&p.ID, &p.Key, &p.Kind, &p.State, &p.Size, &sum, &p.Blobs, &p.LocalPath, &created, &uploaded, &p.IndexedBy); err != nil {
		return p, err
	}
	copy(p.SHA256[:], sum)
	p.Created = time.Unix(0, created)
	if uploaded != 0 {
		p.Uploaded = time.Unix(0, uploaded)
	}
	return p, nil
}

// Packs lists packs matching f, oldest first.
func (c *Catalog) Packs(ctx context.Context, f PackFilter) ([]Pack, error) {
	q := "SELECT " + packColumns + " FROM packs WHERE 1=1"
	var args []any
	if f.State != 0 {
		q += " AND state = ?"
		args = append(args, f.State)
	}
	if f.Kind != 0 {
		q += " AND kind = ?"
		args = append(args, f.Kind)
	}
	if f.Unindexed {
		q += " AND indexed_by IS NULL"
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: listing packs: %w", err)
	}
	defer rows.Close()
	var out []Pack
	for rows.Next() {
		p, err := scanPack(rows)
		if err != nil {
			return nil, fmt.Errorf("catalog: listing packs: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PackByID returns one pack.
func (c *Catalog) PackByID(ctx context.Context, id int64) (Pack, error) {
	p, err := scanPack(c.db.QueryRowContext(ctx, "SELECT "+packColumns+" FROM packs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("pack %d: %w", id, ErrNotFound)
	}
	return p, err
}

// PackEntries lists a pack's blobs in payload order.
func (c *Catalog) PackEntries(ctx context.Context, packID int64) ([]pack.Entry, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, kind, compression, offset, length, raw_length FROM blobs WHERE pack_id = ? ORDER BY offset`, packID)
	if err != nil {
		return nil, fmt.Errorf("catalog: pack %d entries: %w", packID, err)
	}
	defer rows.Close()
	var out []pack.Entry
	for rows.Next() {
		var e pack.Entry
		var id []byte
		if err := rows.Scan(&id, &e.Kind, &e.Compression, &e.Offset, &e.Length, &e.RawLength); err != nil {
			return nil, err
		}
		if e.ID, err = toID(id); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// BlobLocation is where a blob lives.
type BlobLocation struct {
	PackID  int64
	PackKey string
	State   PackState
	Entry   pack.Entry
}

// HasBlob reports whether the catalog places blob id in some pack.
func (c *Catalog) HasBlob(ctx context.Context, id pack.ID) (bool, error) {
	var one int
	err := c.hasBlob.QueryRowContext(ctx, id[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("catalog: looking up blob %s: %w", id, err)
	}
	return true, nil
}

// Blob locates one blob.
func (c *Catalog) Blob(ctx context.Context, id pack.ID) (BlobLocation, error) {
	l := BlobLocation{Entry: pack.Entry{ID: id}}
	err := c.db.QueryRowContext(ctx, `SELECT b.pack_id, p.key, p.state, b.kind, b.compression, b.offset, b.length, b.raw_length
		FROM blobs b JOIN packs p ON p.id = b.pack_id WHERE b.id = ?`, id[:]).
		Scan(&l.PackID, &l.PackKey, &l.State, &l.Entry.Kind, &l.Entry.Compression, &l.Entry.Offset, &l.Entry.Length, &l.Entry.RawLength)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("blob %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return l, fmt.Errorf("catalog: blob %s: %w", id, err)
	}
	return l, nil
}

// PutTree caches a tree blob's plaintext.
func (c *Catalog) PutTree(ctx context.Context, id pack.ID, data []byte) error {
	if _, err := c.db.ExecContext(ctx, "INSERT OR IGNORE INTO trees(id, data) VALUES(?, ?)", id[:], data); err != nil {
		return fmt.Errorf("catalog: caching tree %s: %w", id, err)
	}
	return nil
}

// Tree returns a cached tree blob.
func (c *Catalog) Tree(ctx context.Context, id pack.ID) ([]byte, error) {
	var data []byte
	err := c.db.QueryRowContext(ctx, "SELECT data FROM trees WHERE id = ?", id[:]).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tree %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: tree %s: %w", id, err)
	}
	return data, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// PackByKey returns the pack with an object key.
func (c *Catalog) PackByKey(ctx context.Context, key string) (Pack, error) {
	p, err := scanPack(c.db.QueryRowContext(ctx, "SELECT "+packColumns+" FROM packs WHERE key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("pack %s: %w", key, ErrNotFound)
	}
	return p, err
}
