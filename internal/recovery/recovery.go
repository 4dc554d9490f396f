package recovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/tree"
)

// Errors callers can test with errors.Is.
var (
	// ErrNoRepository: the listing found no config object at the root.
	ErrNoRepository = errors.New("no icevault repository there")
	// ErrWrongKit: the kit's identity cannot decrypt the config object, or
	// the config names another repository or blob-ID key than the kit.
	ErrWrongKit = errors.New("the recovery kit does not belong to this repository")
	// ErrNotEmpty: Rebuild only fills an empty catalog.
	ErrNotEmpty = errors.New("the catalog is not empty")
	// ErrBadObject: a downloaded object is truncated, tampered with or
	// inconsistent; the message names its key.
	ErrBadObject = errors.New("damaged repository object")
)

// Lister is what Objects needs of the bucket.
type Lister interface {
	List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error]
}

// Listing is what one ListObjectsV2 of the repository root found.
type Listing struct {
	Config store.ObjectInfo
	Meta   []store.ObjectInfo // metadata packs, in key (= history) order
	Data   []store.ObjectInfo // data packs, in key order
	Other  []string           // other keys under the root: not part of the layout, ignored
}

// Objects lists the repository root once and sorts what it finds into the
// config object, metadata packs and data packs. It fails with
// ErrNoRepository if there is no config object.
func Objects(ctx context.Context, st Lister, l repo.Layout) (Listing, error) {
	var ls Listing
	found := false
	for o, err := range st.List(ctx, l.Root) {
		if err != nil {
			return Listing{}, fmt.Errorf("listing %s: %w", l.Root, err)
		}
		switch {
		case o.Key == l.ConfigKey():
			ls.Config, found = o, true
		case strings.HasPrefix(o.Key, l.MetaPrefix()):
			if _, err := parseMetaKey(l, o.Key); err != nil || o.Size <= 0 {
				ls.Other = append(ls.Other, o.Key)
				continue
			}
			ls.Meta = append(ls.Meta, o)
		case strings.HasPrefix(o.Key, l.DataPrefix()):
			if _, err := dataKeySum(l, o.Key); err != nil || o.Size <= 0 {
				ls.Other = append(ls.Other, o.Key)
				continue
			}
			ls.Data = append(ls.Data, o)
		default:
			ls.Other = append(ls.Other, o.Key)
		}
	}
	if !found {
		return Listing{}, fmt.Errorf("%w: no %s", ErrNoRepository, l.ConfigKey())
	}
	byKey := func(a, b store.ObjectInfo) int { return strings.Compare(a.Key, b.Key) }
	slices.SortFunc(ls.Meta, byKey)
	slices.SortFunc(ls.Data, byKey)
	return ls, nil
}

// Thaw is what recovery must restore from Deep Archive: the config object
// and every metadata pack, plus every data pack if allData (a full restore
// with a single wait).
func (ls Listing) Thaw(allData bool) []store.ObjectInfo {
	out := append([]store.ObjectInfo{ls.Config}, ls.Meta...)
	if allData {
		out = append(out, ls.Data...)
	}
	return out
}

// Bytes is the total size of objects.
func Bytes(objects []store.ObjectInfo) int64 {
	var n int64
	for _, o := range objects {
		n += o.Size
	}
	return n
}

// File is one object of the listing and, once downloaded, its local copy.
type File struct {
	Key  string
	Size int64  // as listed
	Path string // local copy; "" if not downloaded
}

// FileOf pairs a listed object with its local copy.
func FileOf(o store.ObjectInfo, path string) File { return File{Key: o.Key, Size: o.Size, Path: path} }

// Input is what Rebuild reads.
type Input struct {
	Layout repo.Layout
	Bucket string
	Config File   // downloaded
	Meta   []File // every metadata pack of the listing, downloaded
	// Data is every data pack of the listing (nil if unknown). Those with
	// a Path were downloaded too: their SHA-256 is checked against their
	// key, and those no record lists are recorded from their own index.
	Data []File
}

// Result says what Rebuild found and wrote.
type Result struct {
	RepoID    string
	Snapshots int
	MetaPacks int
	DataPacks int
	Blobs     int64 // blob index rows
	Trees     int64 // cached trees
	// Unindexed are data packs in the bucket that no pack-index record
	// lists: uploaded by a run that stopped before its snapshot, so no
	// snapshot references their data.
	Unindexed []string
	// Missing are data packs a pack-index record lists that the listing
	// does not have (only checked when Input.Data is given).
	Missing []string
	// Incomplete are snapshots that reach a tree or blob the rebuilt
	// catalog cannot place: a restore of them would be partial.
	Incomplete []string
	Warnings   []string
}

// Rebuild fills the empty catalog cat from the downloaded objects in in,
// with the kit's identity. See the package documentation.
func Rebuild(ctx context.Context, cat *catalog.Catalog, kit keystore.Kit, in Input) (Result, error) {
	var res Result
	if st, err := cat.Stats(ctx); err != nil {
		return res, err
	} else if !st.Empty() {
		return res, fmt.Errorf("%w: %s already holds a repository or part of one; recover into a new catalog file", ErrNotEmpty, cat.Path())
	}
	ident, err := keystore.ParseIdentity(kit.Identity)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrWrongKit, err)
	}
	cfg, err := readConfig(in.Config, ident, kit)
	if err != nil {
		return res, err
	}
	res.RepoID = cfg.ID
	if kit.Bucket != "" && in.Bucket != "" && kit.Bucket != in.Bucket {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the kit names bucket %q; recovering from %q", kit.Bucket, in.Bucket))
	}
	key := pack.IDKey(kit.BlobIDKey)

	// Pass 1: authenticate and decode everything; write nothing.
	p, err := plan(ctx, in, ident, key, &res)
	if err != nil {
		return res, err
	}

	// Pass 2: write. Settings go last: they make the catalog a repository.
	for _, m := range p.meta {
		if err := writeMeta(ctx, cat, m, ident, key); err != nil {
			return res, fmt.Errorf("%w (the catalog %s is incomplete: delete it and run recovery again)", err, cat.Path())
		}
	}
	for _, d := range p.data {
		if _, err := cat.AddUploadedPack(ctx, catalog.Pack{Key: d.Key, Kind: catalog.PackData, Size: d.Size, SHA256: d.SHA256,
			Created: d.created, IndexedBy: d.indexedBy}, d.Entries); err != nil {
			return res, err
		}
	}
	for _, s := range p.snaps {
		if err := cat.AddSnapshot(ctx, s); err != nil {
			return res, err
		}
	}
	if err := repo.SaveToCatalog(ctx, cat, cfg, in.Layout, in.Bucket); err != nil {
		return res, err
	}

	st, err := cat.Stats(ctx)
	if err != nil {
		return res, err
	}
	res.Snapshots, res.MetaPacks, res.DataPacks = int(st.Snapshots), int(st.MetaPacks), int(st.DataPacks)
	res.Blobs, res.Trees = st.Blobs, st.Trees
	if err := checkSnapshots(ctx, cat, p.snaps, &res); err != nil {
		return res, err
	}
	return res, nil
}

// readConfig decrypts the config object and checks it against the kit.
func readConfig(f File, ident age.Identity, kit keystore.Kit) (repo.Config, error) {
	body, err := readFile(f)
	if err != nil {
		return repo.Config{}, err
	}
	cfg, err := repo.OpenConfig(body, ident)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return repo.Config{}, fmt.Errorf("%w: its identity cannot decrypt %s (%v)", ErrWrongKit, f.Key, err)
		}
		return repo.Config{}, fmt.Errorf("%w: %s: %w", ErrBadObject, f.Key, err)
	}
	if cfg.ID != kit.RepoID {
		return repo.Config{}, fmt.Errorf("%w: the kit is for repository %s, the bucket holds repository %s", ErrWrongKit, kit.RepoID, cfg.ID)
	}
	if cfg.BlobIDKey != hex.EncodeToString(kit.BlobIDKey[:]) {
		return repo.Config{}, fmt.Errorf("%w: the kit's blob-ID key differs from repository %s's (mistyped kit?)", ErrWrongKit, cfg.ID)
	}
	return cfg, nil
}

func readFile(f File) ([]byte, error) {
	if f.Path == "" {
		return nil, fmt.Errorf("%s has not been downloaded", f.Key)
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("reading the download of %s: %w", f.Key, err)
	}
	if f.Size > 0 && int64(len(b)) != f.Size {
		return nil, fmt.Errorf("%w: %s: the download has %d bytes, the bucket lists %d (truncated download?)", ErrBadObject, f.Key, len(b), f.Size)
	}
	return b, nil
}

// metaName is a metadata pack's key, parsed.
type metaName struct {
	time time.Time
	snap string
	n    int
}

func parseMetaKey(l repo.Layout, key string) (metaName, error) {
	name, ok := strings.CutPrefix(key, l.MetaPrefix())
	bad := fmt.Errorf("%q is not a metadata pack name (<time>-<snapshot>-<n>)", key)
	if !ok || len(name) < 16+1+1+1+3 || name[16] != '-' {
		return metaName{}, bad
	}
	t, err := time.Parse("20060102T150405Z", name[:16])
	if err != nil {
		return metaName{}, bad
	}
	rest := name[17:]
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return metaName{}, bad
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 0 || len(rest[i+1:]) < 3 {
		return metaName{}, bad
	}
	return metaName{time: t, snap: rest[:i], n: n}, nil
}

func dataKeySum(l repo.Layout, key string) ([32]byte, error) {
	var sum [32]byte
	name, ok := strings.CutPrefix(key, l.DataPrefix())
	b, err := hex.DecodeString(name)
	if !ok || err != nil || len(b) != len(sum) || strings.ToLower(name) != name {
		return sum, fmt.Errorf("%q is not a data pack name (<sha256>)", key)
	}
	copy(sum[:], b)
	return sum, nil
}

// metaPack is one metadata pack, decoded by the first pass.
type metaPack struct {
	File
	name    metaName
	sha256  [32]byte
	entries []pack.Entry
	snaps   []repo.SnapshotRecord
	indexes []repo.PackIndex
	trees   int
	// indexedBy is the last metadata object of the first snapshot
	// committed at or after this pack: what CommitSnapshot recorded.
	indexedBy string
}

// dataPack is one data pack to record.
type dataPack struct {
	repo.PackIndex
	created   time.Time
	indexedBy string
}

// rebuildPlan is everything pass 2 writes.
type rebuildPlan struct {
	meta  []*metaPack
	data  []*dataPack
	snaps []catalog.Snapshot
}

// Meta blob tags (package repo's documentation).
var (
	snapshotTag  = []byte("ICEVSNAP")
	packIndexTag = []byte("ICEVPIDX")
)

func plan(ctx context.Context, in Input, ident age.Identity, key pack.IDKey, res *Result) (*rebuildPlan, error) {
	l := in.Layout
	files := slices.Clone(in.Meta)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Key, b.Key) })
	var p rebuildPlan
	for i, f := range files {
		if i > 0 && files[i-1].Key == f.Key {
			return nil, fmt.Errorf("metadata pack %s given twice", f.Key)
		}
		name, err := parseMetaKey(l, f.Key)
		if err != nil {
			return nil, err
		}
		m := &metaPack{File: f, name: name}
		if err := scanMeta(ctx, m, ident, key, nil); err != nil {
			return nil, err
		}
		p.meta = append(p.meta, m)
	}

	// Snapshots, and the metadata keys of each run, from the key names.
	keysOf := map[string][]string{}
	for _, m := range p.meta {
		keysOf[m.name.snap] = append(keysOf[m.name.snap], m.Key)
	}
	committed := map[string]string{} // snapshot ID -> its last metadata key
	var lasts []string
	for _, m := range p.meta {
		for _, s := range m.snaps {
			if s.ID != m.name.snap {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s holds the record of snapshot %s, not of %s", m.Key, s.ID, m.name.snap))
			}
			if _, dup := committed[s.ID]; dup {
				continue
			}
			root, _ := pack.ParseID(s.Root) // checked by repo.DecodeMeta
			ks := keysOf[s.ID]
			if len(ks) == 0 {
				ks = []string{m.Key}
			}
			last := ks[len(ks)-1]
			committed[s.ID] = last
			lasts = append(lasts, last)
			p.snaps = append(p.snaps, catalog.Snapshot{ID: s.ID, Time: s.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags,
				Root: root, MetaKeys: slices.Clone(ks), Summary: s.Summary})
		}
	}
	slices.Sort(lasts)
	sort.SliceStable(p.snaps, func(i, j int) bool { return p.snaps[i].Time.Before(p.snaps[j].Time) })

	// Every metadata pack is listed by the first snapshot committed at or
	// after it (keys sort by time); those of a run that never committed and
	// was never followed by one are listed by none.
	for _, m := range p.meta {
		if i, _ := slices.BinarySearch(lasts, m.Key); i < len(lasts) {
			m.indexedBy = lasts[i]
		}
	}

	// Data packs from the pack-index records. A pack is listed by the
	// snapshot whose metadata holds its record; a record in the metadata of
	// a run that never committed counts only if no snapshot lists the pack.
	byKey := map[string]*dataPack{}
	for _, m := range p.meta {
		indexedBy := committed[m.name.snap]
		for _, x := range m.indexes {
			sum, err := dataKeySum(l, x.Key)
			if err != nil || sum != x.SHA256 {
				return nil, fmt.Errorf("%w: %s: a pack-index record names %q, which is not the data pack key of its checksum %x", ErrBadObject, m.Key, x.Key, x.SHA256)
			}
			if err := checkDataEntries(x.Entries); err != nil {
				return nil, fmt.Errorf("%w: %s: pack-index record of %s: %w", ErrBadObject, m.Key, x.Key, err)
			}
			d, seen := byKey[x.Key]
			if !seen {
				d = &dataPack{PackIndex: x, created: m.name.time, indexedBy: indexedBy}
				byKey[x.Key] = d
				p.data = append(p.data, d)
				continue
			}
			if d.Size != x.Size || !slices.Equal(d.Entries, x.Entries) {
				return nil, fmt.Errorf("%w: %s: the pack-index record of %s disagrees with an earlier one", ErrBadObject, m.Key, x.Key)
			}
			if d.indexedBy == "" {
				d.indexedBy = indexedBy
			}
		}
	}
	for _, d := range p.data {
		if d.indexedBy == "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("data pack %s is listed only by the metadata of a backup that did not finish; the next backup lists it again", d.Key))
		}
	}

	// The data packs of the listing: what is missing, what no record
	// lists, and the downloaded ones checked byte for byte.
	if in.Data != nil {
		listed := map[string]bool{}
		for _, f := range in.Data {
			listed[f.Key] = true
			sum, err := dataKeySum(l, f.Key)
			if err != nil {
				return nil, err
			}
			d := byKey[f.Key]
			if d != nil && d.Size != f.Size {
				res.Warnings = append(res.Warnings, fmt.Sprintf("data pack %s: the bucket lists %d bytes, its record says %d", f.Key, f.Size, d.Size))
			}
			if f.Path != "" {
				if err := checkDataFile(f, sum); err != nil {
					return nil, err
				}
			}
			if d != nil {
				continue
			}
			res.Unindexed = append(res.Unindexed, f.Key)
			if f.Path == "" {
				continue
			}
			// Downloaded: its own index places its blobs, as on the
			// original machine (uploaded, listed by no snapshot yet).
			entries, err := dataFileIndex(f, ident)
			if err != nil {
				return nil, err
			}
			d = &dataPack{PackIndex: repo.PackIndex{Key: f.Key, Size: f.Size, SHA256: sum, Entries: entries}}
			if len(p.meta) > 0 {
				d.created = p.meta[len(p.meta)-1].name.time
			}
			byKey[f.Key] = d
			p.data = append(p.data, d)
		}
		for _, d := range p.data {
			if !listed[d.Key] {
				res.Missing = append(res.Missing, d.Key)
			}
		}
		if len(res.Missing) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d data packs that snapshots need are not in the bucket", len(res.Missing)))
		}
	}
	return &p, ctx.Err()
}

func checkDataEntries(entries []pack.Entry) error {
	for _, e := range entries {
		if e.Kind != pack.KindData {
			return fmt.Errorf("blob %s has kind %s in a data pack", e.ID, e.Kind)
		}
	}
	return nil
}

// scanMeta reads one downloaded metadata pack end to end: size, age
// authentication, every blob's ID, the index; it decodes the meta blobs
// into m and passes each tree blob to onTree (if not nil).
func scanMeta(ctx context.Context, m *metaPack, ident age.Identity, key pack.IDKey, onTree func(pack.ID, []byte) error) error {
	fail := func(err error) error {
		return fmt.Errorf("%w: metadata pack %s: %w", ErrBadObject, m.Key, err)
	}
	f, err := os.Open(m.Path)
	if err != nil {
		return fmt.Errorf("reading the download of %s: %w", m.Key, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Size() != m.Size {
		return fail(fmt.Errorf("the download has %d bytes, the bucket lists %d (truncated download?)", fi.Size(), m.Size))
	}
	h := sha256.New()
	r := io.TeeReader(ctxReader{ctx, f}, h)
	m.entries, m.snaps, m.indexes, m.trees = nil, nil, nil, 0
	err = pack.Scan(r, key, func(e pack.Entry, data []byte) error {
		m.entries = append(m.entries, e)
		switch e.Kind {
		case pack.KindTree:
			m.trees++
			if onTree != nil {
				return onTree(e.ID, data)
			}
		case pack.KindMeta:
			if !bytes.HasPrefix(data, snapshotTag) && !bytes.HasPrefix(data, packIndexTag) {
				return nil // a record kind this version does not know: not needed to rebuild
			}
			mb, err := repo.DecodeMeta(data)
			if err != nil {
				return fmt.Errorf("blob %s: %w", e.ID, err)
			}
			if mb.Snapshot != nil {
				m.snaps = append(m.snaps, *mb.Snapshot)
			}
			if mb.PackIndex != nil {
				m.indexes = append(m.indexes, *mb.PackIndex)
			}
		default:
			return fmt.Errorf("blob %s: a %s blob in a metadata pack", e.ID, e.Kind)
		}
		return nil
	}, ident)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, pack.ErrWrongKey) {
			// The same identity opened the config object.
			return fail(fmt.Errorf("the kit's identity cannot decrypt it, though it decrypts the config object: the object is damaged or not of this repository: %w", err))
		}
		return fail(err)
	}
	if _, err := io.Copy(h, f); err != nil { // anything after the age stream (there should be nothing)
		return err
	}
	copy(m.sha256[:], h.Sum(nil))
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeMeta records one metadata pack and caches its trees (pass 2).
func writeMeta(ctx context.Context, cat *catalog.Catalog, m *metaPack, ident age.Identity, key pack.IDKey) error {
	entries := len(m.entries)
	var batch []catalog.TreeBlob
	var batchBytes int
	flush := func() error {
		err := cat.PutTrees(ctx, batch)
		batch, batchBytes = batch[:0], 0
		return err
	}
	err := scanMeta(ctx, m, ident, key, func(id pack.ID, data []byte) error {
		batch = append(batch, catalog.TreeBlob{ID: id, Data: data})
		batchBytes += len(data)
		if len(batch) >= 1000 || batchBytes >= 16<<20 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if len(m.entries) != entries {
		return fmt.Errorf("%w: metadata pack %s changed while recovery read it", ErrBadObject, m.Key)
	}
	_, err = cat.AddUploadedPack(ctx, catalog.Pack{Key: m.Key, Kind: catalog.PackMeta, Size: m.Size, SHA256: m.sha256,
		Created: m.name.time, IndexedBy: m.indexedBy}, m.entries)
	return err
}

// checkDataFile checks a downloaded data pack against its key and listing.
func checkDataFile(f File, want [32]byte) error {
	fh, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("reading the download of %s: %w", f.Key, err)
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return fmt.Errorf("reading the download of %s: %w", f.Key, err)
	}
	if n != f.Size {
		return fmt.Errorf("%w: data pack %s: the download has %d bytes, the bucket lists %d (truncated download?)", ErrBadObject, f.Key, n, f.Size)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		return fmt.Errorf("%w: data pack %s: the download's SHA-256 is %x, not the one its name says", ErrBadObject, f.Key, got)
	}
	return nil
}

// dataFileIndex reads a downloaded data pack's own index.
func dataFileIndex(f File, ident age.Identity) ([]pack.Entry, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("reading the download of %s: %w", f.Key, err)
	}
	defer fh.Close()
	r, err := pack.OpenReader(fh, f.Size, ident)
	if err != nil {
		return nil, fmt.Errorf("%w: data pack %s: %w", ErrBadObject, f.Key, err)
	}
	entries := r.Index()
	if err := checkDataEntries(entries); err != nil {
		return nil, fmt.Errorf("%w: data pack %s: %w", ErrBadObject, f.Key, err)
	}
	return entries, nil
}

// checkSnapshots walks every snapshot in the rebuilt catalog and reports
// those that reach a tree or a blob it cannot place.
func checkSnapshots(ctx context.Context, cat *catalog.Catalog, snaps []catalog.Snapshot, res *Result) error {
	okTree := map[pack.ID]bool{} // tree ID -> complete
	okBlob := map[pack.ID]bool{}
	has := func(id pack.ID) (bool, error) {
		if v, seen := okBlob[id]; seen {
			return v, nil
		}
		v, err := cat.HasBlob(ctx, id)
		okBlob[id] = v
		return v, err
	}
	var walk func(id pack.ID) (bool, error)
	walk = func(id pack.ID) (bool, error) {
		if v, seen := okTree[id]; seen {
			return v, nil
		}
		okTree[id] = false // a cycle is incomplete, not endless
		if err := ctx.Err(); err != nil {
			return false, err
		}
		complete := true
		if ok, err := has(id); err != nil {
			return false, err
		} else if !ok {
			complete = false
		}
		data, err := cat.Tree(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		t, err := tree.Decode(data)
		if err != nil {
			return false, nil
		}
		for _, n := range t.Nodes {
			switch n.Type {
			case tree.TypeDir:
				ok, err := walk(n.Subtree)
				if err != nil {
					return false, err
				}
				complete = complete && ok
			case tree.TypeFile:
				for _, c := range n.Content {
					ok, err := has(c)
					if err != nil {
						return false, err
					}
					complete = complete && ok
				}
			}
		}
		okTree[id] = complete
		return complete, nil
	}
	for _, s := range snaps {
		ok, err := walk(s.Root)
		if err != nil {
			return err
		}
		if !ok {
			res.Incomplete = append(res.Incomplete, s.ID)
			res.Warnings = append(res.Warnings, fmt.Sprintf("snapshot %s reaches trees or file data the bucket does not hold: restoring it would be partial", s.ID))
		}
	}
	return nil
}
