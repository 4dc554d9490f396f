// Package recovery rebuilds a machine's catalog from the bucket and the
// recovery kit, after the machine that made the backups is gone (DESIGN
// §2.3, issue 4 "disaster recovery").
//
// Recovery is two steps around one Deep Archive restore round:
//
//  1. [Objects] lists the repository root once and says what to thaw: the
//     config object and every metadata pack (<root>meta/…) — a bounded
//     number of small objects, however many data packs there are — and,
//     for a full restore with a single wait, every data pack too. The CLI
//     thaws the data packs in a job of their own (restore.StartThaw), so
//     the rebuild waits for the metadata alone while the data packs' thaw
//     is paced, polled and re-requested like any restore's, and then moves
//     into the rebuilt catalog, where `restore status` and the agent
//     follow it.
//  2. When those objects are thawed and downloaded to local files (the
//     restore-job machinery does that; this package reads only local
//     files), [Rebuild] decrypts the config object with the kit's identity,
//     checks that the kit and the bucket belong together, reads every
//     metadata pack and fills an empty catalog: the repository settings,
//     every data pack from the pack-index records, every metadata pack with
//     its own blobs, the tree cache and the snapshots.
//
// Everything is read twice: a first pass authenticates and decodes every
// file and checks that the records agree before anything is written, so a
// wrong kit or a damaged file leaves the catalog empty; the second pass
// writes. The repository settings are written last, so a catalog that a
// failure left half-filled is not mistaken for a usable one (repo.Open says
// no repository is set up, and Rebuild refuses a catalog that is not empty).
//
// What the rebuilt catalog holds, compared with the original machine's:
//
//   - the same snapshots (ID, time, host, paths, tags, root, summary; the
//     metadata keys from the object names), the same tree cache for every
//     tree a snapshot reaches, the same blob index (blob → pack key, offset,
//     lengths, kind, compression) and the same uploaded packs (key, size,
//     SHA-256, kind, and which metadata object lists each);
//   - no file-change cache: the first backup on the new machine reads every
//     file once, but uploads only what the repository does not hold;
//   - no sealed packs: what the old machine had not uploaded is gone with it.
//
// A data pack in the bucket that no pack-index record lists was uploaded by
// a run that stopped before its snapshot: no snapshot references its data,
// and Result.Unindexed reports it. If its file was downloaded too (the
// --all-data case), its own index is read and it is recorded like on the
// original machine (uploaded, listed by no metadata object yet).
package recovery
