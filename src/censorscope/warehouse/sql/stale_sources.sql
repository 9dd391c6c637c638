-- Sources holding verdicts made with other rules or fingerprints than now.
SELECT source, count(*) AS stale
FROM measurements
WHERE rules_version <> $rules_version
   OR fingerprints_version <> $fingerprints_version
GROUP BY source
ORDER BY source;
