"""The typed outputs network detectors hand on (detectors/outputs.py): what a lateral move is
for the campaign, and the report mappings they make (schema 1.x keeps these keys)."""

from __future__ import annotations

from duqhunt.detectors.outputs import Bridge, DirectAttempt, LateralMove, RelayEdge

T = 1318550400.0  # 2011-10-14T00:00:00Z


def _move(**kw: object) -> LateralMove:
    row: dict[str, object] = {
        "src": "10.0.0.5",
        "dst": "10.0.0.9",
        "write_ts": None,
        "exec_ts": T,
        "method": None,
        "share": "ADMIN$",
        "file": None,
        "account": None,
        "executable": 0,
        **kw,
    }
    return LateralMove.from_row(row)


def test_a_move_tooling_and_a_copy_nothing_ran() -> None:
    plain = _move()
    tooling = _move(admin_tool="admin tooling: inventory server")
    copy = _move(admin_tool="not a move: a non-executable file copied to an admin share")
    assert plain.is_move and plain.unexplained and plain.admin_tool is None
    assert tooling.is_move and not tooling.unexplained
    assert not copy.is_move and not copy.unexplained
    assert plain.executable is False


def test_move_report_entry_time_and_method() -> None:
    written = _move(write_ts=T - 60, exec_ts=T, method="svcctl", file="x.exe", account="adm")
    assert written.report_entry() == {
        "src": "10.0.0.5",
        "dst": "10.0.0.9",
        "time": "2011-10-13T23:59:00.000Z",  # the write, when there is one
        "method": "svcctl",
        "share": "ADMIN$",
        "file": "x.exe",
        "account": "adm",
        "admin_tool": None,
    }
    entry = _move().report_entry()
    assert entry["time"] == "2011-10-14T00:00:00.000Z" and entry["method"] == "write-only"


def test_relay_edge_report_entry() -> None:
    e = RelayEdge(src="10.9.0.2", dst="10.1.0.7", pipe=None, first_ts=T, last_ts=T + 5, score=0.8)
    assert e.report_entry() == {
        "src": "10.9.0.2",
        "dst": "10.1.0.7",
        "pipe": None,
        "first_seen": "2011-10-14T00:00:00.000Z",
        "last_seen": "2011-10-14T00:00:05.000Z",
        "score": 0.8,
    }


def test_bridge_report_entry_names_direct_attempts_only_when_there_were_some() -> None:
    base = dict(
        ip="10.1.0.7",
        c2="203.0.113.9",
        served=("10.9.0.2",),
        chains=("10.9.0.2 -> 10.1.0.7",),
        correlation=0.9,
        baseline=0.01,
        lift=90.0,
        relayed_sessions=40,
        window_s=5.0,
        beacons=("203.0.113.9",),
    )
    quiet = Bridge(**base)  # type: ignore[arg-type]
    entry = quiet.report_entry()
    assert "tried_directly" not in entry and "c2_tried_directly" not in entry
    assert entry["served"] == ["10.9.0.2"] and entry["beacons"] == ["203.0.113.9"]
    tried = DirectAttempt("203.0.113.9", attempts=12, hosts=1, first_seen=None, last_seen=None)
    loud = Bridge(**base, tried_directly=(tried,), c2_tried_directly=True)  # type: ignore[arg-type]
    entry = loud.report_entry()
    assert entry["c2_tried_directly"] is True
    assert entry["tried_directly"] == [
        {"dst": "203.0.113.9", "attempts": 12, "hosts": 1, "first_seen": None, "last_seen": None}
    ]
