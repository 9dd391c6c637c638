-- Remove the rows a batch is about to replace.  The time range lets DuckDB
-- skip every row group whose start times lie outside it (zone maps).
DELETE FROM measurements
WHERE measurement_start_time BETWEEN $first::TIMESTAMP AND $last::TIMESTAMP
  AND measurement_uid IN (SELECT unnest($uids::VARCHAR[]));
