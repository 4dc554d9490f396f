package backup

import (
	"context"
	"fmt"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/tree"
)

// commit writes the snapshot: the root tree, copies of the indexes of all
// data packs no earlier snapshot lists, and the snapshot record, in the
// run's last metadata pack(s); then, once S3 confirmed them, the catalog.
func (e *engine) commit(ctx context.Context, roots []rootResult, final *packer) error {
	if prev, same, err := e.unchanged(ctx, roots); err != nil || (same && final.w == nil) {
		if err == nil {
			e.unchangedSince = prev
			err = e.cat.DiscardRun(ctx, e.run)
		}
		return err
	}
	add := func(b blob) error { return final.add(ctx, b) }

	var nodes []tree.Node
	var paths []string
	for _, r := range roots {
		nodes = append(nodes, tree.Node{Name: r.Path, Type: tree.TypeDir, Mode: tree.UnixMode(r.Entry.Mode),
			MtimeNs: r.Entry.MtimeNs, UID: r.Entry.UID, GID: r.Entry.GID, Subtree: r.Tree})
		paths = append(paths, r.Path)
	}
	rootData, err := tree.Encode(tree.Tree{Nodes: nodes})
	if err != nil {
		return err
	}
	rootID := e.repo.IDKey.ID(rootData)
	if err := e.cat.PutTree(ctx, rootID, rootData); err != nil {
		return err
	}
	if err := add(blob{kind: pack.KindTree, id: rootID, data: rootData}); err != nil {
		return err
	}

	unindexed, err := e.cat.Packs(ctx, catalog.PackFilter{Kind: catalog.PackData, State: catalog.Uploaded, Unindexed: true})
	if err != nil {
		return err
	}
	for _, p := range unindexed {
		entries, err := e.cat.PackEntries(ctx, p.ID)
		if err != nil {
			return err
		}
		data := repo.EncodePackIndex(repo.PackIndex{Key: p.Key, Size: p.Size, SHA256: p.SHA256, Entries: entries})
		if err := add(blob{kind: pack.KindMeta, id: e.repo.IDKey.ID(data), data: data}); err != nil {
			return err
		}
	}

	sum := e.summary()
	sum.SnapshotID = e.snap
	rec := repo.SnapshotRecord{ID: e.snap, Time: e.start.UTC(), Host: e.opts.Host, Paths: paths, Tags: e.opts.Tags,
		Root: rootID.String(), Summary: sum.summaryJSON()}
	recData, err := repo.EncodeSnapshot(rec)
	if err != nil {
		return err
	}
	if err := add(blob{kind: pack.KindMeta, id: e.repo.IDKey.ID(recData), data: recData}); err != nil {
		return err
	}
	if err := final.seal(ctx); err != nil {
		return err
	}
	if len(final.keys) == 0 {
		return fmt.Errorf("internal error: snapshot %s produced no metadata pack", e.snap)
	}
	last := final.keys[len(final.keys)-1]
	err = e.cat.CommitSnapshot(ctx, catalog.Snapshot{
		ID: e.snap, Time: e.start, Host: e.opts.Host, Paths: paths, Tags: e.opts.Tags, Root: rootID,
		MetaKeys: final.keys, Summary: sum.summaryJSON(),
	}, last, e.run, paths)
	if err != nil {
		return err
	}
	e.committed = true
	return nil
}

// unchanged reports whether this run found exactly what the latest snapshot
// of the same paths holds, with nothing uploaded since: then it makes no
// snapshot and no request at all, and the latest one stands.
func (e *engine) unchanged(ctx context.Context, roots []rootResult) (string, bool, error) {
	unindexed, err := e.cat.Packs(ctx, catalog.PackFilter{Unindexed: true})
	if err != nil || len(unindexed) > 0 {
		return "", false, err
	}
	snaps, err := e.cat.Snapshots(ctx)
	if err != nil {
		return "", false, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if len(s.Paths) != len(roots) {
			continue
		}
		match := true
		for j, r := range roots {
			match = match && s.Paths[j] == r.Path
		}
		if !match {
			continue
		}
		data, err := e.cat.Tree(ctx, s.Root)
		if err != nil {
			return "", false, err
		}
		t, err := tree.Decode(data)
		if err != nil {
			return "", false, err
		}
		for _, r := range roots {
			n, ok := t.Find(r.Path)
			match = match && ok && n.Subtree == r.Tree && n.MtimeNs == r.Entry.MtimeNs && n.Mode == tree.UnixMode(r.Entry.Mode)
		}
		return s.ID, match, nil
	}
	return "", false, nil
}
