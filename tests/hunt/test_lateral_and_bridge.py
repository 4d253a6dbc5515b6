"""Lateral movement, relay edges and bridges against the simulation's ground truth, with the
knobs the lateral-movement issue names: several bridges, a two-hop relay chain, a pipe named
like a standard Windows pipe, low-and-slow intervals of hours, and a clean run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import KNOWN_C2_IP, SimConfig, simulate

SCENARIOS: dict[str, tuple[int, dict[str, Any]]] = {
    "default": (7, {}),
    "two-bridges": (13, {"n_bridges": 2, "secure_zone_hosts": 8}),
    "two-hop-chain": (21, {"relay_depth": 2}),
    "standard-pipe-name": (5, {"pipe_name": "srvsvc", "log_pipe_names": True}),
    "low-and-slow": (31, {"beacon_interval_s": 7200.0, "hosts": 200}),
}


def _run(tmp_path: Path, seed: int, cfg: dict[str, Any]) -> tuple[ReportDocument, dict[str, Any]]:
    logs = tmp_path / "sim" / "zeek"
    truth = simulate(logs, seed=seed, config=SimConfig(**cfg), meta_dir=tmp_path / "sim")
    doc = hunt(
        HuntOptions(
            inputs=(logs,),
            out=tmp_path / "out",
            allowlists=(tmp_path / "sim" / "known-good.yaml",),
            threads=2,
        )
    )
    return doc, truth


Run = Callable[[int, dict[str, Any]], tuple[ReportDocument, dict[str, Any]]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Each simulated campaign simulated and hunted once for the module: the default one is
    read by two tests (a run takes about a minute)."""
    done: dict[str, tuple[ReportDocument, dict[str, Any]]] = {}

    def run(seed: int, cfg: dict[str, Any]) -> tuple[ReportDocument, dict[str, Any]]:
        key = repr((seed, sorted(cfg.items())))
        if key not in done:
            done[key] = _run(tmp_path_factory.mktemp("campaign"), seed, cfg)
        return done[key]

    return run


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_move_relay_edge_and_bridge_found(runs: Run, name: str) -> None:
    seed, cfg = SCENARIOS[name]
    doc, truth = runs(seed, cfg)
    camp = doc.campaign

    found_moves = {
        (m["src"], m["dst"], m["method"], m["share"], str(m["file"]).lower(), m["account"])
        for m in camp.lateral_moves
        if not m["admin_tool"]
    }
    for m in truth["lateral_moves"]:
        key = (m["src"], m["dst"], m["method"], m["share"].upper(), m["file"].lower(), m["account"])
        assert key in found_moves, f"{name}: move {key} not found"

    edges = {(e["src"], e["dst"]) for e in camp.relay_edges}
    for e in truth["relay_edges"]:
        assert (e["src"], e["dst"]) in edges, f"{name}: relay edge {e} not found in {sorted(edges)}"
    # no relay edge that is not planted
    planted = {(e["src"], e["dst"]) for e in truth["relay_edges"]}
    assert edges <= planted, f"{name}: spurious relay edges {sorted(edges - planted)}"

    bridges = {b["ip"]: b for b in camp.bridges}
    assert set(bridges) == set(truth["bridges"]), name
    for b in bridges.values():
        # relayed traffic goes to the known C&C; the time correlation must name it
        assert b["c2"] == KNOWN_C2_IP, b
        assert b["correlation"] is not None and b["correlation"] >= 0.5
        assert b["lift"] is not None and b["lift"] >= 3.0
    bridge_findings = [f for f in doc.findings if f.detector == "DQ-NET-007"]
    assert {f.details["bridge"] for f in bridge_findings} == set(truth["bridges"])
    assert {f.severity for f in bridge_findings} == {"critical"}
    roles = {h.ip: set(h.roles) for h in camp.hosts}
    for ip in truth["bridges"]:
        assert "bridge" in roles[ip]
    for ip in truth["relays"]:
        assert "relay" in roles[ip], f"{name}: relay host {ip} not marked"
    zones = {h.ip: h.zone for h in camp.hosts}
    for e in truth["relay_edges"]:
        assert zones[e["src"]] == "no-egress"
    assert truth["patient_zero"] in {ip for ip, r in roles.items() if "patient-zero" in r}
    if cfg.get("log_pipe_names") and cfg.get("pipe_name") not in (None, "srvsvc"):
        assert all(e["pipe"] for e in camp.relay_edges)


def test_admin_tooling_is_low_never_dropped(runs: Run) -> None:
    doc, truth = runs(*SCENARIOS["default"])
    mgmt = {a["src"] for a in truth["admin_tooling"]}
    tool_moves = [m for m in doc.campaign.lateral_moves if m["src"] in mgmt]
    assert tool_moves and all(m["admin_tool"] for m in tool_moves)
    tool_findings = [f for f in doc.findings if f.detector == "DQ-NET-005" and f.hosts[0] in mgmt]
    assert tool_findings and {f.severity for f in tool_findings} == {"low"}
    spread = [f for f in doc.findings if f.detector == "DQ-NET-008"]
    assert [f.details["account"] for f in spread] == [truth["lateral_moves"][0]["account"]]


def test_clean_run_has_no_bridge_relay_or_move(tmp_path: Path) -> None:
    doc, _ = _run(tmp_path, 7, {"intrusion": False})
    assert doc.campaign.bridges == []
    assert doc.campaign.relay_edges == []
    assert all(m["admin_tool"] for m in doc.campaign.lateral_moves)
    assert not [f for f in doc.findings if f.severity in ("high", "critical")]
