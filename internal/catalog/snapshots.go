package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/pack"
)

// Snapshot is one completed backup.
type Snapshot struct {
	ID       string
	Time     time.Time
	Host     string
	Paths    []string
	Tags     []string
	Root     pack.ID // the tree that holds the backed-up paths
	MetaKeys []string
	Summary  json.RawMessage
}

// ErrUnconfirmedPacks is CommitSnapshot's refusal while a pack is sealed.
var ErrUnconfirmedPacks = errors.New("packs are not confirmed by S3 yet")

// CommitSnapshot records a finished backup in one transaction: the snapshot
// row; every uploaded, unindexed pack marked as listed by indexedBy (the
// snapshot's last metadata object); and the run's staged file-cache rows
// (new and changed files) made current. It refuses while any pack is still
// sealed.
//
// Rows of files that were deleted are not swept: they are never looked up
// again unless a file reappears at the same path, and then its ctime (set
// at creation) differs, so it is read.
func (c *Catalog) CommitSnapshot(ctx context.Context, s Snapshot, indexedBy string, run int64) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: committing snapshot %s: %w", s.ID, err)
	}
	defer tx.Rollback()
	var sealed int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM packs WHERE state = ?", Sealed).Scan(&sealed); err != nil {
		return err
	}
	if sealed > 0 {
		return fmt.Errorf("catalog: snapshot %s: %d %w", s.ID, sealed, ErrUnconfirmedPacks)
	}
	paths, _ := json.Marshal(nonNil(s.Paths))
	tags, _ := json.Marshal(nonNil(s.Tags))
	metaKeys, _ := json.Marshal(nonNil(s.MetaKeys))
	summary := s.Summary
	if len(summary) == 0 {
		summary = json.RawMessage("{}")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO snapshots(id, time_ns, host, paths, tags, root, meta_keys, summary) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Time.UnixNano(), s.Host, string(paths), string(tags), s.Root[:], string(metaKeys), string(summary)); err != nil {
		return fmt.Errorf("catalog: committing snapshot %s: %w", s.ID, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE packs SET indexed_by = ? WHERE indexed_by IS NULL AND state = ?", indexedBy, Uploaded); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO files(path, root, size, mtime_ns, ctime_ns, inode, dev, blobs, run)
		SELECT path, root, size, mtime_ns, ctime_ns, inode, dev, blobs, run FROM files_pending WHERE run = ?`, run); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM files_pending WHERE run <= ?", run); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: committing snapshot %s: %w", s.ID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const snapshotColumns = "id, time_ns, host, paths, tags, root, meta_keys, summary"

func scanSnapshot(r interface{ Scan(...any) error }) (Snapshot, error) {
	var s Snapshot
	var t int64
	var paths, tags, metaKeys, summary string
	var root []byte
	if err := r.Scan(&s.ID, &t, &s.Host, &paths, &tags, &root, &metaKeys, &summary); err != nil {
		return s, err
	}
	s.Time = time.Unix(0, t)
	var err error
	if s.Root, err = toID(root); err != nil {
		return s, err
	}
	if err := errors.Join(json.Unmarshal([]byte(paths), &s.Paths), json.Unmarshal([]byte(tags), &s.Tags),
		json.Unmarshal([]byte(metaKeys), &s.MetaKeys)); err != nil {
		return s, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, s.ID, err)
	}
	s.Summary = json.RawMessage(summary)
	return s, nil
}

// Snapshots lists all snapshots, oldest first.
func (c *Catalog) Snapshots(ctx context.Context) ([]Snapshot, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+snapshotColumns+" FROM snapshots ORDER BY time_ns, id")
	if err != nil {
		return nil, fmt.Errorf("catalog: listing snapshots: %w", err)
	}
	defer rows.Close()
	var out []Snapshot
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// FindSnapshot resolves "latest", a full ID or a unique ID prefix.
func (c *Catalog) FindSnapshot(ctx context.Context, ref string) (Snapshot, error) {
	var rows *sql.Rows
	var err error
	if ref == "latest" {
		rows, err = c.db.QueryContext(ctx, "SELECT "+snapshotColumns+" FROM snapshots ORDER BY time_ns DESC, id DESC LIMIT 1")
	} else {
		rows, err = c.db.QueryContext(ctx, "SELECT "+snapshotColumns+" FROM snapshots WHERE substr(id, 1, ?) = ? LIMIT 2", len(ref), strings.ToLower(ref))
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("catalog: finding snapshot %q: %w", ref, err)
	}
	defer rows.Close()
	var found []Snapshot
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			return Snapshot{}, err
		}
		found = append(found, s)
	}
	switch {
	case rows.Err() != nil:
		return Snapshot{}, rows.Err()
	case len(found) == 0:
		return Snapshot{}, fmt.Errorf("snapshot %q: %w (see `icevault snapshots`)", ref, ErrNotFound)
	case len(found) > 1:
		return Snapshot{}, fmt.Errorf("snapshot %q is ambiguous: give more characters of its ID", ref)
	}
	return found[0], nil
}
