-- Zones from behaviour: an internal host with any connection of its own to an external address
-- over the window is 'egress'; every other internal host is 'no-egress'.
SELECT i.ip, CASE WHEN e.ip IS NOT NULL THEN 'egress' ELSE 'no-egress' END AS zone
FROM ip_class i
LEFT JOIN (
    SELECT DISTINCT c.id_orig_h AS ip
    FROM conn c JOIN ip_class d ON d.ip = c.id_resp_h
    WHERE NOT d.internal
) e ON e.ip = i.ip
WHERE i.internal
