-- DQ-NET-007: how often a relay destination's outbound connections to each external address
-- follow the sessions relayed to it within :corr_window_s, beside the share expected by chance
-- (outbound count x window / observation window). Reads `relay_edges` (src, dst). Behind an
-- explicit web proxy (proxies.sql) the bridge's way out is its session to the proxy, and the
-- address it goes to is the target its request names (CONNECT host, absolute-URI host; the
-- port left out), else the proxy itself.
WITH relayed AS (
    SELECT c.id_resp_h AS bridge, c.ts AS ts
    FROM conn c
    JOIN relay_edges r ON r.src = c.id_orig_h AND r.dst = c.id_resp_h
    WHERE c.id_resp_p IN (139, 445)
),
outbound AS (
    SELECT c.id_orig_h AS bridge, c.id_resp_h AS ext, c.ts AS ts
    FROM conn c
    JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE NOT d.internal AND c.id_orig_h IN (SELECT DISTINCT dst FROM relay_edges)
    UNION ALL
    SELECT c.id_orig_h AS bridge, COALESCE(t.target, c.id_resp_h) AS ext, c.ts AS ts
    FROM conn c
    JOIN ({proxy_hosts}) px ON px.ip = c.id_resp_h
    LEFT JOIN (
        SELECT h.uid, MIN(h.host_name) AS target
        FROM http_named h
        WHERE h.proxy_form = 1 AND h.host_name IS NOT NULL
        GROUP BY h.uid
    ) t ON t.uid = c.uid
    WHERE c.id_orig_h IN (SELECT DISTINCT dst FROM relay_edges)
),
totals AS (SELECT bridge, COUNT(*) AS relayed FROM relayed GROUP BY bridge),
out_totals AS (SELECT bridge, ext, COUNT(*) AS outbound FROM outbound GROUP BY bridge, ext),
matched AS (
    SELECT r.bridge, o.ext, COUNT(DISTINCT r.ts) AS matched
    FROM relayed r
    JOIN outbound o ON o.bridge = r.bridge AND o.ts >= r.ts AND o.ts <= r.ts + :corr_window_s
    GROUP BY r.bridge, o.ext
)
SELECT m.bridge, m.ext, m.matched, t.relayed, ot.outbound,
       CAST(m.matched AS DOUBLE) / t.relayed AS fraction,
       LEAST(1.0, CAST(ot.outbound AS DOUBLE) * :corr_window_s / :window_s) AS baseline
FROM matched m
JOIN totals t ON t.bridge = m.bridge
JOIN out_totals ot ON ot.bridge = m.bridge AND ot.ext = m.ext
ORDER BY m.bridge, fraction DESC, m.ext
