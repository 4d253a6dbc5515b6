-- DQ-NET-005 helper: which accounts log on from each host in ordinary work.
-- One row per (source, account as logged) with the first time it was seen, from kerberos.log
-- (client) and ntlm.log (username), leaving out connections that carried a remote execution
-- request or mapped an admin share (the moves themselves). The person who works at a host
-- (jsmith at WS001) shows here; DQ-NET-005 then recognises his admin account (adm_jsmith)
-- running tooling from that host, and not the same account used from someone else's.
WITH move_uids AS (
    SELECT uid FROM dce_rpc
    WHERE operation IN ('CreateServiceW', 'CreateServiceA', 'CreateServiceWOW64W',
                        'CreateServiceWOW64A', 'StartServiceW', 'StartServiceA',
                        'NetrJobAdd', 'SchRpcRegisterTask', 'SchRpcRun')
    UNION ALL
    SELECT uid FROM smb_mapping WHERE @share_kind(path) = 'admin'
),
auth AS (
    SELECT id_orig_h AS src, username AS account, ts, uid FROM ntlm
    WHERE username IS NOT NULL AND username <> ''
    UNION ALL
    SELECT id_orig_h, client, ts, uid FROM kerberos
    WHERE client IS NOT NULL AND client <> ''
)
SELECT a.src, a.account, MIN(a.ts) AS first_ts
FROM auth a
LEFT JOIN (SELECT DISTINCT uid FROM move_uids) m ON m.uid = a.uid
WHERE m.uid IS NULL
GROUP BY a.src, a.account
ORDER BY a.src, a.account
