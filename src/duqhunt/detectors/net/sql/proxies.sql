-- Internal explicit web proxies: internal addresses that receive proxy-form HTTP requests
-- (CONNECT, or an absolute URI) from other internal hosts, with their client count.
SELECT h.id_resp_h AS ip, COUNT(DISTINCT h.id_orig_h) AS clients
FROM http h
JOIN ip_class s ON s.ip = h.id_orig_h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE s.internal AND d.internal
  AND (UPPER(h.method) = 'CONNECT' OR LOWER(h.uri) LIKE 'http://%' OR LOWER(h.uri) LIKE 'https://%')
GROUP BY h.id_resp_h
ORDER BY ip
