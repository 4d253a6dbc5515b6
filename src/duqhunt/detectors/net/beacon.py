"""DQ-NET-002: beaconing, scored over any window length."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import pyarrow as pa

from duqhunt.content import AllowList
from duqhunt.detectors.base import Detector, HuntContext, load_sql, periodicity_sql
from duqhunt.model import Evidence, Finding, finding_id, iso_utc
from duqhunt.model.finding import Severity

_SQL = periodicity_sql(load_sql(__package__ or "duqhunt.detectors.net", "beacon_sessions.sql"))
_NAMES_SQL = load_sql(__package__ or "duqhunt.detectors.net", "ip_names.sql")

DEFAULTS: dict[str, int | float] = {
    "min_conns": 8,
    "retry_gap_s": 2.0,
    "min_bin_s": 60.0,
    "full_count": 24.0,
    "min_score": 0.5,
    "report_score": 0.8,
}


def _domain_match(name: str, suffixes: list[str]) -> bool:
    name = name.lower().rstrip(".")
    return any(name == s or name.endswith("." + s) for s in suffixes)


def allow_reason(row: dict[str, Any], names: set[str], allowlists: list[AllowList]) -> str | None:
    """The allow-list entry that suppresses this beacon, or None."""
    for allow in allowlists:
        for entry in allow.entries:
            if entry.ports and entry.proto:
                same_port = row["port_min"] == row["port_max"] and row["port_min"] in entry.ports
                same_proto = row["proto_min"] == row["proto_max"] == entry.proto
                if same_port and same_proto:
                    return f"{allow.name}: {entry.name}"
            if entry.domains:
                candidates = set(names)
                if row["kind"] != "ip":
                    candidates.add(str(row["dst"]))
                if any(_domain_match(n, entry.domains) for n in candidates):
                    return f"{allow.name}: {entry.name}"
            if entry.cidrs and row["kind"] == "ip":
                try:
                    addr = ipaddress.ip_address(str(row["dst"]))
                except ValueError:
                    continue
                if any(addr in ipaddress.ip_network(c, strict=False) for c in entry.cidrs):
                    return f"{allow.name}: {entry.name}"
    return None


class BeaconDetector(Detector):
    """Periodic contact from an internal host to one external destination (IP, HTTP Host or TLS
    SNI), scored in [0, 1] from interval regularity (Bowley skew and median absolute deviation
    of inter-arrival times), size regularity (the same on orig_ip_bytes or request body
    length), time coverage (a histogram whose bin follows the pair's own interval, so hours-long
    low-and-slow beacons score like fast ones), duration over the window and connection count,
    lowered for destinations that a large share of internal hosts contact (prevalence). The
    window is the robust span of the evidence (``hunt.robust_span``), never the raw minimum and
    maximum: a few rows far from the rest in time (a clock set years ahead) are left out and
    reported, so they cannot stretch the duration score or a pair's coverage.

    Retries (a connection under ``retry_gap_s`` after the previous one) are collapsed first, so
    a beacon that retries one second later keeps its interval; uniform jitter of +-20 % still
    scores about 0.95 on regularity because the median absolute deviation is relative.

    Catches: C&C check-ins with or without jitter, over any window (not only 24 h).
    Misses: beacons with fewer than ``min_conns`` contacts in the window (contacts outside
    the robust span are not scored); heavy random jitter
    (exponential sleep); C&C over a shared service (a cloud API many hosts also use), which
    prevalence lowers.
    False positives: legitimately periodic services (NTP, update checks, AV/EDR and monitoring
    agents). Suppress them with an allow-list (content/allowlists/periodic.yaml, or
    ``--allow FILE``): suppressed pairs are counted in the report's stats and kept out of the
    ranking, never silently dropped from the evidence.
    """

    id = "DQ-NET-002"
    title = "Beaconing"
    stage = "command-and-control"
    attack = ("T1071.001", "T1573")
    sources = ("conn", "http", "ssl", "dns")

    def run(self, ctx: HuntContext) -> list[Finding]:
        if ctx.window is None:
            return []
        params = {k: ctx.param(k, v) for k, v in DEFAULTS.items()}
        window_s = max(ctx.window[1] - ctx.window[0], 1.0)
        table = ctx.engine.query(
            _SQL,
            {
                "min_conns": params["min_conns"],
                "retry_gap_s": params["retry_gap_s"],
                "window_s": float(window_s),
                "min_bin_s": params["min_bin_s"],
                "full_count": params["full_count"],
                "internal_hosts": float(max(ctx.internal_hosts, 1)),
                "min_score": params["min_score"],
            },
        )
        rows = table.to_pylist()
        names: dict[str, set[str]] = defaultdict(set)
        if rows:
            wanted = {str(r["dst"]) for r in rows if r["kind"] == "ip"}
            for n in ctx.engine.query(_NAMES_SQL).to_pylist():
                if n["ip"] in wanted and n["name"]:
                    names[str(n["ip"])].add(str(n["name"]))
        ioc_ips = ctx.ioc_values("ip")
        ioc_domains = ctx.ioc_values("domain")
        kept: list[dict[str, Any]] = []
        suppressed = 0
        for r in rows:
            dst = str(r["dst"])
            dst_names = names.get(dst, set()) if r["kind"] == "ip" else {dst}
            r["names"] = sorted(dst_names)[:5]
            r["known_ioc"] = dst in ioc_ips or any(
                _domain_match(n, sorted(ioc_domains)) for n in dst_names
            )
            reason = None if r["known_ioc"] else allow_reason(r, dst_names, ctx.allowlists)
            r["suppressed_by"] = reason
            if reason:
                suppressed += 1
            else:
                kept.append(r)
        ctx.shared["beacons"] = pa.Table.from_pylist(kept) if kept else pa.table({})
        ctx.shared["beacon_stats"] = pa.table({"scored": [len(rows)], "suppressed": [suppressed]})
        findings = []
        for rank, r in enumerate(kept, start=1):
            if r["score"] < float(params["report_score"] or 0.8) and not r["known_ioc"]:
                continue
            severity: Severity = (
                "high" if r["known_ioc"] else ("medium" if r["score"] >= 0.85 else "low")
            )
            label = {"ip": "", "http-host": " (HTTP Host)", "tls-sni": " (TLS SNI)"}[r["kind"]]
            findings.append(
                Finding(
                    id=finding_id(self.id, r["kind"], r["src"], r["dst"]),
                    detector=self.id,
                    title=f"{r['src']} beacons to {r['dst']}{label} every ~{_fmt_interval(r['interval_s'])}",
                    stage="command-and-control",
                    attack=self.attack,
                    severity=severity,
                    confidence=min(1.0, max(0.0, float(r["score"]))),
                    hosts=(str(r["src"]),),
                    first_seen=r["first_ts"],
                    last_seen=r["last_ts"],
                    evidence=(
                        Evidence(
                            source="conn.log"
                            if r["kind"] == "ip"
                            else ("http.log" if r["kind"] == "http-host" else "ssl.log"),
                            locator=f"{r['src']} -> {r['dst']}, {iso_utc(r['first_ts'])} to {iso_utc(r['last_ts'])}",
                            summary=(
                                f"{r['n']} contacts, median interval {r['interval_s']:.0f} s "
                                f"(IQR {r['t_q1']:.0f}-{r['t_q3']:.0f} s, MAD {r['t_mad']:.0f} s), "
                                f"median {r['bytes_median']:.0f} bytes out, "
                                f"{r['sources']} internal host(s) contact it"
                                + (f"; names: {', '.join(r['names'])}" if r["names"] else "")
                            ),
                        ),
                    ),
                    details=(
                        ("rank", rank),
                        ("kind", r["kind"]),
                        ("dst", str(r["dst"])),
                        ("score", round(float(r["score"]), 4)),
                        ("interval_s", round(float(r["interval_s"]), 2)),
                        ("count", int(r["n"])),
                        ("interval_score", round(float(r["interval_score"]), 4)),
                        ("size_score", round(float(r["size_score"]), 4)),
                        ("coverage_score", round(float(r["coverage_score"]), 4)),
                        ("duration_score", round(float(r["duration_score"]), 4)),
                        ("prevalence_penalty", round(float(r["prevalence_penalty"]), 4)),
                        ("known_ioc", bool(r["known_ioc"])),
                    ),
                )
            )
        return findings


def _fmt_interval(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
