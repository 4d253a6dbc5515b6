"""One identity per machine, joined from every source (sightings.py), and findings' machines.

A machine shows up under many labels: an address in Zeek, a NetBIOS name in NTLM, a ``NAME$``
machine account in Kerberos, a DHCP host name, an internal DNS name, the ComputerName of its
SYSTEM hive and of its event logs, the name of the triage folder it was collected into, the
addresses its own hive lists for its interfaces, and the folder a document was found in.

Names and evidence folders are what join: every name given in one triage folder is one machine
(two different names there are a conflict, kept), and a name is the same machine wherever it
is seen (``ws223.corp.local``, ``WS223$`` and ``WS223`` are one name). Addresses attach to the
machine named with them, over the time they were seen with that name: a DHCP lease that moves
``WS223`` to another address gives it two addresses, and one address seen with two names at
different times belongs to each in its own period. Two names on one address at the same time
(or with no time to tell them apart) are a conflict: both machines keep the address, both list
the conflict, and a finding on that address names both. Nothing is guessed away.

The same code serves a hunt (sightings from the network, host and document evidence) and a
report of an earlier schema (sightings from its campaign hosts): see `with_identities`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from duqhunt.campaign.relays import join_host_relays, relay_roles
from duqhunt.campaign.sightings import (
    LOGON_PEER,
    Sighting,
    epoch,
    folder_addresses,
    ip_text,
    report_sightings,
    short_name,
)
from duqhunt.campaign.timeline import build_timeline
from duqhunt.model.finding import Finding, family_of, iso_utc
from duqhunt.model.report import (
    HostAddressModel,
    HostIdentityModel,
    IdentityConflictModel,
    IdentityEvidenceModel,
    ReportDocument,
)
from duqhunt.render.common import finding_source

__all__ = [
    "HostIndex",
    "assign_host_ids",
    "needs_identities",
    "resolve_identities",
    "with_identities",
]

#: How much each kind of sighting says about a name, most first: the machine's own
#: configuration, its own logs, what it authenticates as, what it asks for, what others say.
VIA_RANK: tuple[str, ...] = (
    "hive",
    "evtx",
    "kerberos",
    "ntlm",
    "dhcp",
    "hive-interface",
    "evtx-logon",
    "dns",
    "triage-folder",
    "document",
    "campaign",
    "finding",
)
HOST_VIAS = frozenset({"hive", "evtx", "hive-interface", "evtx-logon", "triage-folder"})
NETWORK_VIAS = frozenset({"ntlm", "kerberos", "dhcp", "dns"})
#: identity evidence kept per machine in the report (the most telling first)
MAX_EVIDENCE = 40
#: machines named in one conflict (the detail counts the rest)
MAX_CONFLICT_HOSTS = 20
#: claimants of one address beyond which it is taken as shared, without comparing periods
MAX_CLAIMANTS = 200
#: slack around a finding's time when telling which machine held an address then (seconds)
_SLACK = 60.0

_SLUG = re.compile(r"[^a-z0-9.]+")
_ROLE_ORDER = ("patient-zero", "infected", "relay", "bridge", "c2")


# -- resolution -------------------------------------------------------------------------------


class _Components:
    """Union-find over machine keys (names and evidence folders)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, k: str) -> str:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(slots=True)
class _Claim:
    """One machine's hold on one address: when, and through which evidence."""

    root: str
    first: float | None = None
    last: float | None = None
    via: set[str] = field(default_factory=set)

    def add(self, s: Sighting) -> None:
        self.via.add(s.via)
        for t in (s.first, s.last):
            if t is not None:
                self.first = t if self.first is None else min(self.first, t)
                self.last = t if self.last is None else max(self.last, t)

    @property
    def dated(self) -> bool:
        # an address a machine's own configuration names holds for its whole life
        return self.first is not None and not (self.via & {"hive-interface", "triage-folder"})


def _overlap(a: _Claim, b: _Claim) -> bool:
    if not (a.dated and b.dated):
        return True
    assert a.first is not None and a.last is not None and b.first is not None
    assert b.last is not None
    return a.first <= b.last + _SLACK and b.first <= a.last + _SLACK


@dataclass(slots=True)
class HostIndex:
    """Machines and how to find them by a label (a name or an address) and a time."""

    hosts: list[HostIdentityModel]
    by_name: dict[str, str]
    # address -> [(host id, start, end)] with the claim's effective period (None: open)
    by_ip: dict[str, list[tuple[str, float | None, float | None]]]

    def lookup(
        self, label: str, first: float | None = None, last: float | None = None
    ) -> list[str]:
        """The host ids a label stands for at that time (several when the evidence conflicts)."""
        ip = ip_text(label)
        if ip is None:
            hid = self.by_name.get(short_name(label))
            return [hid] if hid else []
        claims = self.by_ip.get(ip, [])
        if len(claims) <= 1 or first is None:
            return [c[0] for c in claims]
        hi = last if last is not None else first
        hits = [
            c[0]
            for c in claims
            if (c[1] is None or hi >= c[1] - _SLACK) and (c[2] is None or first <= c[2] + _SLACK)
        ]
        return hits or [c[0] for c in claims]

    def host(self, host_id: str) -> HostIdentityModel | None:
        return next((h for h in self.hosts if h.id == host_id), None)

    @classmethod
    def of_hosts(cls, hosts: Iterable[HostIdentityModel]) -> HostIndex:
        """The index of a report's hosts[], for readers of a saved report.

        An address's periods are those the report lists for it (when it was seen so), not the
        hand-over times the hunt worked out; ``lookup`` falls back to every claimant when a
        time fits none of them, so a conflict still names every machine involved.
        """
        listed = list(hosts)
        by_name: dict[str, str] = {}
        by_ip: dict[str, list[tuple[str, float | None, float | None]]] = defaultdict(list)
        for h in listed:
            for n in h.names:
                by_name.setdefault(short_name(n), h.id)
            for a in h.ips:
                by_ip[a.ip].append((h.id, epoch(a.first_seen), epoch(a.last_seen)))
        return cls(hosts=listed, by_name=by_name, by_ip=dict(by_ip))


def _slug_id(label: str, taken: set[str]) -> str:
    slug = _SLUG.sub("-", label.lower()).strip("-.") or "host"
    hid = f"host-{slug}"
    if slug != label.lower() or hid in taken:
        digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:6]
        hid = f"{hid}-{digest}"
    n = 2
    base = hid
    while hid in taken:
        hid, n = f"{base}-{n}", n + 1
    taken.add(hid)
    return hid


def _via_rank(via: str) -> int:
    return VIA_RANK.index(via) if via in VIA_RANK else len(VIA_RANK)


def _source_of(via: str) -> str:
    if via in HOST_VIAS:
        return "host"
    if via in NETWORK_VIAS:
        return "network"
    return "document" if via == "document" else "report"


def resolve_identities(
    sightings: Iterable[Sighting],
    *,
    mentions: Iterable[str] = (),
    zones: Mapping[str, str] | None = None,
    roles: Mapping[str, Iterable[str]] | None = None,
    internal: Sequence[str] = (),
) -> HostIndex:
    """Join sightings into machines (see the module docstring).

    Only machines in the story are kept: those with host evidence of their own and those a
    finding or the campaign mentions (``mentions``: names and addresses); the rest of the
    network's names only serve to join. An address or name mentioned but never seen with
    anything else is a machine of its own.
    """
    zones = zones or {}
    roles = roles or {}
    nets = []
    for n in internal:
        try:
            nets.append(ipaddress.ip_network(n, strict=False))
        except ValueError:
            continue
    comps = _Components()
    joined: list[Sighting] = []  # sightings with a name or an evidence folder
    addressed: list[Sighting] = []
    for s in sightings:
        if s.via == LOGON_PEER:  # another machine's address: see logon_addresses
            continue
        name = short_name(s.name) if s.name else ""
        if name and ip_text(name):  # a "name" that is an address (a DNS PTR-less answer, a folder)
            s = Sighting(s.via, None, ip_text(name), s.machine, s.first, s.last, s.count, s.where)
            name = ""
        ip = ip_text(s.ip)
        s = Sighting(s.via, name or None, ip, s.machine, s.first, s.last, s.count, s.where)
        if name:
            comps.find(f"n:{name}")
            if s.machine:
                comps.union(f"n:{name}", f"m:{s.machine}")
        elif s.machine:
            comps.find(f"m:{s.machine}")
        if name or s.machine:
            joined.append(s)
        if ip and (name or s.machine):
            addressed.append(s)

    def root_of(s: Sighting) -> str:
        return comps.find(f"n:{s.name}" if s.name else f"m:{s.machine}")

    # every address each machine held, and the evidence of each machine
    claims: dict[str, dict[str, _Claim]] = defaultdict(dict)
    evidence: dict[str, list[Sighting]] = defaultdict(list)
    names: dict[str, Counter[tuple[int, str]]] = defaultdict(Counter)
    for s in addressed:
        r = root_of(s)
        assert s.ip is not None
        claims[s.ip].setdefault(r, _Claim(r)).add(s)
    held_by: dict[str, list[tuple[str, _Claim]]] = defaultdict(list)  # root -> its addresses
    for ip, held in sorted(claims.items()):
        for r, c in held.items():
            held_by[r].append((ip, c))
    for s in joined:
        r = root_of(s)
        evidence[r].append(s)
        if s.name:
            names[r][(_via_rank(s.via), s.name)] += s.count

    # machines in the story
    wanted: set[str] = {comps.find(k) for k in comps.parent if k.startswith("m:")}
    lone_ips: list[str] = []
    lone_names: list[str] = []
    for m in mentions:
        ip = ip_text(m)
        if ip is not None:
            if ip in claims:
                wanted.update(claims[ip])
            elif ip not in lone_ips:
                lone_ips.append(ip)
        elif short_name(m):
            key = f"n:{short_name(m)}"
            if key in comps.parent:
                wanted.add(comps.find(key))
            elif short_name(m) not in lone_names:
                lone_names.append(short_name(m))

    def best_names(r: str) -> list[str]:
        ranked = sorted(names[r].items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
        out: list[str] = []
        for (_, n), _count in ranked:
            if n not in out:
                out.append(n)
        return out

    taken: set[str] = set()
    ids: dict[str, str] = {}
    for r in sorted(wanted, key=lambda r: (best_names(r) or [r])[0]):
        label = (best_names(r) or [""])[0]
        if not label:
            ips = [ip for ip, _ in held_by[r]]
            label = ips[0] if ips else r.split(":", 1)[1]
        ids[r] = _slug_id(label, taken)
    for ip in lone_ips:
        ids[f"ip:{ip}"] = _slug_id(ip, taken)
    for name in lone_names:
        ids[f"n:{name}"] = _slug_id(name, taken)

    by_ip: dict[str, list[tuple[str, float | None, float | None]]] = {}
    conflicts: dict[str, list[IdentityConflictModel]] = defaultdict(list)
    for ip, held in sorted(claims.items()):
        kept = sorted(
            (c for r, c in held.items() if r in ids),
            key=lambda c: (c.first is None, c.first or 0.0, ids[c.root]),
        )
        if not kept:
            continue
        periods: list[tuple[str, float | None, float | None]] = []
        for i, c in enumerate(kept):
            # a dated claim holds the address from its first sighting (from the start for the
            # earliest) until the next machine's first sighting (or its own last, if later)
            nxt = kept[i + 1] if i + 1 < len(kept) else None
            start = c.first if (i > 0 and c.dated) else None
            end = max(nxt.first or 0.0, c.last or 0.0) if nxt and c.dated and nxt.dated else None
            periods.append((ids[c.root], start, end))
        by_ip[ip] = periods
        if len(kept) > MAX_CLAIMANTS:
            # a shared address (NAT, VPN pool, terminal server): every claimant is involved
            clashing = kept
        else:
            clashing = [c for c in kept if any(_overlap(c, o) for o in kept if o is not c)]
        if clashing:
            involved = sorted({ids[c.root] for c in clashing})
            shown = involved[:MAX_CONFLICT_HOSTS]
            labels = ", ".join(
                f"{(best_names(c.root) or [ids[c.root]])[0]} ({'/'.join(sorted(c.via))})"
                for c in clashing
                if ids[c.root] in shown
            )
            more = len(involved) - len(shown)
            detail = (
                f"{ip} is named {labels}{f' and {more} more' if more > 0 else ''} "
                "at overlapping or undated times"
            )
            for hid in involved:
                conflicts[hid].append(
                    IdentityConflictModel(kind="ip", value=ip, host_ids=shown, detail=detail)
                )
    for ip in lone_ips:
        by_ip[ip] = [(ids[f"ip:{ip}"], None, None)]

    by_name: dict[str, str] = {}
    hosts: list[HostIdentityModel] = []
    for r, hid in ids.items():
        if r.startswith("ip:"):
            ip = r[3:]
            hosts.append(_host(hid, [], [HostAddressModel(ip=ip)], [], zones, roles, nets, []))
            continue
        if r.startswith("n:") and r not in comps.parent:  # a name only a finding gives
            by_name[r[2:]] = hid
            hosts.append(_host(hid, [r[2:]], [], [], zones, roles, nets, []))
            continue
        host_names = best_names(r)
        for n in host_names:
            by_name[n] = hid
        addrs = [
            HostAddressModel(
                ip=ip,
                first_seen=iso_utc(c.first),
                last_seen=iso_utc(c.last),
                via=sorted(c.via, key=_via_rank),
            )
            for ip, c in held_by[r]
        ]
        addrs.sort(key=lambda a: (a.first_seen is None, a.first_seen or "", a.ip))
        machines = {s.machine for s in evidence[r] if s.machine}
        own = {
            (short_name(s.name), s.via) for s in evidence[r] if s.name and s.via in ("hive", "evtx")
        }
        if len(machines) and len({n for n, _ in own}) > 1:
            conflicts[hid].append(
                IdentityConflictModel(
                    kind="name",
                    value=", ".join(sorted({n for n, _ in own})),
                    host_ids=[hid],
                    detail="the machine's own evidence gives it several names: "
                    + "; ".join(f"{n} ({via})" for n, via in sorted(own)),
                )
            )
        if len(machines) > 1:
            conflicts[hid].append(
                IdentityConflictModel(
                    kind="name",
                    value=", ".join(host_names),
                    host_ids=[hid],
                    detail=f"{len(machines)} evidence folders name this machine: "
                    + "; ".join(sorted(machines)),
                )
            )
        hosts.append(_host(hid, host_names, addrs, evidence[r], zones, roles, nets, conflicts[hid]))
    hosts.sort(key=lambda h: h.id)
    return HostIndex(hosts=hosts, by_name=by_name, by_ip=by_ip)


def _host(
    hid: str,
    names: list[str],
    addrs: list[HostAddressModel],
    evidence: list[Sighting],
    zones: Mapping[str, str],
    roles: Mapping[str, Iterable[str]],
    nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
    conflicts: list[IdentityConflictModel],
) -> HostIdentityModel:
    zone = next((zones[a.ip] for a in reversed(addrs) if a.ip in zones), None)
    if zone is None and addrs and nets:
        inside = any(ipaddress.ip_address(a.ip) in n for a in addrs for n in nets)
        zone = None if inside else "external"
    rs = {r for a in addrs for r in roles.get(a.ip, ())} | {
        r for n in names for r in roles.get(n, ())
    }
    times = [t for s in evidence for t in (s.first, s.last) if t is not None]
    ranked = sorted(evidence, key=lambda s: (_via_rank(s.via), -s.count, s.name or "", s.ip or ""))
    return HostIdentityModel(
        id=hid,
        names=names,
        ips=addrs,
        zone=zone,
        roles=[r for r in _ROLE_ORDER if r in rs],  # type: ignore[misc]
        first_seen=iso_utc(min(times)) if times else None,
        last_seen=iso_utc(max(times)) if times else None,
        sources=sorted({_source_of(s.via) for s in evidence}),
        evidence=[
            IdentityEvidenceModel(
                via=s.via,
                name=s.name,
                ip=s.ip,
                where=s.where,
                first_seen=iso_utc(s.first),
                last_seen=iso_utc(s.last),
                count=s.count,
            )
            for s in ranked[:MAX_EVIDENCE]
        ],
        conflicts=conflicts,
    )


# -- findings and the timeline ----------------------------------------------------------------


def _document_path(f: Finding) -> str | None:
    for e in f.evidence:
        if e.source:
            return e.source
    return None


def _document_hosts(path: str, index: HostIndex) -> list[str]:
    """Machines a document was found on: a folder of its path named after a known machine,
    or holding one of its addresses (``.../WS223/Downloads/x.docx``, ``.../host-10.1.0.232/...``)."""
    found: list[str] = []
    for seg in path.replace("\\", "/").split("/")[:-1]:
        hits = [index.by_name.get(seg.upper())] if seg and not ip_text(seg) else []
        for ip in folder_addresses(seg):
            hits += [hid for hid, _, _ in index.by_ip.get(ip, [])]
        for hid in hits:
            if hid and hid not in found:
                found.append(hid)
    return found


def assign_host_ids(findings: Iterable[Finding], index: HostIndex) -> list[Finding]:
    """Every finding with the ids of the machines it is about: its hosts (names or addresses,
    at the finding's time), or for a document finding the machine it was found on."""
    out = []
    for f in findings:
        first, last = epoch(f.first_seen), epoch(f.last_seen)
        ids: list[str] = []
        for label in f.hosts:
            for hid in index.lookup(label, first, last):
                if hid not in ids:
                    ids.append(hid)
        if not f.hosts and family_of(f.detector) == "document":
            path = _document_path(f)
            ids = _document_hosts(path, index) if path else []
        out.append(f.model_copy(update={"host_ids": ids}) if ids != f.host_ids else f)
    return out


def _mentions(doc: ReportDocument) -> list[str]:
    out: list[str] = []
    for f in doc.findings:
        out.extend(f.hosts)
    camp = doc.campaign
    out.extend(h.ip for h in camp.hosts)
    for item in (*camp.lateral_moves, *camp.relay_edges):
        out.extend(str(item[k]) for k in ("src", "dst") if item.get(k))
    out.extend(str(b["ip"]) for b in camp.bridges if b.get("ip"))
    out.extend(str(t["host"]) for t in doc.host_timeline if t.get("host"))
    return out


def _roles(doc: ReportDocument) -> dict[str, list[str]]:
    return {h.ip: list(h.roles) for h in doc.campaign.hosts}


def with_identities(
    doc: ReportDocument,
    sightings: Iterable[Sighting] | None = None,
    zones: Mapping[str, str] | None = None,
) -> ReportDocument:
    """The document with hosts[], every finding's host_ids and the timeline[] filled in.

    A hunt passes what its evidence says (``sightings``, ``zones``); without them (a report of
    schema 1.2 or earlier) the names come from the document's own campaign hosts.
    """
    seen = list(sightings) if sightings is not None else report_sightings(doc)
    camp_zones = {h.ip: h.zone for h in doc.campaign.hosts if h.zone}
    index = resolve_identities(
        seen,
        mentions=_mentions(doc),
        zones={**camp_zones, **(zones or {})},
        roles=_roles(doc),
        internal=doc.internal_networks,
    )
    findings = assign_host_ids(doc.findings, index)
    hosts = _with_finding_times(index.hosts, findings)
    index.hosts = hosts
    campaign, hosts = relay_roles(join_host_relays(doc.campaign, findings, index), hosts)
    doc = doc.model_copy(update={"findings": findings, "hosts": hosts, "campaign": campaign})
    return doc.model_copy(update={"timeline": build_timeline(doc, index)})


def _with_finding_times(
    hosts: list[HostIdentityModel], findings: Sequence[Finding]
) -> list[HostIdentityModel]:
    """First and last seen of each machine over its identity evidence and its findings."""
    span: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        for hid in f.host_ids:
            span[hid] += [t for t in (f.first_seen, f.last_seen) if t]
            kinds[hid].add(finding_source(f))
    out = []
    for h in hosts:
        times = span[h.id] + [t for t in (h.first_seen, h.last_seen) if t]
        sources = sorted((set(h.sources) | kinds[h.id]) - {"other", "report"})
        out.append(
            h.model_copy(
                update={
                    "first_seen": min(times) if times else None,
                    "last_seen": max(times) if times else None,
                    "sources": sources,
                }
            )
        )
    return out


def needs_identities(doc: ReportDocument) -> bool:
    """True for a report written before hosts[] existed (schema 1.2 or earlier)."""
    try:
        major, minor = (int(x) for x in doc.schema_version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < (1, 3) and not doc.hosts
