-- Names seen for external IPs: DNS answers, TLS SNI and HTTP Host headers (for allow-lists,
-- IOC domains and the report). An address written where a name goes names nothing: an SNI
-- that is an IP literal (RFC 6066 3 allows host names only; some implants send their C&C's
-- address) or a Host that is the address itself, with or without a port. A proxied request's
-- host (http_named.proxy_form) names its target, not the proxy it was sent to.
WITH named AS (
    SELECT answer AS ip, LOWER(query) AS name, 'dns' AS via FROM dns_answers
    WHERE query IS NOT NULL AND answer IS NOT NULL
    UNION ALL
    SELECT id_resp_h, LOWER(TRIM(TRAILING '.' FROM server_name)), 'sni' FROM ssl
    WHERE server_name IS NOT NULL
    UNION ALL
    SELECT id_resp_h, host_name, 'http' FROM http_named
    WHERE host_name IS NOT NULL AND proxy_form = 0
)
SELECT DISTINCT ip, name, via FROM named
WHERE name <> '' AND TRANSLATE(name, '0123456789.', '') <> '' AND name NOT LIKE '%:%'
