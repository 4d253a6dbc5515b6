"""The campaign section from network findings: C&C servers, infected hosts, ranked beacons."""

from __future__ import annotations

from typing import Any

from duqhunt.detectors.base import HuntContext
from duqhunt.model import Finding, iso_utc
from duqhunt.model.report import BeaconModel, C2Model, Campaign, HostModel

TOP_BEACONS = 50


def build_campaign(findings: list[Finding], ctx: HuntContext) -> Campaign:
    ioc_ips = ctx.ioc_values("ip")
    c2: dict[str, dict[str, Any]] = {}

    def add_c2(ip: str, score: float, known: bool, source: str, domain: str | None = None) -> None:
        entry = c2.setdefault(ip, {"score": 0.0, "known": False, "sources": set(), "domain": None})
        entry["score"] = max(entry["score"], score)
        entry["known"] = entry["known"] or known
        entry["sources"].add(source)
        entry["domain"] = entry["domain"] or domain

    beacons = ctx.shared.get("beacons")
    beacon_rows: list[dict[str, Any]] = (
        beacons.to_pylist() if beacons is not None and beacons.num_rows else []
    )
    hits = ctx.shared.get("ioc_hits")
    infected: set[str] = set()
    if hits is not None:
        for h in hits.to_pylist():
            if h["ioc_type"] == "ip" and h["ioc_value"] in ioc_ips:
                add_c2(h["ioc_value"], float(h["confidence"]), True, "DQ-NET-001")
                if h["field"] in ("id.resp_h", "host", "answers", "user_agent"):
                    infected.add(str(h["src"]))
            elif h["ioc_type"] in ("user-agent", "domain"):
                infected.add(str(h["src"]))
    for f in findings:
        details = dict(f.details)
        if f.detector == "DQ-NET-004":
            add_c2(str(details["candidate"]), float(f.confidence), False, "DQ-NET-004")
            infected.update(f.hosts)
        elif f.detector == "DQ-NET-003" and details.get("rule") == "jpeg-post-bare-ip":
            dst = str(details["dst"])
            add_c2(dst, float(f.confidence), dst in ioc_ips, "DQ-NET-003")
            infected.update(f.hosts)
    for b in beacon_rows:
        if b["kind"] == "ip" and str(b["dst"]) in c2:
            add_c2(
                str(b["dst"]),
                float(b["score"]),
                bool(b["known_ioc"]),
                "DQ-NET-002",
                (b.get("names") or [None])[0],
            )
            infected.add(str(b["src"]))
    hosts = [HostModel(ip=ip, roles=["infected"], zone="egress") for ip in sorted(infected)]
    hosts += [HostModel(ip=ip, roles=["c2"]) for ip in sorted(c2)]
    return Campaign(
        hosts=hosts,
        c2=[
            C2Model(
                ip=ip,
                domain=e["domain"],
                score=round(min(1.0, e["score"]), 4),
                known_ioc=bool(e["known"]),
                sources=sorted(e["sources"]),
            )
            for ip, e in sorted(c2.items(), key=lambda kv: (-kv[1]["score"], kv[0]))
        ],
        beacons=[
            BeaconModel(
                src=str(b["src"]),
                dst=str(b["dst"]),
                kind=b["kind"],
                score=round(min(1.0, max(0.0, float(b["score"]))), 4),
                interval_s=round(float(b["interval_s"] or 0.0), 2),
                count=int(b["n"]),
                first_seen=iso_utc(b["first_ts"]),
                last_seen=iso_utc(b["last_ts"]),
            )
            for b in beacon_rows[:TOP_BEACONS]
        ],
    )
