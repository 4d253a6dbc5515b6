-- DQ-NET-001 known-indicator matches, portable SQL. Reads the `ioc` table (type, value,
-- match_key, pack, source, confidence, description) built from the IOC packs; one row per (log,
-- field, source host, destination, indicator) with counts and times.
-- An HTTP request's host is its Host header, or the authority of an absolute URI (a request to
-- a proxy), without the port and a trailing dot; its URL key is content.url_match_key's form:
-- host, a port other than 80 and 443, path and query, in lower case.
WITH http_req AS (
    SELECT h.uid, h.ts, h.id_orig_h, h.id_resp_h, h.user_agent, h.host, h.uri,
           CASE WHEN LOWER(h.uri) LIKE 'http://%' OR LOWER(h.uri) LIKE 'https://%'
                THEN SUBSTRING(h.uri, INSTR(h.uri, '://') + 3) END AS abs_rest
    FROM http h
),
http_parts AS (
    SELECT r.uid, r.ts, r.id_orig_h, r.id_resp_h, r.user_agent, r.host,
           CASE WHEN r.abs_rest IS NULL THEN r.host
                WHEN INSTR(r.abs_rest, '/') > 0
                    THEN SUBSTRING(r.abs_rest, 1, INSTR(r.abs_rest, '/') - 1)
                ELSE r.abs_rest END AS authority,
           CASE WHEN r.abs_rest IS NULL THEN r.uri
                WHEN INSTR(r.abs_rest, '/') > 0 THEN SUBSTRING(r.abs_rest, INSTR(r.abs_rest, '/'))
                ELSE '/' END AS path
    FROM http_req r
),
http_hosts AS (
    SELECT p.*,
           CASE WHEN p.authority LIKE '%:%' AND p.authority NOT LIKE '%:%:%'
                     AND p.authority NOT LIKE '%]%'
                THEN SUBSTRING(p.authority, 1, INSTR(p.authority, ':') - 1)
                ELSE p.authority END AS bare_host,
           CASE WHEN p.authority LIKE '%:%' AND p.authority NOT LIKE '%:%:%'
                     AND p.authority NOT LIKE '%]%'
                THEN SUBSTRING(p.authority, INSTR(p.authority, ':') + 1) END AS host_port
    FROM http_parts p
),
http_named AS (
    SELECT q.uid, q.ts, q.id_orig_h, q.id_resp_h, q.user_agent, q.host,
           LOWER(TRIM(TRAILING '.' FROM q.bare_host)) AS host_name,
           CASE WHEN q.path IS NULL OR q.bare_host IS NULL OR q.bare_host = '' THEN NULL
                ELSE LOWER(CONCAT(TRIM(TRAILING '.' FROM q.bare_host),
                                  CASE WHEN q.host_port IS NULL OR q.host_port IN ('80', '443')
                                       THEN '' ELSE CONCAT(':', q.host_port) END,
                                  q.path)) END AS url_key
    FROM http_hosts q
),
hits AS (
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
