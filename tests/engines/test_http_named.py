"""The http_named view (engines/views.py): the one place an HTTP request's destination is read
from the Host header, a CONNECT target or an absolute URI, the same on DuckDB and Spark.

The cases follow the request-target forms of RFC 9112 3.2 (origin-form, absolute-form sent to
a proxy, authority-form of CONNECT), the Host header of RFC 9110 7.2 (host and optional port)
and the URI authority of RFC 3986 3.2 (userinfo, IP literals in brackets, an empty port)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from duqhunt.content import url_match_key
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.sources.net.zeek_schema import canonical_schema

# (method, uri, Host header) -> (host_name, host_port, path, proxy_form)
CASES: list[tuple[tuple[str, str | None, str | None], tuple[Any, ...]]] = [
    # origin-form: the Host header names the destination, letter case aside
    (("GET", "/a?b=1", "Evil.Example"), ("evil.example", None, "/a?b=1", 0)),
    (("POST", "/", "evil.example:8080"), ("evil.example", "8080", "/", 0)),
    (("GET", "/", "evil.example:80"), ("evil.example", "80", "/", 0)),
    # a fully qualified name with its root dot is the same name
    (("GET", "/x", "evil.example."), ("evil.example", None, "/x", 0)),
    (("GET", "/", "evil.example.:8080"), ("evil.example", "8080", "/", 0)),
    # IP literals: brackets are syntax, not part of the address; the port follows them
    (("GET", "/", "[2001:DB8::1]:8443"), ("2001:db8::1", "8443", "/", 0)),
    (("GET", "/", "[::1]"), ("::1", None, "/", 0)),
    (("POST", "/", "198.51.100.7:8080"), ("198.51.100.7", "8080", "/", 0)),
    # an IPv6 address written without brackets (not allowed) is kept whole, not cut at ':'
    (("GET", "/", "2001:db8::1"), ("2001:db8::1", None, "/", 0)),
    # an empty port is no port (RFC 3986 3.2.3)
    (("GET", "/", "evil.example:"), ("evil.example", None, "/", 0)),
    # no host at all
    (("GET", "/", ""), (None, None, "/", 0)),
    (("GET", "/", None), (None, None, "/", 0)),
    # absolute-form to a proxy: the URI's authority wins over the Host header, userinfo dropped
    (
        ("GET", "http://User@Evil.Example:8080/p?q=1", "proxy.corp:3128"),
        ("evil.example", "8080", "/p?q=1", 1),
    ),
    (("POST", "HTTP://198.51.100.7/", "198.51.100.7"), ("198.51.100.7", None, "/", 1)),
    (("GET", "https://evil.example", None), ("evil.example", None, "/", 1)),
    (("GET", "http://[2001:db8::2]:8080/z", None), ("2001:db8::2", "8080", "/z", 1)),
    # authority-form (CONNECT): the request-target is host:port; no path
    (("CONNECT", "evil.example:443", "evil.example:443"), ("evil.example", "443", None, 1)),
    (("CONNECT", "", "198.51.100.7:8443"), ("198.51.100.7", "8443", None, 1)),
    (("connect", "[2001:db8::3]:443", None), ("2001:db8::3", "443", None, 1)),
]


def _http_table() -> pa.Table:
    schema = canonical_schema("http")
    rows = [
        {"ts": 1_700_000_000.0 + i, "uid": f"C{i}", "method": m, "uri": u, "host": h}
        for i, ((m, u, h), _) in enumerate(CASES)
    ]
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema
    )


def _named(eng: Any) -> list[tuple[Any, ...]]:
    """The view as the engine's own create_derived_views makes it (beside the dialect views,
    which need the other logs, empty here)."""
    eng.register_arrow("http", _http_table())
    for kind in ("dns", "files"):
        eng.register_arrow(kind, canonical_schema(kind).empty_table())
    eng.create_derived_views()
    got = eng.query(
        "SELECT uid, host_name, host_port, path, proxy_form, url_key FROM http_named ORDER BY ts"
    ).to_pylist()
    return [
        (r["host_name"], r["host_port"], r["path"], int(r["proxy_form"]), r["url_key"]) for r in got
    ]


def _expected() -> list[tuple[Any, ...]]:
    out = []
    for _, (name, port, path, proxy) in CASES:
        key = None
        if name is not None and path is not None:
            # the key an indicator URL for this destination gets in the IOC table
            literal = f"[{name}]" if ":" in name else name
            key = url_match_key(f"http://{literal}{':' + port if port else ''}{path}")
        out.append((name, port, path, proxy, key))
    return out


def test_http_named_on_duckdb() -> None:
    eng = DuckDBEngine()
    try:
        got = _named(eng)
    finally:
        eng.close()
    assert got == _expected()


def test_http_named_identical_on_spark(spark_env: None) -> None:
    from duqhunt.engines.spark import SparkEngine

    eng = SparkEngine()
    try:
        got = _named(eng)
    finally:
        eng.close()
    assert got == _expected()
