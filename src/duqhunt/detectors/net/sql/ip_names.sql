-- Names seen for external IPs: DNS answers, TLS SNI and HTTP Host headers (for allow-lists,
-- IOC domains and the report).
SELECT DISTINCT answer AS ip, LOWER(query) AS name, 'dns' AS via FROM dns_answers
WHERE query IS NOT NULL AND answer IS NOT NULL
UNION
SELECT DISTINCT id_resp_h, LOWER(server_name), 'sni' FROM ssl
WHERE server_name IS NOT NULL AND server_name <> ''
UNION
SELECT DISTINCT id_resp_h, LOWER(host), 'http' FROM http
WHERE host IS NOT NULL AND host <> '' AND host <> id_resp_h
