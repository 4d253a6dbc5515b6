"""DQ-NET-005 lateral movement over SMB/RPC and DQ-NET-008 one account on many destinations."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from typing import Any

from duqhunt.content import allow_entry_covering
from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql
from duqhunt.detectors.outputs import LateralMove
from duqhunt.detectors.shares import expand_share_macros, share_name
from duqhunt.model import Evidence, Finding, finding_id, iso_utc
from duqhunt.model.finding import Severity

_PKG = __package__ or "duqhunt.detectors.net"
# the candidate moves (lateral.sql), with the host names that resolve a Kerberos ticket's
# service to its destination
LATERAL_SQL = expand_share_macros(load_sql(_PKG, "lateral.sql")).replace(
    "{host_names}", load_sql(_PKG, "host_names.sql")
)
_ADMIN_SQL = expand_share_macros(load_sql(_PKG, "admin_sources.sql"))
_HOME_SQL = expand_share_macros(load_sql(_PKG, "account_home.sql"))

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


def looks_executable(file: str | None, mime: str | None) -> bool:
    if mime and "dosexec" in mime.lower():
        return True
    return bool(file) and str(file).lower().endswith(EXECUTABLE_SUFFIXES)


_PRIVILEGED = re.compile(
    r"(^|[-_.])(svc|srv|sa|sys|adm|da|ea|it|ops)([-_.0-9]|$)"
    r"|admin|service|sccm|deploy|install|backup|patch|mgmt|manage|\$$",
    re.I,
)


def privileged_account(account: str | None) -> bool:
    """A service, admin or machine account by its name (``CORP\\svc_sccm``, ``adm_jsmith``,
    ``Administrator``, ``backup-svc``, ``WS01$``, ``svc_deploy/CORP.LOCAL``); a person's
    everyday account (``CORP\\anagy``) is not."""
    return bool(account) and bool(_PRIVILEGED.search(account_user(account)))


def account_user(account: str | None) -> str:
    """``CORP\\adm_jsmith``, ``adm_jsmith/CORP.LOCAL``, ``adm_jsmith@corp`` -> ``adm_jsmith``."""
    if not account:
        return ""
    return account.rsplit("\\", 1)[-1].split("/", 1)[0].split("@", 1)[0].lower()


_ADMIN_AFFIX = re.compile(
    r"^(?:adm|admin|a|da|ea|sa|priv|t[0-2])[-_.]|[-_.](?:adm|admin|a|da|ea|sa|priv)$", re.I
)


def admin_of(account: str | None, users: set[str]) -> str | None:
    """The person whose admin account ``account`` is, when that person works at the host
    (``users``: the accounts seen logging on from it outside the moves): ``adm_jsmith`` with
    ``jsmith`` among the users gives ``jsmith``. An admin account used from someone else's
    host (a stolen one) gives None."""
    user = account_user(account)
    base = _ADMIN_AFFIX.sub("", user)
    if not user or base == user or not base or privileged_account(base):
        return None
    return base if base in users else None


def _signature(m: dict[str, Any]) -> str:
    """What a move does, for grouping repeats: the program's file name (not its folder) and how
    it ran; a lone execution by its RPC interface."""
    how = m["method"] or "none"
    if m["file"]:
        base = re.split(r"[\\/]", str(m["file"]))[-1].lower()
        return f"{base}|{how}"
    return f"exec:{str(m['endpoint'] or '').lower()}|{how}"


class LateralMovementDetector(NetworkDetector):
    """A file written to an admin share (ADMIN$ or a drive letter C$, D$...; case-insensitive,
    one classification with the host side: ``detectors/shares.py``) followed on the same
    destination, within a window, by remote execution: service creation or start over svcctl,
    an At job over atsvc, a task over ITaskSchedulerService (SchRpcRegisterTask, SchRpcRun),
    over a named pipe or plain TCP RPC. Each move is {src, dst, time, method, share, file,
    account}; the account comes from ntlm.log or kerberos.log on the same connection, else (a
    Kerberos-authenticated session, whose client name is encrypted) from the source's latest
    service ticket for the destination (cifs/, host/ or RPCSS/NAME in kerberos.log, NAME one of
    the destination's names) in the 10 h before the move. IPC$ is
    the pipe share, never a write target; other shares, hidden or not (Users$, Home$,
    Profiles$, SYSVOL, NETLOGON), are file shares: a write there is a move only when an
    execution from the same source follows on the same host.

    Writes come from smb_files SMB::FILE_WRITE where a sensor logs it, else from files.log SMB
    transfers the originator sent (is_orig), tied to the SMB::FILE_OPEN by connection and name:
    stock Zeek does not log writes in smb_files. A read is never called a write.

    Severity: high for an admin-share write followed by execution; medium for execution with no
    write seen (a binary already there) or a file-share write followed by execution; low for an
    executable-looking file written to an admin share that nothing executed. A non-executable
    file copied to an admin share and not executed is not a move.

    Admin tooling is learned from the data, no allow-list needed: moves grouped by source,
    account and what they do (the program's file name and how it ran) are one group; a group is
    tooling when its account is a service, admin or machine account (or not visible) and it
    reached many hosts (``admin_tool_many_targets``, 10), or several (``admin_tool_min_targets``,
    3) repeatedly (on two or more days, or the same host again an hour or more later), or two
    or more with the admin account of the person who works at that source (``adm_jsmith`` from
    the host where ``jsmith`` logs on, seen in kerberos.log/ntlm.log outside the moves: an
    administrator's PsExec from his own workstation), or it is the main thing a source that
    maps admin shares on a large share of hosts daily does (an inventory server). A source that was itself the target of an unexplained move before the
    group began is never tooling (a compromised host spreading on). A user allow-list entry with
    ``applies_to: [lateral]`` makes a source's moves tooling. Each tooling group is ONE low
    finding with its target count and list, never dropped; its moves stay in the campaign's
    lateral moves marked ``admin_tool``. Anything outside a group (a new source, a new binary
    name, an account never seen doing it) stands out at its own severity.

    Misses: execution over WMI, WinRM or DCOM (not in these logs; DQ-NET-009 reports such
    sessions when a C&C beacon explains them); SMB3 encrypted sessions (no file names); moves whose write and execution are further apart than the window; an
    intruder who copies a tooling group exactly (same source, account and binary) is counted
    in that group's low finding (its target list shows the extra host).
    False positives: one-off administration (a single PsExec to one or two hosts, once, or with
    an account neither the connection nor a ticket shows: a Kerberos session whose ticket
    request the sensor did not see, or whose destination has no known name), a new deployment
    tool in its first small wave.
    """

    id = "DQ-NET-005"
    title = "Lateral movement over admin shares and remote execution"
    stage = "lateral-movement"
    attack = ("T1021.002", "T1570", "T1543.003", "T1053.005", "T1053.002", "T1078")
    sources = ("smb_mapping", "smb_files", "files", "dce_rpc", "ntlm", "kerberos")

    def run(self, ctx: HuntContext) -> list[Finding]:
        rows = ctx.engine.query(
            LATERAL_SQL,
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
        home: dict[str, set[str]] = defaultdict(set)
        for r in ctx.engine.query(_HOME_SQL).to_pylist():
            home[str(r["src"])].add(account_user(r["account"]))
        groups = learn_tooling(
            moves,
            inventory={
                src: (
                    f"maps admin shares on up to {a['max_dsts']} hosts a day on "
                    f"{a['busy_days']} of {a['days']} day(s)"
                )
                for src, a in admin.items()
            },
            allowed={
                m["src"]: a
                for m in moves
                if (a := allow_entry_covering(ctx.allowlists, m["src"], "lateral"))
            },
            home=home,
            many=int(ctx.param("admin_tool_many_targets", 10) or 10),
            several=int(ctx.param("admin_tool_min_targets", 3) or 3),
        )
        findings: list[Finding] = []
        for m in moves:
            if m["admin_tool"]:
                continue
            severity: Severity
            if m["exec_ts"] is not None and m["write_ts"] is not None:
                severity = "high" if m["share_kind"] == "admin" else "medium"
            elif m["exec_ts"] is not None:
                severity = "medium"
            elif m["executable"]:
                severity = "low"
            else:
                m["admin_tool"] = "not a move: a non-executable file copied to an admin share"
                continue
            findings.append(self._move_finding(m, severity))
        for g in groups:
            findings.append(self._tooling_finding(g))
        ctx.outputs.lateral_moves = tuple(LateralMove.from_row(m) for m in moves)
        findings += _account_spread(self_id="DQ-NET-008", moves=moves)
        return findings

    def _move_finding(self, m: dict[str, Any], severity: Severity) -> Finding:
        attack = ["T1021.002"]
        if m["write_ts"] is not None:
            attack.append("T1570")
        if str(m["endpoint"] or "").lower() in ATTACK_BY_ENDPOINT:
            attack.append(ATTACK_BY_ENDPOINT[str(m["endpoint"]).lower()])
        if m["account"]:
            attack.append("T1078")
        how = {"service": "run as a service", "task": "run as a scheduled task"}.get(
            m["method"] or "", "not seen executed"
        )
        if str(m["endpoint"] or "").lower() == "atsvc":
            how = "run as an At job (atsvc)"
        if m["write_ts"] is not None:
            what = f"{m['file']} on {m['share'] or 'a share'}"
        else:
            what = "a binary already on the host"
        title = f"{m['src']} -> {m['dst']}: {what}, {how}"
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
        t = m["write_ts"] if m["write_ts"] is not None else m["exec_ts"]
        return self.finding(
            (m["src"], m["dst"], m["write_uid"] or m["exec_uid"]),
            title,
            severity,
            0.9 if severity == "high" else (0.6 if severity == "medium" else 0.3),
            (m["src"], m["dst"]),
            t,
            m["exec_ts"] if m["exec_ts"] is not None else t,
            tuple(evidence),
            (
                ("src", m["src"]),
                ("dst", m["dst"]),
                ("method", m["method"]),
                ("share", m["share"]),
                ("file", m["file"]),
                ("account", m["account"]),
                ("admin_tool", None),
            ),
            attack=tuple(attack),
        )

    def _tooling_finding(self, g: dict[str, Any]) -> Finding:
        ms: list[dict[str, Any]] = g["moves"]
        first = ms[0]
        dsts = sorted({m["dst"] for m in ms}, key=_ip_key)
        times = [m["write_ts"] if m["write_ts"] is not None else m["exec_ts"] for m in ms]
        what = first["file"] or f"{first['endpoint']} execution"
        how = {"service": "as a service", "task": "as a scheduled task"}.get(
            first["method"] or "", "(not seen executed)"
        )
        attack = ["T1021.002"]
        if first["write_ts"] is not None:
            attack.append("T1570")
        if str(first["endpoint"] or "").lower() in ATTACK_BY_ENDPOINT:
            attack.append(ATTACK_BY_ENDPOINT[str(first["endpoint"]).lower()])
        return self.finding(
            ("tooling", g["src"], g["account"] or "", g["signature"]),
            f"Admin tooling: {g['src']} ran {what} {how} on {len(dsts)} host(s)"
            + (f" as {g['account']}" if g["account"] else ""),
            "low",
            0.3,
            (g["src"], *dsts),
            min(times),
            max(times),
            (
                Evidence(
                    source="duqhunt",
                    locator="admin tooling",
                    summary=f"{g['reason']}; {len(ms)} move(s) to {len(dsts)} host(s)",
                ),
                Evidence(
                    source="smb_files.log/files.log + dce_rpc.log",
                    locator=f"{len(ms)} move(s)",
                    summary="targets: " + ", ".join(dsts[:50]) + (" ..." if len(dsts) > 50 else ""),
                ),
            ),
            (
                ("src", g["src"]),
                ("file", first["file"]),
                ("method", first["method"]),
                ("share", first["share"]),
                ("account", g["account"]),
                ("admin_tool", g["reason"]),
                ("targets", len(dsts)),
                ("moves", len(ms)),
                ("target_list", ", ".join(dsts)),
            ),
            attack=tuple(attack),
        )


def _ip_key(ip: str) -> tuple[int, str]:
    try:
        return (int(ipaddress.ip_address(ip)), ip)
    except ValueError:
        return (1 << 129, ip)


def learn_tooling(
    moves: list[dict[str, Any]],
    *,
    inventory: dict[str, str],
    allowed: dict[str, str],
    home: dict[str, set[str]] | None = None,
    many: int = 10,
    several: int = 3,
) -> list[dict[str, Any]]:
    """Mark the moves that are admin tooling (``admin_tool`` = the reason) and return the
    tooling groups, one per (source, account, signature). See the detector's docstring."""
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in moves:
        m["admin_tool"] = None
        m["signature"] = _signature(m)
        by_key[(m["src"], str(m["account"] or ""), m["signature"])].append(m)

    def t(m: dict[str, Any]) -> float:
        return float(m["write_ts"] if m["write_ts"] is not None else m["exec_ts"])

    candidates: dict[tuple[str, str, str], str] = {}
    targets_of_src: dict[str, list[tuple[int, tuple[str, str, str]]]] = defaultdict(list)
    for key, ms in by_key.items():
        targets_of_src[key[0]].append((len({m["dst"] for m in ms}), key))
    for key, ms in by_key.items():
        src, account, _sig = key
        if src in allowed:
            candidates[key] = f"allow-listed admin source ({allowed[src]})"
            continue
        if account and not privileged_account(account):
            continue
        dsts = {m["dst"] for m in ms}
        days = {int(t(m) // 86400) for m in ms}
        per_dst: dict[str, list[float]] = defaultdict(list)
        for m in ms:
            per_dst[m["dst"]].append(t(m))
        again = any(max(v) - min(v) >= 3600.0 for v in per_dst.values())
        who = f" by {account}" if account else ""
        if len(dsts) >= many:
            candidates[key] = f"learned admin tooling: the same program on {len(dsts)} hosts{who}"
        elif len(dsts) >= several and (len(days) >= 2 or again):
            candidates[key] = (
                f"learned admin tooling: the same program on {len(dsts)} hosts{who}, repeated "
                + (f"on {len(days)} days" if len(days) >= 2 else "on the same hosts")
            )
        elif len(dsts) >= 2 and (person := admin_of(account, (home or {}).get(src, set()))):
            candidates[key] = (
                f"learned admin tooling: the same program on {len(dsts)} hosts{who}, the admin "
                f"account of {person}, who works at this host"
            )
        elif src in inventory:
            ranked = sorted(targets_of_src[src], reverse=True)
            top = ranked[0]
            if top[1] == key and (len(ranked) == 1 or ranked[1][0] < top[0]):
                candidates[key] = f"learned admin tooling: {inventory[src]}; its usual program"
    # a host moved into (an admin-share write then execution) by something that is not
    # tooling, before the group began, is a compromised host spreading on: its groups are not
    # tooling (repeat until nothing changes). A lone execution or a write nobody ran is too weak
    # to take a deployment server's tooling away.
    while True:
        moved_into: dict[str, float] = {}
        for key, ms in by_key.items():
            if key in candidates:
                continue
            for m in ms:
                if m["exec_ts"] is not None and m["write_ts"] is not None:
                    moved_into[m["dst"]] = min(moved_into.get(m["dst"], float("inf")), t(m))
        dropped = [
            key
            for key in candidates
            if key[0] in moved_into
            and key[0] not in allowed
            and moved_into[key[0]] < min(t(m) for m in by_key[key])
        ]
        if not dropped:
            break
        for key in dropped:
            del candidates[key]
    groups = []
    for key in sorted(candidates):
        ms = sorted(by_key[key], key=t)
        for m in ms:
            m["admin_tool"] = candidates[key]
        groups.append(
            {
                "src": key[0],
                "account": ms[0]["account"],
                "signature": key[2],
                "reason": candidates[key],
                "moves": ms,
            }
        )
    return groups


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
                "share_kind": r["share_kind"],
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
                "ticket_account": r["ticket_account"],
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
        # a Kerberos session names no account on the connection: the source's ticket for the
        # destination does
        g["account"] = g["account"] or g.pop("ticket_account")
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
                first_seen=iso_utc(min(times)),
                last_seen=iso_utc(max(times)),
                evidence=(
                    Evidence(
                        source="ntlm.log/kerberos.log + dce_rpc.log",
                        locator=f"account {account}",
                        summary=f"from {', '.join(srcs)} to {', '.join(dsts[:20])}",
                    ),
                ),
                details={"account": account, "destinations": len(dsts)},
            )
        )
    return out


class AccountSpreadDetector(NetworkDetector):
    """One account used for remote execution (DQ-NET-005 moves) on three or more destinations,
    outside learned or allow-listed admin tooling: how a stolen domain admin account shows. The
    account's recognised tooling (an administrator's PsExec from his own workstation) does not
    count; its use from another host does.

    Emitted by the lateral-movement detector's run (it needs its moves); this class carries the
    metadata. Misses: accounts neither the session (NTLM) nor the source's ticket requests (TGS
    for the destination's service, when the KDC's traffic is logged and the destination has a
    known name) show. False positives: a help-desk account used by hand.
    """

    id = "DQ-NET-008"
    title = "One account, many destinations"
    stage = "lateral-movement"
    attack = ("T1078", "T1021.002")
    sources = ("ntlm", "kerberos", "dce_rpc")

    def run(self, ctx: HuntContext) -> list[Finding]:
        return []
