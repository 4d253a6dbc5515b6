-- DQ-NET-002 input: one row per contact from an internal source to an external destination
-- (a connection, or a further HTTP request on a kept-alive connection, trans_depth > 1):
-- (kind, src, dst, ts, bytes, proto, port). kind: 'ip' (conn.log), 'http-host' (http.log Host,
-- as http_named parses it: no port, no root dot) or 'tls-sni' (ssl.log SNI). Scored by
-- periodicity.sql.
-- Through an explicit web proxy the client's request to the proxy (an internal address) names
-- the destination: a CONNECT target or an absolute URI's host (http_named, engines/views.py).
-- Those requests are attributed to the client and that destination (port stripped; 'ip' when
-- it is a bare IPv4 address, else 'http-host'), so a proxied C&C ranks with the infected host,
-- not the proxy.

-- The conn rows' direction test is needed only where pairs are counted: periodicity_sql drops
-- the lines marked "count pass only" from the second read, whose rows are joined to pairs that
-- passed it (an internal source and an external destination are properties of the addresses),
-- which saves two lookups per conn row.
SELECT 'ip' AS kind, c.id_orig_h AS src, c.id_resp_h AS dst, c.ts AS ts,
       CAST(COALESCE(c.orig_ip_bytes, c.orig_bytes, 0) AS DOUBLE) AS bytes,
       c.proto AS proto, c.id_resp_p AS port
FROM conn c
WHERE c.ts IS NOT NULL
  AND c.id_orig_h IN (SELECT ip FROM ip_class WHERE internal) -- count pass only
  AND c.id_resp_h IN (SELECT ip FROM ip_class WHERE NOT internal) -- count pass only
UNION ALL
SELECT 'ip', h.id_orig_h, h.id_resp_h, h.ts, CAST(COALESCE(h.request_body_len, 0) AS DOUBLE),
       'tcp', h.id_resp_p
FROM http h
JOIN ip_class s ON s.ip = h.id_orig_h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE s.internal AND NOT d.internal AND h.ts IS NOT NULL AND h.trans_depth > 1
UNION ALL
SELECT 'http-host', h.id_orig_h, h.host_name, h.ts,
       CAST(COALESCE(h.request_body_len, 0) AS DOUBLE), 'tcp', h.id_resp_p
FROM http_named h
JOIN ip_class s ON s.ip = h.id_orig_h
JOIN ip_class d ON d.ip = h.id_resp_h
WHERE s.internal AND NOT d.internal AND h.ts IS NOT NULL
  AND h.host_name IS NOT NULL AND h.host_name <> h.id_resp_h
UNION ALL
-- an address written as SNI names nothing (RFC 6066 3): its sessions are the 'ip' pair's
SELECT 'tls-sni', t.id_orig_h, LOWER(TRIM(TRAILING '.' FROM t.server_name)), t.ts,
       CAST(0 AS DOUBLE), 'tcp', t.id_resp_p
FROM ssl t
JOIN ip_class s ON s.ip = t.id_orig_h
JOIN ip_class d ON d.ip = t.id_resp_h
WHERE s.internal AND NOT d.internal AND t.ts IS NOT NULL
  AND t.server_name IS NOT NULL AND t.server_name <> ''
  AND TRANSLATE(t.server_name, '0123456789.', '') <> '' AND t.server_name NOT LIKE '%:%'
UNION ALL
SELECT CASE WHEN TRANSLATE(p.target, '0123456789.', '') = '' THEN 'ip' ELSE 'http-host' END,
       p.src, p.target, p.ts, p.bytes, 'tcp', p.port
FROM (
    SELECT h.id_orig_h AS src, h.ts AS ts, h.id_resp_p AS port,
           CAST(COALESCE(h.request_body_len, 0) AS DOUBLE) AS bytes, h.host_name AS target
    FROM http_named h
    JOIN ip_class s ON s.ip = h.id_orig_h
    JOIN ip_class d ON d.ip = h.id_resp_h
    WHERE s.internal AND d.internal AND h.ts IS NOT NULL
      AND h.proxy_form = 1 AND h.host_name IS NOT NULL
) p
LEFT JOIN ip_class t ON t.ip = p.target
WHERE t.internal IS NULL OR NOT t.internal
