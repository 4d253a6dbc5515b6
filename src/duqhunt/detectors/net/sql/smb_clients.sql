-- DQ-NET-006 helper: how many internal hosts open SMB sessions to each host (servers have many).
SELECT c.id_resp_h AS ip, COUNT(DISTINCT c.id_orig_h) AS clients
FROM conn c
JOIN ip_class s ON s.ip = c.id_orig_h
WHERE s.internal AND c.id_resp_p IN (139, 445)
GROUP BY c.id_resp_h
