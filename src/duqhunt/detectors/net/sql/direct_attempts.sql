-- DQ-NET-006/007 helper: what each no-egress host originated towards external addresses, per
-- destination: the attempts a firewall blocked (rows that carried no data, see
-- egress_session.sql) and, for a host declared no-egress that still has them, its data-carrying
-- sessions. An implant in a secure zone tries its C&C directly before it falls back to its
-- relay, so these name the C&C the relay reaches. egress_hosts: how many egress hosts reach
-- the same address (Windows Update, NTP and resolvers are reached by many; a C&C by few).
WITH att AS (
    SELECT c.id_orig_h AS src, c.id_resp_h AS dst, COUNT(*) AS n,
           SUM(CASE WHEN {egress_session} THEN 1 ELSE 0 END) AS data_sessions,
           MIN(c.ts) AS first_ts, MAX(c.ts) AS last_ts,
           MIN(c.id_resp_p) AS min_port, MAX(c.id_resp_p) AS max_port,
           COUNT(DISTINCT c.id_resp_p) AS ports,
           SUM(CASE WHEN c.conn_state = 'REJ' THEN 1 ELSE 0 END) AS rejected
    FROM conn c
    JOIN zones z ON z.ip = c.id_orig_h
    JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE z.zone = 'no-egress' AND NOT d.internal AND c.ts IS NOT NULL
    GROUP BY c.id_orig_h, c.id_resp_h
),
reach AS (
    SELECT c.id_resp_h AS dst, COUNT(DISTINCT c.id_orig_h) AS egress_hosts
    FROM conn c
    JOIN zones z ON z.ip = c.id_orig_h
    WHERE z.zone = 'egress' AND c.id_resp_h IN (SELECT DISTINCT dst FROM att)
    GROUP BY c.id_resp_h
)
SELECT a.src, a.dst, a.n, a.data_sessions, a.first_ts, a.last_ts, a.min_port, a.max_port,
       a.ports, a.rejected, COALESCE(r.egress_hosts, 0) AS egress_hosts
FROM att a
LEFT JOIN reach r ON r.dst = a.dst
ORDER BY a.src, a.n DESC, a.dst
