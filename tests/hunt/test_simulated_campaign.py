"""The network hunt against the synthetic campaign's ground truth, on the demo seed and two
other seeds: every planted C&C pair in the top 10 beacons, no known-good periodic service
above it, the C&C servers named (the unlisted one found by profile), and a clean run quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model import severity_rank
from duqhunt.model.report import ReportDocument
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.documents import write_lure
from duqhunt.simulate.host import write_triage_folders


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


def test_demo_campaign_matches_the_ground_truth(tmp_path: Path) -> None:
    """What the golden report pins, as behaviour: the demo's network, host and document evidence
    against the simulation's ground truth (the exact sets, so a spurious host, C&C or bridge
    fails as well as a missed one)."""
    root = tmp_path / "sim"
    truth = simulate(root / "zeek", seed=7, config=SimConfig(), meta_dir=root)
    write_triage_folders(root / "host", truth, 7)
    write_lure(root / "mail")
    doc = hunt(
        HuntOptions(
            inputs=(root / "zeek", root / "host", root / "mail"),
            out=tmp_path / "out",
            allowlists=(root / "known-good.yaml",),
            threads=2,
        )
    )
    camp = doc.campaign
    assert not doc.not_analysed
    # the C&C servers: exactly the planted ones, the pack's one known, the other found by profile
    assert {c.ip: c.known_ioc for c in camp.c2} == {c["ip"]: c["in_pack"] for c in truth["c2"]}
    # infected hosts: exactly the planted ones, each under its own name; the no-egress ones in
    # the no-egress zone
    infected = {h.ip: h for h in camp.hosts if "infected" in h.roles}
    assert set(infected) == set(truth["infected"])
    assert {ip: h.name for ip, h in infected.items()} == {
        ip: truth["hostnames"][ip] for ip in truth["infected"]
    }
    assert {ip for ip, h in infected.items() if h.zone == "no-egress"} == set(truth["no_egress"])
    # the bridge: the planted one, serving exactly the no-egress hosts, to the known C&C
    assert [b["ip"] for b in camp.bridges] == truth["bridges"]
    (bridge,) = camp.bridges
    assert set(bridge["served"]) == set(truth["no_egress"])
    assert bridge["c2"] in {c["ip"] for c in truth["c2"] if c["in_pack"]}
    assert set(bridge["beacons"]) == {
        p["dst"] for p in truth["beacon_pairs"] if p["src"] == bridge["ip"]
    }
    # host evidence: every infected host's triage folder shows the implant (PNF main module,
    # fake-vendor driver, its service key); the clean host shows nothing above info
    by_host: dict[str, set[str]] = {}
    worst: dict[str, str] = {}
    for f in doc.findings:
        if f.detector.startswith("DQ-HOST"):
            for h in f.hosts:
                by_host.setdefault(h, set()).add(f.detector)
                if severity_rank(f.severity) > severity_rank(worst.get(h, "info")):
                    worst[h] = f.severity
    for ip in truth["infected"]:
        name = truth["hostnames"][ip]
        assert {"DQ-HOST-001", "DQ-HOST-003", "DQ-HOST-006"} <= by_host.get(name, set()), name
    clean = set(by_host) - {truth["hostnames"][ip] for ip in truth["infected"]}
    assert clean and all(worst.get(h, "info") == "info" for h in clean), worst
    # each planted move seen on its target's own event log: a write of the planted file over
    # the admin share from the planted source, by the planted account
    sessions = [f for f in doc.findings if f.detector == "DQ-HOST-009"]
    for m in truth["lateral_moves"]:
        name = truth["hostnames"][m["dst"]]
        tail = m["file"].rsplit("\\", 1)[-1].lower()
        hits = [
            f
            for f in sessions
            if list(f.hosts) == [name]
            and f.details["src"] == m["src"]
            and f.details["account"] == m["account"]
            and tail in str(f.details["files"]).lower()
        ]
        assert hits and all(f.severity == "high" for f in hits), m
        assert all("wrote " in f.title for f in hits), [f.title for f in hits]
    # the lure: malicious, by the Duqu installer font
    assert [v.verdict for v in doc.verdicts] == ["malicious"]
    assert any(f.detector == "DQ-DOC-008" and f.severity == "high" for f in doc.findings)
