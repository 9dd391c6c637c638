-- Ingestion bookkeeping: one row per input file, updated with every committed
-- batch so that an interrupted ingest resumes where it stopped.
CREATE TABLE IF NOT EXISTS ingested_files (
    path VARCHAR PRIMARY KEY,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    records_done BIGINT NOT NULL,
    rejects BIGINT NOT NULL,
    completed BOOLEAN NOT NULL,
    rules_version VARCHAR NOT NULL,
    fingerprints_version VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
