"""Relay edges seen from both ends: the wire (DQ-NET-006, SMB sessions to a pipe) and the host
that serves the pipe (DQ-HOST-017, Sysmon 18 / Security 5145 on IPC$).

A relay is one pair of machines, the no-egress client and the host whose pipe it talks
through, whatever the evidence calls them: the network names addresses, the host's own logs
name itself by computer name and its clients by address. Both ends are resolved to machine
identities (campaign/identity.py) and compared there, so one relay is one edge whose
``evidence`` cites the pipe on the host and the sessions on the wire. A pipe seen only on the
host (no network logs, or a pair the network detector did not score) is still an edge, with
``sources: ["host"]`` (unless its pipe is a PsExec-style console family, ``stdio_pipes``:
remote execution, not a relay); a host finding that names no client (Sysmon 18 alone does not) joins a
network edge to the same machine and pipe, or stays a finding: an edge needs both ends.

Only edges with host evidence gain keys (``sources``, ``host_ids``, ``findings``,
``evidence``); an edge the network alone saw is left as DQ-NET-006 wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from duqhunt.campaign.sightings import epoch, ip_text
from duqhunt.content import normalise_pipe
from duqhunt.model.finding import Finding
from duqhunt.model.report import Campaign, HostIdentityModel, HostModel, Role

if TYPE_CHECKING:
    from duqhunt.campaign.identity import HostIndex

__all__ = ["join_host_relays", "relay_roles"]

HOST_RELAY = "DQ-HOST-017"
NET_RELAY = "DQ-NET-006"
#: keys this module adds to an edge (dropped before a join is redone, so it can run twice)
_JOIN_KEYS = ("sources", "host_ids", "findings", "evidence")
#: host evidence lines cited per edge
MAX_HOST_EVIDENCE = 5


def _pipe(name: object) -> str:
    return normalise_pipe(str(name or "")).lstrip("\\")


def _clients(f: Finding) -> list[str]:
    raw = f.details.get("src")
    return [ip for part in str(raw or "").split(",") if (ip := ip_text(part.strip()))]


def _host_lines(f: Finding) -> list[str]:
    where = f.hosts[0] if f.hosts else "?"
    return [
        f"host {where}: {e.source} {e.locator}: {e.summary}" for e in f.evidence[:MAX_HOST_EVIDENCE]
    ]


def _net_lines(edge: dict[str, object], findings: Sequence[Finding]) -> tuple[list[str], str]:
    for f in findings:
        if f.detector == NET_RELAY and list(f.hosts[:2]) == [edge.get("src"), edge.get("dst")]:
            return [f"network: {e.source} {e.locator}: {e.summary}" for e in f.evidence[:2]], f.id
    line = f"network: {edge.get('sessions', '?')} SMB session(s) {edge.get('src')} -> {edge.get('dst')}"
    return [line], ""


def join_host_relays(camp: Campaign, findings: Sequence[Finding], index: HostIndex) -> Campaign:
    """The campaign with the host side of every relay joined to its network edge, and an edge
    for each relay only the host saw."""
    hosts = [f for f in findings if f.detector == HOST_RELAY]
    rejoined = {f.id for f in hosts}
    # a report read again: start from what the network wrote; a host-only edge whose finding
    # is not in these findings is kept as it was
    edges: list[dict[str, object]] = []
    kept: list[dict[str, object]] = []
    for e in camp.relay_edges:
        if e.get("sources") == ["host"]:
            cited = e.get("findings")
            if not (isinstance(cited, list) and rejoined.intersection(map(str, cited))):
                kept.append(e)
            continue
        edges.append({k: v for k, v in e.items() if k not in _JOIN_KEYS})
    if not hosts and not any(e.get("sources") for e in camp.relay_edges):
        return camp

    def ids(label: object, first: str | None, last: str | None) -> list[str]:
        return index.lookup(str(label), epoch(first), epoch(last)) if label else []

    ends = [
        (
            ids(e.get("src"), _text(e.get("first_seen")), _text(e.get("last_seen"))),
            ids(e.get("dst"), _text(e.get("first_seen")), _text(e.get("last_seen"))),
        )
        for e in edges
    ]
    joined: dict[int, list[Finding]] = {}
    host_only: list[dict[str, object]] = []
    for f in hosts:
        server = set(f.host_ids)
        pipe = _pipe(f.details.get("pipe"))
        clients = {ip: ids(ip, f.first_seen, f.last_seen) for ip in _clients(f)}
        matched_clients: set[str] = set()
        for i, (src_ids, dst_ids) in enumerate(ends):
            if not server & set(dst_ids):
                continue
            by_client = [ip for ip, cids in clients.items() if set(cids) & set(src_ids)]
            # no client named (Sysmon 18 alone): the same machine serving the same pipe
            same_pipe = not clients and pipe and pipe == _pipe(edges[i].get("pipe"))
            if by_client or same_pipe:
                joined.setdefault(i, []).append(f)
                matched_clients.update(by_client)
        for ip, cids in clients.items():
            # a PsExec-style pipe family (<name>-<client>-<pid>-stdin...) is a remote console:
            # it joins an edge the network saw, but makes none of its own
            if ip in matched_clients or f.details.get("stdio_pipes"):
                continue
            host_only.append(
                {
                    "src": ip,
                    "dst": _address(index, f),
                    "pipe": pipe or None,
                    "first_seen": f.first_seen,
                    "last_seen": f.last_seen,
                    "score": f.confidence,
                    "sources": ["host"],
                    "host_ids": [cids[0] if cids else None, f.host_ids[0] if f.host_ids else None],
                    "findings": [f.id],
                    "evidence": _host_lines(f),
                }
            )
    out: list[dict[str, object]] = []
    for i, e in enumerate(edges):
        fs = joined.get(i)
        if not fs:
            out.append(e)
            continue
        src_ids, dst_ids = ends[i]
        net_lines, net_id = _net_lines(e, findings)
        out.append(
            {
                **e,
                "sources": ["network", "host"],
                "host_ids": [src_ids[0] if src_ids else None, dst_ids[0] if dst_ids else None],
                "findings": [x for x in (net_id, *(f.id for f in fs)) if x],
                "evidence": net_lines + [line for f in fs for line in _host_lines(f)],
            }
        )
    return camp.model_copy(update={"relay_edges": out + host_only + kept})


def _address(index: HostIndex, f: Finding) -> str:
    """The serving machine as the network edges name theirs (an address) when its identity
    has one, else as its own logs name it."""
    for hid in f.host_ids:
        h = index.host(hid)
        if h is not None and h.ips:
            return h.ips[0].ip
    return f.hosts[0] if f.hosts else "?"


def _text(v: object) -> str | None:
    return str(v) if v else None


_ROLE_ORDER: tuple[Role, ...] = ("patient-zero", "infected", "relay", "bridge", "c2")


def _with_roles(have: Sequence[Role], add: set[Role]) -> list[Role]:
    return [r for r in _ROLE_ORDER if r in set(have) | add]


def relay_roles(
    camp: Campaign, identities: Sequence[HostIdentityModel]
) -> tuple[Campaign, list[HostIdentityModel]]:
    """Roles of the relays only a host saw: the machine that serves the pipe to others is a
    relay (and infected), its client is infected, in campaign.hosts (by address) and on the
    machine identities (by id). An edge the network saw too already gave its ends their roles
    (DQ-NET-006/007: a serving host with egress of its own is a bridge, not a relay), so only
    host-only edges add any."""
    by_ip: dict[str, set[Role]] = {}
    by_id: dict[str, set[Role]] = {}
    for e in camp.relay_edges:
        if e.get("sources") != ["host"]:
            continue
        ids = e.get("host_ids")
        src_id, dst_id = ids if isinstance(ids, list) and len(ids) == 2 else (None, None)
        for end, hid, roles in (
            (e.get("dst"), dst_id, {"relay", "infected"}),
            (e.get("src"), src_id, {"infected"}),
        ):
            ip = ip_text(str(end or ""))
            if ip:
                by_ip.setdefault(ip, set()).update(roles)  # type: ignore[arg-type]
            if hid:
                by_id.setdefault(str(hid), set()).update(roles)  # type: ignore[arg-type]
    if not by_ip and not by_id:
        return camp, list(identities)
    hosts = [
        h.model_copy(update={"roles": _with_roles(h.roles, by_ip.pop(h.ip))})
        if h.ip in by_ip
        else h
        for h in camp.hosts
    ]
    hosts += [HostModel(ip=ip, roles=_with_roles([], roles)) for ip, roles in sorted(by_ip.items())]
    out = [
        h.model_copy(update={"roles": _with_roles(h.roles, by_id[h.id])}) if h.id in by_id else h
        for h in identities
    ]
    return camp.model_copy(update={"hosts": hosts}), out
