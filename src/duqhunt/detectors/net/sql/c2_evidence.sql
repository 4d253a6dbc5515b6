-- DQ-NET-002 ranking helper: protocol and timing facts for the C&C candidates (the best-ranked
-- beacon pairs, registered as `c2_candidates` (kind, src, dst)). One row per candidate:
--   post_root_bare  HTTP POST / (or /?...) with a bare-IP Host, client side of a proxy included
--   http_n          HTTP requests of the pair (Host or CONNECT target = dst)
--   plain_443       443/tcp connections with data both ways that Zeek did not see as TLS
--   conns_443       443/tcp connections of the pair
--   conns           connections of the pair (kind 'ip')
--   data_conns      of those, the ones that carried data (egress_session.sql)
--   nosni           TLS sessions of the pair without a host name in SNI: none, or an IP
--                   literal (RFC 6066 3 allows host names only)
--   ssl_n           TLS sessions of the pair
--   pair_hours      distinct clock hours with a contact of the pair
--   idle_hours      of those, hours in which the source host had no user activity
--   active_hours    hours with user activity on the source host
-- User activity: a contact to an external address that is neither one of the host's C&C
-- candidates nor routine for it (contacted in more than half of the window's hours, as
-- daemons and agents are). Parameter :window_hours. Connections come from `c2_conn_hours`
-- (c2_conn_hours.sql: conn read once); user activity is known for the sources of the best
-- candidates only (`c2_idle_srcs`), the others have no active hours and no idle component.
WITH cand_src AS (
    SELECT DISTINCT src FROM c2_candidates
),
http_t AS (
    SELECT h.id_orig_h AS src, h.ts AS ts, UPPER(h.method) AS method, h.path AS path,
           h.host_name AS target
    FROM http_named h
    JOIN cand_src s ON s.src = h.id_orig_h
    WHERE h.host_name IS NOT NULL AND h.ts IS NOT NULL
),
pair_http AS (
    SELECT k.kind, k.src, k.dst,
           SUM(CASE WHEN t.method = 'POST'
                     AND (t.path = '/' OR t.path LIKE '/?%')
                     AND TRANSLATE(t.target, '0123456789.', '') = ''
                    THEN 1 ELSE 0 END) AS post_root_bare,
           COUNT(*) AS http_n
    FROM c2_candidates k
    JOIN http_t t ON t.src = k.src AND t.target = k.dst
    GROUP BY k.kind, k.src, k.dst
),
pair_conn AS (
    SELECT k.kind, k.src, k.dst, SUM(c.plain_443) AS plain_443, SUM(c.conns_443) AS conns_443,
           SUM(c.conns) AS conns, SUM(c.data_conns) AS data_conns
    FROM c2_candidates k
    JOIN c2_conn_hours c ON c.src = k.src AND c.dst = k.dst
    WHERE k.kind = 'ip'
    GROUP BY k.kind, k.src, k.dst
),
pair_ssl AS (
    SELECT k.kind, k.src, k.dst,
           SUM(CASE WHEN t.server_name IS NULL OR t.server_name = ''
                          OR TRANSLATE(t.server_name, '0123456789.', '') = ''
                          OR t.server_name LIKE '%:%'
                    THEN 1 ELSE 0 END) AS nosni,
           COUNT(*) AS ssl_n
    FROM c2_candidates k
    JOIN ssl t ON t.id_orig_h = k.src AND t.id_resp_h = k.dst
    WHERE k.kind = 'ip'
    GROUP BY k.kind, k.src, k.dst
),
pair_hour_rows AS (
    SELECT k.kind, k.src, k.dst, c.hr
    FROM c2_candidates k
    JOIN c2_conn_hours c ON c.src = k.src AND c.dst = k.dst
    WHERE k.kind = 'ip'
    UNION
    SELECT k.kind, k.src, k.dst, CAST(FLOOR(t.ts / 3600.0) AS BIGINT)
    FROM c2_candidates k
    JOIN http_t t ON t.src = k.src AND t.target = k.dst
    UNION
    SELECT k.kind, k.src, k.dst, CAST(FLOOR(t.ts / 3600.0) AS BIGINT)
    FROM c2_candidates k
    JOIN ssl t ON t.id_orig_h = k.src AND LOWER(t.server_name) = k.dst
    WHERE k.kind = 'tls-sni' AND t.ts IS NOT NULL
),
src_ext AS (
    SELECT src, dst, hr FROM c2_conn_hours
),
routine AS (
    SELECT src, dst FROM src_ext GROUP BY src, dst
    HAVING COUNT(*) > 0.5 * :window_hours
),
active AS (
    SELECT DISTINCT e.src, e.hr
    FROM src_ext e
    LEFT JOIN routine r ON r.src = e.src AND r.dst = e.dst
    LEFT JOIN c2_candidates k ON k.kind = 'ip' AND k.src = e.src AND k.dst = e.dst
    WHERE r.src IS NULL AND k.src IS NULL
),
active_n AS (
    SELECT src, COUNT(*) AS active_hours FROM active GROUP BY src
),
hours AS (
    SELECT p.kind, p.src, p.dst, COUNT(*) AS pair_hours,
           SUM(CASE WHEN a.src IS NULL THEN 1 ELSE 0 END) AS idle_hours
    FROM pair_hour_rows p
    LEFT JOIN active a ON a.src = p.src AND a.hr = p.hr
    GROUP BY p.kind, p.src, p.dst
)
SELECT k.kind, k.src, k.dst,
       COALESCE(ph.post_root_bare, 0) AS post_root_bare, COALESCE(ph.http_n, 0) AS http_n,
       COALESCE(pc.plain_443, 0) AS plain_443, COALESCE(pc.conns_443, 0) AS conns_443,
       COALESCE(pc.conns, 0) AS conns, COALESCE(pc.data_conns, 0) AS data_conns,
       COALESCE(ps.nosni, 0) AS nosni, COALESCE(ps.ssl_n, 0) AS ssl_n,
       COALESCE(h.pair_hours, 0) AS pair_hours, COALESCE(h.idle_hours, 0) AS idle_hours,
       COALESCE(a.active_hours, 0) AS active_hours
FROM c2_candidates k
LEFT JOIN pair_http ph ON ph.kind = k.kind AND ph.src = k.src AND ph.dst = k.dst
LEFT JOIN pair_conn pc ON pc.kind = k.kind AND pc.src = k.src AND pc.dst = k.dst
LEFT JOIN pair_ssl ps ON ps.kind = k.kind AND ps.src = k.src AND ps.dst = k.dst
LEFT JOIN hours h ON h.kind = k.kind AND h.src = k.src AND h.dst = k.dst
LEFT JOIN active_n a ON a.src = k.src
ORDER BY k.kind, k.src, k.dst
