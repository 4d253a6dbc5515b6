"""A merged event storm keeps what each repeat alone says, so `duqhunt serve` can allow-list it.

One host beaconing to five servers is five DQ-NET-002 findings of one shape, merged into one
(model/grouping.py). The merged finding's details keep only what the five share, not the
destination; each occurrence keeps its own, in report.json too. Marked benign, the finding's
page offers one allow entry per destination, and allowing one through the API stores that
destination as a /32 for the next hunts.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.grouping import merge_repeats
from duqhunt.model.report import ReportDocument
from duqhunt.render import load_report, render_json
from duqhunt.triage import TriageStore
from duqhunt.web.app import create_app
from duqhunt.web.case import CaseSource

TOKEN = "test-token-0123456789abcdef"
DSTS = [f"198.51.100.{n}" for n in range(10, 15)]


def _beacon(n: int, dst: str) -> Finding:
    return Finding(
        id=f"DQ-NET-002-{n:016x}",
        detector="DQ-NET-002",
        title=f"10.1.0.7 beacons to {dst} every ~5m",
        stage="command-and-control",
        attack=["T1071.001"],
        severity="medium",
        confidence=0.6,
        hosts=["10.1.0.7"],
        first_seen=f"2011-10-1{n}T10:00:00.000Z",
        last_seen=f"2011-10-1{n}T11:00:00.000Z",
        evidence=[Evidence(source="conn.log", locator=f"10.1.0.7 -> {dst}", summary="")],
        details={"rank": n + 1, "kind": "ip", "dst": dst, "score": 0.6},
    )


def _case(tmp_path: Path) -> tuple[Path, Finding]:
    (merged,) = merge_repeats([_beacon(n, d) for n, d in enumerate(DSTS)])
    doc = ReportDocument(
        tool_version="0.1.0",
        started="2011-10-20T00:00:00Z",
        finished="2011-10-20T00:01:00Z",
        findings=[merged],
    )
    (tmp_path / "report.json").write_text(render_json(doc), encoding="utf-8")
    return tmp_path, merged


def test_occurrences_keep_their_own_details_through_report_json(tmp_path: Path) -> None:
    folder, merged = _case(tmp_path)
    assert merged.count == 5 and "dst" not in merged.details
    again = load_report(folder / "report.json").findings[0]
    assert [o.details["dst"] for o in again.occurrences] == DSTS
    raw = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == "1.4"


def test_a_benign_merged_beacon_offers_and_stores_each_destination(tmp_path: Path) -> None:
    folder, merged = _case(tmp_path)
    app = create_app(CaseSource(folder), TOKEN, "alice")
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = client.get(f"/findings/{merged.id}", headers=auth).text
    assert "allow-save" not in page  # not benign yet
    r = client.post(
        f"/api/findings/{merged.id}/triage", json={"status": "benign", "note": "lab"}, headers=auth
    )
    assert r.status_code == 200, r.text
    page = client.get(f"/findings/{merged.id}", headers=auth).text
    for dst in DSTS:
        assert f"Allow-list {dst}/32 (beacon)" in page
    third = merged.occurrences[2]
    assert third.details["dst"] == DSTS[2]
    r = client.post(f"/api/findings/{third.id}/allow", json={"reason": "lab"}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["value"] == f"{DSTS[2]}/32"
    (stored,) = TriageStore.for_case(folder / "case.duckdb").allow_records()
    assert (stored.applies_to, stored.value, stored.finding_id) == (
        "beacon",
        f"{DSTS[2]}/32",
        third.id,
    )
