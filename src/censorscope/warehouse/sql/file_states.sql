SELECT path, size, mtime_ns, records_done, rejects, completed,
       rules_version, fingerprints_version
FROM ingested_files;
