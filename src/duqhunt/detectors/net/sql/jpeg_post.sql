-- DQ-NET-003 rule "jpeg-post-bare-ip": HTTP POST / to a bare IP address that uploads a JPEG
-- (the Duqu C&C shape: data hidden in a JPEG part, Host header an IP, no name looked up).
-- Reads the engine's `http_orig_mime` view (one row per uploaded part's MIME type, with the
-- request's host parsed once in http_named, engines/views.py). A request to an internal
-- explicit proxy (absolute URI http://<host>/) counts for the client and the host it names.
SELECT p.src, p.dst,
       COUNT(DISTINCT p.uid) AS sessions,
       COUNT(*) AS uploads,
       SUM(COALESCE(p.request_body_len, 0)) AS bytes_up,
       MIN(p.ts) AS first_ts, MAX(p.ts) AS last_ts,
       MIN(p.user_agent) AS user_agent,
       MIN(p.uid) AS example_uid,
       MAX(p.proxied) AS via_proxy
FROM (
    SELECT h.id_orig_h AS src, h.uid, h.ts, h.request_body_len, h.user_agent,
           CASE WHEN d.internal THEN h.host_name ELSE h.id_resp_h END AS dst,
           CASE WHEN d.internal THEN 1 ELSE 0 END AS proxied
    FROM http_orig_mime h
    JOIN ip_class d ON d.ip = h.id_resp_h
    WHERE UPPER(h.method) = 'POST'
      AND LOWER(h.mime) = 'image/jpeg'
      -- a bare address (or no host at all): IPv4, or IPv6 (a colon, hex digits)
      AND (h.host_name IS NULL
           OR TRANSLATE(h.host_name, '0123456789.', '') = ''
           OR (h.host_name LIKE '%:%' AND TRANSLATE(h.host_name, '0123456789abcdef.:', '') = ''))
      AND (h.path = '/' OR h.path LIKE '/?%')
      -- to an internal address only through it as a proxy
      AND (NOT d.internal OR h.proxy_form = 1)
) p
LEFT JOIN ip_class t ON t.ip = p.dst
WHERE p.dst IS NOT NULL AND p.dst <> '' AND (t.internal IS NULL OR NOT t.internal)
GROUP BY p.src, p.dst
ORDER BY src, dst
