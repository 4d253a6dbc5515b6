"""A group's "N hosts" counts the internal machines it reached, not the C&C server.

Three inbound connections from the C&C to two workstations are one group; its findings name
the C&C (an external machine of hosts[]) beside the workstation. The group covers two hosts in
report.json, the terminal, report.html and `duqhunt serve`; the findings themselves still
name the C&C machine, so its page keeps them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from rich.console import Console

from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.grouping import group_machine_count, summary_groups, with_summary
from duqhunt.model.report import (
    FindingGroupModel,
    HostAddressModel,
    HostIdentityModel,
    ReportDocument,
    SummaryModel,
)
from duqhunt.render import render_html, render_json, render_summary
from duqhunt.web.app import create_app
from duqhunt.web.case import CaseSource

C2 = "206.183.111.97"


def _machine(hid: str, name: str | None, ip: str, zone: str) -> HostIdentityModel:
    return HostIdentityModel(
        id=hid, names=[name] if name else [], ips=[HostAddressModel(ip=ip)], zone=zone
    )


def _finding(n: int, ws: str, ws_id: str) -> Finding:
    return Finding(
        id=f"DQ-NET-001-{n:016x}",
        detector="DQ-NET-001",
        title=f"{C2} connected in to {ws} (known C&C)",
        stage="command-and-control",
        attack=["T1071"],
        severity="high",
        confidence=0.9,
        hosts=[C2, ws],
        first_seen=f"2011-10-0{n}T10:00:00.000Z",
        last_seen=f"2011-10-0{n}T10:00:00.000Z",
        evidence=[Evidence(source="conn.log", locator=f"line {n}", summary="inbound")],
        host_ids=["host-c2", ws_id],
    )


def _doc() -> ReportDocument:
    machines = [
        _machine("host-c2", None, C2, "external"),
        _machine("ws223", "WS223", "10.1.0.232", "egress"),
        _machine("ws224", "WS224", "10.1.0.233", "no-egress"),
    ]
    findings = [
        _finding(1, "10.1.0.232", "ws223"),
        _finding(2, "10.1.0.233", "ws224"),
        _finding(3, "10.1.0.232", "ws223"),
    ]
    return with_summary(
        ReportDocument(
            tool_version="0.1.0",
            started="2011-10-10T00:00:00Z",
            finished="2011-10-10T00:01:00Z",
            findings=findings,
            hosts=machines,
        )
    )


def test_the_group_holds_the_internal_machines_only() -> None:
    doc = _doc()
    (g,) = doc.summary.groups
    assert g.host_ids == ["ws223", "ws224"]
    assert group_machine_count(g, doc) == 2
    # the findings still name the C&C machine
    assert all("host-c2" in f.host_ids for f in doc.findings)


def test_a_13_report_that_counted_the_c2_is_regrouped() -> None:
    doc = _doc()
    (g,) = doc.summary.groups
    old = doc.model_copy(
        update={
            "summary": SummaryModel(
                groups=[g.model_copy(update={"host_ids": ["host-c2", "ws223", "ws224"]})]
            )
        }
    )
    (again,) = summary_groups(old)
    assert isinstance(again, FindingGroupModel) and again.host_ids == ["ws223", "ws224"]


def test_terminal_html_and_serve_say_two_hosts(tmp_path: Path) -> None:
    doc = _doc()
    buf = io.StringIO()
    render_summary(doc, Console(file=buf, width=120, force_terminal=False))
    row = next(line for line in buf.getvalue().splitlines() if "connected in to" in line)
    assert re.search(r"high\s+C&C\s+2\s", row), row

    html = render_html(doc)
    groups = html[html.index('id="groups"') :]
    cells = re.findall(r'<td class="num">(\d+)</td>', groups[: groups.index("</table>")])
    assert cells[:3] == ["3", "3", "2"], cells  # findings, occurrences, hosts

    (tmp_path / "report.json").write_text(render_json(doc), encoding="utf-8")
    token = "test-token-0123456789abcdef"
    app = create_app(CaseSource(tmp_path), token, "analyst")
    client = TestClient(app, base_url="http://127.0.0.1:8765")
    page = client.get("/", headers={"Authorization": f"Bearer {token}"}).text
    # two hosts, and the group's first sighting in its own column
    cells = r'<td class="num">2</td><td class="mono nowrap">2011-10-01 10:00</td>'
    assert re.search(cells + r'<td class="mono">DQ-NET-001</td>', page), page
