// Package tree defines the tree blob: one directory's entries, sorted by
// name, with each entry's metadata and either its content blobs (files) or
// its subtree (directories). A snapshot is a root tree plus a small record.
//
// # Format (version 1)
//
// A tree blob is a JSON object, UTF-8, produced by encoding/json from the
// Tree type below (so field order is fixed and the bytes are deterministic):
//
//	{"v":1,"entries":[{"name":"a.txt","type":"file","mode":420,"mtime_ns":…,
//	  "size":3,"uid":501,"gid":20,"content":["<64 hex>",…]}, …]}
//
// Entries are sorted by the bytes of their names. A name that is not valid
// UTF-8 (legal on Linux and macOS) is stored base64 (standard, padded) in
// "name_b64" instead of "name", because JSON cannot carry arbitrary bytes.
// type is one of file, dir, symlink. mode holds the permission bits and
// setuid (0o4000), setgid (0o2000) and sticky (0o1000) in Unix numbering.
// Files list their content blob IDs in order (empty for an empty file);
// directories name their subtree blob; symlinks carry their target
// ("target", or "target_b64" if not UTF-8). Files with more than one hard
// link carry "links" and a "link_group" shared by all names of the same
// inode within the snapshot, so a restore can recreate the links.
//
// The tree's blob ID is the repository's keyed hash of these bytes, so an
// unchanged directory yields the same bytes, the same ID, and no new blob.
package tree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"unicode/utf8"

	"github.com/icevault/icevault/internal/pack"
)

// Version is the tree format version this package writes.
const Version = 1

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// Node is one entry of a directory.
type Node struct {
	Name    string    `json:"-"`
	Type    string    `json:"type"`
	Mode    uint32    `json:"mode"`
	MtimeNs int64     `json:"mtime_ns"`
	Size    int64     `json:"size,omitempty"`
	UID     uint32    `json:"uid"`
	GID     uint32    `json:"gid"`
	Content []pack.ID `json:"-"`
	Subtree pack.ID   `json:"-"`
	Target  string    `json:"-"`
	// Links and LinkGroup mark hard links: names with the same LinkGroup
	// within one snapshot are the same file.
	Links     uint64 `json:"links,omitempty"`
	LinkGroup string `json:"link_group,omitempty"`
}

// FileMode converts Mode to an fs.FileMode (permissions and special bits).
func (n Node) FileMode() fs.FileMode {
	m := fs.FileMode(n.Mode & 0o777)
	if n.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// UnixMode converts an fs.FileMode's permission and special bits to Mode.
func UnixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// Tree is one directory.
type Tree struct {
	Nodes []Node
}

// wireNode is a Node as stored; []byte fields are standard base64 in JSON.
type wireNode struct {
	Name    string   `json:"name,omitempty"`
	NameB64 []byte   `json:"name_b64,omitempty"`
	Type    string   `json:"type"`
	Mode    uint32   `json:"mode"`
	MtimeNs int64    `json:"mtime_ns"`
	Size    int64    `json:"size,omitempty"`
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Content []string `json:"content,omitempty"`
	Subtree string   `json:"subtree,omitempty"`
	Target  string   `json:"target,omitempty"`
	TargetB []byte   `json:"target_b64,omitempty"`
	Links   uint64   `json:"links,omitempty"`
	Group   string   `json:"link_group,omitempty"`
}

type wireTree struct {
	V       int        `json:"v"`
	Entries []wireNode `json:"entries"`
}

// Encode serialises t deterministically. Nodes are sorted by name; two
// nodes with the same name are an error.
func Encode(t Tree) ([]byte, error) {
	nodes := slices.Clone(t.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return bytes.Compare([]byte(a.Name), []byte(b.Name)) })
	w := wireTree{V: Version, Entries: make([]wireNode, 0, len(nodes))}
	for i, n := range nodes {
		if n.Name == "" || (i > 0 && nodes[i-1].Name == n.Name) {
			return nil, fmt.Errorf("tree: empty or duplicate entry name %q", n.Name)
		}
		wn := wireNode{Type: n.Type, Mode: n.Mode, MtimeNs: n.MtimeNs, Size: n.Size, UID: n.UID, GID: n.GID, Links: n.Links, Group: n.LinkGroup}
		if utf8.ValidString(n.Name) {
			wn.Name = n.Name
		} else {
			wn.NameB64 = []byte(n.Name)
		}
		switch n.Type {
		case TypeFile:
			wn.Content = make([]string, len(n.Content))
			for j, id := range n.Content {
				wn.Content[j] = id.String()
			}
		case TypeDir:
			wn.Subtree = n.Subtree.String()
		case TypeSymlink:
			if utf8.ValidString(n.Target) {
				wn.Target = n.Target
			} else {
				wn.TargetB = []byte(n.Target)
			}
		default:
			return nil, fmt.Errorf("tree: entry %q has unknown type %q", n.Name, n.Type)
		}
		w.Entries = append(w.Entries, wn)
	}
	return json.Marshal(w)
}

// Decode parses a tree blob.
func Decode(b []byte) (Tree, error) {
	var w wireTree
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Tree{}, fmt.Errorf("tree: %w", err)
	}
	if w.V != Version {
		return Tree{}, fmt.Errorf("tree: format version %d is not supported (this icevault reads %d)", w.V, Version)
	}
	t := Tree{Nodes: make([]Node, 0, len(w.Entries))}
	for _, wn := range w.Entries {
		n := Node{Name: wn.Name, Type: wn.Type, Mode: wn.Mode, MtimeNs: wn.MtimeNs, Size: wn.Size, UID: wn.UID, GID: wn.GID, Links: wn.Links, LinkGroup: wn.Group}
		if wn.NameB64 != nil {
			n.Name = string(wn.NameB64)
		}
		if n.Name == "" {
			return Tree{}, errors.New("tree: entry without a name")
		}
		switch n.Type {
		case TypeFile:
			for _, s := range wn.Content {
				id, err := pack.ParseID(s)
				if err != nil {
					return Tree{}, fmt.Errorf("tree: entry %q: %w", n.Name, err)
				}
				n.Content = append(n.Content, id)
			}
		case TypeDir:
			id, err := pack.ParseID(wn.Subtree)
			if err != nil {
				return Tree{}, fmt.Errorf("tree: entry %q: %w", n.Name, err)
			}
			n.Subtree = id
		case TypeSymlink:
			n.Target = wn.Target
			if wn.TargetB != nil {
				n.Target = string(wn.TargetB)
			}
		default:
			return Tree{}, fmt.Errorf("tree: entry %q has unknown type %q", n.Name, n.Type)
		}
		if k := len(t.Nodes); k > 0 && bytes.Compare([]byte(t.Nodes[k-1].Name), []byte(n.Name)) >= 0 {
			return Tree{}, fmt.Errorf("tree: entries out of order or repeated at %q", n.Name)
		}
		t.Nodes = append(t.Nodes, n)
	}
	return t, nil
}

// Find returns the node called name.
func (t Tree) Find(name string) (Node, bool) {
	i, ok := slices.BinarySearchFunc(t.Nodes, name, func(n Node, name string) int {
		return bytes.Compare([]byte(n.Name), []byte(name))
	})
	if !ok {
		return Node{}, false
	}
	return t.Nodes[i], true
}
