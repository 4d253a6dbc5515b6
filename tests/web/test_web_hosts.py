"""The hosts list of the web app: one row per machine, found by any of its labels."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, unquote

from test_web_api import client
from web_fixtures import finding

from duqhunt.model.report import (
    HostAddressModel,
    HostIdentityModel,
    ReportDocument,
)
from duqhunt.render import write_outputs

_ROW = re.compile(r'<tr><td><a class="mono" href="/hosts/([^"]+)">')


def _rows(html: str) -> list[str]:
    return [unquote(m) for m in _ROW.findall(html)]


def test_one_row_per_machine_of_a_hunt(hunted_case: tuple[Path, Path]) -> None:
    _, out = hunted_case
    machines = json.loads((out / "report.json").read_text())["hosts"]
    named = [h for h in machines if h["names"] and h["ips"]]
    assert named, "the simulated case has machines known by name and address"
    c = client(out)
    ids: list[str] = []
    page = 1
    while True:
        html = c.get(f"/hosts?page={page}").text
        ids += _rows(html)
        if f'href="/hosts?page={page + 1}"' not in html:
            break
        page += 1
    assert sorted(ids) == sorted(h["id"] for h in machines)  # once each, no label rows
    for h in named[:5]:
        for label in (*h["names"], *(a["ip"] for a in h["ips"])):
            found = _rows(c.get(f"/hosts?q={quote(label.lower())}").text)
            assert h["id"] in found, (label, found)
        assert c.get(f"/hosts/{quote(h['id'], safe='')}").status_code == 200


def test_a_machine_with_two_names_and_two_addresses_is_one_row(tmp_path: Path) -> None:
    ws223 = HostIdentityModel(
        id="host-ws223",
        names=["WS223", "OLD-WS223"],
        ips=[HostAddressModel(ip="10.1.0.232"), HostAddressModel(ip="10.1.0.77")],
        roles=["patient-zero", "infected"],
        zone="egress",
    )
    other = HostIdentityModel(id="host-10.9.9.9", ips=[HostAddressModel(ip="10.9.9.9")])
    doc = ReportDocument(
        tool_version="test",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:00Z",
        case=str(tmp_path / "case" / "case.duckdb"),
        findings=[
            finding(1, hosts=["WS223"], host_ids=["host-ws223"], title="driver on WS223"),
            finding(2, hosts=["10.1.0.232"], host_ids=["host-ws223"], title="beacon"),
            finding(
                3, hosts=["10.9.9.9"], host_ids=["host-10.9.9.9"], title="unrelated", severity="low"
            ),
        ],
        hosts=[ws223, other],
    )
    out = tmp_path / "case"
    write_outputs(doc, out)
    c = client(out)
    html = c.get("/hosts").text
    assert _rows(html) == ["host-ws223", "host-10.9.9.9"]  # most alarming first
    row = html[html.index('href="/hosts/host-ws223"') :].split("</tr>")[0]
    assert "WS223, OLD-WS223" in row and "10.1.0.232, 10.1.0.77" in row
    assert re.search(r'class="num">2</td>', row)  # both findings, once
    for label in ("ws223", "OLD-WS223", "10.1.0.232", "10.1.0.77", "host-ws223"):
        assert _rows(c.get(f"/hosts?q={quote(label)}").text) == ["host-ws223"], label
    assert _rows(c.get("/hosts?q=10.1.0.7").text) == ["host-ws223"]  # a part of a label
    assert _rows(c.get("/hosts?q=192.0.2.1").text) == []
    story = c.get("/hosts/host-ws223").text
    assert "driver on WS223" in story and "beacon" in story and "unrelated" not in story


def test_findings_name_each_machine_once_and_link_its_page(tmp_path: Path) -> None:
    ws223 = HostIdentityModel(
        id="host-ws223", names=["WS223"], ips=[HostAddressModel(ip="10.1.0.232")]
    )
    f = finding(1, hosts=["10.1.0.232", "WS223"], host_ids=["host-ws223"], title="lateral")
    doc = ReportDocument(
        tool_version="test",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:00Z",
        case=str(tmp_path / "case" / "case.duckdb"),
        findings=[f],
        hosts=[ws223],
    )
    write_outputs(doc, tmp_path / "case")
    c = client(tmp_path / "case")
    link = '<a class="mono" href="/hosts/host-ws223">WS223 (10.1.0.232)</a>'
    for path in ("/findings", f"/findings/{f.id}"):
        html = c.get(path).text
        assert html.count(link) == 1, path
        assert 'href="/hosts/10.1.0.232"' not in html and 'href="/hosts/WS223"' not in html
