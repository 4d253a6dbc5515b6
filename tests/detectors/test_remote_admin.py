"""DQ-NET-009: remote administration around a C&C beacon (detectors/net/remote_admin.py).

The rows are shaped after what the OTRF APT29 logs show (benchmarks/results-realnet.md): day 1,
10.0.1.4 opens WinRM, SMB and RPC sessions to 10.0.1.6 minutes before 10.0.1.6 starts its C&C
beacon; day 2, the beaconing host 10.0.1.5 opens WinRM to two other hosts. No file or RPC
operation is logged in those sessions, so DQ-NET-005 has nothing to pair."""

from __future__ import annotations

from typing import Any

import pytest

from duqhunt.detectors.base import HuntContext
from duqhunt.detectors.net.remote_admin import RemoteAdminBeforeBeaconDetector
from duqhunt.detectors.outputs import Beacon, LateralMove
from duqhunt.engines.duckdb import DuckDBEngine
from testsupport import ip_class_table, zeek_table

T0 = 1_588_206_000.0  # the beacon's first contact
C2 = "192.0.2.4"
OUTSIDE = ["198.51.100.7", "198.51.100.8", "198.51.100.9"]
ADMIN, TARGET, NEXT, SERVER = "10.0.1.4", "10.0.1.6", "10.0.1.8", "10.0.0.4"
INTERNAL = [ADMIN, TARGET, NEXT, SERVER, "10.0.1.20", "10.0.1.21", "10.0.1.22", "10.0.1.23"]


def _conn(i: int, src: str, dst: str, port: int, ts: float, **kw: Any) -> dict[str, Any]:
    row = {
        "ts": ts,
        "uid": f"C{i}",
        "id_orig_h": src,
        "id_orig_p": 49000 + i,
        "id_resp_h": dst,
        "id_resp_p": port,
        "proto": "tcp",
        "conn_state": "SF",
        "orig_bytes": 2400,
        "resp_bytes": 1800,
    }
    row.update(kw)
    return row


def _beacon(src: str, first_ts: float, **kw: Any) -> Beacon:
    fields: dict[str, Any] = {
        "kind": "ip",
        "src": src,
        "dst": C2,
        "count": 40,
        "interval_s": 60.0,
        "bytes_median": 300.0,
        "first_ts": first_ts,
        "last_ts": first_ts + 2400.0,
        "periodicity": 0.8,
        "score": 0.7,
        "known_ioc": False,
        "c2_candidate": True,
        "names": (),
        "why": (),
    }
    fields.update(kw)
    return Beacon(**fields)


def _run(
    rows: list[dict[str, Any]],
    beacons: list[Beacon],
    moves: tuple[LateralMove, ...] = (),
    **params: float,
) -> tuple[list[Any], HuntContext]:
    eng = DuckDBEngine()
    eng.register_arrow("conn", zeek_table("conn", rows))
    eng.register_arrow("ip_class", ip_class_table(INTERNAL, [C2, *OUTSIDE]))
    ctx = HuntContext(
        engine=eng,
        internal=(),
        packs=[],
        allowlists=[],
        window=(T0 - 7200.0, T0 + 7200.0),
        internal_hosts=len(INTERNAL),
        params=dict(params),
    )
    ctx.outputs.beacons = tuple(beacons)
    ctx.outputs.lateral_moves = moves
    try:
        return RemoteAdminBeforeBeaconDetector().run(ctx), ctx
    finally:
        eng.close()


def test_winrm_to_a_host_minutes_before_its_beacon_is_the_install() -> None:
    rows = [
        _conn(1, ADMIN, TARGET, 5985, T0 - 440.0),
        _conn(2, ADMIN, TARGET, 5985, T0 - 300.0),
        _conn(3, ADMIN, TARGET, 445, T0 - 320.0),
        _conn(4, ADMIN, TARGET, 5985, T0 + 30.0),  # after the beacon began: not 'before'
    ]
    findings, ctx = _run(rows, [_beacon(TARGET, T0)])
    assert len(findings) == 1
    f = findings[0]
    assert f.severity == "high" and f.detector == "DQ-NET-009"
    assert f.title == (
        f"Remote administration of {TARGET} from {ADMIN} (SMB, WinRM) in the 7 min before "
        f"{TARGET} began beaconing to {C2}"
    )
    details = dict(f.details)
    assert details["direction"] == "before" and details["protocols"] == "SMB, WinRM"
    assert details["seconds_from_beacon_start"] == -440.0
    assert sorted(f.attack) == ["T1021.002", "T1021.006"]
    assert sorted(e.locator for e in f.evidence) == [
        f"{ADMIN} -> {TARGET}:445",
        f"{ADMIN} -> {TARGET}:5985",
        f"{TARGET} -> {C2}",
    ]
    assert "2 WinRM session(s)" in next(e.summary for e in f.evidence if e.locator.endswith("5985"))
    assert ctx.outputs.lateral_moves == (
        LateralMove(ADMIN, TARGET, None, T0 - 440.0, "SMB session, WinRM", None, None, None, False),
    )


def test_a_session_longer_before_the_beacon_than_the_window_is_not_tied_to_it() -> None:
    rows = [_conn(1, ADMIN, TARGET, 5985, T0 - 440.0)]
    assert _run(rows, [_beacon(TARGET, T0)], remote_admin_window_s=400.0)[0] == []
    assert len(_run(rows, [_beacon(TARGET, T0)], remote_admin_window_s=440.0)[0]) == 1


def test_a_refused_attempt_administers_nothing() -> None:
    rows = [
        _conn(1, ADMIN, TARGET, 5985, T0 - 60.0, conn_state="REJ", orig_bytes=0, resp_bytes=0),
        _conn(2, ADMIN, TARGET, 3389, T0 - 50.0, conn_state="S0", orig_bytes=0, resp_bytes=0),
    ]
    assert _run(rows, [_beacon(TARGET, T0)])[0] == []


def test_a_host_that_is_no_c2_candidate_explains_nothing() -> None:
    rows = [_conn(1, ADMIN, TARGET, 5985, T0 - 60.0)]
    assert _run(rows, [_beacon(TARGET, T0, c2_candidate=False)])[0] == []
    # an indicator's beacon counts even when the ranking does not name it
    hit = _run(rows, [_beacon(TARGET, T0, c2_candidate=False, known_ioc=True)])[0]
    assert [f.severity for f in hit] == ["high"]
    assert hit[0].evidence[-1].summary.endswith(", an indicator")


def test_the_earliest_c2_beacon_of_a_host_is_its_start() -> None:
    rows = [_conn(1, ADMIN, TARGET, 5985, T0 - 60.0)]
    later = _beacon(TARGET, T0 + 3000.0, dst="198.51.100.9")
    for beacons in ([later, _beacon(TARGET, T0)], [_beacon(TARGET, T0), later]):
        findings = _run(rows, beacons, remote_admin_window_s=120.0)[0]
        assert [dict(f.details)["beacon_dst"] for f in findings] == [C2]


def test_a_beaconing_host_administering_another_is_spreading() -> None:
    rows = [
        _conn(1, TARGET, NEXT, 3389, T0 + 1560.0),
        _conn(2, TARGET, NEXT, 135, T0 + 1500.0),
        _conn(3, TARGET, SERVER, 445, T0 + 600.0),  # SMB alone from it: DQ-NET-005's to tell
        _conn(4, TARGET, "10.0.1.20", 5985, T0 - 600.0),  # before its beacon began: no sign
    ]
    findings, ctx = _run(rows, [_beacon(TARGET, T0)])
    assert [f.title for f in findings] == [
        f"{TARGET}, beaconing to {C2}, administered {NEXT} (RDP, RPC/DCOM) 25 min after its "
        "beacon began"
    ]
    assert findings[0].severity == "high"
    assert dict(findings[0].details)["direction"] == "from"
    assert [m.method for m in ctx.outputs.lateral_moves] == ["RDP, RPC/DCOM"]


def test_smb_sessions_alone_before_a_beacon_are_medium() -> None:
    findings = _run([_conn(1, ADMIN, TARGET, 445, T0 - 60.0)], [_beacon(TARGET, T0)])[0]
    assert [(f.severity, f.confidence) for f in findings] == [("medium", 0.6)]


@pytest.mark.parametrize(("sources", "found"), [(3, 1), (4, 0)])
def test_a_destination_many_hosts_reach_on_the_port_is_a_server(sources: int, found: int) -> None:
    others = ["10.0.1.20", "10.0.1.21", "10.0.1.22", "10.0.1.23"][: sources - 1]
    rows = [_conn(1, ADMIN, TARGET, 3389, T0 - 60.0)]
    # the other sources reach it a day earlier: counted for the reach, not tied to the beacon
    rows += [_conn(10 + i, h, TARGET, 3389, T0 - 86400.0) for i, h in enumerate(others)]
    # hosts are counted, not sessions: one of them again the next hour
    rows.append(_conn(20, others[0], TARGET, 3389, T0 - 82800.0))
    assert len(_run(rows, [_beacon(TARGET, T0)])[0]) == found


def test_a_pair_lateral_movement_already_reports_is_left_to_it() -> None:
    move = LateralMove(ADMIN, TARGET, T0 - 90.0, T0 - 80.0, "svcctl", "ADMIN$", "x.exe", None, True)
    rows = [_conn(1, ADMIN, TARGET, 5985, T0 - 60.0)]
    findings, ctx = _run(rows, [_beacon(TARGET, T0)], (move,))
    assert findings == [] and ctx.outputs.lateral_moves == (move,)


def test_a_server_the_infected_host_reaches_is_judged_by_every_source() -> None:
    """The reach counts every internal source of the destination, not only beaconing ones:
    RDP from the infected host to a terminal server four hosts use is no spread."""
    others = ["10.0.1.20", "10.0.1.21", "10.0.1.22"]
    rows = [_conn(1, TARGET, NEXT, 3389, T0 + 600.0)]
    rows += [_conn(10 + i, h, NEXT, 3389, T0 - 86400.0) for i, h in enumerate(others)]
    assert _run(rows, [_beacon(TARGET, T0)])[0] == []
    assert len(_run(rows[:-1], [_beacon(TARGET, T0)])[0]) == 1


def test_a_session_between_two_beaconing_hosts_is_told_once() -> None:
    rows = [_conn(1, ADMIN, TARGET, 5985, T0 - 60.0)]
    beacons = [_beacon(TARGET, T0), _beacon(ADMIN, T0 - 3600.0)]
    findings = _run(rows, beacons)[0]
    assert [dict(f.details)["direction"] for f in findings] == ["before"]
    assert "1 WinRM session(s)" in findings[0].evidence[0].summary


def test_the_reach_counts_internal_sources_whose_sessions_carried_data() -> None:
    rows = [_conn(1, TARGET, NEXT, 3389, T0 + 600.0)]
    # refused tries from three hosts and RDP from the internet: no other internal user
    refused = {"conn_state": "REJ", "orig_bytes": 0, "resp_bytes": 0}
    rows += [
        _conn(10 + i, h, NEXT, 3389, T0 - 600.0, **refused)
        for i, h in enumerate(["10.0.1.20", "10.0.1.21", "10.0.1.22"])
    ]
    rows += [_conn(20 + i, h, NEXT, 3389, T0 - 500.0) for i, h in enumerate(OUTSIDE)]
    assert len(_run(rows, [_beacon(TARGET, T0)])[0]) == 1


def test_administering_an_external_address_is_no_lateral_move() -> None:
    rows = [_conn(1, TARGET, OUTSIDE[0], 3389, T0 + 600.0)]
    assert _run(rows, [_beacon(TARGET, T0)])[0] == []
