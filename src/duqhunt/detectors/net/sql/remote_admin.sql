-- DQ-NET-009 input: remote administration sessions between internal hosts (WinRM 5985/5986,
-- RDP 3389, SMB 139/445, the RPC endpoint mapper 135 that DCOM and WMI start from) that touch a
-- host in `remote_admin_hosts` (ip, beacon_ts: when the host began its first C&C beacon), per
-- (src, dst, port, how):
--   * how = 'before': to that host, within :window_s before its beacon began (the install);
--   * how = 'from': from that host, once its beacon had begun (an infected host spreading);
-- with how many internal sources reach the destination on that port over the whole window (a
-- server that many hosts use over SMB or RDP is no sign). A session counts when it carried
-- data (the rule of egress_session.sql, put in below): an attempt a firewall refused
-- administers nothing. One read of conn: these ports between internal hosts are a small share
-- of it, and both the sessions and the reach come from those rows.
WITH admin AS (
    SELECT c.id_orig_h AS src, c.id_resp_h AS dst, c.id_resp_p AS port, c.ts AS ts
    FROM conn c
    JOIN ip_class s ON s.ip = c.id_orig_h
    JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE c.id_resp_p IN (135, 139, 445, 3389, 5985, 5986) AND c.ts IS NOT NULL
      AND c.id_orig_h <> c.id_resp_h AND s.internal AND d.internal AND {egress_session}
),
reach AS (
    SELECT dst, port, COUNT(DISTINCT src) AS sources FROM admin GROUP BY dst, port
),
marked AS (
    SELECT x.src, x.dst, x.port, x.ts,
           CASE WHEN t.ip IS NOT NULL AND x.ts <= t.beacon_ts
                     AND x.ts >= t.beacon_ts - :window_s THEN 'before'
                WHEN f.ip IS NOT NULL AND x.ts >= f.beacon_ts THEN 'from' END AS how
    FROM admin x
    LEFT JOIN remote_admin_hosts t ON t.ip = x.dst
    LEFT JOIN remote_admin_hosts f ON f.ip = x.src
    WHERE t.ip IS NOT NULL OR f.ip IS NOT NULL
)
SELECT m.src, m.dst, m.port, m.how, MIN(m.ts) AS first_ts, MAX(m.ts) AS last_ts,
       COUNT(*) AS sessions, MIN(r.sources) AS sources
FROM marked m
JOIN reach r ON r.dst = m.dst AND r.port = m.port
WHERE m.how IS NOT NULL
GROUP BY m.src, m.dst, m.port, m.how
ORDER BY m.src, m.dst, m.how, m.port
