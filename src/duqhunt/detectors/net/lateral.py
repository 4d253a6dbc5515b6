"""DQ-NET-005 lateral movement over SMB/RPC and DQ-NET-008 one account on many destinations."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import Detector, HuntContext, load_sql
from duqhunt.model import Evidence, Finding, finding_id, iso_utc
from duqhunt.model.finding import Severity

_PKG = __package__ or "duqhunt.detectors.net"
_SQL = load_sql(_PKG, "lateral.sql")
_ADMIN_SQL = load_sql(_PKG, "admin_sources.sql")

EXECUTABLE_SUFFIXES = (
    ".exe",
    ".dll",
    ".sys",
    ".pnf",
    ".tmp",
    ".scr",
    ".com",
    ".bat",
    ".ps1",
    ".vbs",
)
ATTACK_BY_ENDPOINT = {
    "svcctl": "T1543.003",
    "atsvc": "T1053.002",
    "itaskschedulerservice": "T1053.005",
}


def share_name(path: str | None) -> str | None:
    """``\\\\HOST\\ADMIN$`` -> ``ADMIN$``."""
    if not path:
        return None
    return path.replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1].upper() or None


def looks_executable(file: str | None, mime: str | None) -> bool:
    if mime and "dosexec" in mime.lower():
        return True
    return bool(file) and str(file).lower().endswith(EXECUTABLE_SUFFIXES)


def _admin_allowed(ctx: HuntContext, src: str) -> str | None:
    try:
        addr = ipaddress.ip_address(src)
    except ValueError:
        return None
    for allow in ctx.allowlists:
        for entry in allow.entries:
            if "lateral" not in entry.applies_to:
                continue
            if any(addr in ipaddress.ip_network(c, strict=False) for c in entry.cidrs):
                return f"{allow.name}: {entry.name}"
    return None


class LateralMovementDetector(Detector):
    """A file written to an admin share (ADMIN$, C$, any X$; case-insensitive) followed on the
    same destination, within a window, by remote execution: service creation or start over
    svcctl, an At job over atsvc, a task over ITaskSchedulerService (SchRpcRegisterTask,
    SchRpcRun), over a named pipe or plain TCP RPC. Each move is {src, dst, time, method, share,
    file, account}; the account comes from ntlm.log or kerberos.log on the same connection.

    Writes come from smb_files SMB::FILE_WRITE where a sensor logs it, else from files.log SMB
    transfers the originator sent (is_orig), tied to the SMB::FILE_OPEN by connection and name:
    stock Zeek does not log writes in smb_files. A read is never called a write.

    Severity: high for a write followed by execution; medium for an executable-looking file
    written with no execution seen, or execution with no write seen (a binary already there).
    Admin tooling that does the same legitimately (a source that maps admin shares on a large
    share of hosts on most days it is active, learned from the data, or a source on a user
    allow-list with ``applies_to: [lateral]``) is reported at low severity, never dropped.

    Misses: execution over WMI, WinRM or DCOM (not in these logs); SMB3 encrypted sessions
    (no file names); moves whose write and execution are further apart than the window.
    False positives: software distribution and backup agents not learned as admin tooling (few
    days of data), an administrator's manual PsExec.
    """

    id = "DQ-NET-005"
    title = "Lateral movement over admin shares and remote execution"
    stage = "lateral-movement"
    attack = ("T1021.002", "T1570", "T1543.003", "T1053.005", "T1053.002", "T1078")
    sources = ("smb_mapping", "smb_files", "files", "dce_rpc", "ntlm", "kerberos")

    def run(self, ctx: HuntContext) -> list[Finding]:
        rows = ctx.engine.query(
            _SQL,
            {
                "exec_window_s": float(ctx.param("lateral_exec_window_s", 600.0) or 600.0),
                "lead_s": 5.0,
            },
        ).to_pylist()
        admin = {
            r["src"]: r
            for r in ctx.engine.query(
                _ADMIN_SQL,
                {
                    "internal_hosts": float(max(ctx.internal_hosts, 1)),
                    "admin_share": float(ctx.param("admin_tool_share", 0.2) or 0.2),
                    "min_days_share": 0.5,
                },
            ).to_pylist()
        }
        moves = _group_moves(rows)
        findings: list[Finding] = []
        for m in moves:
            m["admin_tool"] = None
            tool = None
            if m["src"] in admin:
                a = admin[m["src"]]
                tool = (
                    f"learned admin tooling: maps admin shares on up to {a['max_dsts']} hosts a "
                    f"day on {a['busy_days']} of {a['days']} day(s)"
                )
            tool = _admin_allowed(ctx, m["src"]) or tool
            m["admin_tool"] = tool
            severity: Severity
            if tool:
                severity = "low"
            elif m["exec_ts"] is not None and m["write_ts"] is not None:
                severity = "high"
            elif m["write_ts"] is not None and not m["executable"] and m["exec_ts"] is None:
                m["admin_tool"] = "not a move: a non-executable file copied to an admin share"
                continue
            else:
                severity = "medium"
            attack = ["T1021.002"]
            if m["write_ts"] is not None:
                attack.append("T1570")
            if str(m["endpoint"] or "").lower() in ATTACK_BY_ENDPOINT:
                attack.append(ATTACK_BY_ENDPOINT[str(m["endpoint"]).lower()])
            if m["account"]:
                attack.append("T1078")
            what = m["file"] or "a binary already on the host"
            how = {"service": "run as a service", "task": "run as a scheduled task"}.get(
                m["method"] or "", "not seen executed"
            )
            if str(m["endpoint"] or "").lower() == "atsvc":
                how = "run as an At job (atsvc)"
            title = f"{m['src']} -> {m['dst']}: {what} on {m['share'] or 'the host'}, {how}"
            evidence = (
                [
                    Evidence(
                        source="smb_files.log/files.log",
                        locator=f"uid {m['write_uid']}, {iso_utc(m['write_ts'])}",
                        summary=f"{len(m['files'])} file(s) written to {m['share_path']} via {m['via']}: "
                        + ", ".join(m["files"][:6]),
                    )
                ]
                if m["write_ts"] is not None
                else []
            )
            if m["exec_ts"] is not None:
                evidence.append(
                    Evidence(
                        source="dce_rpc.log",
                        locator=f"uid {m['exec_uid']}, {iso_utc(m['exec_ts'])}",
                        summary=f"{m['endpoint']} {', '.join(m['operations'])}"
                        + (f" over {m['named_pipe']}" if m["named_pipe"] else ""),
                    )
                )
            if tool:
                evidence.append(Evidence(source="duqhunt", locator="admin tooling", summary=tool))
            t = m["write_ts"] if m["write_ts"] is not None else m["exec_ts"]
            findings.append(
                Finding(
                    id=finding_id(self.id, m["src"], m["dst"], m["write_uid"] or m["exec_uid"]),
                    detector=self.id,
                    title=title,
                    stage="lateral-movement",
                    attack=tuple(attack),
                    severity=severity,
                    confidence=0.9
                    if severity == "high"
                    else (0.6 if severity == "medium" else 0.3),
                    hosts=(m["src"], m["dst"]),
                    first_seen=t,
                    last_seen=m["exec_ts"] if m["exec_ts"] is not None else t,
                    evidence=tuple(evidence),
                    details=(
                        ("src", m["src"]),
                        ("dst", m["dst"]),
                        ("method", m["method"]),
                        ("share", m["share"]),
                        ("file", m["file"]),
                        ("account", m["account"]),
                        ("admin_tool", tool),
                    ),
                )
            )
        ctx.shared["lateral_moves"] = pa.Table.from_pylist(moves) if moves else pa.table({})
        findings += _account_spread(self_id="DQ-NET-008", moves=moves)
        return findings


def _group_moves(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One move per write session (or per lone execution): files and operations collected."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["src"], r["dst"], r["write_uid"] or f"exec:{r['exec_uid']}")
        g = groups.get(key)
        if g is None:
            g = groups[key] = {
                "src": r["src"],
                "dst": r["dst"],
                "write_uid": r["write_uid"],
                "write_ts": r["write_ts"],
                "share_path": r["share_path"],
                "share": share_name(r["share_path"]),
                "files": [],
                "executable": False,
                "via": r["via"],
                "exec_ts": None,
                "exec_uid": None,
                "method": None,
                "operations": [],
                "endpoint": None,
                "named_pipe": None,
                "account": r["write_account"] or r["exec_account"],
            }
        if r["file"] and r["file"] not in g["files"]:
            g["files"].append(r["file"])
            g["executable"] = g["executable"] or looks_executable(r["file"], r["mime_type"])
        if r["write_ts"] is not None and (g["write_ts"] is None or r["write_ts"] < g["write_ts"]):
            g["write_ts"] = r["write_ts"]
        if r["exec_ts"] is not None:
            if g["exec_ts"] is None or r["exec_ts"] < g["exec_ts"]:
                g["exec_ts"], g["exec_uid"] = r["exec_ts"], r["exec_uid"]
                g["method"], g["endpoint"], g["named_pipe"] = (
                    r["method"],
                    r["endpoint"],
                    r["named_pipe"],
                )
            if r["operation"] not in g["operations"]:
                g["operations"].append(r["operation"])
            g["account"] = g["account"] or r["exec_account"]
    moves = []
    for g in groups.values():
        exe = [f for f in g["files"] if looks_executable(f, None)]
        g["file"] = (exe or g["files"] or [None])[0]
        moves.append(g)
    moves.sort(
        key=lambda m: (m["write_ts"] if m["write_ts"] is not None else m["exec_ts"], m["dst"])
    )
    return moves


def _account_spread(*, self_id: str, moves: list[dict[str, Any]]) -> list[Finding]:
    """One account used for remote execution on many destinations (a stolen admin account)."""
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in moves:
        if m["account"] and not m.get("admin_tool") and m["exec_ts"] is not None:
            by_account[m["account"]].append(m)
    out: list[Finding] = []
    for account, ms in sorted(by_account.items()):
        dsts = sorted({m["dst"] for m in ms})
        if len(dsts) < 3:
            continue
        srcs = sorted({m["src"] for m in ms})
        times = [m["exec_ts"] for m in ms]
        out.append(
            Finding(
                id=finding_id(self_id, account),
                detector=self_id,
                title=f"Account {account} ran code remotely on {len(dsts)} hosts",
                stage="lateral-movement",
                attack=("T1078", "T1021.002"),
                severity="high",
                confidence=0.8,
                hosts=tuple(srcs + [d for d in dsts if d not in srcs]),
                first_seen=min(times),
                last_seen=max(times),
                evidence=(
                    Evidence(
                        source="ntlm.log/kerberos.log + dce_rpc.log",
                        locator=f"account {account}",
                        summary=f"from {', '.join(srcs)} to {', '.join(dsts[:20])}",
                    ),
                ),
                details=(("account", account), ("destinations", len(dsts))),
            )
        )
    return out


class AccountSpreadDetector(Detector):
    """One account used for remote execution (DQ-NET-005 moves) on three or more destinations,
    outside learned or allow-listed admin tooling: how a stolen domain admin account shows.

    Emitted by the lateral-movement detector's run (it needs its moves); this class carries the
    metadata. Misses: accounts not visible in ntlm.log/kerberos.log (Kerberos over TCP 88 to the
    DC is not tied to the SMB session). False positives: a help-desk account used by hand.
    """

    id = "DQ-NET-008"
    title = "One account, many destinations"
    stage = "lateral-movement"
    attack = ("T1078", "T1021.002")
    sources = ("ntlm", "kerberos", "dce_rpc")

    def run(self, ctx: HuntContext) -> list[Finding]:
        return []
