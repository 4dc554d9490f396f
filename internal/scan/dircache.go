package scan

import (
	"sync"

	"golang.org/x/sys/unix"
)

// dirCacheSize bounds the idle directory descriptors kept open. The engine
// reads a directory's files right after listing it and walks depth first,
// so a small cache turns almost every openat chain into a single lookup
// while staying far below any RLIMIT_NOFILE.
const dirCacheSize = 64

// dirCache hands out descriptors of directories below the root, opening
// each path one component at a time with O_NOFOLLOW from the nearest cached
// ancestor. Cached descriptors are only used with *at calls, never read
// from, so sharing them is safe.
type dirCache struct {
	mu    sync.Mutex
	root  *dirHandle
	m     map[string]*dirHandle
	clock uint64
}

type dirHandle struct {
	fd      int
	path    string
	refs    int
	lastUse uint64
}

func newDirCache(rootfd int) *dirCache {
	return &dirCache{root: &dirHandle{fd: rootfd}, m: map[string]*dirHandle{}}
}

const dirOpenFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// acquire returns a handle for path ("" = root); release it when done.
func (c *dirCache) acquire(path string) (*dirHandle, error) {
	if path == "" {
		return c.root, nil
	}
	c.mu.Lock()
	if h, ok := c.m[path]; ok {
		h.refs++
		c.mu.Unlock()
		return h, nil
	}
	c.mu.Unlock()
	fd, err := c.openFresh(path)
	if err != nil {
		return nil, err
	}
	return c.adopt(path, fd), nil
}

// openFresh opens path with a new descriptor owned by the caller.
func (c *dirCache) openFresh(path string) (int, error) {
	parent, name := splitPath(path)
	ph := c.root
	if path != "" {
		var err error
		if ph, err = c.acquire(parent); err != nil {
			return -1, err
		}
		defer c.release(ph)
	} else {
		name = "."
	}
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Openat(ph.fd, name, dirOpenFlags, 0)
		return err
	})
	return fd, err
}

// adopt puts a descriptor from openFresh in the cache and returns it
// acquired. The root is never cached twice: its descriptor is closed.
func (c *dirCache) adopt(path string, fd int) *dirHandle {
	if path == "" {
		unix.Close(fd)
		return c.root
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.m[path]; ok {
		// Another goroutine got there first; keep one descriptor.
		unix.Close(fd)
		h.refs++
		return h
	}
	h := &dirHandle{fd: fd, path: path, refs: 1}
	c.m[path] = h
	c.evictLocked()
	return h
}

func (c *dirCache) release(h *dirHandle) {
	if h == c.root {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	c.clock++
	h.lastUse = c.clock
	c.evictLocked()
}

// evictLocked closes the least recently used idle descriptors beyond the
// cache size. Handles in use are never closed, so the cache may exceed its
// size while many goroutines hold handles.
func (c *dirCache) evictLocked() {
	for len(c.m) > dirCacheSize {
		var victim *dirHandle
		for _, h := range c.m {
			if h.refs == 0 && (victim == nil || h.lastUse < victim.lastUse) {
				victim = h
			}
		}
		if victim == nil {
			return
		}
		delete(c.m, victim.path)
		unix.Close(victim.fd)
	}
}

func (c *dirCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, h := range c.m {
		unix.Close(h.fd)
		delete(c.m, p)
	}
	if c.root.fd >= 0 {
		err := unix.Close(c.root.fd)
		c.root.fd = -1
		return err
	}
	return nil
}
