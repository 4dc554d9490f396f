// Package repo is the repository: how icevault lays out one archive in the
// bucket, the config object that makes a bucket prefix a repository, and the
// metadata records that let a new machine rebuild the catalog.
//
// # Layout
//
// Everything lives under a root, <prefix><name>/ (for example
// "icevault/home/"), and every object is DEEP_ARCHIVE:
//
//	<root>config                 the config object (below)
//	<root>data/<sha256>          data packs: file content blobs
//	<root>meta/<time>-<snap>-<n> metadata packs: trees, pack indexes, snapshot records
//
// <sha256> is the lowercase hex SHA-256 of the pack object's bytes (S3 checks
// it on upload, and anyone can re-check it after a download). <time> is the
// snapshot's UTC time as 20061102T150405Z, <snap> the snapshot ID, <n> a
// counter from 000, so a ListObjectsV2 of <root>meta/ lists a repository's
// history in order, and recovery thaws exactly those objects: one restore
// round, however many data packs there are (DESIGN §2.3).
//
// # Config object
//
// The object at <root>config is an age file (the pack format's encryption,
// to the repository's recipients) whose plaintext is the JSON of Config:
// format name and version, repository ID, creation time, recipients, chunker
// parameters, pack size target and the 32-byte blob-ID key (hex). Its user
// metadata (readable with HeadObject, without a restore) carries
// icevault-repository-id and icevault-format-version, so a bucket can be
// recognised as holding a repository before anything is thawed.
//
// # Metadata packs
//
// A metadata pack uses the pack format (package pack) with blobs of kind
// tree (tree blobs, package tree) and kind meta. A meta blob starts with an
// 8-byte tag:
//
//	"ICEVSNAP" | JSON of SnapshotRecord          one per snapshot, in its last meta pack
//	"ICEVPIDX" | version 0x01 | key length uvarint | key | size uvarint |
//	           sha256 [32] | kind byte (1 data) | pack index (pack.AppendIndex)
//	                                             one per data pack, in the first
//	                                             snapshot committed after its upload
//
// A backup writes its data packs first and its metadata packs last, and
// records the snapshot locally only after S3 confirmed all of them; a data
// pack uploaded by a run that crashed is indexed by the next snapshot.
package repo
