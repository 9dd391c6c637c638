INSERT OR REPLACE INTO ingested_files
    (path, size, mtime_ns, records_done, rejects, completed,
     rules_version, fingerprints_version, updated_at)
VALUES ($path, $size, $mtime_ns, $records_done, $rejects, $completed,
        $rules_version, $fingerprints_version, now()::TIMESTAMP);
