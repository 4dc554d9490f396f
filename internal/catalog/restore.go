package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job is a restore or recovery job.
type Job struct {
	ID        int64
	Kind      string // "restore" or "recover"
	Snapshot  string
	Paths     []string
	Target    string
	Tier      string
	Days      int
	Overwrite bool
	State     string // "active", "done", "cancelled"
	Created   time.Time
	Finished  time.Time
	Quote     json.RawMessage
}

// Object states of a job.
const (
	ObjPending    = "pending"
	ObjThawing    = "thawing"
	ObjReady      = "ready"
	ObjDownloaded = "downloaded"
)

// JobObject is one object a job thaws and downloads.
type JobObject struct {
	Key        string
	Size       int64
	SHA256     [32]byte // zero when unknown (recovery lists objects it has no record of)
	State      string
	Requested  time.Time
	Ready      time.Time
	Expiry     time.Time
	Downloaded time.Time
	Requests   int
	Path       string
}

// CreateJob records a job and its objects (all pending).
func (c *Catalog) CreateJob(ctx context.Context, j Job, objs []JobObject) (int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	paths, _ := json.Marshal(nonNil(j.Paths))
	quote := j.Quote
	if len(quote) == 0 {
		quote = json.RawMessage("{}")
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO restore_jobs(kind, snapshot, paths, target, tier, days, overwrite, state, created_ns, quote)
		VALUES(?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`, j.Kind, j.Snapshot, string(paths), j.Target, j.Tier, j.Days, j.Overwrite, j.Created.UnixNano(), string(quote))
	if err != nil {
		return 0, fmt.Errorf("catalog: creating a restore job: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO restore_objects(job, key, size, sha256, state) VALUES(?, ?, ?, ?, 'pending')`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	for _, o := range objs {
		var sum any
		if o.SHA256 != ([32]byte{}) {
			sum = o.SHA256[:]
		}
		if _, err := stmt.ExecContext(ctx, id, o.Key, o.Size, sum); err != nil {
			return 0, fmt.Errorf("catalog: restore job object %s: %w", o.Key, err)
		}
	}
	return id, tx.Commit()
}

const jobColumns = "id, kind, snapshot, paths, target, tier, days, overwrite, state, created_ns, coalesce(finished_ns, 0), quote"

func scanJob(r interface{ Scan(...any) error }) (Job, error) {
	var j Job
	var paths, quote string
	var created, finished int64
	if err := r.Scan(&j.ID, &j.Kind, &j.Snapshot, &paths, &j.Target, &j.Tier, &j.Days, &j.Overwrite, &j.State, &created, &finished, &quote); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(paths), &j.Paths); err != nil {
		return j, fmt.Errorf("%w: job %d: %v", ErrCorrupt, j.ID, err)
	}
	j.Created, j.Quote = time.Unix(0, created), json.RawMessage(quote)
	if finished != 0 {
		j.Finished = time.Unix(0, finished)
	}
	return j, nil
}

// Jobs lists jobs, newest first; only active ones if active is set.
func (c *Catalog) Jobs(ctx context.Context, active bool) ([]Job, error) {
	q := "SELECT " + jobColumns + " FROM restore_jobs"
	if active {
		q += " WHERE state = 'active'"
	}
	rows, err := c.db.QueryContext(ctx, q+" ORDER BY id DESC")
	if err != nil {
		return nil, fmt.Errorf("catalog: listing restore jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Job returns one job.
func (c *Catalog) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(c.db.QueryRowContext(ctx, "SELECT "+jobColumns+" FROM restore_jobs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("restore job %d: %w (see `icevault restore list`)", id, ErrNotFound)
	}
	return j, err
}

// FinishJob sets a job's final state ("done" or "cancelled").
func (c *Catalog) FinishJob(ctx context.Context, id int64, state string, at time.Time) error {
	_, err := c.db.ExecContext(ctx, "UPDATE restore_jobs SET state = ?, finished_ns = ? WHERE id = ?", state, at.UnixNano(), id)
	return err
}

// JobObjects lists a job's objects by key.
func (c *Catalog) JobObjects(ctx context.Context, job int64) ([]JobObject, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT key, size, sha256, state, coalesce(requested_ns, 0), coalesce(ready_ns, 0),
		coalesce(expiry_ns, 0), coalesce(downloaded_ns, 0), requests, coalesce(path, '') FROM restore_objects WHERE job = ? ORDER BY key`, job)
	if err != nil {
		return nil, fmt.Errorf("catalog: restore job %d objects: %w", job, err)
	}
	defer rows.Close()
	var out []JobObject
	for rows.Next() {
		var o JobObject
		var sum []byte
		var req, ready, exp, down int64
		if err := rows.Scan(&o.Key, &o.Size, &sum, &o.State, &req, &ready, &exp, &down, &o.Requests, &o.Path); err != nil {
			return nil, err
		}
		copy(o.SHA256[:], sum)
		o.Requested, o.Ready, o.Expiry, o.Downloaded = unixOrZero(req), unixOrZero(ready), unixOrZero(exp), unixOrZero(down)
		out = append(out, o)
	}
	return out, rows.Err()
}

func unixOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func nsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// UpdateJobObject writes o's state, times, request count and path.
func (c *Catalog) UpdateJobObject(ctx context.Context, job int64, o JobObject) error {
	_, err := c.db.ExecContext(ctx, `UPDATE restore_objects SET state = ?, requested_ns = ?, ready_ns = ?, expiry_ns = ?,
		downloaded_ns = ?, requests = ?, path = ? WHERE job = ? AND key = ?`,
		o.State, nsOrNull(o.Requested), nsOrNull(o.Ready), nsOrNull(o.Expiry), nsOrNull(o.Downloaded), o.Requests, nullString(o.Path), job, o.Key)
	if err != nil {
		return fmt.Errorf("catalog: restore job %d, %s: %w", job, o.Key, err)
	}
	return nil
}

// MarkRestored records that a job wrote and verified path.
func (c *Catalog) MarkRestored(ctx context.Context, job int64, path string) error {
	_, err := c.db.ExecContext(ctx, "INSERT OR IGNORE INTO restore_done(job, path) VALUES(?, ?)", job, []byte(path))
	return err
}

// Restored reports whether a job already wrote path.
func (c *Catalog) Restored(ctx context.Context, job int64, path string) (bool, error) {
	var one int
	err := c.db.QueryRowContext(ctx, "SELECT 1 FROM restore_done WHERE job = ? AND path = ?", job, []byte(path)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// RestoredCount counts the files a job has written.
func (c *Catalog) RestoredCount(ctx context.Context, job int64) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, "SELECT count(*) FROM restore_done WHERE job = ?", job).Scan(&n)
	return n, err
}
