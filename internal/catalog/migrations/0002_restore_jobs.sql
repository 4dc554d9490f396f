-- Restore jobs: a restore (or a recovery) spans the 12-48 hour thaw and
-- must survive process exits and reboots, so every step is recorded here.

CREATE TABLE restore_jobs (
	id          INTEGER PRIMARY KEY,
	kind        TEXT    NOT NULL CHECK (kind IN ('restore', 'recover')),
	snapshot    TEXT    NOT NULL DEFAULT '',
	paths       TEXT    NOT NULL DEFAULT '[]',  -- JSON array of snapshot paths ([] = everything)
	target      TEXT    NOT NULL DEFAULT '',
	tier        TEXT    NOT NULL,
	days        INTEGER NOT NULL,
	overwrite   INTEGER NOT NULL DEFAULT 0,
	state       TEXT    NOT NULL CHECK (state IN ('active', 'done', 'cancelled')),
	created_ns  INTEGER NOT NULL,
	finished_ns INTEGER,
	quote       TEXT    NOT NULL DEFAULT '{}'   -- JSON of the quote the user accepted
);

-- The objects a job thaws and downloads, and where each stands:
-- pending (not requested yet) -> thawing -> ready (restored copy readable
-- until expiry) -> downloaded (verified local copy at path).
CREATE TABLE restore_objects (
	job           INTEGER NOT NULL REFERENCES restore_jobs(id),
	key           TEXT    NOT NULL,
	size          INTEGER NOT NULL,
	sha256        BLOB,
	state         TEXT    NOT NULL CHECK (state IN ('pending', 'thawing', 'ready', 'downloaded')),
	requested_ns  INTEGER,
	ready_ns      INTEGER,
	expiry_ns     INTEGER,
	downloaded_ns INTEGER,
	requests      INTEGER NOT NULL DEFAULT 0,
	path          TEXT,
	PRIMARY KEY (job, key)
) WITHOUT ROWID;

-- Files a restore job has written and verified under their final names.
CREATE TABLE restore_done (
	job  INTEGER NOT NULL REFERENCES restore_jobs(id),
	path BLOB    NOT NULL,
	PRIMARY KEY (job, path)
) WITHOUT ROWID;
