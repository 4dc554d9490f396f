package backup

import (
	"context"
	"path"

	"github.com/icevault/icevault/internal/scan"
)

// Estimate counts the files and bytes a backup of paths will go through,
// with the same excludes, without reading any file. The CLI runs it beside
// the backup to show a percentage and an ETA.
func Estimate(ctx context.Context, paths []string, opts scan.Options) (files, bytes int64, err error) {
	for _, p := range paths {
		sc, err := scan.NewScanner(p, opts)
		if err != nil {
			return files, bytes, err
		}
		var walk func(rel string, dir scan.Entry) error
		walk = func(rel string, dir scan.Entry) error {
			entries, _, err := sc.ReadDir(ctx, rel, dir)
			if err != nil {
				return err
			}
			for _, e := range entries {
				switch e.Type {
				case scan.Dir:
					if err := walk(path.Join(rel, e.Name), e); err != nil {
						return err
					}
				case scan.File:
					files++
					bytes += e.Size
				}
			}
			return nil
		}
		err = walk("", sc.Root())
		sc.Close()
		if err != nil {
			return files, bytes, err
		}
	}
	return files, bytes, nil
}
