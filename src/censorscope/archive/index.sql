-- The archive index: where each measurement's frame is, and its content hash
-- (for deduplication of re-submissions).  Rebuildable from the files by
-- `censorscope archive reindex`.
CREATE TABLE IF NOT EXISTS measurements (
    measurement_uid TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    object_key TEXT NOT NULL,
    frame_offset INTEGER NOT NULL,
    frame_length INTEGER NOT NULL,
    line INTEGER NOT NULL,
    report_id TEXT,
    probe_cc TEXT NOT NULL,
    test_name TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS measurements_by_object
    ON measurements (object_key, line);
