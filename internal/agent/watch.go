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
// It watches the directory, not the files: the CLI and the SDK replace
// tokens by renaming a temporary file over them. The directory is created
// (0700) if missing, as the AWS CLI would.
func WatchTokenCache(ctx context.Context, dir string, changed func()) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("agent: token cache %s: %w", dir, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("agent: watching the token cache: %w", err)
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
				if strings.HasSuffix(ev.Name, ".json") && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename) != 0 {
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
