package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo, so darwin builds cross-compile

	"github.com/icevault/icevault/internal/pack"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned for a missing row.
var ErrNotFound = errors.New("not found in the catalog")

// ErrCorrupt means the database file failed its integrity check.
var ErrCorrupt = errors.New("catalog is damaged")

// Catalog is an open catalog database.
type Catalog struct {
	db   *sql.DB
	path string
	// Statements on the backup's hot path, prepared once: the driver does
	// not cache them, and parsing SQL per call was a quarter of a
	// no-change run.
	hasBlob *sql.Stmt
}

// Open opens (creating if needed) the catalog at path, applies pending
// migrations and checks the file's integrity. A damaged or foreign file is
// refused, never replaced.
func Open(ctx context.Context, path string) (*Catalog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the catalog directory: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening catalog %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and a single
	// connection makes every statement see the previous one's writes
	// without busy retries. Lookups take microseconds.
	db.SetMaxOpenConns(1)
	c := &Catalog{db: db, path: path}
	if err := c.checkOnce(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := c.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if c.hasBlob, err = db.PrepareContext(ctx, "SELECT 1 FROM blobs WHERE id = ?"); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

func (c *Catalog) damaged(detail string) error {
	return fmt.Errorf("%w: %s (%s): move the file aside and run `icevault recover` to rebuild it from the bucket; nothing was changed", ErrCorrupt, c.path, detail)
}

// checked remembers, per catalog path, the file that passed quick_check in
// this process. quick_check reads every page (a quarter of a second for a
// 100 MB catalog), and the agent and its dashboard open a catalog every few
// seconds: the file is checked again only once it changed on disk (a
// checkpoint, a replacement, a damaging write), so a CLI command — a new
// process — always checks.
var checked sync.Map // path → fileIdentity

type fileIdentity struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func identify(path string) (fileIdentity, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, false
	}
	id := fileIdentity{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id, true
}

func (c *Catalog) checkOnce(ctx context.Context) error {
	before, ok := identify(c.path)
	if prev, seen := checked.Load(c.path); ok && seen && prev.(fileIdentity) == before {
		return nil
	}
	if err := c.check(ctx); err != nil {
		checked.Delete(c.path)
		return err
	}
	if ok {
		checked.Store(c.path, before)
	}
	return nil
}

func (c *Catalog) check(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return c.damaged(err.Error())
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return c.damaged(err.Error())
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return c.damaged(err.Error())
	}
	if len(problems) > 0 {
		return c.damaged(strings.Join(problems, "; "))
	}
	return nil
}

func (c *Catalog) migrate(ctx context.Context) error {
	var version int
	if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return c.damaged(err.Error())
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	if version > len(names) {
		return fmt.Errorf("catalog %s has schema version %d, newer than this icevault knows (%d): upgrade icevault", c.path, version, len(names))
	}
	for i := version; i < len(names); i++ {
		n, _ := strconv.Atoi(strings.SplitN(filepath.Base(names[i]), "_", 2)[0])
		if n != i+1 {
			return fmt.Errorf("migration %s is out of sequence (want %04d)", names[i], i+1)
		}
		body, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("catalog migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("catalog migration %s: %w", names[i], err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("catalog migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("catalog migration %d: %w", i+1, err)
		}
	}
	return nil
}

// Close closes the database.
func (c *Catalog) Close() error {
	if c.hasBlob != nil {
		c.hasBlob.Close()
	}
	return c.db.Close()
}

// Path is the database file.
func (c *Catalog) Path() string { return c.path }

// IntegrityCheck runs SQLite's full integrity check (slower than the
// quick_check done by Open).
func (c *Catalog) IntegrityCheck(ctx context.Context) error {
	var s string
	if err := c.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&s); err != nil {
		return c.damaged(err.Error())
	}
	if s != "ok" {
		return c.damaged(s)
	}
	return nil
}

// SetSetting stores a single value.
func (c *Catalog) SetSetting(ctx context.Context, key string, value []byte) error {
	_, err := c.db.ExecContext(ctx, "INSERT INTO settings(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
	if err != nil {
		return fmt.Errorf("catalog: saving %s: %w", key, err)
	}
	return nil
}

// Setting reads a single value, or ErrNotFound.
func (c *Catalog) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := c.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("setting %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: reading %s: %w", key, err)
	}
	return v, nil
}

func toID(b []byte) (pack.ID, error) {
	var id pack.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("%w: blob ID of %d bytes", ErrCorrupt, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// DeleteSetting removes a single value (no error if absent).
func (c *Catalog) DeleteSetting(ctx context.Context, key string) error {
	if _, err := c.db.ExecContext(ctx, "DELETE FROM settings WHERE key = ?", key); err != nil {
		return fmt.Errorf("catalog: deleting %s: %w", key, err)
	}
	return nil
}
