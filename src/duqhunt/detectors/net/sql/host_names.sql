-- Names of internal hosts, from the network telemetry: the workstation name a client gives in
-- NTLM authentication, and DNS answers that resolve a name to an internal address. Used to
-- merge a host seen by IP in Zeek with the same host seen by name in its own evidence.
SELECT n.id_orig_h AS ip, UPPER(n.hostname) AS name, 'ntlm' AS via, COUNT(*) AS seen
FROM ntlm n JOIN ip_class c ON c.ip = n.id_orig_h
WHERE c.internal AND n.hostname IS NOT NULL AND n.hostname <> ''
GROUP BY n.id_orig_h, UPPER(n.hostname)
UNION ALL
SELECT a.answer, UPPER(a.query), 'dns', COUNT(*)
FROM dns_answers a JOIN ip_class c ON c.ip = a.answer
WHERE c.internal AND a.query IS NOT NULL AND a.query <> ''
GROUP BY a.answer, UPPER(a.query)
ORDER BY ip, via DESC, seen DESC, name
