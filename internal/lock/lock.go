// Package lock keeps one writer per repository on this machine: a second
// backup (or a backup and a recovery) on the same catalog would race on its
// packs and file cache.
//
// The lock is an flock(2) on a file next to the catalog. The kernel drops it
// when its holder dies, however it dies, so a stale lock from a killed
// process is simply free: there is no pid guessing and no timeout. The file
// also says who holds it, for the refusal message.
package lock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when another process holds the lock.
var ErrLocked = errors.New("another icevault process is using this repository")

// Holder describes who holds a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d on %s (%s), since %s", h.PID, h.Host, h.Command, h.Since.Local().Format(time.DateTime))
}

// Lock is a held lock.
type Lock struct{ f *os.File }

// Acquire takes the lock at path without waiting; command says what the
// holder is doing ("backup", "recover").
func Acquire(path, command string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			var h Holder
			b := make([]byte, 4096)
			n, _ := f.ReadAt(b, 0)
			if json.Unmarshal(b[:n], &h) == nil && h.PID != 0 {
				return nil, fmt.Errorf("%w: %s; wait for it to finish, or stop it", ErrLocked, h)
			}
			return nil, fmt.Errorf("%w (lock file %s)", ErrLocked, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now()})
	if err := f.Truncate(0); err == nil {
		f.WriteAt(b, 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
