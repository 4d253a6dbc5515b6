"""The campaign section from network findings: C&C servers, infected hosts, ranked beacons."""

from __future__ import annotations

from typing import Any

from duqhunt.campaign.beacon_shape import SHAPED, beacon_shapes
from duqhunt.campaign.sightings import network_sightings, short_name
from duqhunt.detectors.base import HuntContext
from duqhunt.detectors.net.beacon import DEFAULTS as BEACON_DEFAULTS
from duqhunt.detectors.net.beacon import BeaconDetector
from duqhunt.detectors.net.c2rank import is_ipv4
from duqhunt.detectors.net.duqu_http import DuquHttpDetector
from duqhunt.detectors.net.interactive import InteractiveSessionDetector
from duqhunt.detectors.net.ioc import IocMatchDetector
from duqhunt.detectors.net.new_c2 import NewC2Detector
from duqhunt.detectors.net.relay import BridgeDetector
from duqhunt.model import Finding, iso_utc, severity_rank
from duqhunt.model.finding import family_of
from duqhunt.model.report import BeaconModel, C2Model, Campaign, HostModel

TOP_BEACONS = 50


def host_names(ctx: HuntContext) -> tuple[dict[str, str], dict[str, str]]:
    """(ip -> name, short name -> ip) from NTLM workstation names, DHCP host names, Kerberos
    machine accounts and internal DNS answers, in that order (see host_names.sql), then the
    most often seen."""
    by_ip: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for s in network_sightings(ctx):
        assert s.ip is not None and s.name is not None
        by_ip.setdefault(s.ip, s.name)
        by_name.setdefault(s.name, s.ip)
    return by_ip, by_name


def build_campaign(findings: list[Finding], ctx: HuntContext) -> Campaign:
    """The campaign from the network detectors' typed outputs (``ctx.outputs``); of the
    findings only the host ones are read, to mark hosts named in their own evidence."""
    ioc_ips = ctx.ioc_values("ip")
    c2: dict[str, dict[str, Any]] = {}

    def add_c2(
        ip: str,
        score: float,
        known: bool,
        source: str,
        domain: str | None = None,
        why: list[str] | None = None,
    ) -> None:
        entry = c2.setdefault(
            ip, {"score": 0.0, "known": False, "sources": set(), "domain": None, "why": []}
        )
        entry["score"] = max(entry["score"], score)
        entry["known"] = entry["known"] or known
        entry["sources"].add(source)
        entry["domain"] = entry["domain"] or domain
        if why and not entry["why"]:
            entry["why"] = list(why)

    out = ctx.outputs
    infected: set[str] = set()
    for hit in out.ioc_hits:
        if hit.ioc_type == "ip" and hit.ioc_value in ioc_ips:
            add_c2(hit.ioc_value, hit.confidence, True, IocMatchDetector.id)
            if hit.field in ("id.resp_h", "host", "answers", "user_agent"):
                infected.add(hit.src)
        elif hit.ioc_type in ("user-agent", "domain"):
            infected.add(hit.src)
    for n in out.new_c2:
        add_c2(n.dst, n.confidence, False, NewC2Detector.id)
        infected.add(n.src)
    for i in out.interactive:
        add_c2(i.dst, i.confidence, i.dst in ioc_ips, InteractiveSessionDetector.id)
        infected.add(i.src)
    # an upload service many hosts post JPEGs to (IP cameras) names no C&C
    for j in out.jpeg_posts:
        if not j.shared_upload:
            add_c2(j.dst, j.confidence, j.dst in ioc_ips, DuquHttpDetector.id)
            infected.add(j.src)
    # beacons: a corroborated C&C candidate names a C&C (the ranking, DQ-NET-002); a beacon
    # to a C&C named by any detector marks its source infected
    for b in out.beacons:
        if (b.kind == "ip" or is_ipv4(b.dst)) and (b.dst in c2 or b.c2_candidate):
            add_c2(
                b.dst,
                b.score,
                b.known_ioc,
                BeaconDetector.id,
                b.names[0] if b.names else None,
                list(b.why),
            )
            infected.add(b.src)
    zones: dict[str, str] = {}
    try:
        zones = {
            r["ip"]: r["zone"] for r in ctx.engine.query("SELECT ip, zone FROM zones").to_pylist()
        }
    except Exception:
        zones = {}
    roles: dict[str, set[str]] = {ip: {"infected"} for ip in infected}
    moves = [m for m in out.lateral_moves if m.is_move]
    for m in moves:
        if m.unexplained and (m.exec_ts is not None or m.executable):
            roles.setdefault(m.src, set()).add("infected")
            roles.setdefault(m.dst, set()).add("infected")
    for e in out.relay_edges:
        roles.setdefault(e.src, set()).add("infected")
    for relay in out.relay_hosts:
        roles.setdefault(relay, set()).update({"relay", "infected"})
    for br in out.bridges:
        roles.setdefault(br.ip, set()).update({"bridge", "infected"})
        if br.c2:
            add_c2(br.c2, 0.9 if br.correlation else 0.7, br.c2 in ioc_ips, BridgeDetector.id)
        # what the relayed hosts tried directly, the bridge reaches and few egress hosts do:
        # a C&C candidate even when the time correlation named another address
        for t in br.tried_directly:
            add_c2(t.dst, 0.6, t.dst in ioc_ips, BridgeDetector.id)
    # patient zero: an infected host that spread to others, was never a move's target, and
    # talks to a C&C itself
    move_dsts = {m.dst for m in moves if m.unexplained}
    move_srcs = {m.src for m in moves if m.unexplained}
    for ip in sorted(move_srcs - move_dsts):
        if ip in infected:
            roles.setdefault(ip, set()).add("patient-zero")
    # merge hosts seen by name in their own evidence (EVTX, hives) with their IPs
    names_by_ip, ip_by_name = host_names(ctx)
    for f in findings:
        if family_of(f.detector) != "host" or severity_rank(f.severity) < 3:
            continue
        for h in f.hosts:
            addr = ip_by_name.get(short_name(h))
            if addr:
                roles.setdefault(addr, set()).add("infected")
    order = ["patient-zero", "infected", "relay", "bridge", "c2"]
    hosts = [
        HostModel(
            ip=ip,
            name=names_by_ip.get(ip),
            roles=[r for r in order if r in rs],  # type: ignore[misc]
            zone=zones.get(ip),  # type: ignore[arg-type]
        )
        for ip, rs in sorted(roles.items())
    ]
    hosts += [HostModel(ip=ip, roles=["c2"]) for ip in sorted(c2)]
    retry_gap = ctx.param("retry_gap_s", BEACON_DEFAULTS["retry_gap_s"])
    shapes = beacon_shapes(ctx, [b.pair for b in out.beacons[:SHAPED]], float(retry_gap or 0.0))
    return Campaign(
        hosts=hosts,
        c2=[
            C2Model(
                ip=ip,
                domain=e["domain"],
                score=round(min(1.0, e["score"]), 4),
                known_ioc=bool(e["known"]),
                sources=sorted(e["sources"]),
                why=e["why"],
            )
            for ip, e in sorted(c2.items(), key=lambda kv: (-kv[1]["score"], kv[0]))
        ],
        lateral_moves=[m.report_entry() for m in moves],
        relay_edges=[e.report_entry() for e in out.relay_edges],
        bridges=[b.report_entry() for b in out.bridges],
        beacons=[
            BeaconModel(
                src=b.src,
                dst=b.dst,
                kind=b.kind,
                score=round(min(1.0, max(0.0, b.score)), 4),
                interval_s=round(b.interval_s or 0.0, 2),
                count=b.count,
                first_seen=iso_utc(b.first_ts),
                last_seen=iso_utc(b.last_ts),
                periodicity=round(min(1.0, max(0.0, b.periodicity)), 4),
                why=list(b.why),
                interval_histogram=intervals,
                size_histogram=sizes,
            )
            for b in out.beacons[:TOP_BEACONS]
            for intervals, sizes in [shapes.get(b.pair, (None, None))]
        ],
    )
