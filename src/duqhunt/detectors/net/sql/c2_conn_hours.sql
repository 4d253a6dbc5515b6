-- DQ-NET-002 ranking helper, one scan of conn: per (src, dst, clock hour) the external
-- contacts of the candidate pairs (`c2_candidates`, kind 'ip') and, for user activity, every
-- external contact of the best candidates' source hosts (`c2_idle_srcs`), with the 443/tcp
-- connections and those of them that carried data both ways without Zeek seeing TLS, and the
-- connections that carried data at all (the rule of egress_session.sql, inserted below):
-- attempts a firewall blocked carry none. The result is registered as `c2_conn_hours` for
-- c2_evidence.sql.
SELECT c.id_orig_h AS src, c.id_resp_h AS dst, CAST(FLOOR(c.ts / 3600.0) AS BIGINT) AS hr,
       SUM(CASE WHEN c.id_resp_p = 443 AND COALESCE(c.service, '') NOT LIKE '%ssl%'
                 AND COALESCE(c.orig_bytes, 0) > 0 AND COALESCE(c.resp_bytes, 0) > 0
                THEN 1 ELSE 0 END) AS plain_443,
       SUM(CASE WHEN c.id_resp_p = 443 THEN 1 ELSE 0 END) AS conns_443,
       SUM(CASE WHEN {egress_session} THEN 1 ELSE 0 END) AS data_conns,
       COUNT(*) AS conns
FROM (
    -- the few sources asked about first, so that the joins below see only their rows
    SELECT * FROM conn
    WHERE id_orig_h IN (SELECT src FROM c2_idle_srcs
                        UNION ALL SELECT src FROM c2_candidates WHERE kind = 'ip')
) c
LEFT JOIN c2_idle_srcs s ON s.src = c.id_orig_h
LEFT JOIN (SELECT DISTINCT src, dst FROM c2_candidates WHERE kind = 'ip') k
       ON k.src = c.id_orig_h AND k.dst = c.id_resp_h
JOIN ip_class d ON d.ip = c.id_resp_h
WHERE NOT d.internal AND c.ts IS NOT NULL AND (s.src IS NOT NULL OR k.src IS NOT NULL)
GROUP BY c.id_orig_h, c.id_resp_h, CAST(FLOOR(c.ts / 3600.0) AS BIGINT)
