-- icevault catalog, schema version 1.
-- Everything a backup needs lives here, so that a backup never reads an
-- object body from the bucket (DESIGN §2.2).

-- Repository settings and other single values.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- One row per pack object. A pack is "sealed" (written to a local file,
-- not yet confirmed by S3) or "uploaded" (S3 answered the PUT, or a 412 +
-- HEAD proved the same bytes are there). indexed_by names the metadata
-- object whose index lists the pack; NULL until a snapshot commits.
CREATE TABLE packs (
	id          INTEGER PRIMARY KEY,
	key         TEXT    NOT NULL UNIQUE,
	kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),   -- 1 data, 2 meta
	state       INTEGER NOT NULL CHECK (state IN (1, 2)),  -- 1 sealed, 2 uploaded
	size        INTEGER NOT NULL,
	sha256      BLOB    NOT NULL CHECK (length(sha256) = 32),
	blobs       INTEGER NOT NULL,
	local_path  TEXT,
	created_ns  INTEGER NOT NULL,
	uploaded_ns INTEGER,
	indexed_by  TEXT
);
CREATE INDEX packs_state ON packs(state);
CREATE INDEX packs_unindexed ON packs(indexed_by) WHERE indexed_by IS NULL;

-- Where each blob lives: its pack and its place in the pack's payload.
CREATE TABLE blobs (
	id          BLOB    PRIMARY KEY CHECK (length(id) = 32),
	pack_id     INTEGER NOT NULL REFERENCES packs(id),
	kind        INTEGER NOT NULL,
	compression INTEGER NOT NULL,
	offset      INTEGER NOT NULL,
	length      INTEGER NOT NULL,
	raw_length  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blobs_pack ON blobs(pack_id);

-- Plaintext copies of tree blobs, so ls, find, diff and restore planning
-- need no bucket reads.
CREATE TABLE trees (
	id   BLOB PRIMARY KEY CHECK (length(id) = 32),
	data BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE snapshots (
	id        TEXT    PRIMARY KEY,
	time_ns   INTEGER NOT NULL,
	host      TEXT    NOT NULL,
	paths     TEXT    NOT NULL,  -- JSON array
	tags      TEXT    NOT NULL,  -- JSON array
	root      BLOB    NOT NULL CHECK (length(root) = 32),
	meta_keys TEXT    NOT NULL,  -- JSON array of the metadata objects written for it
	summary   TEXT    NOT NULL   -- JSON object
);
CREATE INDEX snapshots_time ON snapshots(time_ns);

-- The file-change cache: what a file looked like when it was last read, and
-- its content blobs. A file whose size, mtime, ctime and inode match is not
-- read again. Rows are written to files_pending during a run and moved here
-- only when that run's snapshot commits, so the cache never points at blobs
-- of a pack that S3 did not confirm.
CREATE TABLE files (
	path     BLOB    PRIMARY KEY,
	root     BLOB    NOT NULL,
	size     INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	ctime_ns INTEGER NOT NULL,
	inode    INTEGER NOT NULL,
	dev      INTEGER NOT NULL,
	blobs    BLOB    NOT NULL,   -- concatenated 32-byte blob IDs
	run      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_root ON files(root, run);

CREATE TABLE files_pending (
	run      INTEGER NOT NULL,
	path     BLOB    NOT NULL,
	root     BLOB    NOT NULL,
	size     INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	ctime_ns INTEGER NOT NULL,
	inode    INTEGER NOT NULL,
	dev      INTEGER NOT NULL,
	blobs    BLOB    NOT NULL,
	PRIMARY KEY (run, path)
) WITHOUT ROWID;
