package repo

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Layout names a repository's objects.
type Layout struct {
	Root string // "<prefix><name>/"
}

// NewLayout returns the layout for repository name under prefix.
func NewLayout(prefix, name string) (Layout, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		return Layout{}, fmt.Errorf("repository name %q: use letters, digits, dots, dashes or underscores", name)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return Layout{Root: prefix + name + "/"}, nil
}

// ConfigKey is the config object's key.
func (l Layout) ConfigKey() string { return l.Root + "config" }

// DataPrefix is where data packs live.
func (l Layout) DataPrefix() string { return l.Root + "data/" }

// MetaPrefix is where metadata packs live.
func (l Layout) MetaPrefix() string { return l.Root + "meta/" }

// DataKey names a data pack by its SHA-256.
func (l Layout) DataKey(sum [32]byte) string { return l.DataPrefix() + hex.EncodeToString(sum[:]) }

// MetaKey names the n-th metadata pack of snapshot snap taken at t.
func (l Layout) MetaKey(t time.Time, snap string, n int) string {
	return fmt.Sprintf("%s%s-%s-%03d", l.MetaPrefix(), t.UTC().Format("20060102T150405Z"), snap, n)
}
