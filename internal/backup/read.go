package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/icevault/icevault/internal/chunk"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/scan"
)

// afterRead, set only by tests (export_test.go), runs after each read of a
// file and before the file is checked for changes: the one place a test can
// make a file change "while it is read" deterministically, without racing a
// writer against the reader.
var afterRead func(abs string, attempt int)

// fileJob is one file for the readers.
type fileJob struct {
	sc     *scan.Scanner
	dirRel string
	entry  scan.Entry
	abs    string
	done   chan struct{}

	// results, valid once done is closed
	ids    []pack.ID
	size   int64
	stable bool         // the file did not change while it was read
	notice *scan.Notice // a warning about this file
	err    error        // stops the run
}

// blob is one chunk or tree on its way to a packer.
type blob struct {
	kind pack.Kind
	id   pack.ID
	data []byte
}

// reader reads files: chunks, names and deduplicates them, and sends new
// chunks to the data packer.
func (e *engine) reader(ctx context.Context, jobs <-chan *fileJob, blobs chan<- blob) error {
	ch := chunk.NewChunker(nil, e.repo.Polynomial, nil)
	for j := range jobs {
		j.err = e.readFile(ctx, j, ch, blobs)
		close(j.done)
		if j.err != nil {
			return j.err
		}
	}
	return nil
}

// readFile reads one file. A file that changes while it is read is read a
// second time; if it changes again, what the second read got is kept with a
// warning (like tar's and borg's "file changed as we read it": for a log
// that grows it is a consistent prefix, and leaving the file out would mean
// a busy file is never backed up) and the file cache is not updated, so the
// next run reads it again. Either way j.entry ends as the stat the kept
// read started from, and the tree records its mtime.
func (e *engine) readFile(ctx context.Context, j *fileJob, ch *chunk.Chunker, blobs chan<- blob) error {
	rel := path.Join(j.dirRel, j.entry.Name)
	f, err := j.sc.Open(ctx, j.dirRel, j.entry.Name)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := noticeFor(rel, err)
		j.notice = &n
		return nil
	}
	defer f.Close()
	for attempt := 1; ; attempt++ {
		ids, size, err := e.chunkFile(ctx, f, ch, blobs)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			n := noticeFor(rel, err)
			j.notice = &n
			return nil
		}
		j.ids, j.size = ids, size
		if afterRead != nil {
			afterRead(j.abs, attempt)
		}
		now := j.entry
		err = scan.Restat(f, &now)
		if err == nil && now.Size == j.entry.Size && size == j.entry.Size && now.MtimeNs == j.entry.MtimeNs {
			j.stable = true
			return nil
		}
		if attempt == 2 {
			j.notice = &scan.Notice{Path: rel, Kind: scan.ReadError,
				Err: fmt.Errorf("changed while being read twice; backed up as last read (%d bytes); the next run reads it again", size)}
			return nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			n := noticeFor(rel, err)
			j.notice = &n
			return nil
		}
		// Compare the second read against what the file says now, and
		// record that (mtime in the tree; size, times and inode in the
		// file cache), not what the scan saw before the change: a stable
		// re-read then reads back with its own mtime, and the next run
		// finds the file unchanged instead of reading it a third time.
		if err == nil {
			j.entry = now
		}
	}
}

func (e *engine) chunkFile(ctx context.Context, f *os.File, ch *chunk.Chunker, blobs chan<- blob) ([]pack.ID, int64, error) {
	ch.Reset(f)
	var ids []pack.ID
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		c, err := ch.Next()
		if errors.Is(err, io.EOF) {
			return ids, size, nil
		}
		if err != nil {
			return nil, 0, err
		}
		id := e.repo.IDKey.ID(c.Data)
		ids = append(ids, id)
		size += int64(len(c.Data))
		e.c.bytesRead.Add(int64(len(c.Data)))
		known, err := e.cat.HasBlob(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		if known {
			continue
		}
		select {
		case blobs <- blob{kind: pack.KindData, id: id, data: bytes.Clone(c.Data)}:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}
