-- DQ-NET-004 helper: per beacon pair (`new_c2_pairs` (src, dst)), its connections and those that
-- carried data (the rule of egress_session.sql, put in below): a beacon describes a C&C's
-- protocol only when its contacts carried data.
SELECT c.id_orig_h AS src, c.id_resp_h AS dst, COUNT(*) AS n,
       SUM(CASE WHEN {egress_session} THEN 1 ELSE 0 END) AS data_sessions
FROM conn c
JOIN new_c2_pairs p ON p.src = c.id_orig_h AND p.dst = c.id_resp_h
GROUP BY c.id_orig_h, c.id_resp_h
