"""The C&C candidate score of DQ-NET-002: periodicity corroborated by other evidence.

Periodicity alone ranks a licence heartbeat polled every 15 min from 200 hosts, or an IP
camera posting snapshots every 5 min, above a C&C with 30-50 % jitter. What sets a C&C apart
is what surrounds the beacon, so each scored pair gets these components, each in [0, 1]:

=============  ====  =================================================================
component      w     evidence
=============  ====  =================================================================
first_seen     0.30  the destination's first contact from any internal host came later
                     than 1.5 intervals + 10 min into the window (services that run all
                     the time show up within one interval of the window's start)
bare_ip        0.15  the destination is an address no DNS answer, TLS SNI or HTTP Host
                     ever named (an IP literal written as SNI or Host names nothing)
idle           0.15  share of the pair's contact hours in which its source host had no
                     user activity (no contact with an external address that is neither
                     routine for it nor a candidate), when the host has a user at all
                     (>= 3 active hours)
tied           0.25  1 when the source host took part in lateral movement (DQ-NET-005/008)
                     or a relay edge (DQ-NET-006), 0.5 when another source of the same
                     destination did
shape          0.35  the strongest known-bad request shape of the pair: a JPEG POST / to a
                     bare IP (DQ-NET-003) or an IOC User-Agent 1.0; a custom protocol on
                     443 without TLS 0.8; POST / to a bare IP Host 0.6; a rare second
                     User-Agent (DQ-NET-003) 0.6; TLS without a host name in SNI (none, or
                     an IP literal, which RFC 6066 does not allow) 0.6
direct         0.35  hosts without egress tried to reach the destination directly
                     (the zone analysis' blocked attempts, ``ctx.outputs.blocked_attempts``:
                     dst -> attempts, for addresses few egress hosts reach)
known_ioc      1.00  the destination is in a loaded IOC pack
=============  ====  =================================================================

    evidence   = min(1, sum(w x component))
    spread     = 1 if sources <= rare_hosts, falling linearly to 0.2 at wide_hosts and beyond
                 (sources: the internal hosts that contact the destination, less the hosts
                 without egress whose blocked attempts make the direct component)
                 (rare_hosts = max(3, 1 % of the population), wide_hosts = max(rare_hosts + 5,
                 10 % of it); population = internal hosts with egress, or the internal
                 sources seen in the sessions if more, e.g. behind a proxy)
    c2_score   = spread x (0.4 x periodicity + 0.6 x evidence) [x 0.5 when the source is a
                 web proxy whose clients' requests are attributed to them] [x 0.5 when no
                 connection of the pair carried data and no direct-attempt or indicator
                 evidence names the destination: a secure-zone host retrying a public
                 resolver through a firewall is as regular as a beacon, but reaches nothing]

Prevalence and first-seen carry the ranking: a service many hosts use is capped at 0.2 of
its score, a destination that only appeared when the intrusion began gains 0.18.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WEIGHTS: dict[str, float] = {
    "first_seen": 0.30,
    "bare_ip": 0.15,
    "idle": 0.15,
    "tied": 0.25,
    "shape": 0.35,
    "direct": 0.35,
    "known_ioc": 1.0,
}
PERIODICITY_WEIGHT = 0.4
SPREAD_FLOOR = 0.2
PROXY_FACTOR = 0.5
BLOCKED_FACTOR = 0.5
MIN_ACTIVE_HOURS = 3


@dataclass(frozen=True, slots=True)
class Population:
    """How many internal hosts could contact a destination, and the prevalence bounds."""

    hosts: int
    rare_hosts: int
    wide_hosts: int

    @classmethod
    def of(cls, hosts: int) -> Population:
        hosts = max(hosts, 1)
        rare = max(3, math.ceil(0.01 * hosts))
        return cls(hosts, rare, max(rare + 5, math.ceil(0.1 * hosts)))

    def spread(self, sources: int) -> float:
        """1 for a rare destination, down to SPREAD_FLOOR for a widespread one."""
        if sources <= self.rare_hosts:
            return 1.0
        frac = (sources - self.rare_hosts) / (self.wide_hosts - self.rare_hosts)
        return max(SPREAD_FLOOR, 1.0 - (1.0 - SPREAD_FLOOR) * frac)


@dataclass(frozen=True, slots=True)
class Context:
    """What the ranking knows beyond the beacon rows."""

    window_start: float
    population: Population
    tied_hosts: Mapping[str, str]  # ip -> why (e.g. "lateral movement 10.1.0.5 -> 10.1.0.9")
    shapes: Mapping[tuple[str, str], tuple[float, str]]  # (src, dst) -> (score, why)
    direct_attempts: Mapping[str, tuple[int, int]]  # dst -> (attempts, no-egress hosts)
    proxies: Mapping[str, int]  # proxy ip -> clients


def is_ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def human_interval(seconds: float) -> str:
    """90 -> "90 s", 300 -> "5 min", 5400 -> "1.5 h": a time span in a finding's words."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def protocol_shape(facts: Mapping[str, Any] | None) -> tuple[float, str] | None:
    """The known-bad request shape the pair's own protocol facts show (c2_evidence.sql)."""
    if not facts:
        return None
    best: tuple[float, str] | None = None

    def offer(score: float, why: str) -> None:
        nonlocal best
        if best is None or score > best[0]:
            best = (score, why)

    c443, plain = int(facts.get("conns_443") or 0), int(facts.get("plain_443") or 0)
    if c443 and plain / c443 >= 0.5:
        offer(0.8, f"custom protocol on 443/tcp without TLS ({plain} of {c443} connections)")
    http_n, posts = int(facts.get("http_n") or 0), int(facts.get("post_root_bare") or 0)
    if http_n and posts / http_n >= 0.3:
        offer(0.6, f"POST / to a bare-IP Host ({posts} of {http_n} requests)")
    ssl_n, nosni = int(facts.get("ssl_n") or 0), int(facts.get("nosni") or 0)
    if ssl_n and nosni / ssl_n >= 0.5:
        offer(
            0.6,
            f"TLS without a server name (SNI, or an address in its place) in {nosni} of "
            f"{ssl_n} sessions",
        )
    return best


def score_row(row: dict[str, Any], ctx: Context, facts: Mapping[str, Any] | None) -> None:
    """Add ``c2_score``, ``c2_parts`` (component -> value), ``spread`` and ``why`` to ``row``."""
    src, dst, kind = str(row["src"]), str(row["dst"]), str(row["kind"])
    periodicity = float(row.get("periodicity") or 0.0)
    interval = float(row.get("interval_s") or 0.0)
    parts: dict[str, float] = dict.fromkeys(WEIGHTS, 0.0)
    why: list[str] = [
        f"periodicity {periodicity:.2f} ({int(row['n'])} contacts every ~{human_interval(interval)})"
    ]
    dst_first = row.get("dst_first_ts")
    if dst_first is not None:
        delay = float(dst_first) - ctx.window_start
        if delay > 1.5 * interval + 600.0:
            parts["first_seen"] = 1.0
            why.append(f"first seen {human_interval(delay)} into the window (new destination)")
    names = row.get("names") or []
    if (kind == "ip" and not names) or (kind != "ip" and is_ipv4(dst)):
        parts["bare_ip"] = 1.0
        why.append("bare IP: no DNS answer, SNI or Host name for it")
    if facts:
        active, hours = int(facts.get("active_hours") or 0), int(facts.get("pair_hours") or 0)
        if active >= MIN_ACTIVE_HOURS and hours:
            parts["idle"] = float(facts.get("idle_hours") or 0) / hours
            if parts["idle"] >= 0.2:
                why.append(
                    f"{parts['idle']:.0%} of its contact hours while the host's user was idle"
                )
    tied = ctx.tied_hosts.get(src)
    if tied:
        parts["tied"] = 1.0
        why.append(f"source {tied}")
    elif row.get("_peer_tied"):
        parts["tied"] = 0.5
        why.append(f"another source of it, {row['_peer_tied']}")
    shapes = [s for s in (ctx.shapes.get((src, dst)), protocol_shape(facts)) if s]
    if shapes:
        best = max(shapes, key=lambda s: s[0])
        parts["shape"] = best[0]
        why.append(f"request shape: {best[1]}")
    attempts, tried_by = ctx.direct_attempts.get(dst, (0, 0))
    if attempts:
        parts["direct"] = 1.0
        why.append(f"{attempts} direct attempt(s) from hosts without egress")
    if row.get("known_ioc"):
        parts["known_ioc"] = 1.0
        why.append("in a loaded IOC pack")
    evidence = min(1.0, sum(WEIGHTS[k] * v for k, v in parts.items()))
    # the secure zone's hosts retrying their C&C through the firewall are evidence (direct),
    # not prevalence: a C&C every blocked host tries is not a service many hosts use
    sources = max(1, int(row.get("sources") or 0) - tried_by)
    spread = ctx.population.spread(sources)
    if spread < 1.0:
        why.append(
            f"widespread: {sources} of {ctx.population.hosts} internal hosts contact it "
            f"(x{spread:.2f})"
        )
    else:
        why.append(f"rare: {sources} internal host(s) contact it")
    score = spread * (PERIODICITY_WEIGHT * periodicity + (1 - PERIODICITY_WEIGHT) * evidence)
    clients = ctx.proxies.get(src)
    if clients:
        score *= PROXY_FACTOR
        why.append(
            f"source is a web proxy for {clients} client(s); their requests rank with them "
            f"(x{PROXY_FACTOR})"
        )
    conns, data = int((facts or {}).get("conns") or 0), int((facts or {}).get("data_conns") or 0)
    if kind == "ip" and conns and not data and not (parts["direct"] or parts["known_ioc"]):
        score *= BLOCKED_FACTOR
        why.append(
            f"none of its {conns} connections carried data (blocked attempts; x{BLOCKED_FACTOR})"
        )
    row["c2_parts"] = {k: round(v, 4) for k, v in parts.items()}
    row["evidence"] = round(evidence, 4)
    row["spread"] = round(spread, 4)
    row["c2_score"] = round(min(1.0, max(0.0, score)), 4)
    row["why"] = why


def mark_peer_ties(rows: Iterable[dict[str, Any]], tied_hosts: Mapping[str, str]) -> None:
    """``_peer_tied`` on rows whose destination another, tied, source also contacts."""
    rows = list(rows)
    by_dst: dict[str, list[str]] = {}
    for r in rows:
        if str(r["src"]) in tied_hosts:
            by_dst.setdefault(str(r["dst"]), []).append(str(r["src"]))
    for r in rows:
        peers = [s for s in by_dst.get(str(r["dst"]), []) if s != r["src"]]
        r["_peer_tied"] = f"{peers[0]} {tied_hosts[peers[0]]}" if peers else None


STRONG = ("first_seen", "tied", "shape", "direct", "known_ioc")


def corroborated(row: Mapping[str, Any]) -> int:
    """How many independent kinds of evidence beyond periodicity and rarity the row has; 0
    unless one of them is strong (first seen, tied, request shape, direct attempts, known
    indicator): a bare IP polled while the host is idle is how appliances' agents look too."""
    parts = row.get("c2_parts") or {}
    if not any(float(parts.get(k, 0.0)) > 0.0 for k in STRONG):
        return 0
    return sum(
        1
        for k in ("first_seen", "bare_ip", "tied", "shape", "direct", "known_ioc")
        if float(parts.get(k, 0.0)) > 0.0
    ) + (1 if float(parts.get("idle", 0.0)) >= 0.5 else 0)
