"""The terminal and HTML show one machine once, and run statistics as people read them."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.console import Console

from duqhunt.analysis import family_stats
from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.report import (
    BeaconModel,
    C2Model,
    Campaign,
    HostAddressModel,
    HostIdentityModel,
    HostModel,
    ReportDocument,
)
from duqhunt.render import render_html
from duqhunt.render.common import machine_labels, stat_value
from duqhunt.render.text import render_summary
from duqhunt.render.topology import build_topology

WS223 = HostIdentityModel(
    id="host-ws223",
    names=["WS223"],
    ips=[HostAddressModel(ip="10.1.0.77"), HostAddressModel(ip="10.1.0.232")],
)


def _finding(n: int, hosts: list[str], host_ids: list[str]) -> Finding:
    return Finding(
        id=f"DQ-NET-005-{n:016x}",
        detector="DQ-NET-005",
        title=f"lateral move number {n}",
        stage="lateral-movement",
        severity="high",
        confidence=0.9,
        hosts=hosts,
        host_ids=host_ids,
        attack=["T1021.002"],
        first_seen="2011-10-14T10:00:00.000Z",
        last_seen=None,
        evidence=[Evidence(source="smb_files.log", locator="row 1", summary="s")],
    )


def _doc(findings: list[Finding], **kw: object) -> ReportDocument:
    return ReportDocument.model_validate(
        {
            "tool_version": "test",
            "started": "2011-10-16T00:00:00.000Z",
            "finished": "2011-10-16T00:01:00.000Z",
            "case": "case",
            "findings": findings,
            "hosts": [WS223],
            **kw,
        }
    )


def test_a_machine_named_both_ways_is_listed_once_with_its_address() -> None:
    both = _finding(1, ["10.1.0.232", "WS223"], ["host-ws223"])
    assert machine_labels(both, {WS223.id: WS223}) == ["WS223 (10.1.0.232)"]
    # the address the finding saw, not the machine's other one
    early = _finding(2, ["10.1.0.77"], ["host-ws223"])
    assert machine_labels(early, {WS223.id: WS223}) == ["WS223 (10.1.0.77)"]
    # named only: its latest address; no host_ids (older reports): the finding's own labels
    named = _finding(3, ["WS223"], ["host-ws223"])
    assert machine_labels(named, {WS223.id: WS223}) == ["WS223 (10.1.0.232)"]
    old = _finding(4, ["10.1.0.232", "WS223"], [])
    assert machine_labels(old, {WS223.id: WS223}) == ["10.1.0.232", "WS223"]


def test_the_findings_table_shows_each_machine_once_at_80_columns() -> None:
    doc = _doc([_finding(1, ["10.1.0.232", "WS223"], ["host-ws223"])])
    for width in (80, 200):
        console = Console(width=width, record=True, color_system=None)
        render_summary(doc, console)
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        words = text.split()
        assert "(10.1.0.232)" in words or "(10.1.0.232)," in words, text
        assert "10.1.0.232," not in words  # not as a second host beside its own name


def test_time_stats_render_as_iso_utc_and_stats_are_prefixed_once() -> None:
    assert stat_value("window_end", 1318723199.669977) == "2011-10-15T23:59:59.669Z"
    assert stat_value("window_end", "x") == "x" and stat_value("rows_conn", 5) == 5
    html = render_html(_doc([], stats={"window_start": 1318550403.55882, "host_files": 3}))
    assert "2011-10-14T00:00:03.558Z" in html and "1.31855e+09" not in html
    stats = family_stats("host", [("host_scan_seconds", 1.5), ("files", 3)])
    assert stats == {"host_scan_seconds": 1.5, "host_files": 3}
    assert family_stats("doc", [("files", 1)]) == {"doc_files": 1}


def test_the_topology_draws_a_machine_with_two_addresses_once() -> None:
    """WS223 beacons from its old lease and is moved to at its new one: one node, both edges."""
    camp = Campaign(
        hosts=[
            HostModel(ip="10.1.0.5", roles=["patient-zero"], zone="egress"),
            HostModel(ip="10.1.0.232", roles=["infected"], zone="egress"),
            HostModel(ip="10.1.0.77", roles=["infected"], zone="egress"),
            HostModel(ip="203.0.113.9", roles=["c2"]),
        ],
        c2=[C2Model(ip="203.0.113.9", score=0.9, known_ioc=False)],
        beacons=[
            BeaconModel(src="10.1.0.77", dst="203.0.113.9", score=0.9, interval_s=600.0, count=50)
        ],
        lateral_moves=[{"src": "10.1.0.5", "dst": "10.1.0.232", "method": "service"}],
    )
    assert build_topology(camp).hosts_total == 4  # by address alone
    topo = build_topology(camp, [WS223])
    assert topo.hosts_total == 3 and topo.svg is not None
    root = ET.fromstring(str(topo.svg))
    ns = "{http://www.w3.org/2000/svg}"
    tips = {
        kind: [
            g.findtext(f"{ns}title") or ""
            for g in root.iter(f"{ns}g")
            if (g.get("class") or "").startswith(kind) and g.find(f"{ns}title") is not None
        ]
        for kind in ("node ", "edge ")
    }
    (ws,) = [t for t in tips["node "] if "WS223" in t]
    assert ws.startswith("10.1.0.232\nalso 10.1.0.77")
    edges = tips["edge "]
    assert any(t.startswith("beacon 10.1.0.232 ") for t in edges), edges
    assert any(t.startswith("lateral move 10.1.0.5 \u2192 10.1.0.232") for t in edges), edges


def test_report_html_lists_a_machine_once_in_groups_and_findings() -> None:
    doc = _doc([_finding(1, ["10.1.0.232", "WS223"], ["host-ws223"])])
    html = render_html(doc)
    # the group's note, the findings table, and the finding's card (a link to its page)
    assert html.count("WS223 (10.1.0.232)") == 3
    assert '<a href="#h-host-ws223">WS223 (10.1.0.232)</a>' in html
    assert "10.1.0.232, WS223" not in html
