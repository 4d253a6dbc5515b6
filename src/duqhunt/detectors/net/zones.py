"""Zones (egress / no-egress) from behaviour, the declared secure zones that override them, the
attempts no-egress hosts made towards the internet, and a hint when ``--internal`` looks wrong.

A host is 'egress' when it originated a session to an external address, or to an internal
explicit web proxy (sql/proxies.sql), that carried data (sql/egress_session.sql says exactly
which rows count and why): behind a proxy, reaching the proxy is reaching the internet. What a firewall lets a sensor
log of blocked attempts (S0, REJ, half-open, single packets) does not make a host egress: those
attempts are evidence of their own (sql/direct_attempts.sql), because an implant in a secure
zone tries its C&C directly before it falls back to its relay.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from duqhunt.detectors.base import load_sql
from duqhunt.engines.base import Engine

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_PKG = __package__ or "duqhunt.detectors.net"

# RFC 1918 private IPv4 space: what "looks internal" whatever --internal says
PRIVATE_NETWORKS: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
# the --internal hint: share of private-address traffic outside --internal, and a floor of rows
HINT_SHARE = 0.5
HINT_MIN_ROWS = 20


def egress_session_sql() -> str:
    """The egress rule as one SQL boolean expression over a conn row aliased ``c``."""
    text = load_sql(_PKG, "egress_session.sql")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def proxy_hosts_sql() -> str:
    """SELECT ip, clients of the internal explicit web proxies (sql/proxies.sql, the C&C
    ranking's definition), without its ORDER BY, to nest in other queries."""
    text = load_sql(_PKG, "proxies.sql")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return re.sub(r"\s+ORDER BY\s+ip\s*$", "", body.strip(), flags=re.IGNORECASE)


def with_rules(name: str) -> str:
    """An SQL file of this package with the egress rule and the proxy list put in where it says
    {egress_session} and {proxy_hosts}: one definition of each for every query that needs it."""
    return (
        load_sql(_PKG, name)
        .replace("{egress_session}", egress_session_sql().strip())
        .replace("{proxy_hosts}", proxy_hosts_sql())
    )


ZONES_SQL = with_rules("zones.sql")
BRIDGE_CORRELATION_SQL = with_rules("bridge_correlation.sql")
DIRECT_ATTEMPTS_SQL = with_rules("direct_attempts.sql")


# A dotted quad as inet_pton reads one: four decimal numbers 0-255 without leading zeros
# (RE2's $ is the end of the text, so a trailing newline or NUL does not match)
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"


def in_networks(ips: Iterable[object], nets: Sequence[Network]) -> list[bool]:
    """For each address (text as the logs hold it), whether it lies in one of ``nets``; not an
    address (None, a name, '-') is False. Every distinct address of a case passes here (100k
    and more at scale, before the detectors, on one thread), so dotted quads are matched,
    split and masked a column at a time (pyarrow compute, ~20x a per-address loop); only the
    rest (IPv6, and text that is no address) goes through ipaddress one by one."""
    values = list(ips)
    text = pa.array([ip if isinstance(ip, str) else None for ip in values], pa.string())
    quad = pc.fill_null(pc.match_substring_regex(text, _DOTTED_QUAD), False)
    octets = pc.split_pattern(pc.if_else(quad, text, "0.0.0.0"), ".")
    number = pa.array([0] * len(values), pa.int64())
    for i in range(4):
        octet = pc.cast(pc.list_element(octets, i), pa.int64())
        number = pc.add(pc.multiply(number, 256), octet)
    hit = pa.array([False] * len(values), pa.bool_())
    for n in nets:
        if isinstance(n, ipaddress.IPv4Network):
            inside = pc.equal(pc.bit_wise_and(number, int(n.netmask)), int(n.network_address))
            hit = pc.or_(hit, inside)
    out: list[bool] = pc.and_(hit, quad).to_pylist()
    v6 = [n for n in nets if isinstance(n, ipaddress.IPv6Network)]
    if not v6:  # only an IPv6 address could be in one of the rest
        return out
    for i, is_quad in enumerate(quad.to_pylist()):
        ip = values[i]
        if is_quad or not isinstance(ip, str):
            continue
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        out[i] = isinstance(addr, ipaddress.IPv6Address) and any(addr in n for n in v6)
    return out


def zones_table(engine: Engine, declared_no_egress: Sequence[Network] = ()) -> pa.Table:
    """(ip, zone) for every internal address: behaviour first (zones.sql), then every address
    in a declared no-egress network is 'no-egress' whatever it did (a declaration wins)."""
    table = engine.query(ZONES_SQL)
    ips = [str(ip) for ip in table.column("ip").to_pylist()]
    zones = [str(z) for z in table.column("zone").to_pylist()]
    if declared_no_egress:
        declared = in_networks(ips, declared_no_egress)
        zones = ["no-egress" if d else z for d, z in zip(declared, zones, strict=True)]
    return pa.table({"ip": pa.array(ips, pa.string()), "zone": pa.array(zones, pa.string())})


def internal_hint(engine: Engine, ip_class: pa.Table, internal: Sequence[Network]) -> str | None:
    """A warning when most traffic with a private (RFC 1918) end is with private addresses
    outside every ``--internal`` network: a lab or a second site in another range is then
    taken for the internet, so its hosts look external and zones, relays and bridges are not
    found there. None when nothing is wrong (or nothing private is outside)."""
    ips = ip_class.column("ip").to_pylist()
    internal_flags = ip_class.column("internal").to_pylist()
    private = [
        (str(ip), not bool(inside))
        for ip, inside, is_private in zip(
            ips, internal_flags, in_networks(ips, PRIVATE_NETWORKS), strict=True
        )
        if is_private
    ]
    outside = sorted({ip for ip, out in private if out})
    if not outside:
        return None
    table = pa.table(
        {
            "ip": pa.array([ip for ip, _ in private], pa.string()),
            "outside": pa.array([out for _, out in private], pa.bool_()),
        }
    )
    engine.register_arrow("private_ip", table)
    counts = engine.query(
        "SELECT COUNT(*) AS n, "
        "SUM(CASE WHEN COALESCE(o.outside, FALSE) OR COALESCE(r.outside, FALSE) "
        "THEN 1 ELSE 0 END) AS outside_n "
        "FROM conn c LEFT JOIN private_ip o ON o.ip = c.id_orig_h "
        "LEFT JOIN private_ip r ON r.ip = c.id_resp_h "
        "WHERE o.ip IS NOT NULL OR r.ip IS NOT NULL"
    ).to_pylist()[0]
    total, out_n = int(counts["n"] or 0), int(counts["outside_n"] or 0)
    if total < HINT_MIN_ROWS or out_n <= HINT_SHARE * total:
        return None
    prefixes: dict[str, int] = {}
    for ip in outside:
        net = ipaddress.ip_network(f"{ip}/16", strict=False)
        prefixes[str(net)] = prefixes.get(str(net), 0) + 1
    top = sorted(prefixes.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    where = ", ".join(f"{p} ({n} address{'es' if n > 1 else ''})" for p, n in top)
    return (
        f"--internal: {out_n} of {total} connections with a private (RFC 1918) address "
        f"({out_n / total:.0%}) involve private addresses outside the internal networks "
        f"({', '.join(str(n) for n in internal)}), mostly in {where}. They are treated as "
        "external, so their hosts get no zone and no relay or bridge is looked for there: "
        "if a lab or a second site uses that range, add it with --internal."
    )
