"""The whole story of the synthetic campaign in one report: network, host and document evidence
together, the correlated graph against the ground truth, hosts merged by name and IP, and one
case hunted in several runs as evidence arrives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from duqhunt.campaign.killchain import campaign_graph, kill_chain
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.documents import write_lure
from duqhunt.simulate.host import write_triage_folders


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("story")
    truth = simulate(root / "zeek", seed=7, config=SimConfig(), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
    write_lure(root / "mail")
    return root, truth


def _hunt(root: Path, out: Path, *parts: str, case: Path | None = None) -> ReportDocument:
    return hunt(
        HuntOptions(
            inputs=tuple(root / p for p in parts),
            out=out,
            case=case,
            allowlists=(root / "known-good.yaml",),
            threads=2,
        )
    )


def test_one_report_tells_the_whole_story(sim: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    root, truth = sim
    doc = _hunt(root, tmp_path / "out", "zeek", "host", "mail")
    kinds = {f.detector.split("-")[1] for f in doc.findings}
    assert kinds == {"NET", "HOST", "DOC"}
    stages = {s["stage"]: s["seen"] for s in kill_chain(doc)}
    for stage in (
        "delivery",
        "exploitation",
        "installation",
        "lateral-movement",
        "internal-relay",
        "command-and-control",
    ):
        assert stages[stage], stage
    assert [v.verdict for v in doc.verdicts] == ["malicious"]

    graph = campaign_graph(doc)
    edges = {(e["kind"], e["src"], e["dst"]) for e in graph["edges"]}
    for m in truth["lateral_moves"]:
        assert ("moved-to", f"host:{m['src']}", f"host:{m['dst']}") in edges, m
    for e in truth["relay_edges"]:
        assert ("relays-through", f"host:{e['src']}", f"host:{e['dst']}") in edges, e
    for b in truth["bridges"]:
        assert any(k == "bridges-to" and s == f"host:{b}" for k, s, _ in edges)
    for p in truth["beacon_pairs"]:
        assert ("beacons-to", f"host:{p['src']}", f"ip:{p['dst']}") in edges, p

    # a host seen by IP on the wire and by name in its own evidence is one host
    hosts = {h.ip: h for h in doc.campaign.hosts}
    for ip in truth["infected"]:
        assert hosts[ip].name == truth["hostnames"][ip], ip
        assert "infected" in hosts[ip].roles
    assert "patient-zero" in hosts[truth["patient_zero"]].roles


def test_a_case_hunted_in_several_runs_reports_the_whole_case(
    sim: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, _ = sim
    case = tmp_path / "case.duckdb"
    first = _hunt(root, tmp_path / "r1", "zeek", case=case)
    assert {f.detector.split("-")[1] for f in first.findings} == {"NET"}
    second = _hunt(root, tmp_path / "r2", "host", case=case)
    assert {f.detector.split("-")[1] for f in second.findings} == {"NET", "HOST"}
    third = _hunt(root, tmp_path / "r3", "mail", case=case)
    assert {f.detector.split("-")[1] for f in third.findings} == {"NET", "HOST", "DOC"}
    net = lambda d: sorted(f.id for f in d.findings if f.detector.startswith("DQ-NET"))  # noqa: E731
    assert net(first) == net(second) == net(third)
