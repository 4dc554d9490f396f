package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/store"
)

// ErrChecksum means a downloaded object does not match its recorded
// SHA-256 (or size); the copy is discarded and fetched again.
var ErrChecksum = errors.New("downloaded object does not match its checksum")

// ErrTruncated means the bucket sent less of an object than its recorded
// size, and said that was all: nothing of it is kept, and the next run
// fetches it again from the start.
var ErrTruncated = errors.New("the bucket sent a truncated object")

// Download fetches the job's ready objects into dir, in parallel. A cut
// download resumes where it stopped with a ranged GET; an object counts as
// downloaded only once its whole SHA-256 matches the catalog's record.
func Download(ctx context.Context, cat *catalog.Catalog, st Store, job int64, dir string, o Options) error {
	o.defaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the download folder: %w", err)
	}
	objs, err := cat.JobObjects(ctx, job)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Downloaders)
	for _, obj := range objs {
		if obj.State != catalog.ObjReady {
			continue
		}
		g.Go(func() error {
			p, err := fetch(gctx, st, obj, dir)
			switch {
			case errors.Is(err, store.ErrArchived), errors.Is(err, store.ErrRestoreInProgress):
				// The copy expired between the poll and the GET: the next
				// Refresh asks for it again.
				obj.State = catalog.ObjPending
				return cat.UpdateJobObject(gctx, job, obj)
			case err != nil:
				return err
			}
			obj.State, obj.Path, obj.Downloaded = catalog.ObjDownloaded, p, o.Clock.Now()
			if err := cat.UpdateJobObject(gctx, job, obj); err != nil {
				return err
			}
			o.Events(Event{Kind: EventDownloaded, Job: job, Key: obj.Key, Size: obj.Size})
			return nil
		})
	}
	return g.Wait()
}

// localName names an object's download: its SHA-256 when known, else a
// hash of its key.
func localName(obj catalog.JobObject) string {
	if obj.SHA256 != ([32]byte{}) {
		return hex.EncodeToString(obj.SHA256[:]) + ".pack"
	}
	h := sha256.Sum256([]byte(obj.Key))
	return hex.EncodeToString(h[:16]) + ".obj"
}

func fetch(ctx context.Context, st Store, obj catalog.JobObject, dir string) (string, error) {
	final := filepath.Join(dir, localName(obj))
	if ok, err := verifyFile(final, obj); err == nil && ok {
		return final, nil
	}
	part := final + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	if have > obj.Size {
		if err := f.Truncate(0); err != nil {
			return "", err
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have < obj.Size {
		rc, err := st.Get(ctx, obj.Key, &store.Range{Offset: have, Length: obj.Size - have})
		if err != nil {
			return "", fmt.Errorf("downloading %s: %w", obj.Key, err)
		}
		n, err := io.Copy(f, rc)
		rc.Close()
		if err != nil {
			// A cut connection: what arrived is kept, and the final
			// SHA-256 check covers it.
			return "", fmt.Errorf("downloading %s: %w (the next run continues from byte %d)", obj.Key, err, have+n)
		}
		if have+n != obj.Size {
			// A complete response that is too short: the object itself is
			// (or was served) truncated. Nothing of this copy is trusted.
			f.Close()
			os.Remove(part)
			return "", fmt.Errorf("downloading %s: %w: received %d of its %d bytes; it was not kept and no file was written from it (the next run fetches it again)",
				obj.Key, ErrTruncated, have+n, obj.Size)
		}
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if ok, err := verifyFile(part, obj); err != nil || !ok {
		os.Remove(part) // fetched again from the start next time
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrChecksum, obj.Key)
		}
		return "", err
	}
	if err := os.Rename(part, final); err != nil {
		return "", err
	}
	return final, nil
}

// verifyFile checks a local copy's size and, when known, SHA-256.
func verifyFile(p string, obj catalog.JobObject) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() != obj.Size {
		return false, err
	}
	if obj.SHA256 == ([32]byte{}) {
		return true, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum == obj.SHA256, nil
}
