// Package browse answers questions about snapshots from their trees alone —
// list a folder, find names, compare two snapshots — so they need no bucket
// reads (the catalog caches every tree).
package browse

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/tree"
)

// Trees loads tree blobs (the catalog's cache).
type Trees interface {
	Tree(ctx context.Context, id pack.ID) ([]byte, error)
}

// Entry is one node with its path in the snapshot.
type Entry struct {
	Path    string    `json:"path"`
	Type    string    `json:"type"`
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	MTime   time.Time `json:"mtime"`
	Target  string    `json:"target,omitempty"`
	Node    tree.Node `json:"-"`
	Subtree pack.ID   `json:"-"`
}

func entry(p string, n tree.Node) Entry {
	e := Entry{Path: p, Type: n.Type, Size: n.Size, Mode: n.FileMode().String(), MTime: time.Unix(0, n.MtimeNs), Target: n.Target, Node: n, Subtree: n.Subtree}
	if n.Type == tree.TypeDir {
		e.Mode = "d" + e.Mode[1:]
	}
	if n.Type == tree.TypeSymlink {
		e.Mode = "l" + e.Mode[1:]
	}
	return e
}

func load(ctx context.Context, ts Trees, id pack.ID) (tree.Tree, error) {
	b, err := ts.Tree(ctx, id)
	if err != nil {
		return tree.Tree{}, err
	}
	return tree.Decode(b)
}

// Resolve finds the node at p (an absolute path as backed up) below a
// snapshot's root tree. The root tree's entries are the backed-up folders,
// named by their absolute paths.
func Resolve(ctx context.Context, ts Trees, root pack.ID, p string) (Entry, error) {
	p = path.Clean("/" + strings.TrimPrefix(p, "/"))
	rt, err := load(ctx, ts, root)
	if err != nil {
		return Entry{}, err
	}
	if p == "/" {
		return Entry{Path: "/", Type: tree.TypeDir, Subtree: root, Mode: "drwxr-xr-x"}, nil
	}
	for _, n := range rt.Nodes {
		if p != n.Name && !strings.HasPrefix(p, strings.TrimSuffix(n.Name, "/")+"/") {
			continue
		}
		cur := entry(n.Name, n)
		rest := strings.TrimPrefix(strings.TrimPrefix(p, n.Name), "/")
		for _, name := range strings.Split(rest, "/") {
			if name == "" {
				continue
			}
			if cur.Type != tree.TypeDir {
				return Entry{}, fmt.Errorf("%s is not a folder in this snapshot", cur.Path)
			}
			t, err := load(ctx, ts, cur.Subtree)
			if err != nil {
				return Entry{}, err
			}
			c, ok := t.Find(name)
			if !ok {
				return Entry{}, fmt.Errorf("%s is not in this snapshot", path.Join(cur.Path, name))
			}
			cur = entry(path.Join(cur.Path, name), c)
		}
		return cur, nil
	}
	return Entry{}, fmt.Errorf("%s is not in this snapshot (it holds %s)", p, rootNames(rt))
}

func rootNames(t tree.Tree) string {
	var names []string
	for _, n := range t.Nodes {
		names = append(names, n.Name)
	}
	return strings.Join(names, ", ")
}

// List returns the entries of the folder at p, or p itself if it is not a
// folder. With recursive, it walks the whole subtree, depth first.
func List(ctx context.Context, ts Trees, root pack.ID, p string, recursive bool, fn func(Entry) error) error {
	e, err := Resolve(ctx, ts, root, p)
	if err != nil {
		return err
	}
	if e.Type != tree.TypeDir {
		return fn(e)
	}
	return walk(ctx, ts, e.Subtree, e.Path, recursive, fn)
}

func walk(ctx context.Context, ts Trees, id pack.ID, dir string, recursive bool, fn func(Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := load(ctx, ts, id)
	if err != nil {
		return err
	}
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		if dir == "/" {
			p = n.Name // the root tree's names are absolute paths
		}
		if err := fn(entry(p, n)); err != nil {
			return err
		}
		if recursive && n.Type == tree.TypeDir {
			if err := walk(ctx, ts, n.Subtree, p, true, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Find calls fn for every entry whose name matches the glob pattern (as
// path.Match; a pattern containing "/" matches the whole path).
func Find(ctx context.Context, ts Trees, root pack.ID, pattern string, fn func(Entry) error) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return walk(ctx, ts, root, "/", true, func(e Entry) error {
		subject := path.Base(e.Path)
		if strings.Contains(pattern, "/") {
			subject = e.Path
		}
		if ok, _ := path.Match(pattern, subject); ok {
			return fn(e)
		}
		return nil
	})
}

// Change is one difference between two snapshots.
type Change struct {
	Op    string `json:"op"` // "+" added, "-" removed, "M" content changed, "T" type changed, "m" metadata changed
	Path  string `json:"path"`
	Type  string `json:"type"`
	Size  int64  `json:"size"`
	Delta int64  `json:"size_delta,omitempty"`
}

// Diff compares two snapshots' trees. Subtrees with the same ID are equal
// and skipped, so the cost is proportional to what changed.
func Diff(ctx context.Context, ts Trees, a, b pack.ID, fn func(Change) error) error {
	return diff(ctx, ts, a, b, "/", fn)
}

func diff(ctx context.Context, ts Trees, a, b pack.ID, dir string, fn func(Change) error) error {
	if a == b {
		return nil
	}
	ta, err := load(ctx, ts, a)
	if err != nil {
		return err
	}
	tb, err := load(ctx, ts, b)
	if err != nil {
		return err
	}
	join := func(name string) string {
		if dir == "/" {
			return name
		}
		return path.Join(dir, name)
	}
	all := func(op string, id pack.ID, p string) error {
		return walk(ctx, ts, id, p, true, func(e Entry) error {
			return fn(Change{Op: op, Path: e.Path, Type: e.Type, Size: e.Size})
		})
	}
	i, j := 0, 0
	for i < len(ta.Nodes) || j < len(tb.Nodes) {
		var na, nb *tree.Node
		switch {
		case j >= len(tb.Nodes) || (i < len(ta.Nodes) && ta.Nodes[i].Name < tb.Nodes[j].Name):
			na = &ta.Nodes[i]
			i++
		case i >= len(ta.Nodes) || tb.Nodes[j].Name < ta.Nodes[i].Name:
			nb = &tb.Nodes[j]
			j++
		default:
			na, nb = &ta.Nodes[i], &tb.Nodes[j]
			i++
			j++
		}
		switch {
		case nb == nil:
			p := join(na.Name)
			if err := fn(Change{Op: "-", Path: p, Type: na.Type, Size: na.Size}); err != nil {
				return err
			}
			if na.Type == tree.TypeDir {
				if err := all("-", na.Subtree, p); err != nil {
					return err
				}
			}
		case na == nil:
			p := join(nb.Name)
			if err := fn(Change{Op: "+", Path: p, Type: nb.Type, Size: nb.Size}); err != nil {
				return err
			}
			if nb.Type == tree.TypeDir {
				if err := all("+", nb.Subtree, p); err != nil {
					return err
				}
			}
		case na.Type != nb.Type:
			if err := fn(Change{Op: "T", Path: join(na.Name), Type: nb.Type, Size: nb.Size}); err != nil {
				return err
			}
		case na.Type == tree.TypeDir:
			if err := diff(ctx, ts, na.Subtree, nb.Subtree, join(na.Name), fn); err != nil {
				return err
			}
		case !sameContent(*na, *nb):
			if err := fn(Change{Op: "M", Path: join(na.Name), Type: nb.Type, Size: nb.Size, Delta: nb.Size - na.Size}); err != nil {
				return err
			}
		case na.Mode != nb.Mode || na.MtimeNs != nb.MtimeNs || na.UID != nb.UID || na.GID != nb.GID:
			if err := fn(Change{Op: "m", Path: join(na.Name), Type: nb.Type, Size: nb.Size}); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameContent(a, b tree.Node) bool {
	if a.Target != b.Target || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if a.Content[i] != b.Content[i] {
			return false
		}
	}
	return true
}
