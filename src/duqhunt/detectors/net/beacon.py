"""DQ-NET-002: beaconing, scored over any window length and ranked as C&C candidates."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from duqhunt.content import AllowList
from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql, periodicity_sql
from duqhunt.detectors.net.c2rank import Context as RankContext
from duqhunt.detectors.net.c2rank import (
    Population,
    corroborated,
    human_interval,
    mark_peer_ties,
    score_row,
)
from duqhunt.detectors.net.zones import with_rules
from duqhunt.detectors.outputs import Beacon
from duqhunt.model import Evidence, Finding, finding_id, iso_utc
from duqhunt.model.finding import Severity

_PKG = __package__ or "duqhunt.detectors.net"
_SQL = periodicity_sql(load_sql(_PKG, "beacon_sessions.sql"))
_NAMES_SQL = load_sql(_PKG, "ip_names.sql")
_EVIDENCE_SQL = load_sql(_PKG, "c2_evidence.sql")
C2_CONN_HOURS_SQL = with_rules("c2_conn_hours.sql")
_PROXIES_SQL = load_sql(_PKG, "proxies.sql")

DEFAULTS: dict[str, int | float] = {
    "min_conns": 8,
    "retry_gap_s": 2.0,
    "min_bin_s": 60.0,
    "full_count": 24.0,
    "min_score": 0.5,
    "report_score": 0.5,
}


def _domain_match(name: str, suffixes: list[str]) -> bool:
    name = name.lower().rstrip(".")
    return any(name == s or name.endswith("." + s) for s in suffixes)


def allow_reason(row: dict[str, Any], names: set[str], allowlists: list[AllowList]) -> str | None:
    """The allow-list entry that suppresses this beacon, or None. Only entries for the C&C
    ranking count (``applies_to`` holds ``beacon``, the default): an entry for lateral movement
    alone names administrators' sources, not destinations to stop ranking."""
    for allow in allowlists:
        for entry in allow.entries:
            if "beacon" not in entry.applies_to:
                continue
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
            if row["kind"] == "ip" and entry.covers(str(row["dst"])):
                return f"{allow.name}: {entry.name}"
    return None


class BeaconDetector(NetworkDetector):
    """Periodic contact from an internal host to one external destination (IP, HTTP Host or TLS
    SNI), ranked as a C&C candidate by periodicity corroborated by other evidence.
    Periodicity in [0, 1] comes from interval regularity (Bowley skew and median absolute
    deviation of inter-arrival times), size regularity, time coverage (a histogram whose bin
    follows the pair's own interval, so hours-long low-and-slow beacons score like fast
    ones), duration over the window and connection count. The window is the robust span of
    the evidence (``hunt.robust_span``), never the raw minimum and maximum: a few rows far
    from the rest in time (a clock set years ahead) are left out and reported.

    Periodicity in [0, 1] (sql/periodicity.sql): interval regularity (Bowley skew and median
    absolute deviation of inter-arrival times), size regularity (the same on orig_ip_bytes or
    request body length), time coverage (a histogram whose bin follows the pair's own interval,
    so hours-long low-and-slow beacons score like fast ones), duration over the window and
    connection count. Retries (a connection under ``retry_gap_s`` after the previous one) are
    collapsed first, so a beacon that retries one second later keeps its interval; uniform
    jitter of +-20 % still scores about 0.95 on regularity because the median absolute deviation
    is relative, +-40 % about 0.85.

    The ranking (``c2_score``, detectors/net/c2rank.py) multiplies a prevalence factor (1 for
    a destination at most max(3, 1 %) of the internal hosts contact, falling to 0.2 at 10 %)
    with 0.4 x periodicity + 0.6 x corroborating evidence: first seen after the window began
    (0.30), a bare IP no name points at (0.15), contact hours while the host's user is idle
    (0.15), a source tied to lateral movement or a relay (0.25), a known-bad request shape
    (JPEG POST / to a bare IP, an IOC or rare User-Agent, a custom protocol on 443 without TLS,
    TLS without SNI; 0.35), direct attempts from no-egress hosts (0.35, from the zone
    analysis) and a known indicator (1.0); evidence is capped at 1.
    A web proxy's own pairs count half: requests through an explicit proxy (CONNECT or an
    absolute URI to an internal address) are attributed to the client and the destination
    they name. Each beacon entry and finding lists why it ranks where it does.

    Catches: C&C check-ins with 30-50 % jitter beside more regular benign services; low and
    slow beacons (hours apart, over days); custom protocols on 443; TLS without SNI; C&C
    through an explicit web proxy.
    Misses: beacons with fewer than ``min_conns`` contacts in the window; heavy random jitter
    (exponential sleep); C&C over a shared service (a cloud API many hosts also use), which
    prevalence ranks down; a C&C already running when the window opens loses first-seen.
    False positives: a rare, newly installed periodic agent on one host polling a bare IP;
    legitimately periodic services (NTP, update checks, AV/EDR and monitoring agents) rank
    low by prevalence and can be suppressed with an allow-list (content/allowlists/periodic.yaml,
    or ``--allow FILE``): suppressed pairs are counted in the report's stats and kept out of
    the ranking, never silently dropped from the evidence.
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
        population = max(ctx.internal_hosts, max((int(r["population"]) for r in rows), default=0))
        kept = self._rank(ctx, kept, Population.of(population), float(window_s))
        ctx.outputs.beacons = tuple(Beacon.from_row(r) for r in kept)
        ctx.outputs.beacons_scored = len(rows)
        ctx.outputs.beacons_suppressed = suppressed
        report = float(params["report_score"] or 0.5)
        findings = []
        for rank, r in enumerate(kept, start=1):
            if r["c2_score"] < report and not r["known_ioc"]:
                continue
            findings.append(_finding(self, r, rank))
        return findings

    def _rank(
        self,
        ctx: HuntContext,
        kept: list[dict[str, Any]],
        population: Population,
        window_s: float,
    ) -> list[dict[str, Any]]:
        """Score every kept row as a C&C candidate and sort them best first."""
        assert ctx.window is not None
        rank_ctx = RankContext(
            window_start=ctx.window[0],
            population=population,
            tied_hosts=_tied_hosts(ctx),
            shapes=_known_shapes(ctx),
            direct_attempts=_direct_attempts(ctx),
            proxies={
                str(r["ip"]): int(r["clients"]) for r in ctx.engine.query(_PROXIES_SQL).to_pylist()
            },
        )
        mark_peer_ties(kept, rank_ctx.tied_hosts)
        for r in kept:
            score_row(r, rank_ctx, None)
        kept.sort(key=_order)
        # protocol and idle-time facts for the best candidates (bounded, so cheap at any size)
        top = kept[: int(ctx.param("c2_candidates", 300) or 300)]
        if top:
            ctx.engine.register_arrow(
                "c2_candidates",
                pa.table(
                    {
                        "kind": pa.array([str(r["kind"]) for r in top], pa.string()),
                        "src": pa.array([str(r["src"]) for r in top], pa.string()),
                        "dst": pa.array([str(r["dst"]) for r in top], pa.string()),
                    }
                ),
            )
            # user activity (the idle component) for the best candidates' sources only
            idle_srcs: list[str] = []
            for r in top:
                if str(r["src"]) not in idle_srcs and len(idle_srcs) < int(
                    ctx.param("c2_idle_sources", 40) or 40
                ):
                    idle_srcs.append(str(r["src"]))
            ctx.engine.register_arrow(
                "c2_idle_srcs", pa.table({"src": pa.array(idle_srcs, pa.string())})
            )
            ctx.engine.register_arrow("c2_conn_hours", ctx.engine.query(C2_CONN_HOURS_SQL))
            facts = {
                (f["kind"], f["src"], f["dst"]): f
                for f in ctx.engine.query(
                    _EVIDENCE_SQL, {"window_hours": max(window_s / 3600.0, 1.0)}
                ).to_pylist()
            }
            for r in top:
                score_row(r, rank_ctx, facts.get((r["kind"], r["src"], r["dst"])))
            kept.sort(key=_order)
        c2_min = float(ctx.param("c2_min_score", 0.55) or 0.55)
        dsts: set[str] = set()
        for r in kept:
            r.pop("_peer_tied", None)
            r["corroboration"] = corroborated(r)
            r["c2_parts"] = [f"{k}={v}" for k, v in r["c2_parts"].items()]
            candidate = bool(r["known_ioc"]) or (
                r["c2_score"] >= c2_min and r["corroboration"] >= 2 and len(dsts) < 5
            )
            r["c2_candidate"] = candidate
            if candidate:
                dsts.add(str(r["dst"]))
        return kept


def _order(r: dict[str, Any]) -> tuple[float, float, str, str, str]:
    return (-float(r["c2_score"]), -float(r["periodicity"]), r["kind"], r["src"], r["dst"])


def _tied_hosts(ctx: HuntContext) -> dict[str, str]:
    """Hosts that took part in lateral movement or a relay edge, with a short reason."""
    out: dict[str, str] = {}
    for m in ctx.outputs.lateral_moves:
        if not m.unexplained:
            continue
        why = f"in lateral movement {m.src} -> {m.dst}"
        out.setdefault(m.src, why)
        out.setdefault(m.dst, why)
    for e in ctx.outputs.relay_edges:
        why = f"in a relay edge {e.src} -> {e.dst}"
        out.setdefault(e.dst, why)
        out.setdefault(e.src, why)
    return out


def _known_shapes(ctx: HuntContext) -> dict[tuple[str, str], tuple[float, str]]:
    """Known-bad request shapes other detectors saw, per (src, dst)."""
    out: dict[tuple[str, str], tuple[float, str]] = {}

    def offer(key: tuple[str, str], score: float, why: str) -> None:
        if key not in out or out[key][0] < score:
            out[key] = (score, why)

    for h in ctx.outputs.ioc_hits:
        if h.ioc_type == "user-agent":
            offer((h.src, h.dst), 1.0, "User-Agent from an IOC pack")
    for j in ctx.outputs.jpeg_posts:
        if not j.shared_upload:  # an upload service (cameras) is no request shape of a C&C
            offer((j.src, j.dst), 1.0, "JPEG POST / to a bare IP (DQ-NET-003)")
    for u in ctx.outputs.rare_user_agents:
        offer(
            (u.src, u.example_dst.lower()),
            0.6,
            f"rare second User-Agent {u.user_agent!r} (DQ-NET-003)",
        )
    return out


def _direct_attempts(ctx: HuntContext) -> dict[str, tuple[int, int]]:
    """dst -> (blocked direct attempts, hosts without egress that made them), for addresses few egress hosts
    reach and that were tried again and again (the zone analysis: relay.tried_c2_candidates)."""
    from duqhunt.detectors.net.relay import tried_c2_candidates

    return tried_c2_candidates(ctx)


def _finding(det: NetworkDetector, r: dict[str, Any], rank: int) -> Finding:
    label = {"ip": "", "http-host": " (HTTP Host)", "tls-sni": " (TLS SNI)"}[r["kind"]]
    score = float(r["c2_score"])
    severity: Severity
    if r["known_ioc"] or (score >= 0.7 and r["corroboration"] >= 2):
        severity = "high"
    elif score >= 0.55:
        severity = "medium"
    else:
        severity = "low"
    return Finding(
        id=finding_id(det.id, r["kind"], r["src"], r["dst"]),
        detector=det.id,
        title=f"{r['src']} beacons to {r['dst']}{label} every ~{_fmt_interval(r['interval_s'])}",
        stage="command-and-control",
        attack=det.attack,
        severity=severity,
        confidence=min(1.0, max(0.0, score)),
        hosts=(str(r["src"]),),
        first_seen=iso_utc(r["first_ts"]),
        last_seen=iso_utc(r["last_ts"]),
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
            Evidence(
                source="DQ-NET-002 ranking",
                locator=f"rank {rank}, C&C score {score:.2f}",
                summary="; ".join(r["why"]),
            ),
        ),
        details=dict(
            rank=rank,
            kind=r["kind"],
            dst=str(r["dst"]),
            score=round(score, 4),
            periodicity=round(float(r["periodicity"]), 4),
            evidence=r["evidence"],
            spread=r["spread"],
            components=", ".join(r["c2_parts"]),
            why="; ".join(r["why"]),
            interval_s=round(float(r["interval_s"]), 2),
            count=int(r["n"]),
            interval_score=round(float(r["interval_score"]), 4),
            size_score=round(float(r["size_score"]), 4),
            coverage_score=round(float(r["coverage_score"]), 4),
            duration_score=round(float(r["duration_score"]), 4),
            prevalence_penalty=round(float(r["prevalence_penalty"]), 4),
            known_ioc=bool(r["known_ioc"]),
        ),
    )


def _fmt_interval(seconds: float | None) -> str:
    return "?" if seconds is None else human_interval(seconds)
