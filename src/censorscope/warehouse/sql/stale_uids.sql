SELECT measurement_uid
FROM measurements
WHERE source = $source
  AND (rules_version <> $rules_version
       OR fingerprints_version <> $fingerprints_version)
ORDER BY measurement_uid;
