-- Zones from behaviour: an internal host that originated at least one session to an external
-- address that carried data (egress_session.sql) over the window is
-- 'egress'; every other internal host is 'no-egress', including one whose only external rows
-- are attempts a firewall blocked (S0, REJ, half-open, single packets). Inbound sessions (an
-- external originator) never count: only rows the internal host originated are read.
-- A data-carrying session to an internal explicit web proxy (proxies.sql: an address that
-- receives CONNECT or absolute-URI requests) is egress too: behind a proxy that is the way out.
-- Networks declared with --no-egress are set to 'no-egress' afterwards, whatever they did.
SELECT i.ip, CASE WHEN e.ip IS NOT NULL THEN 'egress' ELSE 'no-egress' END AS zone
FROM ip_class i
LEFT JOIN (
    SELECT DISTINCT c.id_orig_h AS ip
    FROM conn c JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE {egress_session}
      AND (NOT d.internal OR c.id_resp_h IN (SELECT px.ip FROM ({proxy_hosts}) px))
) e ON e.ip = i.ip
WHERE i.internal
