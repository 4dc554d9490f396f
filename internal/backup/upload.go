package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/store"
)

// uploader PUTs sealed packs until uploads is closed or the run fails.
func (e *engine) uploader(ctx context.Context, uploads <-chan sealedPack) error {
	for sp := range uploads {
		if err := e.upload(ctx, sp, false); err != nil {
			return err
		}
	}
	return nil
}

// upload sends one sealed pack and marks it uploaded only once S3 confirmed
// it (or proved with 412 + HEAD that the same bytes are already there).
func (e *engine) upload(ctx context.Context, sp sealedPack, resumed bool) error {
	f, err := os.Open(sp.path)
	if err != nil {
		return fmt.Errorf("opening sealed pack %s: %w", sp.path, err)
	}
	defer f.Close()
	_, err = e.st.Put(ctx, store.PutRequest{
		Key: sp.key, Body: f, Size: sp.size, SHA256: sp.sha256,
		Metadata: map[string]string{"icevault-repository-id": e.repo.Config.ID, "icevault-kind": sp.kind.String()},
	})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", sp.key, err)
	}
	f.Close()
	e.c.puts.Add(1)
	return e.confirmed(ctx, sp, resumed)
}

// confirmed records a pack S3 holds and drops its spool file.
func (e *engine) confirmed(ctx context.Context, sp sealedPack, resumed bool) error {
	if err := e.cat.MarkUploaded(ctx, sp.id, e.clk.Now()); err != nil {
		return err
	}
	os.Remove(sp.path)
	e.c.packs.Add(1)
	e.c.bytesUploaded.Add(sp.size)
	if resumed {
		e.c.resumed.Add(1)
	}
	e.emit(Event{Kind: EventUploaded, Pack: sp.key, Size: sp.size, Resumed: resumed})
	return nil
}

// resume uploads the packs an earlier run sealed but S3 never confirmed,
// and clears half-written pack files. A sealed pack whose file is gone is
// forgotten; its blobs are packed again by this run.
func (e *engine) resume(ctx context.Context) error {
	tmps, _ := filepath.Glob(filepath.Join(e.opts.SpoolDir, "tmp-*.pack"))
	for _, t := range tmps {
		os.Remove(t)
	}
	sealed, err := e.cat.Packs(ctx, catalog.PackFilter{State: catalog.Sealed})
	if err != nil {
		return err
	}
	for _, p := range sealed {
		if _, err := os.Stat(p.LocalPath); errors.Is(err, os.ErrNotExist) {
			if err := e.cat.DropSealedPack(ctx, p.ID); err != nil {
				return err
			}
			continue
		}
		sp := sealedPack{id: p.ID, key: p.Key, path: p.LocalPath, size: p.Size, sha256: p.SHA256, kind: p.Kind}
		// A crash between S3's answer and the catalog update leaves a
		// sealed pack that is already in the bucket: one HEAD (allowed to
		// reconcile, DESIGN §2.2) saves re-sending it.
		if info, err := e.st.Head(ctx, p.Key); err == nil && info.Size == p.Size && info.SHA256 == p.SHA256 {
			if err := e.confirmed(ctx, sp, true); err != nil {
				return err
			}
			continue
		}
		if err := e.upload(ctx, sp, true); err != nil {
			return err
		}
	}
	if err := e.finishPending(ctx); err != nil {
		return err
	}
	// Pack files no catalog row points at (sealed, then the process died
	// before the catalog insert) are unknown to S3 and to the catalog.
	files, _ := filepath.Glob(filepath.Join(e.opts.SpoolDir, "*.pack"))
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "tmp-") {
			os.Remove(f)
		}
	}
	return nil
}
