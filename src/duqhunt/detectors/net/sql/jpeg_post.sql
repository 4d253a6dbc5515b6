-- DQ-NET-003 rule "jpeg-post-bare-ip": HTTP POST / to a bare IP address that uploads a JPEG
-- (the Duqu C&C shape: data hidden in a JPEG part, Host header an IP, no name looked up).
-- Reads http.log and the engine's `http_orig_mime` view (one row per uploaded part's MIME type).
SELECT h.id_orig_h AS src, h.id_resp_h AS dst,
       COUNT(DISTINCT h.uid) AS sessions,
       COUNT(*) AS uploads,
       SUM(COALESCE(h.request_body_len, 0)) AS bytes_up,
       MIN(h.ts) AS first_ts, MAX(h.ts) AS last_ts,
       MIN(h.user_agent) AS user_agent,
       MIN(h.uid) AS example_uid
FROM http_orig_mime h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE NOT d.internal
  AND UPPER(h.method) = 'POST'
  AND (h.uri = '/' OR h.uri LIKE '/?%')
  AND (h.host IS NULL OR h.host = '' OR TRANSLATE(h.host, '0123456789.:[]abcdef', '') = '')
  AND LOWER(h.mime) = 'image/jpeg'
GROUP BY h.id_orig_h, h.id_resp_h
ORDER BY src, dst
