-- Rows without a start time cannot be found by time range.
DELETE FROM measurements
WHERE measurement_start_time IS NULL
  AND measurement_uid IN (SELECT unnest($uids::VARCHAR[]));
