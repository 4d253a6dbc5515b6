-- DQ-NET-006 input: SMB sessions (445/139) from a no-egress host to another internal host, as
-- periodicity.sql sessions (bytes: orig_ip_bytes, else orig_bytes, else 0). Reads zones (ip, zone).
SELECT 'smb' AS kind, c.id_orig_h AS src, c.id_resp_h AS dst, c.ts AS ts,
       CAST(COALESCE(c.orig_ip_bytes, c.orig_bytes, 0) AS DOUBLE) AS bytes,
       c.proto AS proto, c.id_resp_p AS port
FROM conn c
JOIN zones s ON s.ip = c.id_orig_h
JOIN zones d ON d.ip = c.id_resp_h
WHERE s.zone = 'no-egress' AND c.id_resp_p IN (139, 445) AND c.ts IS NOT NULL
