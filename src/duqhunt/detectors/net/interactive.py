"""DQ-NET-010: a long interactive session to an external address nothing names and few reach."""

from __future__ import annotations

from duqhunt.content import allow_entry_covering
from duqhunt.detectors.base import HuntContext, NetworkDetector, load_sql
from duqhunt.detectors.outputs import InteractiveSession
from duqhunt.model import Evidence, Finding, iso_utc

_PKG = __package__ or "duqhunt.detectors.net"
INTERACTIVE_SQL = load_sql(_PKG, "interactive.sql").replace(
    "{ip_names}", load_sql(_PKG, "ip_names.sql")
)
_HAS_DNS_SQL = "SELECT 1 AS one FROM dns LIMIT 1"
INTERACTIVE_DEFAULTS: dict[str, float] = {
    "interactive_min_session_s": 120.0,
    "interactive_min_bytes": 100_000.0,
    "interactive_max_sources": 2.0,
}


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600.0:.1f} h"
    return f"{seconds / 60.0:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _ports(row: dict[str, object]) -> str:
    """``:1234``, `` (ports 80 and 1234)`` or `` (3 ports, 80-8080)``."""
    lo, hi, n = int(str(row["port_min"])), int(str(row["port_max"])), int(str(row["ports"]))
    if n == 1:
        return f":{lo}"
    return f" (ports {lo} and {hi})" if n == 2 else f" ({n} ports, {lo}-{hi})"


def _reach(sources: int) -> str:
    return "no other host reaches" if sources <= 1 else f"{sources} internal hosts reach"


class InteractiveSessionDetector(NetworkDetector):
    """An operator's hands-on C&C channel (a reverse shell, a Meterpreter or other staged
    session) rather than a beacon: an internal host held a TCP session of at least
    ``interactive_min_session_s`` (120 s) with an external address that
    - nothing names: no DNS answer, TLS SNI or HTTP Host gives it a name (ip_names.sql), so
      the program had the address built in;
    - few reach: at most ``interactive_max_sources`` (2) internal hosts contact it in the
      whole window;
    - and the pair's TCP sessions carried at least ``interactive_min_bytes`` (100 kB) either way
      (a stage downloaded, a dump sent back: a sensor that sees one direction counts what it
      sees).
    One medium finding per (source, destination), high when the address is an indicator;
    the address joins the campaign's C&C candidates and the source its infected hosts. An
    allow-list entry for the C&C ranking (``applies_to: [beacon]``, the default) whose networks
    cover the address suppresses it.

    A periodic session is DQ-NET-002's; a long one is not periodic, so the two see different
    channels of the same intrusion (on the OTRF APT29 day 1 the reverse shell to 192.168.0.5
    and the beacon to 192.168.0.4).
    Needs DNS in the case (a dns.log with rows, answered or not: a sensor that sees one
    direction logs queries only): without it every address is unnamed, and the detector
    reports nothing.
    Misses: an interactive channel to a named host (a domain the implant resolves), to an
    address many hosts reach (a cloud front), one cut into short sessions, or through a web
    proxy (the proxy is the destination in conn.log).
    False positives: a program that connects to a built-in address for minutes at a time (a
    remote-support tool, a game or a VPN client without DNS), on one or two hosts.
    """

    id = "DQ-NET-010"
    title = "Interactive session to an unnamed, rare external address"
    stage = "command-and-control"
    attack = ("T1071",)
    sources = ("conn", "dns", "ssl", "http")

    def run(self, ctx: HuntContext) -> list[Finding]:
        # "nothing names it" means something only where the sensor logs DNS: in a case without
        # a single DNS row every address is unnamed, and the detector stays silent
        if not ctx.engine.query(_HAS_DNS_SQL).num_rows:
            return []
        params = {k: float(ctx.param(k, v) or v) for k, v in INTERACTIVE_DEFAULTS.items()}
        rows = ctx.engine.query(
            INTERACTIVE_SQL, {"min_session_s": params["interactive_min_session_s"]}
        ).to_pylist()
        ioc_ips = ctx.ioc_values("ip")
        findings: list[Finding] = []
        found: list[InteractiveSession] = []
        for r in rows:
            src, dst = str(r["src"]), str(r["dst"])
            data = int(r["orig_bytes"] or 0) + int(r["resp_bytes"] or 0)
            known = dst in ioc_ips
            if not known and (
                int(r["named"])
                or int(r["sources"]) > params["interactive_max_sources"]
                or data < params["interactive_min_bytes"]
                or allow_entry_covering(ctx.allowlists, dst, "beacon")
            ):
                continue
            longest = float(r["longest_s"])
            confidence = 0.9 if known else 0.6
            found.append(InteractiveSession(src, dst, float(r["first_ts"]), longest, confidence))
            findings.append(
                self.finding(
                    (src, dst),
                    f"{src} held a {_duration(longest)} session with {dst}{_ports(r)}, an "
                    f"address nothing names and {_reach(int(r['sources']))}",
                    "high" if known else "medium",
                    confidence,
                    (src, dst),
                    float(r["first_ts"]),
                    float(r["last_ts"]),
                    (
                        Evidence(
                            source="conn.log",
                            locator=f"{src} -> {dst}",
                            summary=(
                                f"{int(r['sessions'])} TCP session(s) from "
                                f"{iso_utc(float(r['first_ts']))}, the longest "
                                f"{longest:.0f} s, {float(r['total_s']):.0f} s in all; "
                                f"{int(r['orig_bytes'] or 0):,} bytes sent, "
                                f"{int(r['resp_bytes'] or 0):,} received; no DNS answer, SNI "
                                "or Host names the address" + ("; an indicator" if known else "")
                            ),
                        ),
                    ),
                    (
                        ("longest_s", round(longest, 3)),
                        ("sessions", int(r["sessions"])),
                        ("bytes", data),
                        ("internal_sources", int(r["sources"])),
                        ("ports", _ports(r).strip(" :()")),
                    ),
                )
            )
        ctx.outputs.interactive = tuple(found)
        return findings
