package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce gathers the burst of events one token write makes (create,
// write, chmod, rename) into one re-check.
const debounce = 300 * time.Millisecond

// WatchTokenCache calls changed whenever a token file in dir (the AWS SSO
// token cache, ~/.aws/sso/cache) is created or replaced — by `icevault
// login`, `aws sso login`, or the SDK refreshing a token — until ctx ends.
// The directory is created (0700) if missing, as the AWS CLI would.
func WatchTokenCache(ctx context.Context, dir string, changed func()) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: token cache %s: %w", dir, err)
	}
	return WatchDir(ctx, dir, func(name string) bool { return strings.HasSuffix(name, ".json") }, changed)
}

// WatchFile calls changed whenever the file at path is written or replaced
// (the config file, edited by hand or by `icevault init`), until ctx ends.
func WatchFile(ctx context.Context, path string, changed func()) error {
	base := filepath.Base(path)
	return WatchDir(ctx, filepath.Dir(path), func(name string) bool { return filepath.Base(name) == base }, changed)
}

// WatchDir calls changed, once per burst, whenever a file in dir whose name
// match accepts is created, written or renamed into place, until ctx ends.
// It watches the directory, not the files: editors, the AWS CLI and the SDK
// replace files by renaming a temporary one over them.
func WatchDir(ctx context.Context, dir string, match func(name string) bool, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("agent: watching %s: %w", dir, err)
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("agent: watching %s: %w", dir, err)
	}
	go func() {
		defer w.Close()
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if match(ev.Name) && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0 {
					fire = time.After(debounce)
				}
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
			case <-fire:
				fire = nil
				changed()
			}
		}
	}()
	return nil
}

// TokenCacheDir is the AWS CLI's SSO token cache for home.
func TokenCacheDir(home string) string { return filepath.Join(home, ".aws", "sso", "cache") }
