"""The detectors' helper queries on hand-built tables, against what their headers promise:
http_shape.sql (DQ-NET-004's request shape of each internal -> external HTTP pair) and
smb_clients.sql (how many internal hosts open SMB sessions to a host: DQ-NET-006's server
test). Each table holds the rows that must be counted beside the look-alikes that must not."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from duqhunt.detectors.base import load_sql
from duqhunt.detectors.net.beacon import C2_CONN_HOURS_SQL
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.sources.net.zeek_schema import canonical_schema
from testsupport import ip_class_table, zeek_table

PKG = "duqhunt.detectors.net"
C2 = "198.51.100.7"
UA_A = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"
UA_B = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _query(sql: str, tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
    eng = DuckDBEngine()
    try:
        for name, table in tables.items():
            eng.register_arrow(name, table)
        _derived_views(eng, set(tables))
        return eng.query(sql).to_pylist()
    finally:
        eng.close()


def _derived_views(eng: DuckDBEngine, have: set[str]) -> None:
    """The engine's derived views (http_named...) over the logs registered, the others empty."""
    for kind in ("dns", "files", "http"):
        if kind not in have:
            eng.register_arrow(kind, canonical_schema(kind).empty_table())
    eng.create_derived_views()


def _req(src: str, dst: str, method: str, uri: str, host: str | None, ua: str) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000.0,
        "uid": "C1",
        "id_orig_h": src,
        "id_orig_p": 50000,
        "id_resp_h": dst,
        "id_resp_p": 80,
        "method": method,
        "uri": uri,
        "host": host,
        "user_agent": ua,
    }


def test_http_shape_counts_posts_root_uris_and_bare_address_hosts_per_pair() -> None:
    rows = [
        _req("10.0.0.5", C2, "POST", "/", C2, UA_A),  # Duqu's shape: POST / to a bare IP
        _req("10.0.0.5", C2, "post", "/", f"{C2}:8080", UA_A),  # method case, with a port
        _req("10.0.0.5", C2, "POST", "/", "", UA_A),  # an empty Host names nothing
        _req("10.0.0.5", C2, "GET", "/", None, UA_A),  # no Host header at all
        _req("10.0.0.5", C2, "GET", "/", "[2001:db8::7]", UA_A),  # a bare IPv6 literal
        _req("10.0.0.5", C2, "GET", "/index.html", "www.example.com", UA_B),  # a name
        _req("10.0.0.5", C2, "GET", "/a/", "cdn2.example.net", UA_A),  # not the root
        _req("10.0.0.5", C2, "PUT", "/up", "cdn2.example.net", UA_A),  # an upload, not a POST
        _req("10.0.0.5", C2, "OPTIONS", "*", "cdn2.example.net", UA_A),  # the server, not /
        _req("10.0.0.6", C2, "GET", "/", "www.example.com", UA_B),  # another pair
        _req("10.0.0.5", "10.0.0.9", "POST", "/", "10.0.0.9", UA_A),  # internal destination
        _req("203.0.113.5", "10.0.0.5", "POST", "/", "10.0.0.5", UA_A),  # inbound
    ]
    got = _query(
        load_sql(PKG, "http_shape.sql"),
        {
            "http": zeek_table("http", rows),
            "ip_class": ip_class_table(["10.0.0.5", "10.0.0.6", "10.0.0.9"], [C2, "203.0.113.5"]),
        },
    )
    by_pair = {(r["src"], r["dst"]): r for r in got}
    assert set(by_pair) == {("10.0.0.5", C2), ("10.0.0.6", C2)}
    assert by_pair[("10.0.0.5", C2)] == {
        "src": "10.0.0.5",
        "dst": C2,
        "requests": 9,
        "posts": 3,
        "root_uris": 5,
        "bare_ip_hosts": 5,
        "ua_min": UA_A,
        "ua_max": UA_B,
    }
    assert by_pair[("10.0.0.6", C2)] == {
        "src": "10.0.0.6",
        "dst": C2,
        "requests": 1,
        "posts": 0,
        "root_uris": 1,
        "bare_ip_hosts": 0,
        "ua_min": UA_B,
        "ua_max": UA_B,
    }


def _smb(src: str, dst: str, port: int) -> dict[str, Any]:
    return {
        "ts": 1_700_000_000.0,
        "uid": f"C{src}{dst}{port}",
        "id_orig_h": src,
        "id_orig_p": 50000,
        "id_resp_h": dst,
        "id_resp_p": port,
        "proto": "tcp",
    }


def test_smb_clients_counts_distinct_internal_clients_on_139_and_445() -> None:
    fs, ws = "10.0.1.20", "10.1.0.5"
    rows = [
        *(_smb(f"10.1.0.{10 + i}", fs, 445) for i in range(4)),
        _smb("10.1.0.10", fs, 445),  # the same client again
        _smb("10.1.0.30", fs, 139),  # SMB over NetBIOS
        _smb("10.1.0.31", fs, 3389),  # not SMB
        _smb("203.0.113.9", fs, 445),  # an external client
        _smb("10.50.0.10", ws, 445),
    ]
    got = _query(
        load_sql(PKG, "smb_clients.sql"),
        {
            "conn": zeek_table("conn", rows),
            "ip_class": ip_class_table(
                [fs, ws, "10.50.0.10", "10.1.0.30", "10.1.0.31"]
                + [f"10.1.0.{10 + i}" for i in range(4)],
                ["203.0.113.9"],
            ),
        },
    )
    assert {r["ip"]: r["clients"] for r in got} == {fs: 5, ws: 1}


def test_relay_sessions_are_the_smb_sessions_no_egress_hosts_open_to_internal_hosts() -> None:
    """relay_sessions.sql, DQ-NET-006's input: a periodicity.sql session row for every SMB
    session (445 or 139) from a no-egress host to an internal host (`zones`), its bytes what the
    originator sent: orig_ip_bytes, orig_bytes where the log has no IP byte count, 0 where it
    has neither (a byte count is never negative). Egress sources, other ports, destinations
    outside `zones` and rows without a time are not sessions."""
    inside, egress, bridge, c2 = "10.9.0.5", "10.1.0.5", "10.1.0.7", "198.51.100.7"

    def c(
        ts: float | None, src: str, dst: str, port: int, ip_bytes: int | None, payload: int | None
    ) -> dict[str, Any]:
        return {
            **_smb(src, dst, port),
            "ts": ts,
            "orig_ip_bytes": ip_bytes,
            "orig_bytes": payload,
        }

    conn = [
        c(10.0, inside, bridge, 445, 420, 300),
        c(20.0, inside, bridge, 139, None, 300),  # no IP byte count: the payload
        c(30.0, inside, bridge, 445, None, None),  # no byte count at all
        c(40.0, inside, bridge, 3389, 420, 300),  # not SMB
        c(50.0, inside, c2, 445, 420, 300),  # not a host of the zones
        c(None, inside, bridge, 445, 420, 300),  # no time
        c(60.0, egress, bridge, 445, 420, 300),  # a source with egress of its own
    ]
    zones = pa.table({"ip": [inside, egress, bridge], "zone": ["no-egress", "egress", "egress"]})
    got = _query(
        load_sql(PKG, "relay_sessions.sql"), {"conn": zeek_table("conn", conn), "zones": zones}
    )
    row = {"kind": "smb", "src": inside, "dst": bridge, "proto": "tcp"}
    assert sorted(got, key=lambda r: r["ts"]) == [
        {**row, "ts": 10.0, "bytes": 420.0, "port": 445},
        {**row, "ts": 20.0, "bytes": 300.0, "port": 139},
        {**row, "ts": 30.0, "bytes": 0.0, "port": 445},
    ]


def test_beacon_sessions_one_row_per_contact_from_inside_out() -> None:
    """beacon_sessions.sql, DQ-NET-002's input: every connection from an internal source to an
    external address ('ip'), a further request on a kept-alive HTTP connection ('ip' again), the
    Host and TLS server name it asked for ('http-host', 'tls-sni', lower case, never empty or
    the bare address itself), and a request to an internal web proxy attributed to the client
    and the destination it names, port stripped. Nothing inbound, internal or without a time."""
    t = 1_700_000_000.0
    src, c2, proxy = "10.0.0.5", "198.51.100.7", "10.0.0.60"

    def c(ts: float | None, s: str, d: str, port: int = 443, **kw: Any) -> dict[str, Any]:
        return {
            "ts": ts,
            "uid": "C",
            "id_orig_h": s,
            "id_orig_p": 50000,
            "id_resp_h": d,
            "id_resp_p": port,
            "proto": "tcp",
            **kw,
        }

    conn = [
        c(t, src, c2, orig_ip_bytes=900, orig_bytes=700),
        c(t + 1, src, c2, orig_bytes=700),  # no IP byte count: the payload count
        c(t + 2, src, "198.51.100.8"),  # neither: 0
        c(t + 3, "10.0.0.6", c2, 53, proto="udp", orig_ip_bytes=60),
        c(t + 4, src, "10.0.0.9", 445, orig_ip_bytes=5000),  # internal
        c(t + 5, "203.0.113.5", src, 3389, orig_ip_bytes=5000),  # inbound
        c(None, src, c2, orig_ip_bytes=900),  # no time
        c(t + 6, "203.0.113.5", c2, orig_ip_bytes=900),  # transit: outside to outside
    ]

    def h(ts: float | None, d: str, depth: int, host: str | None, **kw: Any) -> dict[str, Any]:
        return {
            **c(ts, kw.pop("s", src), d, kw.pop("port", 80)),
            "trans_depth": depth,
            "host": host,
            "method": kw.pop("method", "GET"),
            "uri": kw.pop("uri", "/"),
            **kw,
        }

    http = [
        h(t + 10, c2, 1, "Update.Example.COM", request_body_len=300),
        h(t + 11, c2, 2, "update.example.com"),  # kept alive: a contact of its own
        h(t + 12, c2, 3, c2, request_body_len=50),  # Host is the address: no name
        h(t + 13, c2, 1, ""),
        h(t + 14, c2, 1, None),
        h(None, c2, 2, "update.example.com"),
        h(t + 15, "10.0.0.9", 1, "intranet", uri="/x"),  # internal, not a proxy request
        h(t + 15.5, "10.0.0.9", 2, "intranet", uri="/y"),  # kept alive, internal all the same
        h(t + 15, "10.0.0.9", 1, "dav.corp", method="CHECKOUT", uri="/doc"),  # WebDAV inside
        h(t + 16, src, 1, "www.example.com", s="203.0.113.5"),  # inbound
        h(t + 17, c2, 2, "www.example.com", s="203.0.113.5"),  # transit
        # through the proxy: CONNECT, absolute URIs (any letter case), an internal target
        h(
            t + 20,
            proxy,
            1,
            "c2.example.net:443",
            port=8080,
            method="CONNECT",
            uri="c2.example.net:443",
        ),
        h(
            t + 21,
            proxy,
            1,
            "198.51.100.9",
            port=8080,
            method="POST",
            uri="http://198.51.100.9/",
            request_body_len=2048,
        ),
        h(t + 22, proxy, 1, "Portal.Example.org", port=8080, uri="HTTPS://Portal.Example.org/x"),
        h(t + 23, proxy, 1, "10.0.0.9:445", port=8080, method="connect", uri="10.0.0.9:445"),
        h(t + 24, proxy, 1, "", port=8080, method="CONNECT", uri=":443"),
        h(t + 25, proxy, 1, "www.example.com", port=8080, uri="/index.html"),  # not proxy form
        h(None, proxy, 1, "c2.example.net:443", port=8080, method="CONNECT", uri="x:443"),
    ]
    ssl = [
        {**c(t + 30, src, c2), "server_name": "Mail.Example.net"},
        {**c(t + 31, src, c2), "server_name": ""},
        {**c(t + 32, src, c2), "server_name": None},
        {**c(t + 33, src, "10.0.0.9"), "server_name": "intranet.corp"},
        {**c(None, src, c2), "server_name": "mail.example.net"},
        {**c(t + 34, "203.0.113.5", c2), "server_name": "mail.example.net"},  # transit
    ]
    internal = [src, "10.0.0.6", "10.0.0.9", proxy]
    external = [c2, "198.51.100.8", "203.0.113.5"]
    got = _query(
        load_sql(PKG, "beacon_sessions.sql"),
        {
            "conn": zeek_table("conn", conn),
            "http": zeek_table("http", http),
            "ssl": zeek_table("ssl", ssl),
            "ip_class": ip_class_table(internal, external),
        },
    )
    rows = sorted(
        (r["kind"], r["src"], r["dst"], r["ts"], r["bytes"], r["proto"], r["port"]) for r in got
    )
    assert rows == sorted(
        [
            ("ip", src, c2, t, 900.0, "tcp", 443),
            ("ip", src, c2, t + 1, 700.0, "tcp", 443),
            ("ip", src, "198.51.100.8", t + 2, 0.0, "tcp", 443),
            ("ip", "10.0.0.6", c2, t + 3, 60.0, "udp", 53),
            ("http-host", src, "update.example.com", t + 10, 300.0, "tcp", 80),
            ("ip", src, c2, t + 11, 0.0, "tcp", 80),
            ("http-host", src, "update.example.com", t + 11, 0.0, "tcp", 80),
            ("ip", src, c2, t + 12, 50.0, "tcp", 80),
            ("http-host", src, "c2.example.net", t + 20, 0.0, "tcp", 8080),
            ("ip", src, "198.51.100.9", t + 21, 2048.0, "tcp", 8080),
            ("http-host", src, "portal.example.org", t + 22, 0.0, "tcp", 8080),
            ("tls-sni", src, "mail.example.net", t + 30, 0.0, "tcp", 443),
        ]
    )


def test_c2_evidence_counts_shapes_and_idle_hours_as_its_header_says() -> None:
    """c2_conn_hours.sql then c2_evidence.sql, DQ-NET-002's protocol and timing facts per
    candidate: POST / (or /?..., or the proxy form http://ip/) to a bare-IP Host, 443/tcp
    sessions with data both ways that Zeek did not see as TLS, TLS without a server name, and
    the pair's clock hours in which its source showed no user activity (a contact to an
    external address that is neither a candidate of the host nor routine for it: seen in more
    than half of the window's hours)."""
    t0 = 1_699_999_200.0  # on an hour boundary
    v, w, proxy = "10.0.0.5", "10.0.0.6", "10.0.0.60"
    c2, n443, quiet = "198.51.100.7", "198.51.100.8", "198.51.100.9"

    def at(hour: int) -> float:
        return t0 + hour * 3600.0 + 60.0

    def c(hour: int, s: str, d: str, port: int, **kw: Any) -> dict[str, Any]:
        return {
            "ts": at(hour),
            "uid": "C",
            "id_orig_h": s,
            "id_orig_p": 50000,
            "id_resp_h": d,
            "id_resp_p": port,
            "proto": "tcp",
            "orig_bytes": 300,
            "resp_bytes": 900,
            **kw,
        }

    conn = [
        *(c(h, v, c2, 80, service="http") for h in (0, 1, 2, 2)),
        c(0, v, n443, 443),  # no TLS seen, data both ways
        c(1, v, n443, 443, service="ssl"),
        c(1, v, n443, 443, resp_bytes=0),  # nothing came back
        c(3, v, n443, 443, service="ssl,http"),
        c(3, v, n443, 443, orig_bytes=None, resp_bytes=50),
        c(3, v, n443, 443, orig_bytes=1, resp_bytes=1),  # one byte each way is data
        c(3, v, n443, 8443),
        # the user at v: a news site in hours 1 and 5, a shop in hours 6-10 (5 of 10 hours: not
        # routine); an agent's server in hours 0-5 (6 of 10: routine) and NTP every hour
        # (the news site's address sorts before the candidates': only an equal one is theirs)
        *(c(h, v, "104.16.0.1", 443, service="ssl") for h in (1, 5)),
        *(c(h, v, "203.0.113.80", 443, service="ssl") for h in range(6, 11)),
        *(c(h, v, "198.51.100.50", 443, service="ssl") for h in range(6)),
        *(c(h, v, "198.51.100.123", 123, proto="udp") for h in range(10)),
        c(0, v, "10.0.0.9", 445),  # internal: no activity
        c(0, w, "93.184.216.34", 443, service="ssl"),  # w's activity is not looked at
        c(7, w, c2, 80, service="http"),  # a second source of the C&C, apart from v's
    ]

    def h(hour: int, s: str, d: str, method: str, uri: str, host: str | None) -> dict[str, Any]:
        return {**c(hour, s, d, 80), "method": method, "uri": uri, "host": host}

    http = [
        h(0, v, c2, "POST", "/", c2),
        h(1, v, c2, "post", "/?id=5", f"{c2}:80"),
        h(2, v, c2, "GET", "/", c2),
        h(2, v, c2, "POST", "/upload", c2),
        h(4, v, proxy, "POST", f"http://{c2}/", c2),  # through the proxy
        h(4, v, c2, "POST", "/", ""),
        h(4, v, c2, "POST", "/", None),
        h(4, v, c2, "POST", "/", "update.example.com"),  # another destination
        h(5, w, "203.0.113.5", "POST", "/", "mail.example.net"),
        h(0, w, "203.0.113.5", "GET", "/inbox", "mail.example.net"),  # an hour TLS has too
    ]

    def s(hour: int | None, src: str, d: str, sni: str | None) -> dict[str, Any]:
        row = c(0, src, d, 443)
        row.update({"ts": None if hour is None else at(hour), "server_name": sni})
        return row

    ssl = [
        s(0, v, c2, None),
        s(0, v, c2, ""),
        s(0, v, c2, "cdn.example.com"),
        s(0, v, c2, "198.51.100.7"),  # an address as SNI names no server (RFC 6066 3)
        s(0, v, c2, "2001:db8::7"),
        s(0, "10.0.0.7", c2, None),  # a host that is no candidate's source: nobody's session
        s(0, w, "203.0.113.5", "Mail.Example.NET"),
        s(3, w, "203.0.113.5", "mail.example.net"),
        s(None, w, "203.0.113.5", "mail.example.net"),
        s(7, w, "203.0.113.5", "other.example.net"),
    ]
    candidates = pa.table(
        {
            "kind": ["ip", "ip", "ip", "ip", "tls-sni"],
            "src": [v, v, w, w, w],
            "dst": [c2, n443, quiet, c2, "mail.example.net"],
        }
    )
    internal = [v, w, proxy, "10.0.0.9"]
    external = [
        c2,
        n443,
        quiet,
        "104.16.0.1",
        "93.184.216.34",
        "203.0.113.80",
        "198.51.100.50",
        "198.51.100.123",
        "203.0.113.5",
    ]
    eng = DuckDBEngine()
    try:
        eng.register_arrow("conn", zeek_table("conn", conn))
        eng.register_arrow("http", zeek_table("http", http))
        eng.register_arrow("ssl", zeek_table("ssl", ssl))
        _derived_views(eng, {"http"})
        eng.register_arrow("ip_class", ip_class_table(internal, external))
        eng.register_arrow("c2_candidates", candidates)
        eng.register_arrow("c2_idle_srcs", pa.table({"src": pa.array([v], pa.string())}))
        eng.register_arrow("c2_conn_hours", eng.query(C2_CONN_HOURS_SQL))
        got = eng.query(load_sql(PKG, "c2_evidence.sql"), {"window_hours": 10.0}).to_pylist()
    finally:
        eng.close()
    cols = (
        "post_root_bare",
        "http_n",
        "plain_443",
        "conns_443",
        "nosni",
        "ssl_n",
        "pair_hours",
        "idle_hours",
        "active_hours",
        "conns",
        "data_conns",
    )
    assert [(r["kind"], r["src"], r["dst"], *(r[k] for k in cols)) for r in got] == [
        # active hours of v: 1 and 5 (news), 6-10 (the shop)
        ("ip", v, c2, 3, 5, 0, 0, 4, 5, 4, 3, 7, 4, 4),  # hours 0, 1, 2, 4; 1 is active
        # hours 0, 1, 3; the 443 session to which nothing came back carried no data
        ("ip", v, n443, 0, 0, 2, 6, 0, 0, 3, 2, 7, 7, 6),
        ("ip", w, c2, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1),
        ("ip", w, quiet, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        ("tls-sni", w, "mail.example.net", 0, 2, 0, 0, 0, 0, 3, 3, 0, 0, 0),  # hours 0, 3, 5
    ]


def test_bridge_correlation_counts_relayed_sessions_followed_by_each_way_out() -> None:
    """bridge_correlation.sql, DQ-NET-007: per bridge (a relay edge's destination) and external
    address, how many relayed SMB sessions (139/445 on a relay edge) its outbound connections
    follow within the window, beside the share chance gives (outbound x window / observation).
    Behind a web proxy the way out is the session to the proxy and the address is its request's
    target (CONNECT host or absolute-URI host, port left out), else the proxy itself."""
    from duqhunt.detectors.net.zones import BRIDGE_CORRELATION_SQL

    bridge, proxy, c2, wu = "10.1.0.5", "10.0.0.60", "198.51.100.7", "203.0.113.80"
    s1, s2 = "10.50.0.10", "10.50.0.11"

    def c(ts: float, src: str, dst: str, port: int, uid: str = "C") -> dict[str, Any]:
        return {
            "ts": ts,
            "uid": uid,
            "id_orig_h": src,
            "id_orig_p": 50000,
            "id_resp_h": dst,
            "id_resp_p": port,
            "proto": "tcp",
        }

    conn = [
        # relayed: s1 at 1000, 2000, 3000 on 445; s2 at 1500 and 4000 on 139 and 445
        *(c(t, s1, bridge, 445) for t in (1000.0, 2000.0, 3000.0)),
        c(1500.0, s2, bridge, 139),
        c(4000.0, s2, bridge, 445),
        c(2500.0, s1, bridge, 3389),  # not SMB
        c(1200.0, "10.1.0.7", bridge, 445),  # not a relay edge
        c(1000.0, s1, "10.1.0.8", 445),  # not to the bridge
        # the bridge's way out: 2 s, 3 s and 4 s after; 10 s after and 1 s before do not count
        *(c(t, bridge, c2, 443) for t in (1002.0, 1503.0, 2004.0, 3010.0, 999.0)),
        c(4000.0, bridge, c2, 443),  # in the same instant as a relayed session: it follows
        c(5000.0, bridge, wu, 443),  # never after a relayed session
        c(1001.0, bridge, "10.0.1.20", 445),  # internal: not a way out
        c(1001.5, bridge, "fd00::20", 445),  # internal too (an address sorting after all)
        c(2001.0, bridge, proxy, 8080, "UP1"),  # CONNECT evil.example.net:443
        c(3002.0, bridge, proxy, 8080, "UP2"),  # GET http://203.0.113.9/x
        c(4001.0, bridge, proxy, 8080, "UP3"),  # no request logged: the proxy itself
        c(2003.0, bridge, proxy, 8080, "UP4"),  # a request without a Host: the proxy too
        c(3003.0, bridge, proxy, 8080, "UP5"),  # the proxy's own page: the proxy
        # a second bridge (its address sorts before the first's), counted on its own
        c(6000.0, s2, "10.1.0.4", 445),
        c(6001.0, "10.1.0.4", c2, 443),
    ]

    def h(uid: str, method: str, uri: str, host: str) -> dict[str, Any]:
        return {**c(0.0, bridge, proxy, 8080, uid), "method": method, "uri": uri, "host": host}

    http = [
        h("UP1", "CONNECT", "evil.example.net:443", "evil.example.net:443"),
        h("UP2", "GET", "http://203.0.113.9/x", "203.0.113.9"),
        h("UP4", "CONNECT", ":443", ""),
        h("UP5", "GET", "/status", "proxy.corp.example"),  # origin form: no target named
    ]
    internal = [bridge, proxy, s1, s2, "10.1.0.4", "10.1.0.6", "10.1.0.7", "10.1.0.8"]
    internal += ["10.0.1.20", "fd00::20"]
    eng = DuckDBEngine()
    try:
        eng.register_arrow("conn", zeek_table("conn", conn))
        eng.register_arrow("http", zeek_table("http", http))
        _derived_views(eng, {"http"})
        eng.register_arrow("ip_class", ip_class_table(internal, [c2, wu, "203.0.113.9"]))
        # 10.1.0.7 relays through another bridge, and uses this one's file share: not relayed
        edges = {"src": [s1, s2, "10.1.0.7", s2], "dst": [bridge, bridge, "10.1.0.6", "10.1.0.4"]}
        eng.register_arrow("relay_edges", pa.table(edges))
        got = eng.query(BRIDGE_CORRELATION_SQL, {"corr_window_s": 5.0, "window_s": 10000.0})
        # a short observation window: chance's share is a share, at most all sessions
        short = eng.query(BRIDGE_CORRELATION_SQL, {"corr_window_s": 5.0, "window_s": 10.0})
    finally:
        eng.close()
    assert [(r["bridge"], r["ext"], r["baseline"]) for r in short.to_pylist()] == [
        ("10.1.0.4", c2, 0.5),
        (bridge, c2, 1.0),  # 6 x 5 / 10 = 3, capped
        (bridge, proxy, 1.0),
        (bridge, "203.0.113.9", 0.5),
        (bridge, "evil.example.net", 0.5),
    ]
    assert [
        (
            r["bridge"],
            r["ext"],
            r["matched"],
            r["relayed"],
            r["outbound"],
            r["fraction"],
            r["baseline"],
        )
        for r in got.to_pylist()
    ] == [
        ("10.1.0.4", c2, 1, 1, 1, 1.0, 5.0 / 10000.0),
        (bridge, c2, 4, 5, 6, 0.8, 6 * 5.0 / 10000.0),
        (bridge, proxy, 3, 5, 3, 0.6, 3 * 5.0 / 10000.0),
        (bridge, "203.0.113.9", 1, 5, 1, 0.2, 5.0 / 10000.0),
        (bridge, "evil.example.net", 1, 5, 1, 0.2, 5.0 / 10000.0),
    ]


def test_proxies_are_internal_hosts_that_internal_clients_send_proxy_requests_to() -> None:
    """proxies.sql: an internal address receiving CONNECT or absolute-URI requests from internal
    clients, with the number of clients; a proxy out on the internet, an internal web server
    and requests from outside do not make one."""
    proxy, web = "10.0.0.60", "10.0.0.80"

    def h(src: str, dst: str, method: str, uri: str) -> dict[str, Any]:
        return {
            "ts": 1_700_000_000.0,
            "uid": "C",
            "id_orig_h": src,
            "id_orig_p": 50000,
            "id_resp_h": dst,
            "id_resp_p": 8080,
            "method": method,
            "uri": uri,
            "host": "example.com",
        }

    http = [
        h("10.1.0.10", proxy, "CONNECT", "example.com:443"),
        h("10.1.0.11", proxy, "GET", "HTTP://example.com/"),
        h("10.1.0.11", proxy, "connect", "example.com:443"),
        # proxies outside (addresses on either side of the internal ones in text order)
        h("10.1.0.12", "203.0.113.50", "CONNECT", "example.com:443"),
        h("10.1.0.12", "1.0.0.2", "CONNECT", "example.com:443"),
        h("10.1.0.12", web, "GET", "/index.html"),  # an ordinary internal web server
        h("198.51.100.3", "10.0.0.90", "CONNECT", "example.com:443"),  # asked from outside
    ]
    internal = [proxy, web, "10.0.0.90", "10.1.0.10", "10.1.0.11", "10.1.0.12"]
    got = _query(
        load_sql(PKG, "proxies.sql"),
        {
            "http": zeek_table("http", http),
            "ip_class": ip_class_table(internal, ["203.0.113.50", "1.0.0.2", "198.51.100.3"]),
        },
    )
    assert got == [{"ip": proxy, "clients": 2}]


def test_rare_ua_flags_an_internal_host_sending_a_rare_second_user_agent_to_few_places() -> None:
    """rare_ua.sql (DQ-NET-003 "rare-user-agent"): an internal host with at least two
    User-Agents, one of which is seen on at most :rare_ua_hosts hosts of the whole log and
    reaches at most :max_dsts destinations, fewer than the host's main one. A host with one
    User-Agent, a rare one reaching more places, an external host, a common one and the empty
    User-Agent are not reported."""
    rare_ff = "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.2.9) Gecko Firefox/3.6.9"
    tools, paired = "curl/7.1 (rare, four places)", "Updater/2.0 (two hosts)"
    rows: list[dict[str, Any]] = []

    def browse(src: str, ua: str, dsts: int, tag: str = "site") -> None:
        for i in range(dsts):
            rows.append(_req(src, f"203.0.113.{i + 1}", "GET", "/", f"{tag}{i}.example", ua))

    for src in ("10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9", "203.0.113.200"):
        browse(src, UA_B, 5)  # everyone's browser, to five sites
    browse("10.1.0.5", rare_ff, 1, "c2-")  # the Duqu shape: reported
    browse("10.1.0.6", tools, 4, "repo")  # rare but to four places: not
    browse("10.1.0.7", rare_ff.replace("3.6.9", "3.6.8"), 3, "c2-")  # three places: reported
    browse("10.1.0.8", paired, 1, "upd")  # on two hosts, the limit: reported on both
    browse("10.1.0.9", paired, 1, "upd")
    browse("203.0.113.200", rare_ff, 1, "c2-")  # an external client: not
    browse("10.1.0.10", UA_A, 2)  # one User-Agent only: nothing to compare with
    browse("10.1.0.11", UA_B, 2)  # the main UA reaches two, the rare one as many: not fewer
    browse("10.1.0.11", "Odd/1.0", 2, "odd")
    browse("10.1.0.12", UA_B, 5)
    browse("10.1.0.12", "", 1, "blank")  # an empty User-Agent is no User-Agent
    internal = [f"10.1.0.{i}" for i in range(5, 13)]
    got = _query(
        load_sql(PKG, "rare_ua.sql").replace(":rare_ua_hosts", "2").replace(":max_dsts", "3"),
        {"http": zeek_table("http", rows), "ip_class": ip_class_table(internal, ["203.0.113.200"])},
    )
    assert [(r["src"], r["user_agent"], r["dsts"], r["main_dsts"], r["uas"]) for r in got] == [
        ("10.1.0.5", rare_ff, 1, 5, 2),
        ("10.1.0.7", rare_ff.replace("3.6.9", "3.6.8"), 3, 5, 2),
        ("10.1.0.8", paired, 1, 5, 2),
        ("10.1.0.9", paired, 1, 5, 2),
    ]
    assert [r["ua_hosts"] for r in got] == [2, 1, 2, 2]  # rare_ff: 10.1.0.5 and the outsider


def test_jpeg_post_counts_bare_address_uploads_and_the_ones_a_proxy_forwards() -> None:
    """jpeg_post.sql (DQ-NET-003 "jpeg-post-bare-ip"): a JPEG POSTed to / (or /?query) of an
    external address named by a bare address. Sent to an internal explicit proxy, the request
    line is absolute (http://<Host>/) and the destination is the address it names. Another
    path, another MIME type, a GET, an internal target behind the proxy and a plain request to
    the proxy itself are not counted."""
    proxy, c2, c2b, c2c = "10.0.0.60", "198.51.100.8", "198.51.100.9", "198.51.100.10"

    def up(
        src: str,
        dst: str,
        uri: str,
        host: str,
        uid: str,
        mime: str = "image/jpeg",
        method: str = "POST",
    ) -> dict[str, Any]:
        return {
            **_req(src, dst, method, uri, host, UA_A),
            "uid": uid,
            "orig_mime_types": [mime],
            "request_body_len": 1000,
        }

    rows = [
        up("10.0.0.5", C2, "/", C2, "A1"),
        up("10.0.0.5", C2, "/?k=1", C2, "A2"),
        up("10.0.0.5", C2, "/", C2, "A2"),  # a second upload in the same session
        up("10.0.0.5", proxy, f"http://{c2}/", c2, "P1"),
        up("10.0.0.6", proxy, f"http://{c2b}/upload.php", c2b, "P2"),  # not the root
        up("10.0.0.6", proxy, f"http://{c2c}:8080/?id=7", f"{c2c}:8080", "P3"),
        up("10.0.0.7", C2, "/", C2, "B1", mime="image/png"),
        up("10.0.0.7", C2, "/", C2, "B2", method="GET"),
        up("10.0.0.7", C2, "/photo", C2, "B3"),
        up("10.0.0.8", proxy, "http://10.0.0.9/", "10.0.0.9", "B4"),  # an internal target
        up("10.0.0.8", proxy, "/", proxy, "B5"),  # to the proxy itself, not through it
    ]
    eng = DuckDBEngine()
    try:
        eng.register_arrow("http", zeek_table("http", rows))
        internal = ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9", proxy]
        eng.register_arrow("ip_class", ip_class_table(internal, [C2, c2, c2b, c2c]))
        _derived_views(eng, {"http", "ip_class"})
        got = eng.query(load_sql(PKG, "jpeg_post.sql")).to_pylist()
    finally:
        eng.close()
    assert [
        (r["src"], r["dst"], r["sessions"], r["uploads"], r["bytes_up"], r["via_proxy"])
        for r in got
    ] == [
        ("10.0.0.5", C2, 2, 3, 3000, 0),
        ("10.0.0.5", c2, 1, 1, 1000, 1),
        ("10.0.0.6", c2c, 1, 1, 1000, 1),
    ]


def _with_dns_answers(tables: dict[str, pa.Table], sql: str) -> list[dict[str, Any]]:
    """Run ``sql`` with the engine's own views (dns_answers: one row per DNS answer)."""
    return _query(sql, tables)


def test_host_names_take_kerberos_machine_accounts_and_not_user_principals() -> None:
    """host_names.sql, rank 3: a host that asks for tickets as a machine account
    ("WS223$/REALM") is named by the account without its "$"; a user principal (no "$/"), an
    account that is only "$/REALM" and a machine account asking from outside name nothing.
    Rank 4: a DNS answer that is an internal address."""
    realm = "CORP.EXAMPLE"

    def krb(ts: float, ip: str, client: str | None) -> dict[str, Any]:
        return {"ts": ts, "uid": "K", "id_orig_h": ip, "id_resp_h": "10.0.0.2", "client": client}

    kerberos = [
        krb(10.0, "10.0.0.21", f"ws223$/{realm}"),
        krb(20.0, "10.0.0.21", f"WS223$/{realm}"),  # the same account in other case
        krb(15.0, "10.0.0.22", f"alice/{realm}"),  # a user
        krb(16.0, "10.0.0.23", f"$/{realm}"),  # no name before the "$"
        krb(17.0, "10.0.0.24", None),
        krb(18.0, "198.51.100.7", f"EVIL$/{realm}"),  # not an internal address
    ]

    def dns(ts: float, query: str, answers: list[str]) -> dict[str, Any]:
        return {"ts": ts, "uid": "D", "id_orig_h": "10.0.0.21", "query": query, "answers": answers}

    # rank 4: a DNS answer names an internal address (the addresses of the class table only;
    # one that sorts before them and one after, an external one, name nothing)
    answers = [
        dns(30.0, "fs01.corp.example", ["10.0.0.22"]),
        dns(31.0, "old.corp.example", ["10.0.0.1"]),
        dns(32.0, "evil.example", ["198.51.100.7"]),
    ]
    empty = {k: zeek_table(k, []) for k in ("ntlm", "dhcp")}
    got = _with_dns_answers(
        {
            **empty,
            "dns": zeek_table("dns", answers),
            "kerberos": zeek_table("kerberos", kerberos),
            "ip_class": ip_class_table([f"10.0.0.{i}" for i in range(21, 25)], ["198.51.100.7"]),
        },
        load_sql(PKG, "host_names.sql"),
    )
    assert [(r["ip"], r["name"], r["via"], r["rank"], r["seen"]) for r in got] == [
        ("10.0.0.21", "WS223", "kerberos", 3, 2),
        ("10.0.0.22", "FS01.CORP.EXAMPLE", "dns", 4, 1),
    ]
    assert (got[0]["first_ts"], got[0]["last_ts"]) == (10.0, 20.0)


def test_ip_names_collect_dns_sni_and_http_host_names_of_an_address() -> None:
    """ip_names.sql: the names an address is known by: DNS answers, TLS server names and HTTP
    Host headers, in lower case. An empty name, and a Host that is the address itself, are no
    names; a name may start with a digit."""
    ip, other = "93.184.216.34", "203.0.113.9"
    dns = [
        {"ts": 1.0, "uid": "D", "query": "WWW.Example.COM", "answers": [ip, other]},
        {"ts": 2.0, "uid": "D", "query": None, "answers": [ip]},
    ]
    ssl = [
        {"ts": 1.0, "uid": "S", "id_resp_h": ip, "server_name": "Cdn.Example.net"},
        {"ts": 2.0, "uid": "S", "id_resp_h": ip, "server_name": ""},
    ]
    http = [
        {"ts": 1.0, "uid": "H", "id_resp_h": ip, "host": "1drv.example"},  # sorts before ip
        {"ts": 2.0, "uid": "H", "id_resp_h": ip, "host": ip},  # the address, no name
        {"ts": 3.0, "uid": "H", "id_resp_h": ip, "host": ""},
    ]
    got = _with_dns_answers(
        {
            "dns": zeek_table("dns", dns),
            "ssl": zeek_table("ssl", ssl),
            "http": zeek_table("http", http),
        },
        load_sql(PKG, "ip_names.sql"),
    )
    assert sorted((r["ip"], r["name"], r["via"]) for r in got) == [
        (other, "www.example.com", "dns"),
        (ip, "1drv.example", "http"),
        (ip, "cdn.example.net", "sni"),
        (ip, "www.example.com", "dns"),
    ]


def test_direct_attempts_are_what_no_egress_hosts_originate_to_the_outside() -> None:
    """direct_attempts.sql: per no-egress host and external address, its connections (those
    without data are blocked attempts), with how many egress hosts reach the same address.
    An egress host's own connections, internal destinations and rows without a time are not
    attempts."""
    from duqhunt.detectors.net.zones import DIRECT_ATTEMPTS_SQL

    # egress hosts on both sides of the no-egress one in address order
    inside, egress, above, c2 = "10.9.0.5", "10.1.0.5", "10.9.0.50", "198.51.100.7"

    def c(ts: float | None, src: str, dst: str, state: str, data: int = 0) -> dict[str, Any]:
        return {
            "ts": ts,
            "uid": "C",
            "id_orig_h": src,
            "id_orig_p": 50000,
            "id_resp_h": dst,
            "id_resp_p": 443,
            "proto": "tcp",
            "conn_state": state,
            "orig_bytes": data,
            "resp_bytes": data,
        }

    conn = [
        c(10.0, inside, c2, "S0"),
        c(20.0, inside, c2, "REJ"),
        c(30.0, inside, c2, "SF", 500),  # one got through
        # a sensor that saw one direction only: one byte back is a session that reached it
        {**c(35.0, inside, c2, "SF"), "orig_bytes": 0, "resp_bytes": 1},
        c(None, inside, c2, "S0"),  # no time: not counted
        c(40.0, inside, "10.0.0.9", "S0"),  # internal
        c(50.0, egress, c2, "SF", 900),  # the egress host: reach, not an attempt
        c(60.0, egress, "203.0.113.5", "S0"),
        c(70.0, above, "203.0.113.5", "S0"),
    ]
    zones = pa.table({"ip": [inside, egress, above], "zone": ["no-egress", "egress", "egress"]})
    got = _query(
        DIRECT_ATTEMPTS_SQL,
        {
            "conn": zeek_table("conn", conn),
            "zones": zones,
            "ip_class": ip_class_table([inside, egress, above, "10.0.0.9"], [c2, "203.0.113.5"]),
        },
    )
    assert [
        (r["src"], r["dst"], r["n"], r["data_sessions"], r["rejected"], r["egress_hosts"])
        for r in got
    ] == [(inside, c2, 4, 2, 1, 1)]
    assert (got[0]["first_ts"], got[0]["last_ts"]) == (10.0, 35.0)


def test_pipes_are_the_named_pipes_and_ipc_connects_of_no_egress_hosts() -> None:
    """pipes.sql, the relay detector's pipe evidence: per no-egress source, destination and pipe,
    the PIPE_OPEN rows of smb_files, the named pipes of dce_rpc and the IPC$ tree connects of
    smb_mapping, each counted with its first and last time. Egress hosts (one whose address sorts
    below the no-egress host's, one above), file opens, rows without a pipe name and other
    shares are not pipes."""
    low, inside, high, srv = "10.1.0.5", "10.5.0.5", "10.9.0.5", "10.0.0.2"
    zones = pa.table(
        {"ip": [low, inside, high, srv], "zone": ["egress", "no-egress", "egress", "egress"]}
    )

    def f(ts: float, src: str, action: str, name: str | None) -> dict[str, Any]:
        return {"ts": ts, "id_orig_h": src, "id_resp_h": srv, "action": action, "name": name}

    def d(ts: float, src: str, pipe: str | None) -> dict[str, Any]:
        return {"ts": ts, "id_orig_h": src, "id_resp_h": srv, "named_pipe": pipe}

    def m(ts: float, src: str, path: str) -> dict[str, Any]:
        return {"ts": ts, "id_orig_h": src, "id_resp_h": srv, "path": path}

    smb_files, dce_rpc, smb_mapping = [], [], []
    for src in (low, inside, high):
        smb_files += [
            f(10.0, src, "SMB::PIPE_OPEN", "\\pipe\\x"),
            f(12.0, src, "SMB::PIPE_OPEN", "\\pipe\\x"),
        ]
        dce_rpc += [d(20.0, src, "\\pipe\\srvsvc")]
        smb_mapping += [m(30.0, src, f"\\\\{srv}\\IPC$"), m(31.0, src, f"\\\\{srv}\\ipc$")]
    smb_files += [
        f(14.0, inside, "SMB::FILE_OPEN", "report.docx"),
        f(15.0, inside, "SMB::PIPE_OPEN", None),
    ]
    dce_rpc += [d(21.0, inside, None)]
    smb_mapping += [m(32.0, inside, f"\\\\{srv}\\C$")]
    got = _query(
        load_sql(PKG, "pipes.sql"),
        {
            "zones": zones,
            "smb_files": zeek_table("smb_files", smb_files),
            "dce_rpc": zeek_table("dce_rpc", dce_rpc),
            "smb_mapping": zeek_table("smb_mapping", smb_mapping),
        },
    )
    assert sorted(
        (r["src"], r["dst"], r["pipe"], r["n"], r["first_ts"], r["last_ts"], r["via"]) for r in got
    ) == [
        (inside, srv, "IPC$", 2, 30.0, 31.0, "smb_mapping"),
        (inside, srv, "\\pipe\\srvsvc", 1, 20.0, 20.0, "dce_rpc"),
        (inside, srv, "\\pipe\\x", 2, 10.0, 12.0, "smb_files"),
    ]
