-- DQ-NET-003 rule "rare-user-agent": a host that browses with one User-Agent (to more
-- destinations) also sends a User-Agent that is rare in the whole environment, to few destinations (Duqu's
-- hard-coded Firefox 3.6.9 string beside the host's real browser).
-- Parameters: :rare_ua_hosts (a UA seen on at most this many hosts is rare),
--             :max_dsts (the rare UA reaches at most this many destinations from the host)
WITH ua_hosts AS (
    SELECT user_agent, COUNT(DISTINCT id_orig_h) AS hosts
    FROM http WHERE user_agent IS NOT NULL AND user_agent <> ''
    GROUP BY user_agent
),
host_ua AS (
    SELECT id_orig_h, user_agent, COUNT(*) AS n,
           COUNT(DISTINCT COALESCE(host, id_resp_h)) AS dsts,
           MIN(COALESCE(host, id_resp_h)) AS example_dst,
           MIN(ts) AS first_ts, MAX(ts) AS last_ts, MIN(uid) AS example_uid
    FROM http WHERE user_agent IS NOT NULL AND user_agent <> ''
    GROUP BY id_orig_h, user_agent
),
host_main AS (
    SELECT id_orig_h, MAX(n) AS main_n, MAX(dsts) AS main_dsts, SUM(n) AS total, COUNT(*) AS uas
    FROM host_ua GROUP BY id_orig_h
)
SELECT u.id_orig_h AS src, u.user_agent, u.n, u.dsts, u.example_dst, u.first_ts, u.last_ts,
       u.example_uid, m.main_n, m.main_dsts, m.total, m.uas, a.hosts AS ua_hosts
FROM host_ua u
JOIN host_main m ON m.id_orig_h = u.id_orig_h
JOIN ua_hosts a ON a.user_agent = u.user_agent
JOIN ip_class s ON s.ip = u.id_orig_h
WHERE s.internal
  AND m.uas >= 2
  AND u.dsts < m.main_dsts
  AND a.hosts <= :rare_ua_hosts
  AND u.dsts <= :max_dsts
ORDER BY src, u.user_agent
