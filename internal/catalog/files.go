package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/icevault/icevault/internal/pack"
)

// FileState is what the file-change cache remembers of one file.
type FileState struct {
	Path    string // absolute path, as the OS gives it (may not be UTF-8)
	Root    string // the backup root it was found under
	Size    int64
	MtimeNs int64
	CtimeNs int64
	Inode   uint64
	Dev     uint64
	Blobs   []pack.ID
}

// Same reports whether f describes the same unchanged file as o: any change
// of size, mtime, ctime or inode means the file must be read again (ctime
// catches a content change that restored the old mtime).
func (f FileState) Same(o FileState) bool {
	return f.Size == o.Size && f.MtimeNs == o.MtimeNs && f.CtimeNs == o.CtimeNs && f.Inode == o.Inode && f.Dev == o.Dev
}

// File returns the cached state of path, if any.
func (c *Catalog) File(ctx context.Context, path string) (FileState, bool, error) {
	f := FileState{Path: path}
	var root, blobs []byte
	err := c.db.QueryRowContext(ctx, "SELECT root, size, mtime_ns, ctime_ns, inode, dev, blobs FROM files WHERE path = ?", []byte(path)).
		Scan(&root, &f.Size, &f.MtimeNs, &f.CtimeNs, &f.Inode, &f.Dev, &blobs)
	if errors.Is(err, sql.ErrNoRows) {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("catalog: file cache %q: %w", path, err)
	}
	if len(blobs)%32 != 0 {
		return f, false, fmt.Errorf("%w: file cache %q", ErrCorrupt, path)
	}
	f.Root = string(root)
	for i := 0; i < len(blobs); i += 32 {
		var id pack.ID
		copy(id[:], blobs[i:])
		f.Blobs = append(f.Blobs, id)
	}
	return f, true, nil
}

// Files looks up many paths at once (one query per few hundred): the
// file-change check of a whole directory.
func (c *Catalog) Files(ctx context.Context, paths []string) (map[string]FileState, error) {
	out := make(map[string]FileState, len(paths))
	const batch = 500
	for start := 0; start < len(paths); start += batch {
		end := min(start+batch, len(paths))
		args := make([]any, 0, end-start)
		for _, p := range paths[start:end] {
			args = append(args, []byte(p))
		}
		q := "SELECT path, root, size, mtime_ns, ctime_ns, inode, dev, blobs FROM files WHERE path IN (?" + strings.Repeat(",?", len(args)-1) + ")"
		rows, err := c.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("catalog: file cache: %w", err)
		}
		for rows.Next() {
			var f FileState
			var path, root, blobs []byte
			if err := rows.Scan(&path, &root, &f.Size, &f.MtimeNs, &f.CtimeNs, &f.Inode, &f.Dev, &blobs); err != nil {
				rows.Close()
				return nil, err
			}
			if len(blobs)%32 != 0 {
				rows.Close()
				return nil, fmt.Errorf("%w: file cache %q", ErrCorrupt, path)
			}
			f.Path, f.Root = string(path), string(root)
			f.Blobs = make([]pack.ID, len(blobs)/32)
			for i := range f.Blobs {
				copy(f.Blobs[i][:], blobs[32*i:])
			}
			out[f.Path] = f
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StageFiles records file states seen by run; they become the cache when the
// run's snapshot commits (CommitSnapshot), and never before.
func (c *Catalog) StageFiles(ctx context.Context, run int64, files []FileState) error {
	if len(files) == 0 {
		return nil
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO files_pending(run, path, root, size, mtime_ns, ctime_ns, inode, dev, blobs) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, f := range files {
		blobs := make([]byte, 0, 32*len(f.Blobs))
		for _, id := range f.Blobs {
			blobs = append(blobs, id[:]...)
		}
		if _, err := stmt.ExecContext(ctx, run, []byte(f.Path), []byte(f.Root), f.Size, f.MtimeNs, f.CtimeNs, int64(f.Inode), int64(f.Dev), blobs); err != nil {
			return fmt.Errorf("catalog: staging %q: %w", f.Path, err)
		}
	}
	return tx.Commit()
}

// NextRun allocates a run number for StageFiles.
func (c *Catalog) NextRun(ctx context.Context) (int64, error) {
	var last int64
	err := c.db.QueryRowContext(ctx, "SELECT coalesce(max(run), 0) FROM (SELECT run FROM files UNION ALL SELECT run FROM files_pending)").Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("catalog: next run: %w", err)
	}
	return last + 1, nil
}

// DiscardRun drops the file-cache rows staged by a run that committed no
// snapshot (nothing changed, or a dry run).
func (c *Catalog) DiscardRun(ctx context.Context, run int64) error {
	if _, err := c.db.ExecContext(ctx, "DELETE FROM files_pending WHERE run = ?", run); err != nil {
		return fmt.Errorf("catalog: discarding run %d: %w", run, err)
	}
	return nil
}
