package restore

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/icevault/icevault/internal/browse"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/tree"
)

// Item is one thing to restore: a folder, file or symlink, by its absolute
// path in the snapshot.
type Item struct {
	Path string
	Node tree.Node
}

// PackRef is a pack a restore needs.
type PackRef struct {
	Key    string
	Size   int64
	SHA256 [32]byte
}

// Plan is what a restore will do.
type Plan struct {
	Snapshot  catalog.Snapshot
	Paths     []string // as asked; empty means the whole snapshot
	Items     []Item   // folders before their contents
	Files     int
	FileBytes int64
	Packs     []PackRef // sorted by key
	PackBytes int64
	blobPack  map[pack.ID]string
}

// catalogReader is what planning needs of the catalog.
type catalogReader interface {
	browse.Trees
	Blob(ctx context.Context, id pack.ID) (catalog.BlobLocation, error)
	PackByID(ctx context.Context, id int64) (catalog.Pack, error)
}

// MakePlan resolves paths in a snapshot and finds the packs that hold them,
// from the catalog alone.
func MakePlan(ctx context.Context, cat catalogReader, snap catalog.Snapshot, paths []string) (*Plan, error) {
	p := &Plan{Snapshot: snap, Paths: paths, blobPack: map[pack.ID]string{}}
	roots := paths
	if len(roots) == 0 {
		roots = snap.Paths
	}
	packs := map[int64]bool{}
	seen := map[string]bool{}
	for _, r := range roots {
		e, err := browse.Resolve(ctx, cat, snap.Root, r)
		if err != nil {
			return nil, err
		}
		err = p.add(ctx, cat, e.Path, e.Node, packs, seen)
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(p.Packs, func(a, b PackRef) int { return strings.Compare(a.Key, b.Key) })
	return p, nil
}

func (p *Plan) add(ctx context.Context, cat catalogReader, at string, n tree.Node, packs map[int64]bool, seen map[string]bool) error {
	if seen[at] {
		return nil // the same path asked twice, or inside another asked path
	}
	seen[at] = true
	p.Items = append(p.Items, Item{Path: at, Node: n})
	switch n.Type {
	case tree.TypeFile:
		p.Files++
		p.FileBytes += n.Size
		for _, id := range n.Content {
			if _, ok := p.blobPack[id]; ok {
				continue
			}
			loc, err := cat.Blob(ctx, id)
			if err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
			p.blobPack[id] = loc.PackKey
			if !packs[loc.PackID] {
				packs[loc.PackID] = true
				pk, err := cat.PackByID(ctx, loc.PackID)
				if err != nil {
					return err
				}
				p.Packs = append(p.Packs, PackRef{Key: pk.Key, Size: pk.Size, SHA256: pk.SHA256})
				p.PackBytes += pk.Size
			}
		}
	case tree.TypeDir:
		b, err := cat.Tree(ctx, n.Subtree)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		t, err := tree.Decode(b)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		for _, c := range t.Nodes {
			if err := p.add(ctx, cat, path.Join(at, c.Name), c, packs, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// PackOf is the key of the pack holding blob id (for a planned file).
func (p *Plan) PackOf(id pack.ID) string { return p.blobPack[id] }
