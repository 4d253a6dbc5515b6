"""DQ-NET-001: known-indicator matches."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql
from duqhunt.detectors.outputs import IocHit
from duqhunt.model import Evidence, Finding, iso_utc
from duqhunt.model.finding import Severity

_SQL = load_sql(__package__ or "duqhunt.detectors.net", "ioc_match.sql")


def _title(src: str, ioc_type: str, value: str) -> str:
    if ioc_type == "user-agent":
        return f"{src} used a User-Agent from an IOC pack"
    if ioc_type == "filename":
        return f"{src} transferred a file named {value} (IOC pack)"
    if ioc_type in ("md5", "sha1", "sha256"):
        return f"{src} transferred a file with a listed {ioc_type} hash"
    if ioc_type == "url":
        return f"{src} requested known URL {value}"
    return f"{src} contacted known indicator {value}"


class IocMatchDetector(NetworkDetector):
    """Connections, DNS queries and answers, HTTP hosts and User-Agents, TLS SNI and file names
    or hashes that match an indicator of a loaded IOC pack.

    Catches: any contact with listed C&C addresses or names, in either direction, including a
    DNS answer that resolves to a listed address, an HTTP Host with a port
    (``evil.example:8080``), a trailing dot or in IP-literal brackets (``[2001:db8::1]:8443``),
    a proxy's CONNECT target or absolute-URI host (the engines' http_named view), and HTTP
    requests for a listed URL (host, non-default port, path and query, without scheme or
    letter case). A listed name also covers its subdomains (``evil.example`` matches
    ``www.evil.example``, never ``notevil.example``); names, file names and hashes compare without
    letter case, User-Agents exactly.
    Severity: high for an address, name or URL of confidence 0.8 or more, low below 0.5, medium
    otherwise (a User-Agent, file name or hash alone is at most medium).
    Misses: indicators not in a pack; contact through a proxy that hides the destination; DNS
    over HTTPS.
    False positives: stale indicators (an address re-assigned to an innocent host years later);
    a generic value (a common file name, an old but real browser User-Agent) on its own. Each
    finding carries the indicator's confidence and source so an analyst can weigh it.
    """

    id = "DQ-NET-001"
    title = "Known indicator"
    stage = "command-and-control"
    attack = ("T1071.001",)
    sources = ("conn", "dns", "http", "ssl", "files")

    def run(self, ctx: HuntContext) -> list[Finding]:
        if not ctx.packs:
            return []
        rows = ctx.engine.query(_SQL).to_pylist()
        ctx.outputs.ioc_hits = tuple(IocHit.from_row(r) for r in rows)
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            grouped[(r["src"], r["ioc_value"])].append(r)
        findings: list[Finding] = []
        for (src, value), hits in sorted(grouped.items()):
            best = max(h["confidence"] for h in hits)
            total = sum(int(h["hits"]) for h in hits)
            first = (
                min(h["first_ts"] for h in hits if h["first_ts"] is not None)
                if any(h["first_ts"] is not None for h in hits)
                else None
            )
            last = max((h["last_ts"] for h in hits if h["last_ts"] is not None), default=None)
            ioc_type = hits[0]["ioc_type"]
            severity: Severity = (
                "high" if best >= 0.8 and ioc_type in ("ip", "domain", "url") else "medium"
            )
            if best < 0.5:
                severity = "low"
            dsts = sorted({str(h["dst"]) for h in hits})
            evidence = tuple(
                Evidence(
                    source=f"{h['log']}.log",
                    locator=f"field {h['field']}, uid {h['example_uid']}",
                    summary=(
                        f"{h['hits']} match(es) of {h['ioc_type']} {h['ioc_value']} "
                        f"({h['pack']}: {h['description']}) from {h['src']} to {h['dst']}, "
                        f"{iso_utc(h['first_ts'])} to {iso_utc(h['last_ts'])}"
                    ),
                )
                for h in hits
            )
            findings.append(
                self.finding(
                    (src, value),
                    _title(src, ioc_type, value),
                    severity,
                    float(best),
                    (src,),
                    first,
                    last,
                    evidence,
                    (
                        ("indicator", value),
                        ("indicator_type", ioc_type),
                        ("pack", hits[0]["pack"]),
                        ("source", hits[0]["source"]),
                        ("matches", total),
                        ("destinations", ", ".join(dsts[:10])),
                    ),
                )
            )
        return findings
