"""The web app and grouped findings: the summary lists the report's groups first, a group's
findings are one filter away, a merged event storm shows its count and occurrences, and a link
to one of its occurrences (made before the storm was merged) leads to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from test_web_api import client
from web_fixtures import finding

from duqhunt.model.finding import Evidence
from duqhunt.model.grouping import merge_repeats


def _case(write_case: Callable[..., Path]) -> tuple[Path, list[str], str]:
    """11 hosts with the same implant service, and one server with a storm of 12 service
    installs: (case folder, the implant findings' ids, the merged storm's id)."""
    implant = [
        finding(
            n,
            id=f"DQ-HOST-006-{n:016x}",
            detector="DQ-HOST-006",
            title="service JmiNET3: Duqu service name JmiNET3",
            stage="installation",
            severity="critical",
            hosts=[f"WS{100 + n}"],
        )
        for n in range(11)
    ]
    storm = [
        finding(
            100 + n,
            id=f"DQ-HOST-010-{n:016x}",
            detector="DQ-HOST-010",
            title=f"service PAExec-{4000 + n}-ADMIN07 installed: remote-execution tool service",
            stage="lateral-movement",
            severity="medium",
            hosts=["FILESRV01"],
            evidence=[Evidence(source="System.evtx", locator=f"record {n}", summary="7045")],
        )
        for n in range(12)
    ]
    findings = merge_repeats([*implant, *storm])
    (merged,) = [f for f in findings if f.detector == "DQ-HOST-010"]
    return write_case(findings), [f.id for f in implant], merged.id


def test_the_summary_lists_groups_and_each_leads_to_its_findings(
    write_case: Callable[..., Path],
) -> None:
    """The case's report.json has no summary (as one written before groups existed): the app
    groups its findings itself."""
    out, implant, _ = _case(write_case)
    c = client(out)
    page = c.get("/").text
    assert "What to look at first: 2 groups of 12 findings" in page
    rows = re.findall(r'<a href="/findings\?group=([^"]+)">(\d+)</a>', page)
    assert [n for _, n in rows] == ["11", "1"]  # critical first
    listed = c.get(f"/findings?group={rows[0][0]}&per_page=50").text
    assert 'id="group-filter"' in listed
    assert sorted(re.findall(r'<tr data-id="([^"]+)"', listed)) == sorted(implant)


def test_a_merged_storm_shows_its_count_and_occurrences(
    write_case: Callable[..., Path],
) -> None:
    out, _, merged = _case(write_case)
    c = client(out)
    listed = c.get("/findings?detector=DQ-HOST-010").text
    assert "&times;12" in listed
    page = c.get(f"/findings/{merged}").text
    assert "Occurrences (12)" in page
    assert page.count("PAExec-40") >= 12  # each occurrence keeps its own title
    # a link to an occurrence (its id from before the merge) opens the merged finding
    later = c.get("/findings/DQ-HOST-010-0000000000000005")
    assert later.status_code == 200 and "Occurrences (12)" in later.text
