-- DQ-NET-001 known-indicator matches, portable SQL. Reads the `ioc` table (type, value,
-- match_key, pack, source, confidence, description) built from the IOC packs; one row per (log,
-- field, source host, destination, indicator) with counts and times.
-- An HTTP request's host, port and URL key come from the engines' http_named view (engines/
-- views.py): the Host header, a CONNECT target or an absolute URI's authority (a request to a
-- proxy), without port, IP-literal brackets or trailing dot; the URL key is
-- content.url_match_key's form.
WITH hits AS (
    SELECT 'conn' AS log, 'id.resp_h' AS field, c.uid AS uid, c.ts AS ts,
           c.id_orig_h AS src, c.id_resp_h AS dst, i.type AS ioc_type, i.value AS ioc_value
    FROM conn c JOIN ioc i ON i.type = 'ip' AND i.value = c.id_resp_h
    UNION ALL
    SELECT 'conn', 'id.orig_h', c.uid, c.ts, c.id_resp_h, c.id_orig_h, i.type, i.value
    FROM conn c JOIN ioc i ON i.type = 'ip' AND i.value = c.id_orig_h
    UNION ALL
    SELECT 'dns', 'query', d.uid, d.ts, d.id_orig_h, LOWER(d.query), i.type, i.value
    FROM dns d JOIN ioc i ON i.type = 'domain'
        AND (LOWER(d.query) = i.value OR LOWER(d.query) LIKE CONCAT('%.', i.value))
    UNION ALL
    SELECT 'dns', 'answers', a.uid, a.ts, a.id_orig_h, a.answer, i.type, i.value
    FROM dns_answers a JOIN ioc i ON i.type = 'ip' AND i.value = a.answer
    UNION ALL
    SELECT 'http', 'host', h.uid, h.ts, h.id_orig_h, h.host_name, i.type, i.value
    FROM http_named h JOIN ioc i ON i.type IN ('domain', 'ip')
        AND (h.host_name = i.value OR h.host_name LIKE CONCAT('%.', i.value))
    UNION ALL
    SELECT 'http', 'uri', h.uid, h.ts, h.id_orig_h, h.host_name, i.type, i.value
    FROM http_named h JOIN ioc i ON i.type = 'url' AND h.url_key = i.match_key
    UNION ALL
    SELECT 'http', 'user_agent', h.uid, h.ts, h.id_orig_h, COALESCE(h.host, h.id_resp_h), i.type, i.value
    FROM http h JOIN ioc i ON i.type = 'user-agent' AND h.user_agent = i.value
    UNION ALL
    SELECT 'ssl', 'server_name', t.uid, t.ts, t.id_orig_h, LOWER(t.server_name), i.type, i.value
    FROM ssl t JOIN ioc i ON i.type = 'domain'
        AND (LOWER(t.server_name) = i.value OR LOWER(t.server_name) LIKE CONCAT('%.', i.value))
    UNION ALL
    SELECT 'files', 'filename', f.fuid, f.ts, f.id_orig_h, f.id_resp_h, i.type, i.value
    FROM files f JOIN ioc i ON i.type = 'filename' AND LOWER(f.filename) = LOWER(i.value)
    UNION ALL
    SELECT 'files', i.type, f.fuid, f.ts, f.id_orig_h, f.id_resp_h, i.type, i.value
    FROM files f JOIN ioc i ON (i.type = 'md5' AND LOWER(f.md5) = i.value)
        OR (i.type = 'sha1' AND LOWER(f.sha1) = i.value)
        OR (i.type = 'sha256' AND LOWER(f.sha256) = i.value)
)
SELECT h.log, h.field, h.src, h.dst, h.ioc_type, h.ioc_value,
       i.pack, i.source, i.confidence, i.description,
       COUNT(*) AS hits, MIN(h.ts) AS first_ts, MAX(h.ts) AS last_ts, MIN(h.uid) AS example_uid
FROM hits h
JOIN ioc i ON i.type = h.ioc_type AND i.value = h.ioc_value
GROUP BY h.log, h.field, h.src, h.dst, h.ioc_type, h.ioc_value,
         i.pack, i.source, i.confidence, i.description
ORDER BY h.src, h.ioc_value, h.log, h.field, h.dst
