-- DQ-NET-005 lateral movement over SMB and RPC, portable SQL.
-- One row per candidate: a file written to an admin share (ADMIN$ or a drive letter C$, D$, ...;
-- see detectors/shares.py, the one classification) and/or a remote execution request (service
-- creation over svcctl, a task over atsvc or ITaskSchedulerService) on the same destination from
-- the same source within :exec_window_s. A write to any other share (Users$, Home$, SYSVOL,
-- NETLOGON, a plain file share) is kept only when such an execution follows it: a file share
-- written to and nothing executed is ordinary file serving, not a move.
-- A write is an smb_files SMB::FILE_WRITE row, or a files.log SMB transfer sent by the
-- originator (is_orig) matched to its SMB::FILE_OPEN by connection and name: stock Zeek does
-- not log writes in smb_files. A read (files.log is_orig F, SMB::FILE_READ) is never a write.
-- The account comes from ntlm.log or kerberos.log on the same connection. A session
-- authenticated with a Kerberos ticket shows no account there (the AP-REQ's client name is
-- encrypted, and kerberos.log rarely shares the SMB connection's uid): its account is the
-- client of the source's latest ticket for the destination's service (cifs/, host/ or RPCSS/
-- NAME, NAME resolved to the destination by host_names.sql) obtained from the KDC in the
-- service ticket lifetime (10 h, Windows' default) before the move (ticket_account).
-- Parameters: :exec_window_s, :lead_s (an execution may start this many seconds before the
-- write is logged).
WITH writes AS (
    SELECT s.uid, s.ts, s.id_orig_h AS src, s.id_resp_h AS dst, s.path AS share_path,
           s.name AS file, CAST(NULL AS STRING) AS mime_type, 'smb_files SMB::FILE_WRITE' AS via
    FROM smb_files s
    WHERE s.action = 'SMB::FILE_WRITE'
    UNION ALL
    SELECT f.uid, f.ts, o.id_orig_h, o.id_resp_h, o.path, f.filename, f.mime_type,
           'files.log is_orig (SMB)'
    FROM files_conn f
    JOIN smb_files o ON o.uid = f.uid AND o.name = f.filename AND o.action = 'SMB::FILE_OPEN'
    WHERE UPPER(f.source) = 'SMB' AND f.is_orig
),
share_writes AS (
    SELECT uid, src, dst, share_path, file, MIN(ts) AS ts, MAX(mime_type) AS mime_type,
           MIN(via) AS via, @share_kind(share_path) AS share_kind
    FROM writes
    GROUP BY uid, src, dst, share_path, file
),
execs AS (
    SELECT d.uid, d.ts, d.id_orig_h AS src, d.id_resp_h AS dst, d.endpoint, d.operation,
           d.named_pipe,
           CASE WHEN LOWER(d.endpoint) = 'svcctl' THEN 'service' ELSE 'task' END AS method
    FROM dce_rpc d
    WHERE d.operation IN ('CreateServiceW', 'CreateServiceA', 'CreateServiceWOW64W',
                          'CreateServiceWOW64A', 'StartServiceW', 'StartServiceA',
                          'NetrJobAdd', 'SchRpcRegisterTask', 'SchRpcRun')
),
move_writes AS (
    SELECT w.uid, w.src, w.dst, w.share_path, w.file, w.ts, w.mime_type, w.via, w.share_kind
    FROM share_writes w
    WHERE w.share_kind = 'admin'
    UNION ALL
    SELECT DISTINCT w.uid, w.src, w.dst, w.share_path, w.file, w.ts, w.mime_type, w.via,
           w.share_kind
    FROM share_writes w
    JOIN execs e ON e.src = w.src AND e.dst = w.dst
        AND e.ts >= w.ts - :lead_s AND e.ts <= w.ts + :exec_window_s
    WHERE w.share_kind = 'file'
),
accounts AS (
    SELECT uid, MIN(CASE WHEN domainname IS NOT NULL AND domainname <> ''
                         THEN CONCAT(domainname, CHR(92), username) ELSE username END) AS account
    FROM ntlm WHERE username IS NOT NULL AND username <> ''
    GROUP BY uid
    UNION ALL
    SELECT uid, MIN(client) AS account FROM kerberos
    WHERE client IS NOT NULL AND client <> '' GROUP BY uid
),
krb_tickets AS (
    SELECT t.src, t.ts, t.account,
           UPPER(CASE WHEN INSTR(t.svc_host, '.') > 0
                      THEN SUBSTRING(t.svc_host, 1, INSTR(t.svc_host, '.') - 1)
                      ELSE t.svc_host END) AS target
    FROM (
        SELECT k.id_orig_h AS src, k.ts, k.client AS account,
               SUBSTRING(k.service, INSTR(k.service, '/') + 1) AS svc_host
        FROM kerberos k
        WHERE k.client IS NOT NULL AND k.client <> '' AND k.ts IS NOT NULL
          AND (k.success IS NULL OR k.success)
          AND (LOWER(k.service) LIKE 'cifs/%' OR LOWER(k.service) LIKE 'host/%'
               OR LOWER(k.service) LIKE 'rpcss/%')
    ) t
),
host_short AS (
    SELECT DISTINCT n.ip,
           UPPER(CASE WHEN INSTR(n.name, '.') > 0 THEN SUBSTRING(n.name, 1, INSTR(n.name, '.') - 1)
                      ELSE n.name END) AS short
    FROM ({host_names}) n
    WHERE n.name IS NOT NULL AND n.name <> ''
),
tickets AS (
    SELECT k.src, h.ip AS dst, k.ts, k.account
    FROM krb_tickets k
    JOIN host_short h ON h.short = k.target
),
paired AS (
    SELECT w.src, w.dst, w.ts AS write_ts, w.uid AS write_uid, w.share_path, w.share_kind,
           w.file, w.mime_type, w.via, e.ts AS exec_ts, e.uid AS exec_uid, e.method, e.operation,
           e.endpoint, e.named_pipe
    FROM move_writes w
    LEFT JOIN execs e ON e.src = w.src AND e.dst = w.dst
        AND e.ts >= w.ts - :lead_s AND e.ts <= w.ts + :exec_window_s
    UNION ALL
    SELECT e.src, e.dst, CAST(NULL AS DOUBLE), CAST(NULL AS STRING), CAST(NULL AS STRING),
           CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING),
           e.ts, e.uid, e.method, e.operation, e.endpoint, e.named_pipe
    FROM execs e
    LEFT JOIN move_writes w ON w.src = e.src AND w.dst = e.dst
        AND e.ts >= w.ts - :lead_s AND e.ts <= w.ts + :exec_window_s
    WHERE w.uid IS NULL
),
move_times AS (
    SELECT DISTINCT src, dst, COALESCE(write_ts, exec_ts) AS move_ts FROM paired
),
latest_ticket AS (
    SELECT m.src, m.dst, m.move_ts, MAX(t.ts) AS ticket_ts
    FROM move_times m
    JOIN tickets t ON t.src = m.src AND t.dst = m.dst
        AND t.ts <= m.move_ts + :lead_s AND t.ts >= m.move_ts - 36000.0
    GROUP BY m.src, m.dst, m.move_ts
),
ticket_accounts AS (
    SELECT l.src, l.dst, l.move_ts, MIN(t.account) AS account
    FROM latest_ticket l
    JOIN tickets t ON t.src = l.src AND t.dst = l.dst AND t.ts = l.ticket_ts
    GROUP BY l.src, l.dst, l.move_ts
)
SELECT p.*, wa.account AS write_account, ea.account AS exec_account,
       ta.account AS ticket_account
FROM paired p
LEFT JOIN accounts wa ON wa.uid = p.write_uid
LEFT JOIN accounts ea ON ea.uid = p.exec_uid
LEFT JOIN ticket_accounts ta ON ta.src = p.src AND ta.dst = p.dst
    AND ta.move_ts = COALESCE(p.write_ts, p.exec_ts)
ORDER BY p.src, p.dst, COALESCE(p.write_ts, p.exec_ts), p.file, p.exec_ts, p.operation, p.exec_uid, p.write_uid
