-- DQ-NET-003 rule "jpeg-post-bare-ip": HTTP POST / to a bare IP address that uploads a JPEG
-- (the Duqu C&C shape: data hidden in a JPEG part, Host header an IP, no name looked up).
-- Reads http.log and the engine's `http_orig_mime` view (one row per uploaded part's MIME type).
-- A request to an internal explicit proxy (absolute URI http://<Host>/) counts for the client
-- and the Host it names.
SELECT p.src, p.dst,
       COUNT(DISTINCT p.uid) AS sessions,
       COUNT(*) AS uploads,
       SUM(COALESCE(p.request_body_len, 0)) AS bytes_up,
       MIN(p.ts) AS first_ts, MAX(p.ts) AS last_ts,
       MIN(p.user_agent) AS user_agent,
       MIN(p.uid) AS example_uid,
       MAX(p.proxied) AS via_proxy
FROM (
    SELECT h.id_orig_h AS src, h.uid, h.ts, h.request_body_len, h.user_agent, h.host, h.uri,
           CASE WHEN d.internal
                THEN LOWER(CASE WHEN h.host LIKE '%:%' AND h.host NOT LIKE '%:%:%'
                                THEN SUBSTRING(h.host, 1, INSTR(h.host, ':') - 1)
                                ELSE h.host END)
                ELSE h.id_resp_h END AS dst,
           CASE WHEN d.internal THEN 1 ELSE 0 END AS proxied
    FROM http_orig_mime h
    JOIN ip_class d ON d.ip = h.id_resp_h
    WHERE UPPER(h.method) = 'POST'
      AND LOWER(h.mime) = 'image/jpeg'
      -- a bare address: IPv4 (with or without a port), or IPv6 (two colons or more, hex)
      AND (h.host IS NULL OR h.host = ''
           OR (TRANSLATE(h.host, '0123456789.:', '') = '' AND h.host NOT LIKE '%:%:%')
           OR (h.host LIKE '%:%:%' AND TRANSLATE(LOWER(h.host), '0123456789abcdef.:[]', '') = ''))
      AND (
          (NOT d.internal AND (h.uri = '/' OR h.uri LIKE '/?%'))
          OR (d.internal AND h.host IS NOT NULL
              AND (LOWER(h.uri) = CONCAT('http://', LOWER(h.host), '/')
                   OR LOWER(h.uri) LIKE CONCAT('http://', LOWER(h.host), '/?%')))
      )
) p
LEFT JOIN ip_class t ON t.ip = p.dst
WHERE p.dst IS NOT NULL AND p.dst <> '' AND (t.internal IS NULL OR NOT t.internal)
GROUP BY p.src, p.dst
ORDER BY src, dst
