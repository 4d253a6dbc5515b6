"""Derived views both engines define with the same portable SQL (beside their dialect views).

``http_named``: every http.log row with the destination its request names, parsed once for
every detector (IOC matching, beacons, request shapes, proxies, bridges):

- ``proxy_form``: 1 for a request in a proxy's forms (RFC 9112 3.2.2 absolute-form
  ``http://host/...``, 3.2.3 authority-form ``CONNECT host:port``), else 0;
- ``authority``: the CONNECT request-target (the Host header when the target is empty), an
  absolute URI's authority (userinfo dropped), else the Host header (RFC 9110 7.2);
- ``host_name``: the authority's host in lower case, without its port, without the
  brackets of an IP literal (``[2001:db8::1]:8080`` -> ``2001:db8::1``) and without a
  trailing dot (``evil.example.`` names ``evil.example``); NULL when empty. A host with two
  or more colons and no brackets (an IPv6 address a client wrote bare, which RFC 3986 does not
  allow) is kept whole rather than cut at its first colon;
- ``host_port``: the port as written (``8080``), NULL when there is none or it is empty;
- ``path``: an absolute URI's path and query (``/`` when it has none), the URI itself for an
  origin-form request, NULL for CONNECT;
- ``url_key``: the form content.url_match_key gives a URL indicator: host (IP literals in
  brackets), a port other than 80 and 443, path and query, all in lower case.
"""

from __future__ import annotations

# a proxy-form request: CONNECT (authority-form) or an absolute URI (absolute-form)
_ABSOLUTE = "(LOWER(h.uri) LIKE 'http://%' OR LOWER(h.uri) LIKE 'https://%')"
_CONNECT = "UPPER(h.method) = 'CONNECT'"

HTTP_NAMED = f"""
SELECT n.*,
       CASE WHEN n.host_name IS NULL OR n.path IS NULL THEN NULL
            ELSE LOWER(CONCAT(
                CASE WHEN n.host_name LIKE '%:%' THEN CONCAT('[', n.host_name, ']')
                     ELSE n.host_name END,
                CASE WHEN n.host_port IS NULL OR n.host_port IN ('80', '443') THEN ''
                     ELSE CONCAT(':', n.host_port) END,
                n.path)) END AS url_key
FROM (
    SELECT p.*,
           NULLIF(LOWER(TRIM(TRAILING '.' FROM
               CASE WHEN p.authority LIKE '[%' AND INSTR(p.authority, ']') > 0
                        THEN SUBSTRING(p.authority, 2, INSTR(p.authority, ']') - 2)
                    WHEN p.authority LIKE '%:%' AND p.authority NOT LIKE '%:%:%'
                        THEN SUBSTRING(p.authority, 1, INSTR(p.authority, ':') - 1)
                    ELSE p.authority END)), '') AS host_name,
           NULLIF(CASE WHEN p.authority LIKE '[%]:%'
                           THEN SUBSTRING(p.authority, INSTR(p.authority, ']:') + 2)
                       WHEN p.authority NOT LIKE '[%' AND p.authority LIKE '%:%'
                            AND p.authority NOT LIKE '%:%:%'
                           THEN SUBSTRING(p.authority, INSTR(p.authority, ':') + 1)
                   END, '') AS host_port
    FROM (
        SELECT a.*,
               CASE WHEN INSTR(a.authority_raw, '@') > 0
                    THEN SUBSTRING(a.authority_raw, INSTR(a.authority_raw, '@') + 1)
                    ELSE a.authority_raw END AS authority
        FROM (
            SELECT h.*,
                   CASE WHEN {_CONNECT} OR {_ABSOLUTE} THEN 1 ELSE 0 END AS proxy_form,
                   CASE WHEN {_CONNECT}
                            THEN COALESCE(NULLIF(h.uri, ''), h.host)
                        WHEN {_ABSOLUTE} AND INSTR(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3), '/') > 0
                            THEN SUBSTRING(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3), 1,
                                 INSTR(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3), '/') - 1)
                        WHEN {_ABSOLUTE}
                            THEN SUBSTRING(h.uri, INSTR(h.uri, '://') + 3)
                        ELSE h.host END AS authority_raw,
                   CASE WHEN {_CONNECT} THEN NULL
                        WHEN {_ABSOLUTE} AND INSTR(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3), '/') > 0
                            THEN SUBSTRING(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3),
                                 INSTR(SUBSTRING(h.uri, INSTR(h.uri, '://') + 3), '/'))
                        WHEN {_ABSOLUTE} THEN '/'
                        ELSE h.uri END AS path
            FROM http h
        ) a
    ) p
) n
"""

#: portable views over the logs, in the order they are created
PORTABLE_VIEWS: dict[str, str] = {"http_named": HTTP_NAMED}
