-- DQ-NET-005 helper: sources that map admin shares (ADMIN$, C$, D$, ...: detectors/shares.py) on a large share of internal hosts on most
-- days they are active (management servers, backup pulling C$): learned admin tooling.
-- Parameters: :internal_hosts, :admin_share (share of hosts in a day, e.g. 0.2),
--             :min_days_share (share of active days meeting it, e.g. 0.5)
WITH daily AS (
    SELECT id_orig_h AS src, CAST(FLOOR(ts / 86400.0) AS BIGINT) AS day,
           COUNT(DISTINCT id_resp_h) AS dsts
    FROM smb_mapping
    WHERE @share_kind(path) = 'admin'
    GROUP BY id_orig_h, CAST(FLOOR(ts / 86400.0) AS BIGINT)
)
SELECT src, COUNT(*) AS days,
       SUM(CASE WHEN dsts >= :admin_share * :internal_hosts THEN 1 ELSE 0 END) AS busy_days,
       MAX(dsts) AS max_dsts
FROM daily
GROUP BY src
HAVING SUM(CASE WHEN dsts >= :admin_share * :internal_hosts THEN 1 ELSE 0 END)
       >= :min_days_share * COUNT(*)
   AND MAX(dsts) >= 5
