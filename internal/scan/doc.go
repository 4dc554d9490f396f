// Package scan lists the directories of a backup root for the backup engine:
// one directory at a time, entries sorted bytewise by name with their lstat
// metadata, excludes (gitignore-style patterns, per-directory ignore files,
// CACHEDIR.TAG, --one-file-system) applied, and special files classified.
//
// Problems that must not stop a backup (permission denied, files that
// vanish mid-walk, unreadable directories) are returned as Notices next to
// the entries; errors are kept for cancellation and misuse.
//
// The walk is done with directory file descriptors (openat/fstatat with
// O_NOFOLLOW on every component), so paths longer than PATH_MAX work and a
// directory swapped for a symlink mid-walk cannot lead the backup outside
// its root. Symlinks are recorded, never followed, so loops are harmless.
package scan
