package backup

import (
	"context"
	"encoding/json"
	"errors"
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
	// The pack sealed next holds the snapshot record. Should the run stop
	// once it is sealed, the next run uploads it like any sealed pack, and
	// must then record the snapshot the bucket now holds: write it down
	// before sealing.
	last := e.repo.Layout.MetaKey(e.start, e.snap, final.n)
	snap := catalog.Snapshot{ID: e.snap, Time: e.start, Host: e.opts.Host, Paths: paths, Tags: e.opts.Tags, Root: rootID,
		MetaKeys: append(append([]string(nil), final.keys...), last), Summary: sum.summaryJSON()}
	if err := e.savePending(ctx, pendingSnapshot{Snapshot: snap, IndexedBy: last, Run: e.run}); err != nil {
		return err
	}
	if err := final.seal(ctx); err != nil {
		return err
	}
	if len(final.keys) == 0 || final.keys[len(final.keys)-1] != last {
		return fmt.Errorf("internal error: snapshot %s: metadata pack %v, expected %s", e.snap, final.keys, last)
	}
	if err := e.cat.CommitSnapshot(ctx, snap, last, e.run); err != nil {
		return err
	}
	e.committed = true
	return e.cat.DeleteSetting(ctx, pendingKey)
}

// pendingKey is the catalog setting that holds a snapshot whose record is
// sealed but not yet confirmed by S3.
const pendingKey = "backup.pending-snapshot"

type pendingSnapshot struct {
	Snapshot  catalog.Snapshot
	IndexedBy string
	Run       int64
}

func (e *engine) savePending(ctx context.Context, p pendingSnapshot) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return e.cat.SetSetting(ctx, pendingKey, b)
}

// finishPending commits the snapshot of a stopped run whose record reached
// the bucket after all (resume uploaded its sealed metadata pack), so the
// catalog lists every snapshot the bucket holds. A record that never left
// this machine is dropped with its run.
func (e *engine) finishPending(ctx context.Context) error {
	b, err := e.cat.Setting(ctx, pendingKey)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var p pendingSnapshot
	if err := json.Unmarshal(b, &p); err != nil {
		return e.cat.DeleteSetting(ctx, pendingKey)
	}
	pk, err := e.cat.PackByKey(ctx, p.IndexedBy)
	if err == nil && pk.State == catalog.Uploaded {
		if err := e.cat.CommitSnapshot(ctx, p.Snapshot, p.IndexedBy, p.Run); err != nil {
			return err
		}
		e.emit(Event{Kind: EventCommittedEarlier, Snapshot: p.Snapshot.ID})
	} else if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return e.cat.DeleteSetting(ctx, pendingKey)
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
