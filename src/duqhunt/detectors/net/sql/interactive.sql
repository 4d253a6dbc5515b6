-- DQ-NET-010 input: per (internal src, external dst) with at least one TCP session of
-- :min_session_s or longer, every TCP session of the pair (count, longest, total time, bytes
-- each way, ports), how many internal hosts reach dst at all, and whether anything names dst
-- (a DNS answer, TLS SNI or HTTP Host: ip_names.sql, put in below where `named` reads it).
-- The long sessions are found first, so the other reads see only their destinations' rows.
WITH long_pairs AS (
    SELECT DISTINCT c.id_orig_h AS src, c.id_resp_h AS dst
    FROM conn c
    JOIN ip_class s ON s.ip = c.id_orig_h
    JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE c.proto = 'tcp' AND c.duration >= :min_session_s AND c.ts IS NOT NULL
      AND s.internal AND NOT d.internal
),
to_long AS (
    SELECT c.id_orig_h AS src, c.id_resp_h AS dst, c.id_resp_p AS port, c.ts AS ts,
           COALESCE(c.duration, 0.0) AS duration, COALESCE(c.orig_bytes, 0) AS orig_bytes,
           COALESCE(c.resp_bytes, 0) AS resp_bytes, c.proto AS proto
    FROM conn c
    JOIN ip_class s ON s.ip = c.id_orig_h
    WHERE s.internal AND c.ts IS NOT NULL AND c.id_resp_h IN (SELECT dst FROM long_pairs)
),
reach AS (
    SELECT dst, COUNT(DISTINCT src) AS sources FROM to_long GROUP BY dst
),
named AS (
    SELECT DISTINCT ip FROM ({ip_names}) n
)
SELECT c.src, c.dst, MIN(r.sources) AS sources,
       COUNT(*) AS sessions,
       MAX(c.duration) AS longest_s,
       SUM(c.duration) AS total_s,
       SUM(c.orig_bytes) AS orig_bytes,
       SUM(c.resp_bytes) AS resp_bytes,
       MIN(c.ts) AS first_ts,
       MAX(c.ts + c.duration) AS last_ts,
       MIN(c.port) AS port_min, MAX(c.port) AS port_max,
       COUNT(DISTINCT c.port) AS ports,
       MAX(CASE WHEN m.ip IS NULL THEN 0 ELSE 1 END) AS named
FROM to_long c
JOIN long_pairs p ON p.src = c.src AND p.dst = c.dst
JOIN reach r ON r.dst = c.dst
LEFT JOIN named m ON m.ip = c.dst
WHERE c.proto = 'tcp'
GROUP BY c.src, c.dst
ORDER BY c.src, c.dst
