"""Golden snapshot of the demo scenario's report (seed 7: network, host and document evidence):
finding ids, detectors, severities and titles, the summary's groups in their order, and the
campaign. A change to what duqhunt finds or to how it groups it shows here as a diff; regenerate
on purpose with DUQHUNT_UPDATE_GOLDEN=1 (never implicitly: a missing golden file fails). What these fields mean is asserted against the simulation's ground
truth elsewhere (tests/hunt/test_simulated_campaign.py, test_whole_story.py,
test_lateral_and_bridge.py); this file only shows that the output did not change."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.documents import write_lure
from duqhunt.simulate.host import write_triage_folders

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden" / "demo-seed7.json"


def _snapshot(tmp_path: Path) -> dict[str, Any]:
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
    camp = doc.campaign.model_dump()
    for b in camp["beacons"]:
        b["score"] = round(b["score"], 3)
    for e in camp["relay_edges"]:  # host evidence lines cite the run's own folder
        if isinstance(e.get("evidence"), list):
            e["evidence"] = [str(x).replace(str(root), "SIM") for x in e["evidence"]]
    return {
        "schema_version": doc.schema_version,
        "findings": sorted(
            [f.id, f.detector, f.severity, f.title.replace(str(root), "SIM")] for f in doc.findings
        ),
        "campaign": {
            "hosts": camp["hosts"],
            "c2": camp["c2"],
            "beacons": camp["beacons"][:10],
            "lateral_moves": camp["lateral_moves"],
            "relay_edges": camp["relay_edges"],
            "bridges": camp["bridges"],
        },
        "verdicts": [[Path(v.path).name, v.verdict] for v in doc.verdicts],
        # the summary in its order: what a reader sees first
        "groups": [
            [g.detector, g.severity, g.stage, g.title, len(g.finding_ids), g.count, len(g.hosts)]
            for g in doc.summary.groups
        ],
        "hosts": [[h.id, h.names, [a.ip for a in h.ips], h.zone, h.roles] for h in doc.hosts],
    }


def _compare(snap: dict[str, Any], golden_path: Path) -> None:
    if os.environ.get("DUQHUNT_UPDATE_GOLDEN") == "1":
        golden_path.parent.mkdir(parents=True, exist_ok=True)
        golden_path.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    assert golden_path.is_file(), (
        f"{golden_path} is missing: regenerate it on purpose with DUQHUNT_UPDATE_GOLDEN=1 "
        "and review the diff"
    )
    golden = json.loads(golden_path.read_text())
    assert snap["schema_version"] == golden["schema_version"]
    assert snap["findings"] == golden["findings"]
    assert snap["campaign"] == golden["campaign"]
    assert snap["verdicts"] == golden["verdicts"]
    assert snap.get("groups") == golden.get("groups")
    assert snap.get("hosts") == golden.get("hosts")


def test_demo_report_matches_golden(tmp_path: Path) -> None:
    snap = json.loads(json.dumps(_snapshot(tmp_path), sort_keys=True, default=str))
    _compare(snap, GOLDEN)


def test_a_missing_golden_file_fails_and_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUQHUNT_UPDATE_GOLDEN", raising=False)
    missing = tmp_path / "golden" / "none.json"
    snap = {"schema_version": 1, "findings": [], "campaign": {}, "verdicts": []}
    with pytest.raises(AssertionError, match="is missing"):
        _compare(snap, missing)
    assert not missing.exists()
