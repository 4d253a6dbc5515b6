-- Internal explicit web proxies: internal addresses that receive proxy-form HTTP requests
-- (CONNECT, or an absolute URI: http_named's proxy_form) from other internal hosts, with their
-- client count.
SELECT h.id_resp_h AS ip, COUNT(DISTINCT h.id_orig_h) AS clients
FROM http_named h
JOIN ip_class s ON s.ip = h.id_orig_h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE s.internal AND d.internal AND h.proxy_form = 1
GROUP BY h.id_resp_h
ORDER BY ip
