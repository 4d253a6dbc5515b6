"""The network hunt against the synthetic campaign's ground truth, on the demo seed and two
other seeds: every planted C&C pair in the top 10 beacons, no known-good periodic service
above it, the C&C servers named (the unlisted one found by profile), and a clean run quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate


def _hunt_sim(tmp_path: Path, seed: int, **cfg: Any) -> tuple[ReportDocument, dict[str, Any]]:
    logs = tmp_path / f"sim{seed}" / "zeek"
    truth = simulate(logs, seed=seed, config=SimConfig(**cfg), meta_dir=tmp_path / f"sim{seed}")
    doc = hunt(
        HuntOptions(
            inputs=(logs,),
            out=tmp_path / f"out{seed}",
            allowlists=(tmp_path / f"sim{seed}" / "known-good.yaml",),
            threads=2,
        )
    )
    return doc, truth


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_planted_c2_pairs_rank_in_top_10(tmp_path: Path, seed: int) -> None:
    doc, truth = _hunt_sim(tmp_path, seed)
    assert not doc.not_analysed
    ranked = [(b.src, b.dst) for b in doc.campaign.beacons]
    periodic_dsts = {p["dst"] for p in truth["periodic_services"]} | {
        p["host"] for p in truth["periodic_services"] if p["host"]
    }
    for pair in truth["beacon_pairs"]:
        key = (pair["src"], pair["dst"])
        assert key in ranked[:10], f"{key} not in the top 10: {ranked[:12]}"
        above = ranked[: ranked.index(key)]
        assert not [p for p in above if p[1] in periodic_dsts], above
    c2 = {c.ip: c for c in doc.campaign.c2}
    for planted in truth["c2"]:
        assert planted["ip"] in c2
        assert c2[planted["ip"]].known_ioc == planted["in_pack"]
    unlisted = [c["ip"] for c in truth["c2"] if not c["in_pack"]]
    found = {f.details["candidate"] for f in doc.findings if f.detector == "DQ-NET-004"}
    assert found == set(unlisted)
    infected = {h.ip for h in doc.campaign.hosts if "infected" in h.roles}
    assert {p["src"] for p in truth["beacon_pairs"]} <= infected


def test_clean_run_has_no_c2(tmp_path: Path) -> None:
    doc, truth = _hunt_sim(tmp_path, 7, intrusion=False)
    assert truth["c2"] == []
    assert doc.campaign.c2 == []
    assert not [f for f in doc.findings if f.severity in ("high", "critical")]
    assert not [f for f in doc.findings if f.detector in ("DQ-NET-001", "DQ-NET-003", "DQ-NET-004")]


def test_demo_terminal_summary_names_c2_and_beaconing_hosts(tmp_path: Path) -> None:
    from rich.console import Console

    from duqhunt.render import render_summary

    doc, truth = _hunt_sim(tmp_path, 7)
    console = Console(record=True, width=200)
    render_summary(doc, console)
    text = console.export_text()
    for c in truth["c2"]:
        assert c["ip"] in text
    for pair in truth["beacon_pairs"]:
        assert pair["src"] in text
