"""DQ-NET-010: an interactive C&C session (detectors/net/interactive.py).

The rows are shaped after the OTRF LSASS_campaign sets (benchmarks/results-realnet.md): a victim
fetches a ~200 kB stage from an address with no name on an odd port and holds a session of
minutes with it; the sensor saw one direction (orig_bytes 0). Meterpreter and reverse shells
are not periodic, so DQ-NET-002 never scores them."""

from __future__ import annotations

from typing import Any

import pytest

from duqhunt.content import AllowEntry, AllowList, Indicator, IocPack
from duqhunt.detectors.base import HuntContext
from duqhunt.detectors.net.interactive import InteractiveSessionDetector
from duqhunt.detectors.outputs import InteractiveSession
from duqhunt.engines.duckdb import DuckDBEngine
from duqhunt.sources.net.zeek_schema import canonical_schema
from testsupport import ip_class_table, zeek_table

T0 = 1_692_161_643.5
VICTIM, C2, CDN = "192.168.1.41", "10.0.5.13", "203.0.113.80"
OTHERS = ["192.168.1.50", "192.168.1.51", "192.168.1.52"]


def _conn(i: int, src: str, dst: str, port: int, ts: float, dur: float, rb: int, **kw: Any):
    return {
        "ts": ts,
        "uid": f"C{i}",
        "id_orig_h": src,
        "id_orig_p": 50000 + i,
        "id_resp_h": dst,
        "id_resp_p": port,
        "proto": "tcp",
        "duration": dur,
        "orig_bytes": 0,
        "resp_bytes": rb,
        "conn_state": "SHR",
        **kw,
    }


def _stage_and_session(dst: str = C2, src: str = VICTIM) -> list[dict[str, Any]]:
    return [
        _conn(1, src, dst, 80, T0, 1.2, 403),
        _conn(2, src, dst, 8080, T0 + 42.0, 0.69, 204_532),  # the stage
        _conn(3, src, dst, 8080, T0 + 43.0, 199.8, 504_788, conn_state="OTH"),  # the session
    ]


def _answer(query: str, answer: str) -> dict[str, Any]:
    return {
        "ts": T0 - 5,
        "uid": f"D{query}",
        "id_orig_h": VICTIM,
        "id_resp_h": "192.168.1.1",
        "query": query,
        "answers": [answer],
    }


def _run(
    conn: list[dict[str, Any]],
    dns: list[dict[str, Any]] = (),  # type: ignore[assignment]
    packs: list[IocPack] = (),  # type: ignore[assignment]
    allowlists: list[AllowList] = (),  # type: ignore[assignment]
    no_dns: bool = False,
    **params: float,
) -> tuple[list[Any], HuntContext]:
    eng = DuckDBEngine()
    eng.register_arrow("conn", zeek_table("conn", conn))
    # the victim's everyday lookups: the sensor logs DNS answers
    everyday = [] if no_dns else [_answer("www.example.org", "203.0.113.250")]
    eng.register_arrow("dns", zeek_table("dns", [*everyday, *dns]))
    for kind in ("http", "ssl", "files"):
        eng.register_arrow(kind, canonical_schema(kind).empty_table())
    eng.create_derived_views()
    seen = {r["id_orig_h"] for r in conn} | {r["id_resp_h"] for r in conn}
    internal = sorted(ip for ip in seen | {VICTIM, *OTHERS} if ip.startswith("192.168."))
    external = sorted(seen - set(internal))
    eng.register_arrow("ip_class", ip_class_table(internal, external))
    ctx = HuntContext(
        engine=eng,
        internal=(),
        packs=list(packs),
        allowlists=list(allowlists),
        window=(T0, T0 + 3600.0),
        internal_hosts=len(internal),
        params=dict(params),
    )
    try:
        return InteractiveSessionDetector().run(ctx), ctx
    finally:
        eng.close()


def test_a_staged_session_to_an_unnamed_rare_address_is_found() -> None:
    findings, ctx = _run(_stage_and_session())
    assert len(findings) == 1
    f = findings[0]
    assert (f.detector, f.severity, f.confidence, f.stage) == (
        "DQ-NET-010",
        "medium",
        0.6,
        "command-and-control",
    )
    assert f.title == (
        f"{VICTIM} held a 3 min session with {C2} (ports 80 and 8080), an address nothing "
        "names and no other host reaches"
    )
    details = dict(f.details)
    assert details["longest_s"] == 199.8 and details["sessions"] == 3
    assert details["bytes"] == 403 + 204_532 + 504_788 and details["ports"] == "ports 80 and 8080"
    assert "0 bytes sent, 709,723 received" in f.evidence[0].summary
    assert f.first_seen == "2023-08-16T04:54:03.500Z"
    assert f.last_seen == "2023-08-16T04:58:06.300Z"  # the session's end: start + duration
    assert ctx.outputs.interactive == (InteractiveSession(VICTIM, C2, T0, 199.8, 0.6),)


def test_a_name_for_the_address_makes_it_an_ordinary_session() -> None:
    dns = [_answer("updates.example.org", C2)]
    assert _run(_stage_and_session(), dns)[0] == []


@pytest.mark.parametrize(("sources", "found"), [(2, 1), (3, 0)])
def test_an_address_many_hosts_reach_is_no_private_channel(sources: int, found: int) -> None:
    rows = _stage_and_session()
    rows += [
        _conn(10 + i, h, C2, 80, T0 + 600.0, 0.5, 300) for i, h in enumerate(OTHERS[: sources - 1])
    ]
    assert len(_run(rows)[0]) == found


def test_short_or_small_sessions_are_not_interactive() -> None:
    rows = _stage_and_session()
    assert _run(rows, interactive_min_session_s=200.0)[0] == []
    assert len(_run(rows, interactive_min_session_s=199.8)[0]) == 1
    assert _run(rows, interactive_min_bytes=709_724.0)[0] == []
    assert len(_run(rows, interactive_min_bytes=709_723.0)[0]) == 1


def test_bytes_add_up_over_the_pairs_sessions_each_way() -> None:
    rows = _stage_and_session()
    rows[1]["orig_bytes"], rows[2]["orig_bytes"] = 1_500, 60_000
    summary = _run(rows)[0][0].evidence[0].summary
    assert "61,500 bytes sent, 709,723 received" in summary


def test_reach_counts_internal_hosts_only() -> None:
    # rows between external addresses (transit a sensor saw) reach nothing inside
    rows = _stage_and_session()
    rows += [
        _conn(10 + i, ext, C2, 80, T0 + 60.0, 0.5, 300)
        for i, ext in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    ]
    assert len(_run(rows)[0]) == 1


def test_the_long_session_must_be_tcp() -> None:
    rows = [
        _conn(1, VICTIM, C2, 4500, T0, 900.0, 100, proto="udp"),
        _conn(2, VICTIM, C2, 8080, T0 + 5, 30.0, 300_000),  # short TCP, plenty of data
    ]
    assert _run(rows)[0] == []


def test_udp_and_inbound_sessions_are_not_counted() -> None:
    rows = [
        _conn(1, VICTIM, C2, 4500, T0, 900.0, 900_000, proto="udp"),  # a VPN-like flow
        _conn(2, C2, VICTIM, 3389, T0, 900.0, 900_000),  # inbound: the external side opened it
    ]
    assert _run(rows)[0] == []


def test_an_indicator_is_high_even_when_named_or_shared() -> None:
    pack = IocPack(
        pack="t",
        indicators=[Indicator(type="ip", value=C2, confidence=0.9, source="test")],
    )
    dns = [_answer("x.example", C2)]
    findings = _run(_stage_and_session(), dns, [pack])[0]
    assert [(f.severity, f.confidence) for f in findings] == [("high", 0.9)]
    assert findings[0].evidence[0].summary.endswith("; an indicator")


def test_an_allow_listed_network_is_suppressed_for_the_c2_ranking_only() -> None:
    def allow(applies: list[str]) -> AllowList:
        entry = AllowEntry(name="lab", reason="test", cidrs=["10.0.5.0/24"], applies_to=applies)
        return AllowList(name="site", entries=[entry])

    assert _run(_stage_and_session(), allowlists=[allow(["beacon"])])[0] == []
    assert len(_run(_stage_and_session(), allowlists=[allow(["lateral"])])[0]) == 1


def test_ports_and_durations_read_as_written() -> None:
    one = [_conn(1, VICTIM, CDN, 1234, T0, 705.2, 910_700, orig_bytes=70_042)]
    assert _run(one)[0][0].title == (
        f"{VICTIM} held a 12 min session with {CDN}:1234, an address nothing names and no "
        "other host reaches"
    )
    three = [
        _conn(1, VICTIM, CDN, 80, T0, 1.0, 100),
        _conn(2, VICTIM, CDN, 443, T0 + 5, 7300.0, 300_000),
        _conn(3, VICTIM, CDN, 8080, T0 + 9, 2.0, 100),
    ]
    assert "a 2.0 h session with 203.0.113.80 (3 ports, 80-8080)" in _run(three)[0][0].title


def test_without_dns_nothing_is_unnamed() -> None:
    """Only a case whose sensor logs DNS can say that nothing names an address; queries
    without answers (a sensor that sees one direction, as in the LSASS sets) are DNS."""
    assert _run(_stage_and_session(), no_dns=True)[0] == []
    query_only = {**_answer("wpad.corp.example", "203.0.113.250"), "answers": None}
    assert len(_run(_stage_and_session(), [query_only], no_dns=True)[0]) == 1
