package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Type classifies a directory entry. The zero value means unknown.
type Type uint8

const (
	File Type = iota + 1
	Dir
	Symlink
	FIFO
	Socket
	Device     // block device
	CharDevice // character device
	Other
)

func (t Type) String() string {
	switch t {
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	case FIFO:
		return "fifo"
	case Socket:
		return "socket"
	case Device:
		return "device"
	case CharDevice:
		return "chardevice"
	case Other:
		return "other"
	}
	return "unknown"
}

// Special reports whether entries of this type are not files, directories or
// symlinks (FIFOs, sockets, devices, anything else).
func (t Type) Special() bool { return t >= FIFO }

// Entry is one directory entry with its lstat metadata.
type Entry struct {
	Name       string      // raw bytes as the OS gives them; may be non-UTF-8
	Type       Type        //
	Mode       fs.FileMode // permission bits plus setuid, setgid and sticky
	Size       int64       //
	MtimeNs    int64       // Unix nanoseconds
	CtimeNs    int64       // Unix nanoseconds
	Inode      uint64      //
	Dev        uint64      //
	Nlink      uint64      // > 1 for a file with hard links: match on (Dev, Inode)
	UID, GID   uint32      //
	LinkTarget string      // symlinks only, raw bytes
	Rdev       uint64      // devices only

	// ign carries the ignore files that apply inside this directory, so
	// ReadDir of a child needs no lookup. Nil is fine: ReadDir then reloads
	// them from the ancestors' ignore files.
	ign *ignoreNode
}

// NoticeKind says what a Notice is about.
type NoticeKind uint8

const (
	// PermissionDenied: an entry or directory could not be read; it is
	// recorded without its content (a directory: empty).
	PermissionDenied NoticeKind = iota + 1
	// Vanished: an entry disappeared (or was replaced) between readdir and
	// lstat, or a directory disappeared before it was read.
	Vanished
	// SkippedSpecial: a FIFO, socket or device, returned typed for the
	// caller to record as skipped; its content is not read.
	SkippedSpecial
	// Excluded: an entry matched an exclude pattern and was left out.
	Excluded
	// OtherFS: a directory on another file system under OneFileSystem; it is
	// returned (to be recorded empty) and ReadDir of it returns no entries.
	OtherFS
	// CacheDir: the directory has a valid CACHEDIR.TAG under ExcludeCaches;
	// only the tag file itself is returned.
	CacheDir
	// ReadError: any other error reading one entry or directory (EIO, a
	// malformed ignore file that could not be read, ...).
	ReadError
)

func (k NoticeKind) String() string {
	switch k {
	case PermissionDenied:
		return "permission denied"
	case Vanished:
		return "vanished"
	case SkippedSpecial:
		return "skipped special file"
	case Excluded:
		return "excluded"
	case OtherFS:
		return "other file system"
	case CacheDir:
		return "cache directory"
	case ReadError:
		return "read error"
	}
	return "unknown"
}

// Notice is something the user should be told that does not stop the backup.
type Notice struct {
	Path string // relative to the backup root, '/'-separated ("" = the root)
	Kind NoticeKind
	Err  error // the underlying error, if any
}

func (n Notice) Error() string {
	if n.Err != nil {
		return fmt.Sprintf("%s: %s: %v", n.Path, n.Kind, n.Err)
	}
	return fmt.Sprintf("%s: %s", n.Path, n.Kind)
}

// Warning reports whether the notice means data the user asked to back up
// was not backed up, so that the run should end as "partial". Vanished,
// excluded, special, cache and other-file-system entries are expected
// outcomes, not losses.
func (n Notice) Warning() bool { return n.Kind == PermissionDenied || n.Kind == ReadError }

// Options select what is left out of a backup.
type Options struct {
	// Excludes are gitignore-style patterns relative to each backup root.
	// They take precedence over ignore files, as git's command-line
	// patterns do, so "!x" here re-includes what an ignore file excludes.
	Excludes []string
	// ExcludeCaches leaves out the contents of directories holding a valid
	// CACHEDIR.TAG (https://bford.info/cachedir/), keeping the tag file
	// itself, as restic and GNU tar do, so a restore shows why the
	// directory is empty.
	ExcludeCaches bool
	// OneFileSystem does not descend into directories on another device
	// than the root; the mount point itself is recorded, empty.
	OneFileSystem bool
	// IgnoreFileName is a per-directory ignore file honoured like
	// .gitignore (patterns relative to its directory; deeper files take
	// precedence), e.g. ".icevaultignore". "" = none. The file itself is
	// backed up unless a pattern excludes it. Like git, a symlinked ignore
	// file is not followed.
	IgnoreFileName string
}

// CacheDirTagName is the CACHEDIR.TAG file name and cacheDirSignature the
// bytes it must start with.
const (
	CacheDirTagName   = "CACHEDIR.TAG"
	cacheDirSignature = "Signature: 8a477f597d28d172789f06886806bc55"
)

// ErrNotRegular is returned by Open for anything but a regular file.
var ErrNotRegular = errors.New("not a regular file")

// Scanner lists one backup root. Its methods are safe for concurrent use.
type Scanner struct {
	path    string
	root    Entry
	opts    Options
	cmdline []pattern
	dirs    *dirCache
	// noIgnore ends every ignore chain, so a nil Entry.ign means "not
	// from ReadDir" rather than "no ignore files".
	noIgnore *ignoreNode

	// beforeLstat is a test hook run between readdir and each lstat.
	beforeLstat func(dirRelPath, name string)
}

// NewScanner opens the backup root, which must be a directory. Symlinks in
// root itself are resolved (the user named that path); below it nothing is
// followed. Close the Scanner when the walk is done.
func NewScanner(root string, opts Options) (*Scanner, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("scan: open root %s: %w", root, &fs.PathError{Op: "open", Path: root, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("scan: stat root %s: %w", root, err)
	}
	s := &Scanner{path: root, opts: opts, dirs: newDirCache(fd), noIgnore: &ignoreNode{}}
	s.root = entryFromStat(rootName(root), &st)
	s.root.ign = s.noIgnore
	for _, line := range opts.Excludes {
		if p, ok := parsePattern(line); ok {
			s.cmdline = append(s.cmdline, p)
		}
	}
	return s, nil
}

func rootName(root string) string {
	root = strings.TrimRight(root, "/")
	if i := strings.LastIndexByte(root, '/'); i >= 0 {
		root = root[i+1:]
	}
	if root == "" {
		return "/"
	}
	return root
}

// Close releases the directory descriptors the Scanner holds.
func (s *Scanner) Close() error { return s.dirs.close() }

// Root returns the entry of the root directory; pass it to ReadDir(ctx, "", root).
func (s *Scanner) Root() Entry { return s.root }

// ReadDir lists the directory at dirRelPath ("" = the root; '/'-separated,
// relative to the root) whose entry, as returned by the parent's ReadDir,
// is dir. Entries are sorted bytewise by name, excluded ones removed.
//
// Problems with the directory itself (permission denied, vanished, I/O
// error) are returned as a Notice with no entries and a nil error: record
// the directory empty and carry on. The error is non-nil only when ctx is
// done or dirRelPath is invalid.
func (s *Scanner) ReadDir(ctx context.Context, dirRelPath string, dir Entry) ([]Entry, []Notice, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := checkRelPath(dirRelPath); err != nil {
		return nil, nil, err
	}
	if dirRelPath != "" && dir.Type == 0 {
		// A caller-made Entry: look the directory up ourselves.
		parent, name := splitPath(dirRelPath)
		e, err := s.Lstat(ctx, parent, name)
		if err != nil {
			return nil, []Notice{dirNotice(dirRelPath, err)}, nil
		}
		dir = e
	}
	if dirRelPath != "" && s.opts.OneFileSystem && dir.Dev != s.root.Dev {
		return nil, nil, nil // reported as OtherFS by the parent's ReadDir
	}
	ign := dir.ign
	if dirRelPath == "" {
		ign = s.noIgnore
	} else if ign == nil {
		ign = s.loadAncestorIgnores(dirRelPath)
	}

	fd, err := s.dirs.openFresh(dirRelPath)
	if err != nil {
		return nil, []Notice{dirNotice(dirRelPath, err)}, nil
	}
	names, rerr := readNames(fd)
	var notices []Notice
	if rerr != nil {
		// Keep what was read: a partial listing beats none.
		notices = append(notices, Notice{Path: dirRelPath, Kind: kindOf(rerr), Err: rerr})
	}
	h := s.dirs.adopt(dirRelPath, fd)
	defer s.dirs.release(h)
	slices.Sort(names)

	if s.opts.IgnoreFileName != "" && contains(names, s.opts.IgnoreFileName) {
		data, err := readSmallFile(h.fd, s.opts.IgnoreFileName, 1<<20)
		if err != nil {
			notices = append(notices, Notice{Path: joinPath(dirRelPath, s.opts.IgnoreFileName), Kind: kindOf(err), Err: err})
		} else if ps := parsePatterns(data); len(ps) > 0 {
			ign = &ignoreNode{parent: ign, base: dirRelPath, patterns: ps}
		}
	}

	if s.opts.ExcludeCaches && contains(names, CacheDirTagName) && isCacheDirTag(h.fd) {
		notices = append(notices, Notice{Path: dirRelPath, Kind: CacheDir})
		names = []string{CacheDirTagName}
	}

	entries := make([]Entry, 0, len(names))
	for i, name := range names {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		rel := joinPath(dirRelPath, name)
		if s.beforeLstat != nil {
			s.beforeLstat(dirRelPath, name)
		}
		e, err := lstatAt(h.fd, name)
		if err != nil {
			notices = append(notices, Notice{Path: rel, Kind: kindOf(err), Err: err})
			continue
		}
		if excluded(s.cmdline, ign, rel, name, e.Type == Dir) {
			notices = append(notices, Notice{Path: rel, Kind: Excluded})
			continue
		}
		switch {
		case e.Type == Dir:
			e.ign = ign
			if s.opts.OneFileSystem && e.Dev != s.root.Dev {
				notices = append(notices, Notice{Path: rel, Kind: OtherFS})
			}
		case e.Type == Symlink:
			target, err := readlinkAt(h.fd, name)
			if err != nil {
				notices = append(notices, Notice{Path: rel, Kind: kindOf(err), Err: err})
				continue
			}
			e.LinkTarget = target
		case e.Type.Special():
			notices = append(notices, Notice{Path: rel, Kind: SkippedSpecial})
		}
		entries = append(entries, e)
	}
	return entries, notices, nil
}

// Lstat returns the entry name in the directory dirRelPath, without
// following a symlink (LinkTarget is filled). Use it to re-check a file
// after reading it.
func (s *Scanner) Lstat(ctx context.Context, dirRelPath, name string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	if err := checkName(name); err != nil {
		return Entry{}, err
	}
	h, err := s.dirs.acquire(dirRelPath)
	if err != nil {
		return Entry{}, err
	}
	defer s.dirs.release(h)
	e, err := lstatAt(h.fd, name)
	if err == nil && e.Type == Symlink {
		e.LinkTarget, err = readlinkAt(h.fd, name)
	}
	return e, err
}

// Open opens the regular file name in the directory dirRelPath for reading.
// It never follows a symlink (the final component included) and fails with
// ErrNotRegular if the entry is no longer a regular file, so a file swapped
// for a FIFO cannot block the backup. Compare the opened file's Stat with
// the entry from ReadDir to detect a replaced file.
func (s *Scanner) Open(ctx context.Context, dirRelPath, name string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	h, err := s.dirs.acquire(dirRelPath)
	if err != nil {
		return nil, err
	}
	defer s.dirs.release(h)
	rel := joinPath(dirRelPath, name)
	fd, err := openFileAt(h.fd, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: rel, Err: ErrNotRegular}
	}
	// O_NONBLOCK was only a guard against FIFOs; regular files ignore it,
	// but clear it so os.File treats the descriptor as a plain file.
	_ = unix.SetNonblock(fd, false)
	return os.NewFile(uintptr(fd), rel), nil
}

// Restat refreshes e's size, times, inode, device, link count and owner
// from the open file f: what the file is now. A reader calls it after
// reading, to tell whether the file changed meanwhile, and keeps the
// result when it reads again, so what it records matches what it read.
func Restat(f *os.File, e *Entry) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return err
	}
	if serr != nil {
		return &fs.PathError{Op: "fstat", Path: f.Name(), Err: serr}
	}
	fillFromStat(e, &st)
	return nil
}

// ReadLink returns the target of the symlink name in dirRelPath.
func (s *Scanner) ReadLink(ctx context.Context, dirRelPath, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := checkName(name); err != nil {
		return "", err
	}
	h, err := s.dirs.acquire(dirRelPath)
	if err != nil {
		return "", err
	}
	defer s.dirs.release(h)
	t, err := readlinkAt(h.fd, name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: joinPath(dirRelPath, name), Err: err}
	}
	return t, nil
}

// loadAncestorIgnores rebuilds the ignore chain for dirRelPath from the
// ignore files of the root and every ancestor, for a caller that passed an
// Entry not produced by ReadDir. Unreadable ignore files are skipped here:
// their own directory's ReadDir reports them.
func (s *Scanner) loadAncestorIgnores(dirRelPath string) *ignoreNode {
	n := s.noIgnore
	if s.opts.IgnoreFileName == "" {
		return n
	}
	dirs := []string{""}
	for i := range len(dirRelPath) {
		if dirRelPath[i] == '/' {
			dirs = append(dirs, dirRelPath[:i])
		}
	}
	for _, d := range dirs {
		h, err := s.dirs.acquire(d)
		if err != nil {
			continue
		}
		data, err := readSmallFile(h.fd, s.opts.IgnoreFileName, 1<<20)
		s.dirs.release(h)
		if err != nil {
			continue
		}
		if ps := parsePatterns(data); len(ps) > 0 {
			n = &ignoreNode{parent: n, base: d, patterns: ps}
		}
	}
	return n
}

func isCacheDirTag(dirfd int) bool {
	data, err := readSmallFile(dirfd, CacheDirTagName, int64(len(cacheDirSignature)))
	return err == nil && string(data) == cacheDirSignature
}

// readSmallFile reads at most limit bytes of a regular file, not following symlinks.
func readSmallFile(dirfd int, name string, limit int64) ([]byte, error) {
	fd, err := openFileAt(dirfd, name)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, ErrNotRegular
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// readNames lists a directory descriptor without taking ownership of it.
func readNames(fd int) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(dup)
	f := os.NewFile(uintptr(dup), "")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
	}
	return names, err
}

func lstatAt(dirfd int, name string) (Entry, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return Entry{}, err
	}
	return entryFromStat(name, &st), nil
}

func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

func openFileAt(dirfd int, name string) (int, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, flags|openNoAtime, 0)
		if err == unix.EPERM && openNoAtime != 0 {
			// O_NOATIME needs ownership or CAP_FOWNER.
			fd, err = unix.Openat(dirfd, name, flags, 0)
		}
		return err
	})
	return fd, err
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

func entryFromStat(name string, st *unix.Stat_t) Entry {
	e := Entry{Name: name}
	fillFromStat(&e, st)
	mode := uint32(st.Mode)
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Type = File
	case unix.S_IFDIR:
		e.Type = Dir
	case unix.S_IFLNK:
		e.Type = Symlink
	case unix.S_IFIFO:
		e.Type = FIFO
	case unix.S_IFSOCK:
		e.Type = Socket
	case unix.S_IFBLK:
		e.Type = Device
	case unix.S_IFCHR:
		e.Type = CharDevice
	default:
		e.Type = Other
	}
	e.Mode = fs.FileMode(mode & 0o777)
	if mode&unix.S_ISUID != 0 {
		e.Mode |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		e.Mode |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		e.Mode |= fs.ModeSticky
	}
	if e.Type != Device && e.Type != CharDevice {
		e.Rdev = 0
	}
	return e
}

// kindOf classifies an error on one entry or directory.
func kindOf(err error) NoticeKind {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return PermissionDenied
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		// Gone, or replaced by something else (a file or a symlink where
		// a directory was) since its parent was listed.
		return Vanished
	}
	return ReadError
}

func dirNotice(rel string, err error) Notice {
	return Notice{Path: rel, Kind: kindOf(err), Err: err}
}

func contains(sorted []string, name string) bool {
	_, ok := slices.BinarySearch(sorted, name)
	return ok
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func splitPath(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("scan: invalid entry name %q", name)
	}
	return nil
}

func checkRelPath(rel string) error {
	if rel == "" {
		return nil
	}
	for c := range strings.SplitSeq(rel, "/") {
		if err := checkName(c); err != nil {
			return fmt.Errorf("scan: invalid directory path %q", rel)
		}
	}
	return nil
}
