package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
)

// sealedPack is a pack file waiting for upload.
type sealedPack struct {
	id     int64 // catalog row
	key    string
	path   string
	size   int64
	sha256 [32]byte
	kind   catalog.PackKind
}

// packer fills one pack at a time. It is used by one goroutine.
type packer struct {
	e       *engine
	kind    catalog.PackKind
	onSeal  func(context.Context, sealedPack) error // hands a sealed pack on for upload
	w       *pack.Writer
	f       *os.File
	pending map[pack.ID]struct{} // blobs in the open pack, not yet in the catalog
	n       int                  // metadata packs sealed, for their keys
	keys    []string             // keys sealed by this packer
	dryLen  int64                // dry run: bytes in the imaginary open pack
}

func newPacker(e *engine, kind catalog.PackKind, onSeal func(context.Context, sealedPack) error) *packer {
	return &packer{e: e, kind: kind, onSeal: onSeal, pending: map[pack.ID]struct{}{}}
}

// toChannel hands sealed packs to the uploaders.
func toChannel(out chan<- sealedPack) func(context.Context, sealedPack) error {
	return func(ctx context.Context, sp sealedPack) error {
		select {
		case out <- sp:
			return nil
		case <-ctx.Done():
			// Sealed and recorded: the next run uploads it.
			return ctx.Err()
		}
	}
}

// add puts one blob in the open pack unless the repository, or the open
// pack, already has it, and seals the pack when it reaches the target size.
func (p *packer) add(ctx context.Context, b blob) error {
	if _, ok := p.pending[b.id]; ok {
		return nil
	}
	// Readers looked the blob up before sending it, but a pack sealed
	// since may hold it now; trees were not looked up at all. (A set of
	// every blob sealed this run would save the lookup but cost ~150 MB
	// of memory on a million-file backup.)
	known, err := p.e.cat.HasBlob(ctx, b.id)
	if err != nil || known {
		return err
	}
	p.pending[b.id] = struct{}{}
	if b.kind == pack.KindData {
		p.e.c.bytesAdded.Add(int64(len(b.data)))
	}
	if p.e.opts.DryRun {
		p.dryLen += int64(len(b.data))
		if p.dryLen >= p.e.repo.Config.PackSize {
			p.e.c.packs.Add(1)
			p.e.c.puts.Add(1)
			p.dryLen = 0
		}
		return nil
	}
	if p.w == nil {
		if err := p.open(); err != nil {
			return err
		}
	}
	err = p.w.Add(b.kind, b.id, b.data)
	if errors.Is(err, pack.ErrFull) {
		if err := p.seal(ctx); err != nil {
			return err
		}
		return p.add(ctx, b)
	}
	if err != nil {
		return fmt.Errorf("packing blob %s: %w", b.id, err)
	}
	if p.w.Len() >= p.e.repo.Config.PackSize {
		return p.seal(ctx)
	}
	return nil
}

func (p *packer) open() error {
	f, err := os.CreateTemp(p.e.opts.SpoolDir, "tmp-*.pack")
	if err != nil {
		return fmt.Errorf("creating a pack in the spool: %w", err)
	}
	w, err := pack.NewWriter(f, p.e.repo.Recipients, pack.WriterOptions{})
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	p.f, p.w = f, w
	return nil
}

// seal finishes the open pack (if any): encrypts its tail, syncs it to disk
// under its final name, records it as sealed in the catalog, and hands it
// to onSeal.
func (p *packer) seal(ctx context.Context) error {
	if p.e.opts.DryRun {
		if p.dryLen > 0 {
			p.e.c.packs.Add(1)
			p.e.c.puts.Add(1)
			p.dryLen = 0
		}
		return nil
	}
	if p.w == nil {
		return nil
	}
	w, f := p.w, p.f
	p.w, p.f = nil, nil
	sealed, err := w.Close()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("sealing a pack: %w", err)
	}
	var key string
	if p.kind == catalog.PackData {
		key = p.e.repo.Layout.DataKey(sealed.SHA256)
	} else {
		key = p.e.repo.Layout.MetaKey(p.e.start, p.e.snap, p.n)
		p.n++
	}
	final := filepath.Join(p.e.opts.SpoolDir, hex.EncodeToString(sealed.SHA256[:])+".pack")
	if err := os.Rename(f.Name(), final); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("sealing a pack: %w", err)
	}
	id, err := p.e.cat.AddSealedPack(ctx, catalog.Pack{
		Key: key, Kind: p.kind, Size: sealed.Size, SHA256: sealed.SHA256, LocalPath: final, Created: p.e.clk.Now(),
	}, sealed.Entries)
	if err != nil {
		os.Remove(final)
		return err
	}
	clear(p.pending)
	p.keys = append(p.keys, key)
	return p.onSeal(ctx, sealedPack{id: id, key: key, path: final, size: sealed.Size, sha256: sealed.SHA256, kind: p.kind})
}
