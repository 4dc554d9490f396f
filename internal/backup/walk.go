package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/scan"
	"github.com/icevault/icevault/internal/tree"
)

// rootResult is one backed-up folder.
type rootResult struct {
	Path  string
	Entry scan.Entry
	Tree  pack.ID
}

// stageBatch is how many file-cache rows are written per transaction.
const stageBatch = 2000

// walker walks one backup root.
type walker struct {
	e     *engine
	sc    *scan.Scanner
	root  string
	jobs  chan<- *fileJob
	meta  *packer
	stage []catalog.FileState
}

func (e *engine) walkRoots(ctx context.Context, jobs chan<- *fileJob, meta *packer) ([]rootResult, error) {
	var out []rootResult
	for _, p := range e.opts.Paths {
		p = filepath.Clean(p)
		sc, err := scan.NewScanner(p, e.opts.Scan)
		if err != nil {
			return nil, fmt.Errorf("cannot back up %s: %w", p, err)
		}
		w := &walker{e: e, sc: sc, root: p, jobs: jobs, meta: meta}
		id, err := w.dir(ctx, "", sc.Root())
		if err == nil {
			err = w.flush(ctx)
		}
		root := sc.Root()
		sc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, rootResult{Path: p, Entry: root, Tree: id})
	}
	return out, nil
}

func (e *engine) notice(n scan.Notice) {
	if n.Warning() {
		e.c.warnings.Add(1)
	}
	e.emit(Event{Kind: EventNotice, Notice: &n})
}

// pendingFile is a file handed to the readers, waiting in its directory.
type pendingFile struct {
	node  int // index in the directory's nodes
	job   *fileJob
	isNew bool
}

// dir backs up one directory and returns its tree's ID. Its files go to
// the readers first, all of them; then its subdirectories are walked, in
// name order, while the readers work on the files; the tree is built once
// they are all done. Files first keeps a folder's files together in the
// data packs: walking a subfolder between two files (the order of names)
// put the subfolder's blobs, however many packs they fill, between its
// parent's.
func (w *walker) dir(ctx context.Context, rel string, dirEntry scan.Entry) (pack.ID, error) {
	entries, notices, err := w.sc.ReadDir(ctx, rel, dirEntry)
	if err != nil {
		return pack.ID{}, err
	}
	for _, n := range notices {
		w.e.notice(n)
	}
	var filePaths []string
	for _, en := range entries {
		if en.Type == scan.File {
			filePaths = append(filePaths, filepath.Join(w.root, filepath.FromSlash(path.Join(rel, en.Name))))
		}
	}
	cache, err := w.e.cat.Files(ctx, filePaths)
	if err != nil {
		return pack.ID{}, err
	}
	nodes := make([]tree.Node, 0, len(entries))
	var pending []pendingFile
	type subdir struct {
		node  int // index in nodes
		entry scan.Entry
	}
	var subdirs []subdir
	for _, en := range entries {
		childRel := path.Join(rel, en.Name)
		node := tree.Node{Name: en.Name, Mode: tree.UnixMode(en.Mode), MtimeNs: en.MtimeNs, UID: en.UID, GID: en.GID}
		switch en.Type {
		case scan.Dir:
			node.Type = tree.TypeDir
			subdirs = append(subdirs, subdir{node: len(nodes), entry: en})
		case scan.Symlink:
			node.Type = tree.TypeSymlink
			node.Target = en.LinkTarget
		case scan.File:
			node.Type = tree.TypeFile
			node.Size = en.Size
			if en.Nlink > 1 {
				node.Links = en.Nlink
				node.LinkGroup = fmt.Sprintf("%x:%x", en.Dev, en.Inode)
			}
			abs := filepath.Join(w.root, filepath.FromSlash(childRel))
			state := catalog.FileState{Path: abs, Root: w.root, Size: en.Size, MtimeNs: en.MtimeNs, CtimeNs: en.CtimeNs, Inode: en.Inode, Dev: en.Dev}
			cached, ok := cache[abs]
			if ok && cached.Same(state) {
				// Unchanged: its cache row stays as it is (writing it
				// again was a third of a no-change run).
				node.Content = cached.Blobs
				w.e.c.filesUnchanged.Add(1)
				w.e.c.bytesUnchanged.Add(en.Size)
				w.e.emit(Event{Kind: EventFile, Path: abs, Size: en.Size})
				break
			}
			job := &fileJob{sc: w.sc, dirRel: rel, entry: en, abs: abs, done: make(chan struct{})}
			select {
			case w.jobs <- job:
			case <-ctx.Done():
				return pack.ID{}, ctx.Err()
			}
			pending = append(pending, pendingFile{node: len(nodes), job: job, isNew: !ok})
		default:
			continue // FIFOs, sockets, devices: scan already said so (SkippedSpecial)
		}
		nodes = append(nodes, node)
	}
	for _, sd := range subdirs {
		if nodes[sd.node].Subtree, err = w.dir(ctx, path.Join(rel, sd.entry.Name), sd.entry); err != nil {
			return pack.ID{}, err
		}
	}

	dropped := map[int]bool{}
	for _, pf := range pending {
		select {
		case <-pf.job.done:
		case <-ctx.Done():
			return pack.ID{}, ctx.Err()
		}
		j := pf.job
		if j.err != nil {
			return pack.ID{}, j.err
		}
		if j.notice != nil {
			w.e.notice(*j.notice)
			if j.ids == nil {
				// Unreadable or vanished: leave it out rather than record
				// a file whose content we do not have.
				dropped[pf.node] = true
				continue
			}
		}
		n := &nodes[pf.node]
		n.Content, n.Size, n.MtimeNs = j.ids, j.size, j.entry.MtimeNs
		if pf.isNew {
			w.e.c.filesNew.Add(1)
		} else {
			w.e.c.filesChanged.Add(1)
		}
		w.e.emit(Event{Kind: EventFile, Path: j.abs, Size: j.size, Changed: true})
		if j.stable {
			state := catalog.FileState{Path: j.abs, Root: w.root, Size: j.entry.Size, MtimeNs: j.entry.MtimeNs,
				CtimeNs: j.entry.CtimeNs, Inode: j.entry.Inode, Dev: j.entry.Dev, Blobs: j.ids}
			if err := w.addStage(ctx, state); err != nil {
				return pack.ID{}, err
			}
		}
	}
	if len(dropped) > 0 {
		kept := nodes[:0]
		for i, n := range nodes {
			if !dropped[i] {
				kept = append(kept, n)
			}
		}
		nodes = kept
	}
	w.e.c.dirs.Add(1)
	return w.e.saveTree(ctx, w.meta, tree.Tree{Nodes: nodes})
}

// saveTree encodes a tree, caches it in the catalog and hands it to the
// metadata packer, which skips it if the repository already has it (an
// unchanged directory).
func (e *engine) saveTree(ctx context.Context, meta *packer, t tree.Tree) (pack.ID, error) {
	data, err := tree.Encode(t)
	if err != nil {
		return pack.ID{}, err
	}
	if len(data) > pack.MaxBlobSize {
		return pack.ID{}, fmt.Errorf("a directory with %d entries is too large for one tree blob (%d bytes, limit %d)", len(t.Nodes), len(data), pack.MaxBlobSize)
	}
	id := e.repo.IDKey.ID(data)
	if !e.opts.DryRun {
		if err := e.cat.PutTree(ctx, id, data); err != nil {
			return pack.ID{}, err
		}
	}
	return id, meta.add(ctx, blob{kind: pack.KindTree, id: id, data: data})
}

func (w *walker) addStage(ctx context.Context, f catalog.FileState) error {
	if w.e.opts.DryRun {
		return nil
	}
	w.stage = append(w.stage, f)
	if len(w.stage) >= stageBatch {
		return w.flush(ctx)
	}
	return nil
}

func (w *walker) flush(ctx context.Context) error {
	if len(w.stage) == 0 {
		return nil
	}
	err := w.e.cat.StageFiles(ctx, w.e.run, w.stage)
	w.stage = w.stage[:0]
	return err
}

// noticeFor turns an error reading one file into a notice: a file that
// vanished or cannot be read is left out with a warning, never a reason to
// stop the whole backup.
func noticeFor(rel string, err error) scan.Notice {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, scan.ErrNotRegular):
		return scan.Notice{Path: rel, Kind: scan.Vanished, Err: err}
	case errors.Is(err, fs.ErrPermission):
		return scan.Notice{Path: rel, Kind: scan.PermissionDenied, Err: err}
	}
	return scan.Notice{Path: rel, Kind: scan.ReadError, Err: err}
}
