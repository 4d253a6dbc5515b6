"""DQ-NET-009: remote administration around a C&C beacon (to a host shortly before its beacon
began, or from a beaconing host to another)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import HuntContext, NetworkDetector
from duqhunt.detectors.net.zones import with_rules
from duqhunt.detectors.outputs import Beacon, LateralMove
from duqhunt.model import Evidence, Finding, iso_utc

REMOTE_ADMIN_SQL = with_rules("remote_admin.sql")

# port -> (protocol as the finding names it, ATT&CK technique)
PROTOCOLS: dict[int, tuple[str, str]] = {
    5985: ("WinRM", "T1021.006"),
    5986: ("WinRM", "T1021.006"),
    3389: ("RDP", "T1021.001"),
    135: ("RPC/DCOM", "T1021.003"),
    139: ("SMB", "T1021.002"),
    445: ("SMB", "T1021.002"),
}
# protocols an administrator drives a remote host with; SMB alone is also file sharing
_ADMIN_ONLY = {"WinRM", "RDP", "RPC/DCOM"}


def _first_beacons(beacons: tuple[Beacon, ...]) -> dict[str, Beacon]:
    """Per internal host, the earliest beacon the ranking named a C&C (or an indicator)."""
    first: dict[str, Beacon] = {}
    for b in beacons:
        if not (b.c2_candidate or b.known_ioc):
            continue
        if b.src not in first or b.first_ts < first[b.src].first_ts:
            first[b.src] = b
    return first


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


class RemoteAdminBeforeBeaconDetector(NetworkDetector):
    """Remote administration that a C&C beacon explains, seen from the network where no file or
    RPC operation is logged (WinRM, WMI, Kerberos-authenticated or encrypted SMB): a session
    between internal hosts that carried data over WinRM 5985/5986, RDP 3389, the RPC endpoint
    mapper 135 that DCOM and WMI use, or SMB 139/445, and

    * went *to* a host within ``remote_admin_window_s`` (3600 s) before that host began a
      beacon the C&C ranking (DQ-NET-002) names a C&C candidate, or one to an indicator: the
      step that installed the implant; or
    * came *from* such a host after its beacon began, over WinRM, RDP or RPC/DCOM: an
      infected host spreading (its SMB sessions are left to DQ-NET-005, which reads what
      they wrote and ran).

    A pair DQ-NET-005 already reports (a file written or a service or task created from the
    source on the destination) is left to it.

    One finding per (source, destination, direction), high for WinRM, RDP or RPC/DCOM, medium
    for SMB sessions alone (SMB is also file sharing); the move joins the campaign's lateral
    moves (method ``WinRM``, ``RDP``, ``RPC/DCOM`` or ``SMB session``), so the story reads
    source -> destination -> C&C.

    A destination that more than ``remote_admin_max_sources`` (3) internal hosts reach on that
    port over the whole window is a server (a file server, a jump host, a domain controller)
    and is not counted: many hosts use it that way every day.

    Misses: an implant that starts beaconing more than the window after the move, or a beacon
    the ranking does not name a C&C; moves over protocols not listed (SSH, a custom port); a
    move to a server many hosts reach on that port.
    False positives: an administrator who logs on to a workstation over RDP or WinRM shortly
    before a periodic program there that the ranking takes for a C&C starts, or from a
    workstation whose periodic program the ranking takes for one.
    """

    id = "DQ-NET-009"
    title = "Remote administration around a C&C beacon"
    stage = "lateral-movement"
    attack = ("T1021.006", "T1021.001", "T1021.003", "T1021.002")
    sources = ("conn",)

    def run(self, ctx: HuntContext) -> list[Finding]:
        first = _first_beacons(ctx.outputs.beacons)
        if not first:
            return []
        hosts = sorted(first)
        ctx.engine.register_arrow(
            "remote_admin_hosts",
            pa.table(
                {
                    "ip": pa.array(hosts, pa.string()),
                    "beacon_ts": pa.array([first[h].first_ts for h in hosts], pa.float64()),
                }
            ),
        )
        window = float(ctx.param("remote_admin_window_s", 3600.0) or 3600.0)
        most = int(ctx.param("remote_admin_max_sources", 3.0) or 3)
        rows = ctx.engine.query(REMOTE_ADMIN_SQL, {"window_s": window}).to_pylist()
        # a pair DQ-NET-005 already tied by a file or an RPC operation is told there, better
        known = {(m.src, m.dst) for m in ctx.outputs.lateral_moves}
        rows = [
            r
            for r in rows
            if int(r["port"]) in PROTOCOLS
            and int(r["sources"]) <= most
            and (str(r["src"]), str(r["dst"])) not in known
            # an infected host's SMB sessions: DQ-NET-005 reads what they did
            and (r["how"] != "from" or PROTOCOLS[int(r["port"])][0] in _ADMIN_ONLY)
        ]
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            groups[(str(r["src"]), str(r["dst"]), str(r["how"]))].append(r)
        findings: list[Finding] = []
        moves: list[LateralMove] = []
        for (src, dst, how), sessions in sorted(groups.items()):
            beacon = first[dst] if how == "before" else first[src]
            finding, protos, start = self._finding(src, dst, how, sessions, beacon)
            findings.append(finding)
            method = ", ".join(p if p in _ADMIN_ONLY else "SMB session" for p in protos)
            moves.append(LateralMove(src, dst, None, start, method, None, None, None, False))
        ctx.outputs.lateral_moves = (*ctx.outputs.lateral_moves, *moves)
        return findings

    def _finding(
        self,
        src: str,
        dst: str,
        how: str,
        sessions: list[dict[str, Any]],
        beacon: Beacon,
    ) -> tuple[Finding, list[str], float]:
        """The finding of one (source, destination, direction), its protocols and its first
        session's time."""
        protos = sorted({PROTOCOLS[int(r["port"])][0] for r in sessions})
        admin = bool(set(protos) & _ADMIN_ONLY)
        start = min(float(r["first_ts"]) for r in sessions)
        lead = beacon.first_ts - start
        if how == "before":
            title = (
                f"Remote administration of {dst} from {src} ({', '.join(protos)}) in the "
                f"{_minutes(lead)} before {dst} began beaconing to {beacon.dst}"
            )
            first_seen, last_seen = start, beacon.first_ts
        else:
            title = (
                f"{src}, beaconing to {beacon.dst}, administered {dst} ({', '.join(protos)}) "
                f"{_minutes(-lead)} after its beacon began"
            )
            first_seen = beacon.first_ts
            last_seen = max(float(r["last_ts"]) for r in sessions)
        evidence = [
            Evidence(
                source="conn.log",
                locator=f"{src} -> {dst}:{int(r['port'])}",
                summary=(
                    f"{int(r['sessions'])} {PROTOCOLS[int(r['port'])][0]} session(s) that "
                    f"carried data, {iso_utc(float(r['first_ts']))} to "
                    f"{iso_utc(float(r['last_ts']))}; {int(r['sources'])} internal source(s) "
                    f"reach {dst} on this port"
                ),
            )
            for r in sessions
        ]
        evidence.append(
            Evidence(
                source="campaign.beacons",
                locator=f"{beacon.src} -> {beacon.dst}",
                summary=(
                    f"first contact {iso_utc(beacon.first_ts)}, C&C score {beacon.score:.2f}"
                    + (", an indicator" if beacon.known_ioc else "")
                ),
            )
        )
        finding = self.finding(
            (src, dst, how),
            title,
            "high" if admin else "medium",
            0.75 if admin else 0.6,
            (src, dst),
            first_seen,
            last_seen,
            evidence,
            (
                ("direction", how),
                ("protocols", ", ".join(protos)),
                ("beacon_src", beacon.src),
                ("beacon_dst", beacon.dst),
                ("seconds_from_beacon_start", round(-lead, 3)),
            ),
            attack=sorted({PROTOCOLS[int(r["port"])][1] for r in sessions}),
        )
        return finding, protos, start
