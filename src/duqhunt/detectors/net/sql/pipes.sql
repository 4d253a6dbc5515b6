-- DQ-NET-006 helper: named pipes and IPC$ tree connects from no-egress hosts to internal hosts.
-- smb_files PIPE_OPEN rows appear only when a sensor logs pipe opens (stock Zeek does not);
-- dce_rpc.log shows pipes that carry DCE/RPC; smb_mapping shows IPC$ tree connects.
SELECT f.id_orig_h AS src, f.id_resp_h AS dst, f.name AS pipe, COUNT(*) AS n,
       MIN(f.ts) AS first_ts, MAX(f.ts) AS last_ts, 'smb_files' AS via
FROM smb_files f JOIN zones z ON z.ip = f.id_orig_h
WHERE z.zone = 'no-egress' AND f.action = 'SMB::PIPE_OPEN' AND f.name IS NOT NULL
GROUP BY f.id_orig_h, f.id_resp_h, f.name
UNION ALL
SELECT d.id_orig_h, d.id_resp_h, d.named_pipe, COUNT(*), MIN(d.ts), MAX(d.ts), 'dce_rpc'
FROM dce_rpc d JOIN zones z ON z.ip = d.id_orig_h
WHERE z.zone = 'no-egress' AND d.named_pipe IS NOT NULL
GROUP BY d.id_orig_h, d.id_resp_h, d.named_pipe
UNION ALL
SELECT m.id_orig_h, m.id_resp_h, 'IPC$', COUNT(*), MIN(m.ts), MAX(m.ts), 'smb_mapping'
FROM smb_mapping m JOIN zones z ON z.ip = m.id_orig_h
WHERE z.zone = 'no-egress' AND UPPER(m.path) LIKE '%IPC$'
GROUP BY m.id_orig_h, m.id_resp_h
