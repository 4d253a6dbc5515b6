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
-- The account comes from ntlm.log or kerberos.log on the same connection.
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
)
SELECT p.*, wa.account AS write_account, ea.account AS exec_account
FROM paired p
LEFT JOIN accounts wa ON wa.uid = p.write_uid
LEFT JOIN accounts ea ON ea.uid = p.exec_uid
ORDER BY p.src, p.dst, COALESCE(p.write_ts, p.exec_ts), p.file, p.exec_ts, p.operation, p.exec_uid, p.write_uid
