"""What the evidence says a machine is called and which addresses it had: sightings.

One sighting is one kind of evidence tying a name and/or an address to a machine: the network's
NTLM workstation names, Kerberos machine accounts, DHCP host names and internal DNS answers
(host_names.sql); a host's own hive (ComputerName, interface addresses), event logs (Computer,
and the logons in them matched to the wire) and triage folder name; a report's campaign hosts.
campaign/identity.py joins them into machines.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from duqhunt.model.report import ReportDocument

if TYPE_CHECKING:
    from duqhunt.detectors.base import HuntContext
    from duqhunt.detectors.host.base import HostArtefacts
    from duqhunt.sources.host.eventlog import HostEvent

__all__ = [
    "LOGON_PEER",
    "Sighting",
    "artefact_sightings",
    "epoch",
    "folder_addresses",
    "logon_addresses",
    "network_sightings",
    "report_sightings",
    "short_name",
]

_IPV4_IN_TEXT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


@lru_cache(maxsize=1 << 16)
def short_name(name: str) -> str:
    """The machine name a label stands for: ``ws223.corp.local``, ``WS223$``, ``CORP\\WS223``
    -> ``WS223``."""
    text = name.strip().rsplit("\\", 1)[-1]
    return text.upper().split(".", 1)[0].rstrip("$")


@lru_cache(maxsize=1 << 16)
def ip_text(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One observation of a machine: a name and/or an address, from one kind of evidence.

    ``machine`` names evidence that is one machine by itself (a triage folder, the loose
    artefacts of one host): every sighting with the same ``machine`` is the same machine.
    """

    via: str
    name: str | None = None
    ip: str | None = None
    machine: str | None = None
    first: float | None = None
    last: float | None = None
    count: int = 1
    where: str | None = None


# -- sightings from evidence ------------------------------------------------------------------


def network_sightings(ctx: HuntContext) -> list[Sighting]:
    """Names of internal addresses from NTLM, DHCP, Kerberos and internal DNS (host_names.sql),
    best first per address; the query runs once per hunt (kept in ``ctx.outputs``)."""
    from duqhunt.detectors.base import load_sql
    from duqhunt.detectors.outputs import HostName

    if ctx.outputs.host_names is None:
        try:
            rows = ctx.engine.query(load_sql("duqhunt.detectors.net", "host_names.sql"))
        except Exception:  # a case without the logs the query reads: no names, no failure
            return []
        ctx.outputs.host_names = tuple(
            HostName(
                ip=str(r["ip"]),
                name=str(r["name"] or ""),
                via=str(r["via"]),
                first_ts=r.get("first_ts"),
                last_ts=r.get("last_ts"),
                seen=int(r.get("seen") or 1),
            )
            for r in rows.to_pylist()
        )
    out = []
    for h in ctx.outputs.host_names:
        name = short_name(h.name)
        if not name:
            continue
        out.append(
            Sighting(
                via=h.via,
                name=name,
                ip=h.ip,
                first=h.first_ts,
                last=h.last_ts,
                count=h.seen,
                where=f"{h.via} log",
            )
        )
    return out


def folder_addresses(name: str) -> list[str]:
    """IPv4 addresses written in a folder name (``host-10.1.0.232``, ``10_1_0_232``)."""
    out = []
    for cand in _IPV4_IN_TEXT.findall(name.replace("_", ".")):
        ip = ip_text(cand)
        if ip and ip not in out:
            out.append(ip)
    return out


def artefact_sightings(hosts: Sequence[HostArtefacts]) -> list[Sighting]:
    """What each host's own evidence says it is called and which addresses it had: the
    ComputerName of its hives, the Computer of its events, the addresses of its interfaces, the
    name of the folder it was collected into."""
    out: list[Sighting] = []
    for i, h in enumerate(hosts):
        machine = h.root or f"loose-artefacts-{i}"
        named = False
        for f, hf in h.hives:
            if hf.computer_name:
                out.append(Sighting("hive", hf.computer_name, machine=machine, where=str(f.path)))
                named = True
            for addr, when in hf.addresses:
                ip = ip_text(addr)
                if ip:
                    out.append(
                        Sighting(
                            "hive-interface", ip=ip, machine=machine, last=when, where=str(f.path)
                        )
                    )
        spans: dict[str, list[float]] = {}
        counts: Counter[str] = Counter()
        where: dict[str, str] = {}
        for e in h.events:
            if e.computer:
                counts[e.computer] += 1
                where.setdefault(e.computer, e.source)
                span = spans.setdefault(e.computer, [e.time, e.time])
                span[0], span[1] = min(span[0], e.time), max(span[1], e.time)
        for comp, n in counts.most_common():
            lo, hi = spans[comp]
            out.append(Sighting("evtx", comp, None, machine, lo, hi, n, where[comp]))
            named = True
        for e in h.events:
            peer = _logon_peer(e)
            if peer:
                out.append(
                    Sighting(LOGON_PEER, ip=peer, machine=machine, first=e.time, where=e.source)
                )
        if h.root:
            folder = h.root.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
            for ip in folder_addresses(folder):
                out.append(Sighting("triage-folder", ip=ip, machine=machine, where=h.root))
        if not named and h.host:
            # the name the host scan gave its findings (the folder's, when nothing else names it)
            out.append(Sighting("triage-folder", h.host, machine=machine, where=h.root or None))
    return out


#: A sighting of the address another machine logged on from (not the machine's own address):
#: the hunt matches it with the network to find the logging machine's address (logon_addresses).
LOGON_PEER = "logon-peer"
#: event ids whose IpAddress is the client of a network logon or share access on this machine
_LOGON_EVENTS = frozenset({4624, 5140, 5145})
#: how far apart a logon in a host's log and the connection that made it may be (clock skew)
LOGON_WINDOW_S = 30.0


def _logon_peer(e: HostEvent) -> str | None:
    if e.event_id not in _LOGON_EVENTS:
        return None
    if e.event_id == 4624 and e.get("LogonType") not in ("3", "10"):
        return None
    ip = ip_text(e.get("IpAddress").removeprefix("::ffff:"))
    if (
        ip is None
        or ipaddress.ip_address(ip).is_loopback
        or ipaddress.ip_address(ip).is_unspecified
    ):
        return None
    return ip


def logon_addresses(ctx: HuntContext, sightings: Sequence[Sighting]) -> list[Sighting]:
    """The address of a machine from the logons in its own logs: a logon from address P at time
    t on machine M, and on the wire an SMB or RPC connection from P to an internal address X
    within LOGON_WINDOW_S of t, say that M is X. Only logons one connection explains count, and
    X must explain at least two thirds of them; otherwise nothing is said."""
    import pyarrow as pa

    peers = [s for s in sightings if s.via == LOGON_PEER and s.first is not None and s.machine]
    if not peers:
        return []
    table = pa.table(
        {
            "k": pa.array(range(len(peers)), pa.int64()),
            "machine": pa.array([s.machine for s in peers], pa.string()),
            "peer": pa.array([s.ip for s in peers], pa.string()),
            "ts": pa.array([s.first for s in peers], pa.float64()),
        }
    )
    try:
        ctx.engine.register_arrow("logon_peers", table)
        rows = ctx.engine.query(
            f"""
            WITH hits AS (
                SELECT p.k, p.machine, c.id_resp_h AS ip, c.ts
                FROM logon_peers p
                JOIN conn c ON c.id_orig_h = p.peer
                    AND c.ts BETWEEN p.ts - {LOGON_WINDOW_S} AND p.ts + {LOGON_WINDOW_S}
                JOIN ip_class ic ON ic.ip = c.id_resp_h AND ic.internal
                WHERE c.id_resp_p IN (135, 139, 445)
            ), one AS (
                SELECT k FROM hits GROUP BY k HAVING COUNT(DISTINCT ip) = 1
            )
            SELECT h.machine, h.ip, COUNT(DISTINCT h.k) AS n, MIN(h.ts) AS first_ts,
                MAX(h.ts) AS last_ts
            FROM hits h JOIN one o ON o.k = h.k
            GROUP BY h.machine, h.ip
            ORDER BY h.machine, n DESC, h.ip
            """
        ).to_pylist()
    except Exception:  # no conn log in the case: nothing to match with
        return []
    explained: Counter[str] = Counter()
    for r in rows:
        explained[r["machine"]] += int(r["n"])
    out = []
    for r in rows:
        n = int(r["n"])
        if 3 * n >= 2 * explained[r["machine"]]:
            out.append(
                Sighting(
                    "evtx-logon",
                    ip=str(r["ip"]),
                    machine=str(r["machine"]),
                    first=r["first_ts"],
                    last=r["last_ts"],
                    count=n,
                    where=f"{n} logon(s) in its own logs matched to connections to it",
                )
            )
    return out


def report_sightings(doc: ReportDocument) -> list[Sighting]:
    """What a report without hosts[] (schema 1.2 and earlier) knows: its campaign hosts' names."""
    out = []
    for h in doc.campaign.hosts:
        ip = ip_text(h.ip)
        if h.name and ip:
            out.append(Sighting("campaign", short_name(h.name), ip, where="campaign.hosts"))
    return out
