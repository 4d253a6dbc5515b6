-- Names of internal hosts, from the network telemetry, best first (rank): the workstation name a
-- client gives in NTLM authentication (1), the host name a client asks DHCP to register with
-- the address it is assigned (2), the machine account ("WS223$/REALM") a host requests Kerberos
-- tickets as (3), and DNS answers that resolve a name to an internal address (4). Used to merge
-- a host seen by IP in Zeek with the same host seen by name in its own evidence; first_ts and
-- last_ts bound when the address had the name (a DHCP lease moves a name to another address).
SELECT n.id_orig_h AS ip, UPPER(n.hostname) AS name, 'ntlm' AS via, 1 AS rank, COUNT(*) AS seen,
    MIN(n.ts) AS first_ts, MAX(n.ts) AS last_ts
FROM ntlm n JOIN ip_class c ON c.ip = n.id_orig_h
WHERE c.internal AND n.hostname IS NOT NULL AND n.hostname <> ''
GROUP BY n.id_orig_h, UPPER(n.hostname)
UNION ALL
SELECT d.assigned_addr, UPPER(d.host_name), 'dhcp', 2, COUNT(*), MIN(d.ts), MAX(d.ts)
FROM dhcp d JOIN ip_class c ON c.ip = d.assigned_addr
WHERE c.internal AND d.host_name IS NOT NULL AND d.host_name <> ''
GROUP BY d.assigned_addr, UPPER(d.host_name)
UNION ALL
SELECT m.ip, m.name, 'kerberos', 3, COUNT(*), MIN(m.ts), MAX(m.ts)
FROM (
    SELECT k.id_orig_h AS ip, k.ts,
        UPPER(SUBSTRING(k.client, 1, INSTR(k.client, '$/') - 1)) AS name
    FROM kerberos k
    WHERE k.client IS NOT NULL AND INSTR(k.client, '$/') > 1
) m JOIN ip_class c ON c.ip = m.ip
WHERE c.internal
GROUP BY m.ip, m.name
UNION ALL
SELECT a.answer, UPPER(a.query), 'dns', 4, COUNT(*), MIN(a.ts), MAX(a.ts)
FROM dns_answers a JOIN ip_class c ON c.ip = a.answer
WHERE c.internal AND a.query IS NOT NULL AND a.query <> ''
GROUP BY a.answer, UPPER(a.query)
ORDER BY ip, rank, seen DESC, name
