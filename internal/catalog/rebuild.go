package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/icevault/icevault/internal/pack"
)

// This file holds what a rebuild of the catalog from the bucket (package
// recovery) needs: adding packs S3 already holds, snapshots read back from
// their records, and row counts. None of it replaces or deletes a row.

// ErrPackExists is AddUploadedPack's refusal to overwrite a pack the catalog
// already records.
var ErrPackExists = errors.New("pack already in the catalog")

// Stats counts the rows of the catalog's tables.
type Stats struct {
	Settings       int64
	Packs          int64
	DataPacks      int64
	MetaPacks      int64
	SealedPacks    int64
	Blobs          int64
	Trees          int64
	Snapshots      int64
	Files          int64 // the file-change cache, current and staged rows
	UnindexedPacks int64 // uploaded packs no metadata object lists yet
}

// Empty reports whether the catalog holds nothing at all: no repository,
// pack, blob, tree, snapshot or cached file.
func (s Stats) Empty() bool {
	return s.Settings == 0 && s.Packs == 0 && s.Blobs == 0 && s.Trees == 0 && s.Snapshots == 0 && s.Files == 0
}

// Stats counts the catalog's rows.
func (c *Catalog) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	q := []struct {
		dst *int64
		sql string
	}{
		{&s.Settings, "SELECT count(*) FROM settings"},
		{&s.Packs, "SELECT count(*) FROM packs"},
		{&s.DataPacks, fmt.Sprintf("SELECT count(*) FROM packs WHERE kind = %d", PackData)},
		{&s.MetaPacks, fmt.Sprintf("SELECT count(*) FROM packs WHERE kind = %d", PackMeta)},
		{&s.SealedPacks, fmt.Sprintf("SELECT count(*) FROM packs WHERE state = %d", Sealed)},
		{&s.UnindexedPacks, fmt.Sprintf("SELECT count(*) FROM packs WHERE state = %d AND indexed_by IS NULL", Uploaded)},
		{&s.Blobs, "SELECT count(*) FROM blobs"},
		{&s.Trees, "SELECT count(*) FROM trees"},
		{&s.Snapshots, "SELECT count(*) FROM snapshots"},
		{&s.Files, "SELECT (SELECT count(*) FROM files) + (SELECT count(*) FROM files_pending)"},
	}
	for _, x := range q {
		if err := c.db.QueryRowContext(ctx, x.sql).Scan(x.dst); err != nil {
			return Stats{}, fmt.Errorf("catalog: counting rows: %w", err)
		}
	}
	return s, nil
}

// AddUploadedPack records, in one transaction, a pack that S3 already holds
// (state Uploaded, listed by p.IndexedBy, or by no metadata object yet if
// that is empty) and its blobs. It is how a rebuild from the bucket adds
// packs. It refuses a key the catalog already records (ErrPackExists). A
// blob the catalog already places in another pack keeps that first location
// and is not an error: a crash can leave the same blob in two packs, and
// either copy serves. It returns the pack's row ID.
func (c *Catalog) AddUploadedPack(ctx context.Context, p Pack, entries []pack.Entry) (int64, error) {
	if p.Key == "" || (p.Kind != PackData && p.Kind != PackMeta) || p.Size <= 0 {
		return 0, fmt.Errorf("catalog: adding pack %q: bad key, kind %d or size %d", p.Key, p.Kind, p.Size)
	}
	uploaded := p.Uploaded
	if uploaded.IsZero() {
		uploaded = p.Created
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO packs(key, kind, state, size, sha256, blobs, local_path, created_ns, uploaded_ns, indexed_by)
		VALUES(?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`, p.Key, p.Kind, Uploaded, p.Size, p.SHA256[:], len(entries),
		p.Created.UnixNano(), uploaded.UnixNano(), nullString(p.IndexedBy))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return 0, fmt.Errorf("catalog: pack %s: %w", p.Key, ErrPackExists)
		}
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO blobs(id, pack_id, kind, compression, offset, length, raw_length)
		VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.ID[:], id, e.Kind, e.Compression, e.Offset, e.Length, e.RawLength); err != nil {
			return 0, fmt.Errorf("catalog: pack %s: blob %s: %w", p.Key, e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("catalog: adding pack %s: %w", p.Key, err)
	}
	return id, nil
}

// TreeBlob is one tree blob's plaintext, for PutTrees.
type TreeBlob struct {
	ID   pack.ID
	Data []byte
}

// PutTrees caches many tree blobs in one transaction (PutTree for each);
// trees already cached are kept as they are.
func (c *Catalog) PutTrees(ctx context.Context, trees []TreeBlob) error {
	if len(trees) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: caching trees: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO trees(id, data) VALUES(?, ?)")
	if err != nil {
		return fmt.Errorf("catalog: caching trees: %w", err)
	}
	defer stmt.Close()
	for _, t := range trees {
		if _, err := stmt.ExecContext(ctx, t.ID[:], t.Data); err != nil {
			return fmt.Errorf("catalog: caching tree %s: %w", t.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: caching trees: %w", err)
	}
	return nil
}

// AddSnapshot records a snapshot read back from its record in the bucket.
// Unlike CommitSnapshot it touches no pack and no file-cache row. A snapshot
// whose ID the catalog already holds is left as it is (not an error), so a
// record that appears twice is harmless.
func (c *Catalog) AddSnapshot(ctx context.Context, s Snapshot) error {
	if s.ID == "" {
		return errors.New("catalog: adding a snapshot without an ID")
	}
	paths, _ := json.Marshal(nonNil(s.Paths))
	tags, _ := json.Marshal(nonNil(s.Tags))
	metaKeys, _ := json.Marshal(nonNil(s.MetaKeys))
	summary := s.Summary
	if len(summary) == 0 {
		summary = json.RawMessage("{}")
	}
	if _, err := c.db.ExecContext(ctx, `INSERT INTO snapshots(id, time_ns, host, paths, tags, root, meta_keys, summary)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
		s.ID, s.Time.UnixNano(), s.Host, string(paths), string(tags), s.Root[:], string(metaKeys), string(summary)); err != nil {
		return fmt.Errorf("catalog: adding snapshot %s: %w", s.ID, err)
	}
	return nil
}
