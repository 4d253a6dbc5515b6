-- DQ-NET-004 helper: the request shape of each (internal source, external IP) HTTP pair, to
-- compare an unknown destination with a known C&C's profile.
SELECT h.id_orig_h AS src, h.id_resp_h AS dst,
       COUNT(*) AS requests,
       SUM(CASE WHEN UPPER(h.method) = 'POST' THEN 1 ELSE 0 END) AS posts,
       SUM(CASE WHEN h.uri = '/' THEN 1 ELSE 0 END) AS root_uris,
       SUM(CASE WHEN h.host IS NULL OR h.host = '' OR TRANSLATE(h.host, '0123456789.:[]abcdef', '') = ''
                THEN 1 ELSE 0 END) AS bare_ip_hosts,
       MIN(h.user_agent) AS ua_min, MAX(h.user_agent) AS ua_max
FROM http h
JOIN ip_class s ON s.ip = h.id_orig_h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE s.internal AND NOT d.internal
GROUP BY h.id_orig_h, h.id_resp_h
