package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/tree"
)

// AssembleResult says what one Assemble pass did.
type AssembleResult struct {
	Written int      // files, links and folders written this pass
	Done    int      // items written in total
	Waiting int      // files still waiting for packs
	Missing []string // keys of packs they wait for
	// WaitingFiles are those files, in plan order, each with the packs it
	// still needs: what a partial restore has not done yet.
	WaitingFiles []WaitingFile
}

// WaitingFile is a file not written yet because packs it needs are not
// downloaded.
type WaitingFile struct {
	Path  string   `json:"path"`  // where it will be written
	Packs []string `json:"packs"` // keys of the packs it waits for
}

// assembler writes one job's files.
type assembler struct {
	cat       *catalog.Catalog
	job       catalog.Job
	plan      *Plan
	local     map[string]string // pack key -> downloaded file
	ident     []age.Identity
	key       pack.IDKey
	readers   map[string]*pack.Reader
	files     []*os.File
	linkFirst map[string]string // hard-link group -> restored path
	o         Options
}

// Assemble writes every item of the plan whose packs are downloaded, and
// reports what still waits. It is safe to run again after any stop: files
// already written are skipped, and a file is renamed into place only when
// complete and verified, so no partial file ever has its final name.
func Assemble(ctx context.Context, cat *catalog.Catalog, job catalog.Job, p *Plan, ids []age.Identity, key pack.IDKey, o Options) (AssembleResult, error) {
	o.defaults()
	objs, err := cat.JobObjects(ctx, job.ID)
	if err != nil {
		return AssembleResult{}, err
	}
	a := &assembler{cat: cat, job: job, plan: p, local: map[string]string{}, ident: ids, key: key,
		readers: map[string]*pack.Reader{}, linkFirst: map[string]string{}, o: o}
	defer a.close()
	for _, obj := range objs {
		if obj.State == catalog.ObjDownloaded {
			a.local[obj.Key] = obj.Path
		}
	}
	var res AssembleResult
	missing := map[string]bool{}
	blocked := map[string]bool{} // folders with something below still waiting
	var dirs []Item
	for _, it := range p.Items {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		dest := destPath(job.Target, it.Path)
		done, err := cat.Restored(ctx, job.ID, dest)
		if err != nil {
			return res, err
		}
		if it.Node.Type == tree.TypeDir {
			dirs = append(dirs, it) // created when a file goes in, or at the end
			continue
		}
		if done {
			if it.Node.LinkGroup != "" && a.linkFirst[it.Node.LinkGroup] == "" {
				a.linkFirst[it.Node.LinkGroup] = dest
			}
			res.Done++
			continue
		}
		if it.Node.Type == tree.TypeFile {
			var need []string
			for _, id := range it.Node.Content {
				if k := p.PackOf(id); a.local[k] == "" && !slices.Contains(need, k) {
					need = append(need, k)
				}
			}
			if len(need) > 0 {
				res.Waiting++
				res.WaitingFiles = append(res.WaitingFiles, WaitingFile{Path: dest, Packs: need})
				for d := path.Dir(it.Path); !blocked[d]; d = path.Dir(d) {
					blocked[d] = true
					if d == "/" || d == "." {
						break
					}
				}
				for _, k := range need {
					missing[k] = true
				}
				continue
			}
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
			return res, err
		}
		// A run stopped between the rename and the record leaves the file
		// in place but unrecorded: if it is exactly what we would write,
		// record it; anything else there is someone else's file.
		if same, err := a.alreadyThere(it, dest); err != nil {
			return res, err
		} else if !same {
			if err := a.write(it, dest); err != nil {
				return res, err
			}
		}
		if err := cat.MarkRestored(ctx, job.ID, dest); err != nil {
			return res, err
		}
		o.Events(Event{Kind: EventRestored, Job: job.ID, Path: dest, Size: it.Node.Size})
		res.Written++
		res.Done++
	}
	for k := range missing {
		res.Missing = append(res.Missing, k)
	}
	slices.Sort(res.Missing)
	// Folders last, deepest first: writing into a folder changes its mtime,
	// and a read-only folder could not be written into.
	for i := len(dirs) - 1; i >= 0; i-- {
		it := dirs[i]
		dest := destPath(job.Target, it.Path)
		if done, _ := cat.Restored(ctx, job.ID, dest); done || blocked[it.Path] {
			continue
		}
		if err := os.MkdirAll(dest, 0o700); err != nil {
			return res, fmt.Errorf("creating %s: %w", dest, err)
		}
		if err := applyMeta(dest, it.Node, false); err != nil {
			return res, err
		}
		if err := cat.MarkRestored(ctx, job.ID, dest); err != nil {
			return res, err
		}
		res.Done++
	}
	return res, nil
}

func (a *assembler) close() {
	for _, f := range a.files {
		f.Close()
	}
}

func (a *assembler) reader(key string) (*pack.Reader, error) {
	if r := a.readers[key]; r != nil {
		return r, nil
	}
	f, err := os.Open(a.local[key])
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := pack.OpenReader(f, fi.Size(), a.ident...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pack %s: %w", key, err)
	}
	a.files = append(a.files, f)
	a.readers[key] = r
	return r, nil
}

// tempName is a hidden name beside dest for writing it; short, so a long
// final name still fits, and unique per job and path.
func (a *assembler) tempName(dest string) string {
	h := sha256.Sum256([]byte(dest))
	return filepath.Join(filepath.Dir(dest), fmt.Sprintf(".icevault-restore-%d-%s.tmp", a.job.ID, hex.EncodeToString(h[:6])))
}

func (a *assembler) write(it Item, dest string) error {
	tmp := a.tempName(dest)
	os.Remove(tmp) // left by a stopped run
	n := it.Node
	switch {
	case n.Type == tree.TypeSymlink:
		if err := os.Symlink(n.Target, tmp); err != nil {
			return fmt.Errorf("restoring %s: %w", dest, err)
		}
	case n.LinkGroup != "" && a.linkFirst[n.LinkGroup] != "":
		if err := os.Link(a.linkFirst[n.LinkGroup], tmp); err != nil {
			return fmt.Errorf("restoring hard link %s: %w", dest, err)
		}
	default:
		if err := a.writeFile(n, tmp, dest); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := applyMeta(tmp, n, n.Type == tree.TypeSymlink); err != nil {
		os.Remove(tmp)
		return err
	}
	if !a.job.Overwrite {
		if _, err := os.Lstat(dest); err == nil {
			os.Remove(tmp)
			return fmt.Errorf("%w: %s appeared while restoring; it was left alone (use --overwrite to replace it)", ErrConflict, dest)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restoring %s: %w", dest, err)
	}
	if n.LinkGroup != "" && a.linkFirst[n.LinkGroup] == "" {
		a.linkFirst[n.LinkGroup] = dest
	}
	return nil
}

// writeFile writes a file's blobs, each authenticated and ID-checked by the
// pack reader, and syncs it.
func (a *assembler) writeFile(n tree.Node, tmp, dest string) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restoring %s: %w", dest, err)
	}
	defer f.Close()
	var size int64
	for _, id := range n.Content {
		r, err := a.reader(a.plan.PackOf(id))
		if err != nil {
			return fmt.Errorf("restoring %s: %w", dest, err)
		}
		data, err := r.Blob(id, a.key)
		if err != nil {
			return fmt.Errorf("restoring %s: blob %s: %w", dest, id, err)
		}
		if _, err := f.Write(data); err != nil {
			return fmt.Errorf("restoring %s: %w", dest, err)
		}
		size += int64(len(data))
	}
	if size != n.Size {
		return fmt.Errorf("restoring %s: assembled %d bytes, the snapshot says %d: refusing to write a wrong file", dest, size, n.Size)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// alreadyThere reports whether dest already holds exactly the item:
// the same symlink target, or the same bytes and mode for a file.
func (a *assembler) alreadyThere(it Item, dest string) (bool, error) {
	fi, err := os.Lstat(dest)
	if err != nil {
		return false, nil
	}
	n := it.Node
	switch n.Type {
	case tree.TypeSymlink:
		target, err := os.Readlink(dest)
		return err == nil && fi.Mode()&fs.ModeSymlink != 0 && target == n.Target, nil
	case tree.TypeFile:
		if !fi.Mode().IsRegular() || fi.Size() != n.Size || fi.Mode().Perm() != n.FileMode().Perm() {
			return false, nil
		}
		f, err := os.Open(dest)
		if err != nil {
			return false, nil
		}
		defer f.Close()
		for _, id := range n.Content {
			r, err := a.reader(a.plan.PackOf(id))
			if err != nil {
				return false, err
			}
			want, err := r.Blob(id, a.key)
			if err != nil {
				return false, fmt.Errorf("restoring %s: blob %s: %w", dest, id, err)
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(f, got); err != nil || !bytes.Equal(got, want) {
				return false, nil
			}
		}
		return true, nil
	}
	return false, nil
}

// applyMeta sets mode, owner (when running as root) and mtime.
func applyMeta(p string, n tree.Node, symlink bool) error {
	if os.Geteuid() == 0 {
		_ = os.Lchown(p, int(n.UID), int(n.GID))
	}
	if symlink {
		return nil // no portable way to set a symlink's mode or mtime; its target is what matters
	}
	if err := os.Chmod(p, n.FileMode()); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", p, err)
	}
	mt := time.Unix(0, n.MtimeNs)
	if err := os.Chtimes(p, mt, mt); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("setting the time of %s: %w", p, err)
	}
	return nil
}
