-- Report ids issued by this collector (POST /report), so that submissions
-- under an id it never issued are refused, across restarts.
CREATE TABLE IF NOT EXISTS reports (
    report_id TEXT PRIMARY KEY,
    opened TEXT NOT NULL,
    closed TEXT,
    probe_cc TEXT NOT NULL,
    probe_asn TEXT NOT NULL,
    test_name TEXT NOT NULL,
    software_name TEXT,
    software_version TEXT,
    test_version TEXT,
    test_start_time TEXT
) WITHOUT ROWID;
