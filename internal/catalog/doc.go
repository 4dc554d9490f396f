// Package catalog is icevault's local SQLite database: which packs exist and
// whether S3 confirmed them, where every blob lives, the snapshots, a
// plaintext cache of every tree, and the file-change cache.
//
// A backup reads nothing from the bucket but this (DESIGN §2.2); browsing,
// find, diff, cost and restore planning run from it alone. It can always be
// rebuilt from the bucket's metadata objects and the recovery kit, so it is a
// cache of the bucket, never the only copy of anything.
//
// Crash safety (DESIGN §2.5) rests on three rules the API enforces:
//   - a pack becomes "uploaded" only through MarkUploaded, which the engine
//     calls after S3 confirmed the PUT;
//   - CommitSnapshot refuses while any pack is still sealed, so no snapshot
//     can reference a pack S3 never confirmed;
//   - file-cache rows written during a run become visible only in the
//     transaction that commits the run's snapshot.
//
// The database runs in WAL mode with embedded, numbered migrations
// (migrations/*.sql, applied in order and recorded in PRAGMA user_version);
// Open runs PRAGMA quick_check and refuses a damaged file instead of
// replacing it.
package catalog
