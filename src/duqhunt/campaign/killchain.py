"""The case as one story: a kill-chain summary and one graph of entities and edges.

kill_chain(doc) walks the stages in intrusion order and says for each whether it was seen,
by which findings, with which evidence (finding evidence and the campaign's own edges), and,
for a stage with no evidence, why that may be: no input of a kind that could show it, or
inputs that could show it were analysed and showed nothing. A gap is said, not hidden.

campaign_graph(doc) puts hosts, accounts, files (by name or hash), external IPs and domains
into one graph with typed, timed edges:

* delivered      file -> host      (a delivery finding names the file; a lateral copy)
* infected       file -> host      (an installation finding names the implant file)
* moved-to       host -> host      (lateral_moves; also account -> host, "as" the account)
* relays-through host -> host      (relay_edges, with the named pipe)
* bridges-to     host -> external  (bridges: a bridge host carries no-egress hosts to a C&C)
* beacons-to     host -> external  (beacons to a C&C, and bridges' own beacons)
* resolves-to    domain -> IP      (a C&C with a known domain)

Both read only the report document, so they run on a saved report.json.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duqhunt.campaign.identity import HostIndex, with_identities
from duqhunt.campaign.sightings import epoch
from duqhunt.intel.attack import technique_title
from duqhunt.model.finding import Finding
from duqhunt.model.report import ReportDocument
from duqhunt.render.common import is_admin_move

__all__ = ["KILL_CHAIN", "campaign_graph", "kill_chain"]


@dataclass(frozen=True, slots=True)
class _Stage:
    stage: str
    title: str
    inputs: tuple[str, ...]  # input kinds (InputRecord.kind/log_type prefixes) that can show it
    needs: str  # what evidence would show it


KILL_CHAIN: tuple[_Stage, ...] = (
    _Stage(
        "delivery",
        "Delivery",
        ("office", "ole", "ooxml", "rtf", "mail", "eml"),
        "documents or mail (e.g. a Word file with an embedded font)",
    ),
    _Stage(
        "exploitation",
        "Exploitation",
        ("office", "ole", "ooxml", "rtf", "font", "evtx"),
        "the exploit document itself or host logs of the exploited process",
    ),
    _Stage(
        "installation",
        "Installation",
        ("triage", "hive", "evtx", "pe", "host"),
        "host artefacts: drivers, .PNF modules, ~DQ files, service keys",
    ),
    _Stage(
        "lateral-movement",
        "Lateral movement",
        ("zeek", "pcap", "evtx", "smb"),
        "SMB/DCE-RPC network logs or Windows logon and task events",
    ),
    _Stage(
        "internal-relay",
        "Internal relay",
        ("zeek", "pcap", "smb"),
        "SMB named-pipe sessions between internal hosts and outbound timing",
    ),
    _Stage(
        "command-and-control",
        "Command and control",
        ("zeek", "pcap", "http", "dns", "conn"),
        "outbound connection, HTTP or DNS logs",
    ),
    _Stage(
        "exfiltration",
        "Exfiltration",
        ("zeek", "pcap", "http", "conn"),
        "outbound volume (HTTP POST bodies, bytes sent)",
    ),
)

MAX_EVIDENCE_PER_STAGE = 25


def _input_kinds(doc: ReportDocument) -> set[str]:
    kinds: set[str] = set()
    for i in doc.inputs:
        if i.status in ("analysed", "partial", "already-ingested"):
            kinds.update(x for x in (i.kind, i.log_type) if x)
    return kinds


def _could_see(stage: _Stage, kinds: set[str]) -> bool:
    return any(k.startswith(prefix) for k in kinds for prefix in stage.inputs)


def _detector_stages() -> set[str] | None:
    """Stages some registered detector speaks to (None if the registry cannot be read)."""
    try:
        from duqhunt.detectors.registry import all_stages

        return all_stages()
    except Exception:  # the registry is optional here; the gap text then says less
        return None


def _campaign_evidence(doc: ReportDocument) -> dict[str, list[dict[str, Any]]]:
    camp = doc.campaign
    out: dict[str, list[dict[str, Any]]] = {}
    moves = [m for m in camp.lateral_moves if not is_admin_move(m)]
    if moves:
        out.setdefault("lateral-movement", []).append(
            {
                "source": "campaign.lateral_moves",
                "locator": f"{len(moves)} move(s)",
                "summary": "; ".join(
                    f"{m.get('src')} -> {m.get('dst')} ({m.get('method') or '?'})"
                    for m in moves[:5]
                ),
            }
        )
    if camp.relay_edges:
        out.setdefault("internal-relay", []).append(
            {
                "source": "campaign.relay_edges",
                "locator": f"{len(camp.relay_edges)} edge(s)",
                "summary": "; ".join(
                    f"{e.get('src')} -> {e.get('dst')}" for e in camp.relay_edges[:5]
                ),
            }
        )
    if camp.bridges:
        out.setdefault("internal-relay", []).append(
            {
                "source": "campaign.bridges",
                "locator": f"{len(camp.bridges)} bridge(s)",
                "summary": "; ".join(f"{b.get('ip')} -> {b.get('c2')}" for b in camp.bridges[:5]),
            }
        )
    c2_ips = {c.ip for c in camp.c2}
    beacons = [b for b in camp.beacons if not b.suppressed and b.dst in c2_ips]
    if camp.c2:
        out.setdefault("command-and-control", []).append(
            {
                "source": "campaign.c2",
                "locator": f"{len(camp.c2)} C&C",
                "summary": ", ".join(
                    c.ip + (" (known IOC)" if c.known_ioc else "") for c in camp.c2[:10]
                )
                + (f"; {len(beacons)} beacon(s) to them" if beacons else ""),
            }
        )
    return out


def _span(findings: list[Finding]) -> tuple[str | None, str | None]:
    firsts = [f.first_seen for f in findings if f.first_seen]
    lasts = [f.last_seen for f in findings if f.last_seen]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def kill_chain(doc: ReportDocument) -> list[dict[str, Any]]:
    """One entry per kill-chain stage, in order, seen or not.

    Each: stage, title, seen, findings (ids), evidence ([{source, locator, summary, finding}]),
    hosts, first_seen, last_seen, techniques ([{id, name}]), gap (None when seen; otherwise
    why nothing was seen).
    """
    kinds = _input_kinds(doc)
    covered = _detector_stages()
    camp_ev = _campaign_evidence(doc)
    out: list[dict[str, Any]] = []
    for st in KILL_CHAIN:
        fs = [f for f in doc.findings if f.stage == st.stage]
        evidence: list[dict[str, Any]] = []
        for f in fs:
            for e in f.evidence:
                if len(evidence) >= MAX_EVIDENCE_PER_STAGE:
                    break
                evidence.append(
                    {
                        "source": e.source,
                        "locator": e.locator,
                        "summary": e.summary,
                        "finding": f.id,
                    }
                )
        evidence.extend({**e, "finding": None} for e in camp_ev.get(st.stage, []))
        seen = bool(fs or camp_ev.get(st.stage))
        first, last = _span(fs)
        techniques = sorted({t for f in fs for t in f.attack})
        gap: str | None = None
        if not seen:
            if covered is not None and st.stage not in covered:
                gap = f"no evidence: no duqhunt detector covers this stage yet (it would need {st.needs})"
            elif _could_see(st, kinds):
                gap = f"no evidence: inputs that can show this stage were analysed; nothing found (looks for {st.needs})"
            else:
                gap = f"no evidence: no input of a kind that shows this stage (needs {st.needs})"
        out.append(
            {
                "stage": st.stage,
                "title": st.title,
                "seen": seen,
                "findings": [f.id for f in fs],
                "evidence": evidence,
                "hosts": sorted({h for f in fs for h in f.hosts}),
                "first_seen": first,
                "last_seen": last,
                "techniques": [{"id": t, "name": technique_title(t)} for t in techniques],
                "gap": gap,
            }
        )
    return out


# ----------------------------------------------------------------------------- graph


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class _Graph:
    def __init__(self, machines: HostIndex) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.external: set[str] = set()
        self.machines = machines

    def node(self, kind: str, key: str, **attrs: Any) -> str:
        nid = f"{kind}:{key}"
        node = self.nodes.setdefault(nid, {"id": nid, "kind": kind, "label": key})
        for k, v in attrs.items():
            if v is None:
                continue
            if isinstance(v, list):
                have = node.setdefault(k, [])
                have.extend(x for x in v if x not in have)
            else:
                node.setdefault(k, v)
        return nid

    def machine(self, host_id: str) -> str:
        """The one node of a machine, labelled with its best name and carrying all its labels."""
        h = self.machines.host(host_id)
        if h is None:
            return self.node("host", host_id, host_id=host_id)
        nid = self.node(
            "host",
            host_id,
            host_id=host_id,
            name=h.names[0] if h.names else None,
            names=list(h.names),
            ips=[a.ip for a in h.ips],
            roles=list(h.roles),
            zone=h.zone,
        )
        self.nodes[nid]["label"] = h.names[0] if h.names else (h.ips[0].ip if h.ips else host_id)
        return nid

    def addr(
        self,
        label: str,
        internal: set[str],
        time: str | None = None,
        last: str | None = None,
    ) -> list[str]:
        """The nodes a name or address stands for: its machine (several when the evidence
        conflicts on who held the address then), or an external address as itself."""
        if _is_ip(label) and (label not in internal or label in self.external):
            return [self.node("ip", label, external=True)]
        ids = self.machines.lookup(label, epoch(time), epoch(last))
        if ids:
            return [self.machine(hid) for hid in ids]
        return [self.node("host", label, **({"ips": [label]} if _is_ip(label) else {}))]

    def edges_between(
        self,
        srcs: list[str],
        kind: str,
        dsts: list[str],
        time: str | None = None,
        last: str | None = None,
        **attrs: Any,
    ) -> None:
        for s in srcs:
            for d in dsts:
                if s != d:
                    self.edge(s, kind, d, time, last, **attrs)

    def edge(
        self,
        src: str,
        kind: str,
        dst: str,
        time: str | None = None,
        last: str | None = None,
        **attrs: Any,
    ) -> None:
        key = (src, kind, dst)
        e = self.edges.get(key)
        if e is None:
            e = self.edges[key] = {
                "src": src,
                "dst": dst,
                "kind": kind,
                "first_seen": time,
                "last_seen": last or time,
                "count": 0,
            }
        e["count"] += 1
        if time and (e["first_seen"] is None or time < e["first_seen"]):
            e["first_seen"] = time
        end = last or time
        if end and (e["last_seen"] is None or end > e["last_seen"]):
            e["last_seen"] = end
        for k, v in attrs.items():
            if v is None:
                continue
            vals = e.setdefault(k, [])
            if v not in vals:
                vals.append(v)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_FILE_KEYS = ("file", "filename", "file_name", "path")
_HASH_KEYS = ("sha256", "sha1", "md5")


def _finding_files(details: Mapping[str, object]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k in _HASH_KEYS:
        v = _text(details.get(k))
        if v:
            out.append(("hash", v.lower()))
    for k in _FILE_KEYS:
        v = _text(details.get(k))
        if v:
            out.append(("name", v))
    return out


def campaign_graph(doc: ReportDocument) -> dict[str, Any]:
    """{case, nodes: [...], edges: [...]} for the report's case, deterministic order.

    A machine is one node (``host:<hosts[].id>``) whichever of its names or addresses the
    evidence used; a report without hosts[] (schema 1.2 or older) gets them from its campaign
    hosts first. External addresses (C&C, anything outside the internal networks) stay
    ``ip:`` nodes.
    """
    camp = doc.campaign
    hosts = doc.hosts or with_identities(doc).hosts
    g = _Graph(HostIndex.of_hosts(hosts))
    nets = []
    for n in doc.internal_networks:
        try:
            nets.append(ipaddress.ip_network(n, strict=False))
        except ValueError:
            continue

    def is_internal(ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if nets:
            return any(addr.version == n.version and addr in n for n in nets)
        return addr.is_private

    internal = {h.ip for h in camp.hosts if "c2" not in h.roles and is_internal(h.ip)}
    c2_ips = {c.ip for c in camp.c2}
    g.external = {ip for ip in c2_ips} | {h.ip for h in camp.hosts if not is_internal(h.ip)}
    for h in camp.hosts:
        if h.ip in internal:
            g.addr(h.ip, internal)
    for c in camp.c2:
        ip_node = g.node("ip", c.ip, external=True, roles=["c2"], known_ioc=c.known_ioc)
        if c.domain:
            d = g.node("domain", c.domain.lower().rstrip("."), roles=["c2"])
            g.edge(d, "resolves-to", ip_node)
    for m in camp.lateral_moves:
        src, dst = _text(m.get("src")), _text(m.get("dst"))
        if not src or not dst:
            continue
        t = _text(m.get("time"))
        admin = is_admin_move(m)
        movers, targets = g.addr(src, internal | {src}, t), g.addr(dst, internal | {dst}, t)
        g.edges_between(
            movers,
            "moved-to",
            targets,
            t,
            method=_text(m.get("method")),
            share=_text(m.get("share")),
            admin_tool=True if admin else None,
        )
        account = _text(m.get("account"))
        if account:
            g.edges_between([g.node("account", account)], "moved-to", targets, t, via=src)
        fname = _text(m.get("file"))
        if fname:
            g.edges_between([g.node("file", fname, by="name")], "delivered", targets, t, via=src)
    for e in camp.relay_edges:
        src, dst = _text(e.get("src")), _text(e.get("dst"))
        if src and dst:
            first, last = _text(e.get("first_seen")), _text(e.get("last_seen"))
            g.edges_between(
                g.addr(src, internal | {src}, first, last),
                "relays-through",
                g.addr(dst, internal | {dst}, first, last),
                first,
                last,
                pipe=_text(e.get("pipe")),
            )
    for br in camp.bridges:
        ip, c2 = _text(br.get("ip")), _text(br.get("c2"))
        if not ip:
            continue
        b = g.addr(ip, internal | {ip})
        if c2:
            served = br.get("served")
            g.edges_between(
                b,
                "bridges-to",
                g.addr(c2, internal),
                served=len(served) if isinstance(served, list) else None,
            )
        beacons = br.get("beacons")
        for t in beacons if isinstance(beacons, list) else []:
            tt = _text(t)
            if tt and tt != ip:
                g.edges_between(b, "beacons-to", g.addr(tt, internal))
    for bc in camp.beacons:
        if bc.suppressed or bc.dst not in c2_ips:
            continue
        g.edges_between(
            g.addr(bc.src, internal | {bc.src}, bc.first_seen, bc.last_seen),
            "beacons-to",
            g.addr(bc.dst, internal),
            bc.first_seen,
            bc.last_seen,
        )
    for f in doc.findings:
        if f.stage not in ("delivery", "installation", "exploitation"):
            continue
        kind = "delivered" if f.stage == "delivery" else "infected"
        if f.host_ids:
            targets = [g.machine(hid) for hid in f.host_ids]
        else:
            targets = [
                n
                for label in f.hosts
                for n in g.addr(label, internal | {label}, f.first_seen, f.last_seen)
            ]
        for by, value in _finding_files(f.details):
            fnode = g.node("file", value, by=by)
            for target in targets:
                g.edge(fnode, kind, target, f.first_seen, f.last_seen, finding=f.id)
        for k in ("domain", "host_name"):
            v = _text(f.details.get(k))
            if v and not _is_ip(v):
                g.node("domain", v.lower().rstrip("."))
    nodes = sorted(g.nodes.values(), key=lambda n: (n["kind"], n["id"]))
    edges = sorted(g.edges.values(), key=lambda e: (e["kind"], e["src"], e["dst"]))
    return {"case": doc.case, "nodes": nodes, "edges": edges}
