"""DQ-NET-006 internal C&C relay edges over SMB named pipes, DQ-NET-007 bridges."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from duqhunt.content import normalise_pipe, standard_pipes
from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql, periodicity_sql
from duqhunt.detectors.net.zones import BRIDGE_CORRELATION_SQL, DIRECT_ATTEMPTS_SQL
from duqhunt.detectors.outputs import BlockedAttempts, Bridge, DirectAttempt, RelayEdge
from duqhunt.model import Evidence, Finding, iso_utc

_PKG = __package__ or "duqhunt.detectors.net"
_RELAY = periodicity_sql(load_sql(_PKG, "relay_sessions.sql"))
_CLIENTS = load_sql(_PKG, "smb_clients.sql")
_PIPES = load_sql(_PKG, "pipes.sql")
_CORR = BRIDGE_CORRELATION_SQL

RELAY_DEFAULTS: dict[str, float] = {
    "relay_min_conns": 6,
    "relay_min_score": 0.6,
    "server_clients_min": 10,
    "server_clients_share": 0.1,
}
# an address the served hosts tried directly names the C&C when the bridge reaches it and few
# egress hosts do (Windows Update, NTP and public resolvers are reached by many)
RARE_EGRESS_HOSTS_MIN = 5
RARE_EGRESS_HOSTS_SHARE = 0.05
REPEAT_SPAN_S = 3600.0


def direct_attempts(ctx: HuntContext) -> dict[str, list[BlockedAttempts]]:
    """No-egress host -> its outbound rows to external addresses per destination, most first
    (sql/direct_attempts.sql); computed once per hunt and kept in ``ctx.outputs``."""
    if ctx.outputs.blocked_attempts is None:
        ctx.outputs.blocked_attempts = tuple(
            BlockedAttempts.from_row(r) for r in ctx.engine.query(DIRECT_ATTEMPTS_SQL).to_pylist()
        )
    out: dict[str, list[BlockedAttempts]] = defaultdict(list)
    for r in ctx.outputs.blocked_attempts:
        out[r.src].append(r)
    for rows in out.values():
        rows.sort(key=lambda r: (-r.n, r.dst))
    return out


def tried_c2_candidates(ctx: HuntContext) -> dict[str, tuple[int, int]]:
    """External address -> (blocked attempts, no-egress hosts that made them), for the addresses that may
    name a C&C: some egress hosts reach them, but few, and they were tried again and again (over at least
    an hour, by two hosts or three times), as in ``_names_c2`` but without needing a bridge.
    Read by the C&C ranking (DQ-NET-002's ``direct`` component)."""
    rare_max = _rare_max(ctx)
    acc: dict[str, dict[str, Any]] = {}
    for src, rows in direct_attempts(ctx).items():
        for r in rows:
            blocked = r.blocked
            # the relay or bridge reaches its C&C: an address no egress host contacts at all
            # (a public resolver a secure-zone host falls back to) names no C&C
            if blocked <= 0 or not 1 <= r.egress_hosts <= rare_max:
                continue
            a = acc.setdefault(
                r.dst, {"n": 0, "hosts": set(), "first": r.first_ts, "last": r.last_ts}
            )
            a["n"] += blocked
            a["hosts"].add(src)
            a["first"] = min(a["first"], r.first_ts)
            a["last"] = max(a["last"], r.last_ts)
    return {
        dst: (int(a["n"]), len(a["hosts"]))
        for dst, a in acc.items()
        if a["last"] - a["first"] >= REPEAT_SPAN_S and (len(a["hosts"]) >= 2 or a["n"] >= 3)
    }


def _rare_max(ctx: HuntContext) -> float:
    """At most this many egress hosts reach an address for it to count as rare."""
    return max(RARE_EGRESS_HOSTS_MIN, RARE_EGRESS_HOSTS_SHARE * ctx.internal_hosts)


def _attempt_text(rows: list[BlockedAttempts], rare_max: float, limit: int = 3) -> str:
    """'206.183.111.97 x14 (80-443, 2011-10-14T10:02:11Z to ...)' for the top destinations."""
    parts = []
    for r in rows[:limit]:
        ports = str(r.min_port) if r.min_port == r.max_port else f"{r.min_port}-{r.max_port}"
        rare = " (few egress hosts reach it)" if r.egress_hosts <= rare_max else ""
        parts.append(
            f"{r.dst}:{ports} x{r.n} ({iso_utc(r.first_ts)} to {iso_utc(r.last_ts)}){rare}"
        )
    more = len(rows) - limit
    return "; ".join(parts) + (f"; +{more} more address(es)" if more > 0 else "")


def _names_c2(a: dict[str, Any]) -> bool:
    """An address tried directly names the C&C when the bridge reaches it, few egress hosts
    do, and it was tried again and again (an implant re-trying its C&C over hours, not a
    user's single try of a web site): over at least an hour, by two hosts or three times."""
    repeated = float(a["last_ts"]) - float(a["first_ts"]) >= REPEAT_SPAN_S and (
        a["hosts"] >= 2 or a["n"] >= 3
    )
    return bool(a["bridge_reaches"] and a["rare"] and repeated)


def _tried_text(a: dict[str, Any]) -> str:
    ports = (
        str(a["min_port"]) if a["min_port"] == a["max_port"] else f"{a['min_port']}-{a['max_port']}"
    )
    mark = (
        " (tried again and again; the bridge reaches it, few egress hosts do)"
        if _names_c2(a)
        else ""
    )
    return (
        f"{a['dst']}:{ports} x{a['n']} from {a['hosts']} host(s), "
        f"{iso_utc(a['first_ts'])} to {iso_utc(a['last_ts'])}{mark}"
    )


class RelayEdgeDetector(NetworkDetector):
    """A host with no internet access of its own (zone no-egress) that repeatedly opens SMB
    sessions to another internal host that is not a server, with small regular exchanges: the
    Duqu secure-zone relay over a named pipe on an infected workstation.

    Zones (sql/zones.sql, sql/egress_session.sql): a host is egress when it originated a
    session to an external address that carried data: the far side sent payload (a sensor
    that sees one direction logs SF/S1 with orig_bytes 0 and resp_bytes > 0; a mid-stream OTH
    row needs payload both ways), or the handshake completed (SF, S1, S2, S3, RSTO, RSTR) and
    the host sent payload. What a firewall lets a sensor log of blocked attempts (S0, REJ,
    SH, RSTOS0, single packets, UDP datagrams without a reply) never makes a host egress, and
    inbound sessions (an external originator) never do. Networks declared with
    ``--no-egress`` are no-egress whatever they did (and internal even outside ``--internal``).

    Score in [0, 1]: 0.6 x the periodicity score of its 445/tcp sessions (the beacon scoring,
    retries collapsed, no prevalence penalty) + 0.15 when the destination is not an SMB server
    (fewer SMB clients than max(10, 10 % of internal hosts)) + 0.15 when a pipe that is not a
    standard Windows pipe (content/pipes/standard.yaml) was seen + 0.1 for IPC$ tree connects.
    Stock Zeek does not log pipe opens, so the pipe name is used when a sensor logs it and the
    edge is found from IPC$ connects and session timing when it does not. The finding lists
    the source's blocked direct attempts (addresses, counts, time span): the addresses it
    wanted before it fell back to the relay.

    Misses: relays over other protocols (HTTP inside the LAN), relays that ride on sessions a
    host makes anyway (to a file server), a relay host that is also a busy SMB server; a
    secure zone whose firewall or proxy completes the handshake and answers for the internet
    (a block page: the zone looks egress; declare it with ``--no-egress``); a sensor that sees
    only the outbound half of allowed sessions (no data comes back, so every host looks
    no-egress: the server test still keeps file servers out, but more pairs are scored).
    False positives: a no-egress host polling a workstation's share for an application (a lab
    instrument collecting results); its pipe, if logged, tells them apart.
    """

    id = "DQ-NET-006"
    title = "Internal relay over SMB named pipe"
    stage = "internal-relay"
    attack = ("T1090.001", "T1021.002")
    sources = ("conn", "smb_mapping", "smb_files", "dce_rpc")

    def run(self, ctx: HuntContext) -> list[Finding]:
        if ctx.window is None:
            return []
        p = {k: float(ctx.param(k, v) or v) for k, v in RELAY_DEFAULTS.items()}
        rows = ctx.engine.query(
            _RELAY,
            {
                "min_conns": int(p["relay_min_conns"]),
                "retry_gap_s": 2.0,
                "window_s": max(ctx.window[1] - ctx.window[0], 1.0),
                "min_bin_s": 60.0,
                "full_count": 24.0,
                "internal_hosts": 1e12,  # no prevalence penalty inside the LAN
                "min_score": 0.3,
            },
        ).to_pylist()
        clients = {r["ip"]: int(r["clients"]) for r in ctx.engine.query(_CLIENTS).to_pylist()}
        server_min = max(p["server_clients_min"], p["server_clients_share"] * ctx.internal_hosts)
        standard = standard_pipes()
        pipes: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"odd": set(), "std": set(), "ipc": 0}
        )
        for r in ctx.engine.query(_PIPES).to_pylist():
            slot = pipes[(r["src"], r["dst"])]
            if r["pipe"] == "IPC$":
                slot["ipc"] += int(r["n"])
                continue
            name = normalise_pipe(str(r["pipe"]))
            (slot["std"] if name in standard else slot["odd"]).add(name)
        edges: list[dict[str, Any]] = []
        for r in rows:
            key = (r["src"], r["dst"])
            info = pipes.get(key, {"odd": set(), "std": set(), "ipc": 0})
            is_server = clients.get(r["dst"], 0) >= server_min
            if is_server and not info["odd"]:
                continue
            score = (
                0.6 * float(r["score"])
                + (0.0 if is_server else 0.15)
                + (0.15 if info["odd"] else 0.0)
                + (0.1 if info["ipc"] else 0.0)
            )
            if score < p["relay_min_score"]:
                continue
            pipe = (
                sorted(info["odd"])[0]
                if info["odd"]
                else (sorted(info["std"])[0] if info["std"] else None)
            )
            edges.append(
                {
                    "src": r["src"],
                    "dst": r["dst"],
                    "pipe": pipe,
                    "first_ts": r["first_ts"],
                    "last_ts": r["last_ts"],
                    "score": round(min(1.0, score), 4),
                    "sessions": int(r["n"]),
                    "interval_s": r["interval_s"],
                    "periodicity": round(float(r["score"]), 4),
                    "ipc_connects": info["ipc"],
                    "odd_pipes": sorted(info["odd"]),
                    "dst_clients": clients.get(r["dst"], 0),
                    "dst_is_server": is_server,
                    # 445 (SMB direct) or 139 (over NetBIOS), as the sessions were seen
                    "ports": "/".join(str(x) for x in sorted({r["port_min"], r["port_max"]})),
                }
            )
        edges.sort(key=lambda e: (-e["score"], e["src"], e["dst"]))
        attempts = direct_attempts(ctx) if edges else {}
        ctx.outputs.relay_edges = tuple(
            RelayEdge(
                src=str(e["src"]),
                dst=str(e["dst"]),
                pipe=e["pipe"],
                first_ts=float(e["first_ts"]),
                last_ts=float(e["last_ts"]),
                score=e["score"],
            )
            for e in edges
        )
        findings = []
        for e in edges:
            pipe_text = f"pipe {e['pipe']}" if e["pipe"] else "pipe name not logged"
            # the addresses few egress hosts reach (a C&C) before the common ones (updates)
            tried = sorted(
                attempts.get(e["src"], []),
                key=lambda r: (r.egress_hosts > _rare_max(ctx), -r.n, r.dst),
            )
            blocked = sum(r.blocked for r in tried)
            outside = (
                f"{e['src']} has no external session that carried data"
                + (f" ({blocked} blocked attempt(s) to {len(tried)} address(es))" if tried else "")
                if not any(r.data_sessions for r in tried)
                else f"{e['src']} is in a declared no-egress network"
            )
            extra = (
                (
                    Evidence(
                        source="conn.log",
                        locator=f"{e['src']} -> external",
                        summary="direct attempts (blocked, the addresses it wanted): "
                        + _attempt_text(tried, _rare_max(ctx)),
                    ),
                )
                if tried
                else ()
            )
            findings.append(
                self.finding(
                    (e["src"], e["dst"]),
                    f"No-egress host {e['src']} relays through {e['dst']} over SMB ({pipe_text})",
                    "high" if e["score"] >= 0.75 else "medium",
                    e["score"],
                    (e["src"], e["dst"]),
                    e["first_ts"],
                    e["last_ts"],
                    (
                        Evidence(
                            source="conn.log",
                            locator=f"{e['src']} -> {e['dst']}:{e['ports']}, {iso_utc(e['first_ts'])} to {iso_utc(e['last_ts'])}",
                            summary=(
                                f"{e['sessions']} SMB sessions every ~{e['interval_s']:.0f} s "
                                f"(periodicity {e['periodicity']:.2f}); {outside}; "
                                f"{e['dst']} has {e['dst_clients']} SMB client(s)"
                            ),
                        ),
                        Evidence(
                            source="smb_mapping.log/smb_files.log/dce_rpc.log",
                            locator=f"{e['src']} -> {e['dst']}",
                            summary=(
                                f"{e['ipc_connects']} IPC$ tree connect(s); "
                                + (
                                    f"non-standard pipe(s): {', '.join(e['odd_pipes'])}"
                                    if e["odd_pipes"]
                                    else "no non-standard pipe logged"
                                )
                            ),
                        ),
                        *extra,
                    ),
                    (
                        ("src", e["src"]),
                        ("dst", e["dst"]),
                        ("pipe", e["pipe"]),
                        ("score", e["score"]),
                        ("sessions", e["sessions"]),
                        ("interval_s", round(float(e["interval_s"] or 0), 2)),
                        *((("direct_attempts", blocked),) if tried else ()),
                    ),
                )
            )
        return findings


class BridgeDetector(NetworkDetector):
    """An egress host at the end of relay edges (DQ-NET-006; chains of no-egress relays are
    followed to any depth) whose own outbound connections to an external address follow the
    relayed sessions in time: the fraction of relayed sessions followed within a window (5 s
    and 30 s are both measured; the one with the higher lift among fractions of at least 0.5
    is kept) by a connection to that address, against the fraction expected by chance
    (outbound count x window / observation window). The short window matters at scale: when
    relaying is steady the bridge's own outbound count is high, which lifts the chance
    baseline of a wide window. Reported with the correlation, the window, its lift and the
    external address, which is the C&C the secure zone reaches through the bridge.

    Direct attempts: an implant in a secure zone tries its C&C directly before it falls back
    to its relay, and the sensor logs the blocked tries. The finding lists the external
    addresses the no-egress hosts behind the bridge tried (count, hosts, time span). One the
    bridge reaches itself, that few egress hosts reach (at most max(5, 5 % of egress hosts):
    not Windows Update, NTP or a public resolver) and that was tried again and again (over at
    least an hour, by two hosts or three times: an implant re-trying, not a user's one try of
    a web site) is a C&C candidate; when it is the
    correlated address, confidence rises (0.95) and the title says how many relayed hosts
    tried it directly.

    A bridge needs a relay edge, and either a correlation of at least 0.5 with a lift of at
    least 3, a beacon (DQ-NET-002) of its own to an external address, or an address the hosts
    behind it tried directly that it reaches and few egress hosts do. Failed attempts alone,
    without a relay edge, never make a bridge.
    Misses: a bridge that batches relayed data and uploads it hours later (no time
    correlation; still found through its beacon or the directly tried C&C); relays whose edges
    were missed.
    False positives: a host that both serves a no-egress host's SMB polling and talks to the
    internet right after each poll for its own reasons. A rare vendor address that a secure
    host tries (an update server) and the bridge also reaches can be named as the C&C
    candidate when there is no time correlation.
    """

    id = "DQ-NET-007"
    title = "Bridge: egress host relaying C&C for a no-egress zone"
    stage = "internal-relay"
    attack = ("T1090.001", "T1071.001")
    sources = ("conn",)

    @staticmethod
    def _tried(
        ctx: HuntContext, chains: dict[str, list[list[str]]]
    ) -> dict[str, list[dict[str, Any]]]:
        """Per bridge, the external addresses the no-egress hosts of its chains tried directly,
        most attempts first, each with whether the bridge reaches it and whether it is rare
        among egress hosts."""
        if not chains:
            return {}
        per_host = direct_attempts(ctx)
        rare_max = _rare_max(ctx)
        merged: dict[str, dict[str, dict[str, Any]]] = {}
        for bridge, paths in chains.items():
            behind = sorted({h for p in paths for h in p[:-1]})
            slot: dict[str, dict[str, Any]] = {}
            for h in behind:
                for r in per_host.get(h, []):
                    blocked = r.blocked
                    if blocked <= 0:
                        continue
                    a = slot.setdefault(
                        r.dst,
                        {
                            "dst": r.dst,
                            "n": 0,
                            "srcs": set(),
                            "first_ts": r.first_ts,
                            "last_ts": r.last_ts,
                            "min_port": r.min_port,
                            "max_port": r.max_port,
                            "rare": r.egress_hosts <= rare_max,
                            "bridge_reaches": False,
                        },
                    )
                    a["n"] += blocked
                    a["srcs"].add(h)
                    a["first_ts"] = min(a["first_ts"], r.first_ts)
                    a["last_ts"] = max(a["last_ts"], r.last_ts)
                    a["min_port"] = min(a["min_port"], r.min_port)
                    a["max_port"] = max(a["max_port"], r.max_port)
            if slot:
                merged[bridge] = slot
        if not merged:
            return {}
        pairs = pa.table(
            {
                "bridge": pa.array([b for b, s in merged.items() for _ in s], pa.string()),
                "dst": pa.array([d for s in merged.values() for d in s], pa.string()),
            }
        )
        ctx.engine.register_arrow("bridge_tried", pairs)
        for r in ctx.engine.query(
            "SELECT DISTINCT t.bridge, t.dst FROM conn c "
            "JOIN bridge_tried t ON t.bridge = c.id_orig_h AND t.dst = c.id_resp_h"
        ).to_pylist():
            merged[str(r["bridge"])][str(r["dst"])]["bridge_reaches"] = True
        out: dict[str, list[dict[str, Any]]] = {}
        for bridge, slot in merged.items():
            rows = list(slot.values())
            for a in rows:
                a["hosts"] = len(a["srcs"])
            # the likely C&C first: reached by the bridge and rare, then by attempts
            rows.sort(key=lambda a: (not _names_c2(a), -a["n"], a["dst"]))
            out[bridge] = rows
        return out

    def run(self, ctx: HuntContext) -> list[Finding]:
        edges = ctx.outputs.relay_edges
        if not edges or ctx.window is None:
            return []
        zones = {
            r["ip"]: r["zone"] for r in ctx.engine.query("SELECT ip, zone FROM zones").to_pylist()
        }
        # follow chains: no-egress -> (no-egress relay ->)* egress bridge
        out_edges: dict[str, list[RelayEdge]] = defaultdict(list)
        for e in edges:
            out_edges[e.src].append(e)
        chains: dict[str, list[list[str]]] = defaultdict(list)
        relays: set[str] = set()

        def walk(node: str, path: list[str]) -> None:
            for e in out_edges.get(node, []):
                nxt = e.dst
                if nxt in path:
                    continue
                if zones.get(nxt) == "egress":
                    chains[nxt].append([*path, nxt])
                else:
                    relays.add(nxt)
                    walk(nxt, [*path, nxt])

        heads = sorted({e.src for e in edges} - {e.dst for e in edges}) or sorted(
            {e.src for e in edges}
        )
        for head in heads:
            walk(head, [head])
        direct = (
            pa.Table.from_pylist(
                [{"src": e.src, "dst": e.dst} for e in edges if zones.get(e.dst) == "egress"]
            )
            if any(zones.get(e.dst) == "egress" for e in edges)
            else None
        )
        corr: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if direct is not None:
            ctx.engine.register_arrow("relay_edges", direct)
            # a short window separates a triggered upload from a busy bridge's background;
            # a long one catches a slower relay: both are measured, the clearer one kept
            for w in (5.0, float(ctx.param("bridge_corr_window_s", 30.0) or 30.0)):
                for r in ctx.engine.query(
                    _CORR,
                    {"corr_window_s": w, "window_s": max(ctx.window[1] - ctx.window[0], 1.0)},
                ).to_pylist():
                    corr[r["bridge"]].append({**r, "window": w})
        tried = self._tried(ctx, chains)
        bridges: list[Bridge] = []
        findings: list[Finding] = []
        for bridge in sorted(chains):
            best = None
            for r in corr.get(bridge, []):
                lift = float(r["fraction"]) / max(float(r["baseline"]), 1e-9)
                key = (
                    float(r["fraction"]) >= 0.5,
                    lift if float(r["fraction"]) >= 0.5 else 0.0,
                    float(r["fraction"]),
                )
                if best is None or key > best["key"]:
                    best = {**r, "lift": lift, "key": key}
            own = [b for b in ctx.outputs.beacons if b.src == bridge and b.kind == "ip"]
            correlated = best is not None and best["fraction"] >= 0.5 and best["lift"] >= 3.0
            attempted = tried.get(bridge, [])
            # addresses the hosts behind the bridge tried directly that the bridge reaches and
            # few egress hosts do: the C&C the relay carries them to
            named = [a for a in attempted if _names_c2(a)]
            if not correlated and not own and not named:
                continue
            own_dsts = [b.dst for b in own]
            if best is not None and best["fraction"] >= 0.5:
                c2 = best["ext"]
            elif named:
                c2 = next((a["dst"] for a in named if a["dst"] in own_dsts), named[0]["dst"])
            else:
                c2 = own_dsts[0] if own_dsts else None
            c2_tried = next((a for a in attempted if a["dst"] == c2), None)
            served = sorted({c[0] for c in chains[bridge]})
            chain_texts = [" -> ".join(c) for c in chains[bridge]]
            correlation = round(float(best["fraction"]), 4) if best else None
            lift_r = round(float(best["lift"]), 1) if best else None
            bridges.append(
                Bridge(
                    ip=bridge,
                    c2=c2,
                    served=tuple(served),
                    chains=tuple(chain_texts),
                    correlation=correlation,
                    baseline=round(float(best["baseline"]), 6) if best else None,
                    lift=round(best["lift"], 1) if best else None,
                    relayed_sessions=int(best["relayed"]) if best else None,
                    window_s=best["window"] if best else None,
                    beacons=tuple(own_dsts[:5]),
                    tried_directly=tuple(
                        DirectAttempt(
                            dst=a["dst"],
                            attempts=a["n"],
                            hosts=a["hosts"],
                            first_seen=iso_utc(a["first_ts"]),
                            last_seen=iso_utc(a["last_ts"]),
                        )
                        for a in named[:5]
                    ),
                    c2_tried_directly=c2_tried is not None,
                )
            )
            corr_text = (
                f"{best['matched']} of {best['relayed']} relayed sessions ({best['fraction']:.0%}) "
                f"followed within {best['window']:.0f} s by a connection to {best['ext']} "
                f"(chance {best['baseline']:.1%}, "
                f"lift {best['lift']:.0f}x)"
                if best
                else "no time correlation measured"
            )
            evidence = [
                Evidence(source="conn.log", locator=f"{bridge} outbound", summary=corr_text),
                Evidence(
                    source="DQ-NET-006",
                    locator="relay chains",
                    summary="; ".join(chain_texts[:10]),
                ),
            ]
            if attempted:
                hosts_behind = len({h for a in attempted for h in a["srcs"]})
                evidence.append(
                    Evidence(
                        source="conn.log",
                        locator=f"no-egress hosts behind {bridge} -> external",
                        summary=(
                            f"{hosts_behind} no-egress host(s) behind the bridge tried "
                            f"{len(attempted)} external address(es) directly (blocked): "
                            + "; ".join(_tried_text(a) for a in attempted[:5])
                            + (f"; +{len(attempted) - 5} more" if len(attempted) > 5 else "")
                            + (
                                f". The bridge's C&C {c2} is one of them: the relayed hosts "
                                "wanted it before they fell back to the relay"
                                if c2_tried is not None
                                else ""
                            )
                        ),
                    )
                )
            # a correlated bridge whose C&C the relayed hosts also tried directly: the relay
            # and the blocked attempts name the same address
            confidence = (0.9 if correlated else 0.7) + (
                (0.05 if correlated else 0.1) if c2_tried is not None else 0.0
            )
            details: list[tuple[str, str | int | float | bool | None]] = [
                ("bridge", bridge),
                ("c2", c2),
                ("correlation", correlation),
                ("lift", lift_r),
                ("served", len(served)),
                ("relays", ", ".join(sorted(relays)) or None),
            ]
            if attempted:
                details.append(("c2_tried_directly", c2_tried is not None))
                details.append(("direct_attempts", sum(int(a["n"]) for a in attempted)))
            findings.append(
                self.finding(
                    (bridge,),
                    f"{bridge} bridges {len(served)} no-egress host(s) to {c2}"
                    + (
                        f" (tried directly by {c2_tried['hosts']} of them)"
                        if c2_tried is not None
                        else ""
                    ),
                    "critical" if correlated or c2_tried is not None else "high",
                    round(confidence, 4),
                    (bridge, *served),
                    min(e.first_ts for e in edges if e.dst == bridge or e.src in served),
                    max(e.last_ts for e in edges if e.dst == bridge or e.src in served),
                    tuple(evidence),
                    tuple(details),
                )
            )
        ctx.outputs.bridges = tuple(bridges)
        ctx.outputs.relay_hosts = tuple(sorted(relays))
        return findings
