"""An address written where a name goes names nothing (seen on the OTRF APT29 day-1 logs: the
implant's TLS client sent its C&C's address, 192.168.0.4, as SNI, so DQ-NET-002 took the
address for a named one and lost its bare-IP evidence).

ip_names.sql: the names an external address has, for the ranking's bare-IP component and
allow-lists; c2_evidence.sql: TLS without a host name in SNI (RFC 6066 3: "Literal IPv4 and
IPv6 addresses are not permitted in HostName")."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import load_sql
from duqhunt.detectors.net.beacon import C2_CONN_HOURS_SQL
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.sources.net.zeek_schema import canonical_schema
from testsupport import zeek_table

PKG = "duqhunt.detectors.net"
C2, CDN, PROXY, SRC = "192.0.2.4", "198.51.100.20", "10.0.0.60", "10.0.1.6"


def _row(i: int, dst: str, **kw: Any) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000.0 + i,
        "uid": f"C{i}",
        "id_orig_h": SRC,
        "id_orig_p": 50000 + i,
        "id_resp_h": dst,
        "id_resp_p": 443,
        **kw,
    }


def _engine() -> DuckDBEngine:
    eng = DuckDBEngine()
    ssl = [
        _row(1, C2, server_name=C2),  # an IPv4 literal as SNI
        _row(2, C2, server_name="[2001:db8::4]"),
        _row(3, CDN, server_name="CDN.Example.NET."),  # a name, root dot aside
        _row(4, C2, server_name=""),
    ]
    http = [
        _row(5, C2, method="GET", uri="/", host=f"{C2}:8443"),  # the address, with a port
        _row(6, CDN, method="GET", uri="/", host="static.example.net"),
        # through a proxy: the host names the target, not the proxy
        _row(7, PROXY, method="GET", uri="http://portal.example.org/", host="portal.example.org"),
    ]
    dns = [
        {
            **_row(8, "10.0.0.53"),
            "query": "www.example.net",
            "answers": [CDN],
        }
    ]
    eng.register_arrow("ssl", zeek_table("ssl", ssl))
    eng.register_arrow("http", zeek_table("http", http))
    eng.register_arrow("dns", zeek_table("dns", dns))
    eng.register_arrow("files", canonical_schema("files").empty_table())
    eng.register_arrow("conn", canonical_schema("conn").empty_table())
    eng.create_derived_views()
    return eng


def test_an_ip_literal_in_sni_or_host_is_no_name() -> None:
    eng = _engine()
    try:
        got = eng.query(load_sql(PKG, "ip_names.sql")).to_pylist()
    finally:
        eng.close()
    assert sorted((r["ip"], r["name"], r["via"]) for r in got) == [
        (CDN, "cdn.example.net", "sni"),
        (CDN, "static.example.net", "http"),
        (CDN, "www.example.net", "dns"),
    ]


def test_tls_with_an_ip_literal_sni_counts_as_tls_without_a_server_name() -> None:
    eng = _engine()
    try:
        eng.register_arrow(
            "ip_class",
            pa.table({"ip": [SRC, PROXY, C2, CDN], "internal": [True, True, False, False]}),
        )
        eng.register_arrow("c2_candidates", pa.table({"kind": ["ip"], "src": [SRC], "dst": [C2]}))
        eng.register_arrow("c2_idle_srcs", pa.table({"src": pa.array([], pa.string())}))
        eng.register_arrow("c2_conn_hours", eng.query(C2_CONN_HOURS_SQL))
        (facts,) = eng.query(load_sql(PKG, "c2_evidence.sql"), {"window_hours": 1.0}).to_pylist()
    finally:
        eng.close()
    assert (facts["nosni"], facts["ssl_n"]) == (3, 3)


def test_beacon_pairs_are_keyed_by_names_never_by_an_address_written_as_one() -> None:
    """beacon_sessions.sql: an IP-literal SNI or a Host that is the address itself (port or
    not) makes no 'tls-sni'/'http-host' pair beside the 'ip' pair of the same sessions; a
    port and a root dot are no part of the name a pair is keyed by."""
    eng = _engine()
    try:
        eng.register_arrow(
            "ip_class",
            pa.table({"ip": [SRC, PROXY, C2, CDN], "internal": [True, True, False, False]}),
        )
        eng.register_arrow(
            "http",
            zeek_table(
                "http",
                [
                    _row(5, C2, method="GET", uri="/", host=f"{C2}:8443", trans_depth=1),
                    _row(9, CDN, method="GET", uri="/", host="Static.Example.NET.:8080"),
                ],
            ),
        )
        eng.create_derived_views()
        got = eng.query(load_sql(PKG, "beacon_sessions.sql")).to_pylist()
    finally:
        eng.close()
    assert sorted((r["kind"], r["dst"]) for r in got if r["kind"] != "ip") == [
        ("http-host", "static.example.net"),
        ("tls-sni", "cdn.example.net"),
    ]
