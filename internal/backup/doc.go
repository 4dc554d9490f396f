// Package backup is the backup engine: scan → chunk → pack → encrypt →
// upload, then the metadata and the snapshot.
//
// One run walks each backup root depth-first (package scan). Files whose
// size, mtime, ctime and inode match the catalog's file cache are not read;
// the others are read by a small pool of readers, cut into content-defined
// chunks (package chunk) and named by keyed hash (package pack IDs). Chunks
// the catalog already holds are not stored again, across files, renames and
// snapshots. New chunks go to the data packer, which fills one pack at a time
// (so a folder's files stay together), compresses and encrypts it (package
// pack) into a spool file, records it in the catalog as sealed, and hands it
// to the uploaders, which PUT it create-only to DEEP_ARCHIVE and only then
// mark it uploaded. Each directory becomes a tree blob (package tree); new
// trees go to the metadata packer.
//
// When every data pack is confirmed, the run writes its last metadata pack:
// copies of the indexes of all data packs not yet listed by an earlier
// snapshot, and the snapshot record. Only when S3 confirmed that too does the
// catalog commit the snapshot and the run's file-cache rows (DESIGN §2.5).
// A run that stops early — crash, Ctrl-C, login required, access denied —
// leaves sealed packs in the spool and the catalog; the next run uploads
// them first and never re-uploads a confirmed one.
//
// The engine never prints: it reports through Options.Events.
package backup
