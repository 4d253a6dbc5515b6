"""The report's story sections: kill chain, C&C map, documents, host timeline, finding sources.

One simulated hunt (network logs and host triage folders, seed 7) is run once for the module;
the other tests build small documents in code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.report import C2Model, Campaign, FileVerdictModel, ReportDocument
from duqhunt.render import render_html, render_summary
from duqhunt.render.common import finding_source, short_path, sorted_verdicts
from duqhunt.render.html import MAX_TIMELINE
from duqhunt.render.map import MAP_CSS
from duqhunt.simulate import SimConfig, simulate
from duqhunt.simulate.host import write_triage_folders

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = "<img src=x onerror=alert(1)>"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
STAGES = (
    "Delivery",
    "Exploitation",
    "Installation",
    "Lateral movement",
    "Internal relay",
    "Command and control",
    "Exfiltration",
)
KNOWN_C2 = "206.183.111.97"  # in the shipped duqu-2011 intel pack, reported in India


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> ReportDocument:
    base = tmp_path_factory.mktemp("story")
    truth = simulate(base / "zeek", seed=7, config=SimConfig(hosts=40, days=1.0), meta_dir=base)
    write_triage_folders(base / "host", truth, 7)
    return hunt(
        HuntOptions(
            inputs=(base / "zeek", base / "host"),
            out=base / "out",
            allowlists=(base / "known-good.yaml",),
            threads=2,
        )
    )


@pytest.fixture(scope="module")
def simulated_html(simulated: ReportDocument) -> str:
    return render_html(simulated)


def _empty(**kw: object) -> ReportDocument:
    data: dict[str, object] = {"tool_version": "0.1.0", "started": "x", "finished": "y"}
    data.update(kw)
    return ReportDocument.model_validate(data)


def _finding(detector: str, n: int = 1, **kw: object) -> Finding:
    data: dict[str, object] = {
        "id": f"{detector}-{n:016x}",
        "detector": detector,
        "title": f"{detector} finding {n}",
        "stage": "installation",
        "attack": [],
        "severity": "high",
        "confidence": 0.9,
        "hosts": ["10.1.0.15"],
        "first_seen": None,
        "last_seen": None,
        "evidence": [Evidence(source="x", locator="y", summary="z")],
    }
    data.update(kw)
    return Finding.model_validate(data)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


def _summary(doc: ReportDocument) -> str:
    console = Console(record=True, width=200)
    render_summary(doc, console)
    return console.export_text()


# ---------------------------------------------------------------- kill chain


def test_story_section_on_the_simulated_report(simulated_html: str) -> None:
    html = simulated_html
    assert '<a href="#story">Kill chain</a>' in html
    assert html.count('<section id="story">') == 1
    # right after the campaign, before the findings
    assert html.index('<section id="campaign">') < html.index('<section id="story">')
    assert html.index('<section id="story">') < html.index('<section id="findings">')
    story = _section(html, "story")
    assert "<h2>Kill chain</h2>" in story
    for stage in STAGES:
        assert f"<td>{stage}</td>" in story
    # the simulated case has no documents: delivery is a gap, said as such
    assert '<span class="tag gap">no evidence</span>' in story
    assert re.search(r"no evidence: no (?:input|duqhunt detector)", story)
    assert '<span class="tag seen">seen</span>' in story
    assert "ATT&amp;CK techniques tagged" in html


def test_story_section_on_an_empty_report() -> None:
    html = render_html(_empty())
    story = _section(html, "story")
    assert story.count('<span class="tag gap">no evidence</span>') == len(STAGES)
    assert '<section id="documents">' not in html
    assert '<section id="host-timeline">' not in html
    assert 'href="#documents"' not in html and 'href="#host-timeline"' not in html
    assert 'class="chips"' not in html
    assert 'class="worldmap"' not in html


def test_csp_hashes_cover_the_new_css(simulated_html: str) -> None:
    html = simulated_html
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    bodies = {}
    for tag in ("style", "script"):
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        assert len(found) == 1, tag
        bodies[tag] = found[0]
        digest = base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy.group(1)
    css = bodies["style"]
    assert MAP_CSS in css
    for rule in (".tag.seen", ".tag.gap", ".note {", "table.killchain", ".tag.verdict-malicious"):
        assert rule in css
    # no style attributes anywhere (the CSP would block them)
    assert not re.search(r"<[^>]+\sstyle=", html)


# ---------------------------------------------------------------- C&C map


def test_c2_map_marks_the_known_server(simulated: ReportDocument, simulated_html: str) -> None:
    assert KNOWN_C2 in {c.ip for c in simulated.campaign.c2}
    found = re.findall(r'<svg\b[^>]*class="worldmap".*?</svg>', simulated_html, re.S)
    assert len(found) == 1
    root = ET.fromstring(found[0])
    ns = "{http://www.w3.org/2000/svg}"
    labels = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
    assert KNOWN_C2 in labels
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    assert any(t.startswith(f"C&C {KNOWN_C2}: reported in India") for t in titles)
    drawn = len(list(root.iter(f"{ns}circle"))) - 1  # one circle is the legend's
    assert f"{drawn} of {len(simulated.campaign.c2)} C&amp;C server" in simulated_html
    # the map sits in the campaign section
    assert found[0] in _section(simulated_html, "campaign")


def test_c2_map_absent_when_no_server_is_placed() -> None:
    camp = Campaign(c2=[C2Model(ip="198.51.100.7", domain=XSS, score=0.5, known_ioc=False)])
    html = render_html(_empty(campaign=camp))
    assert 'class="worldmap"' not in html
    assert "198.51.100.7" in html


# ---------------------------------------------------------------- host timeline


def test_host_timeline_on_the_simulated_report(
    simulated: ReportDocument, simulated_html: str
) -> None:
    assert simulated.host_timeline
    section = _section(simulated_html, "host-timeline")
    assert f"Host timeline ({len(simulated.host_timeline)})" in section
    assert f'<a href="#host-timeline">Host timeline ({len(simulated.host_timeline)})</a>' in (
        simulated_html
    )
    times = re.findall(r'<td class="mono nowrap" data-sort="([^"]*)">', section)
    assert len(times) == min(len(simulated.host_timeline), MAX_TIMELINE)
    assert times == sorted(times)


def test_host_timeline_escapes_sorts_and_caps() -> None:
    hostile = {
        "time": "2011-10-14T01:00:04.000Z",
        "host": f"ws{XSS}",
        "kind": f"service{XSS}",
        "what": f"JmiNET3: {XSS}\u202e.sys",
        "source": f"/cases/host-a/Windows/System32/config/{IMG}SYSTEM.reg",
    }
    undated = {"time": None, "host": "ws-late", "kind": "pnf", "what": "x.pnf", "source": None}
    filler = [
        {
            "time": f"2011-10-13T{i // 60:02d}:{i % 60:02d}:00.000Z",
            "host": "ws-filler",
            "kind": "temp-file",
            "what": f"~DQ{i:04X}.tmp",
            "source": f"/cases/host-b/Windows/Temp/~DQ{i:04X}.tmp",
        }
        for i in range(MAX_TIMELINE + 4)
    ]
    doc = _empty(host_timeline=[undated, hostile, *filler])
    html = render_html(doc)
    section = _section(html, "host-timeline")
    assert XSS not in html
    assert "\u202e" not in html
    assert "+6 more in report.json" in section
    rows = re.findall(r"<tr><td.*?</tr>", section, re.S)
    assert len(rows) == MAX_TIMELINE
    # oldest first; the hostile 2011-10-14 event and the undated one fall past the cap
    assert "2011-10-13 00:00:00" in rows[0]

    doc = _empty(host_timeline=[undated, hostile])
    section = _section(render_html(doc), "host-timeline")
    rows = re.findall(r"<tr><td.*?</tr>", section, re.S)
    assert "2011-10-14 01:00:04" in rows[0] and "ws-late" in rows[1]  # undated last
    assert f"ws{XSS_ESCAPED}" in rows[0]
    assert f'<span class="tag">service{XSS_ESCAPED}</span>' in rows[0]
    assert f"JmiNET3: {XSS_ESCAPED}\\u202e.sys" in rows[0]
    # the source is shortened, with its full path on hover
    assert f'title="/cases/host-a/Windows/System32/config/{IMG_ESCAPED}SYSTEM.reg"' in rows[0]
    assert f">\u2026/System32/config/{IMG_ESCAPED}SYSTEM.reg</td>" in rows[0]
    assert IMG not in html
    assert rows[1].count("\u2014") == 2  # no time, no source


# ---------------------------------------------------------------- documents


def test_documents_table_orders_tags_and_escapes() -> None:
    verdicts = [
        FileVerdictModel(path="/docs/b-clean.docx", verdict="clean"),
        FileVerdictModel(path=f"/docs/{XSS}.doc", verdict="malicious", reasons=[f"font {XSS}"]),
        FileVerdictModel(path="/docs/a.rtf", verdict="suspicious", reasons=["OLE object", "x"]),
        FileVerdictModel(path="/docs/enc.docx", verdict="encrypted", reasons=["encrypted"]),
        FileVerdictModel(path="/docs/font.eot", verdict="malformed", reasons=["bad table"]),
        FileVerdictModel(path="/docs/a-clean.docx", verdict="clean"),
        FileVerdictModel(path="/docs/empty", verdict="unsupported", reasons=["unknown"]),
    ]
    html = render_html(_empty(verdicts=verdicts))
    assert XSS not in html
    assert '<a href="#documents">Documents (7)</a>' in html
    section = _section(html, "documents")
    order = re.findall(r'<td data-sort="\d+"><span class="tag verdict-(\w+)">', section)
    assert order == [
        "malicious",
        "suspicious",
        "malformed",
        "encrypted",
        "unsupported",
        "clean",
        "clean",
    ]
    assert section.index("a-clean.docx") < section.index("b-clean.docx")
    assert f"/docs/{XSS_ESCAPED}.doc" in section
    assert f"font {XSS_ESCAPED}" in section
    assert "OLE object; x" in section
    assert "Documents: 1 malicious, 1 suspicious, 1 malformed" in html  # summary line


def test_sorted_verdicts() -> None:
    v = [
        FileVerdictModel(path="b", verdict="clean"),
        FileVerdictModel(path="a", verdict="clean"),
        FileVerdictModel(path="z", verdict="malicious"),
    ]
    assert [x.path for x in sorted_verdicts(v)] == ["z", "a", "b"]


# ---------------------------------------------------------------- finding sources


def test_finding_source_column_and_chips() -> None:
    findings = [
        _finding("DQ-NET-004", 1),
        _finding("DQ-HOST-001", 2),
        _finding("DQ-HOST-006", 3),
        _finding("DQ-DOC-015", 4, stage="delivery"),
        _finding("YARA-X", 5),
    ]
    html = render_html(_empty(findings=findings))
    section = _section(html, "findings")
    assert "<th>Source</th>" in section
    chips = re.search(r'<div class="chips">(.*?)</div>', section, re.S)
    assert chips is not None
    labels = re.findall(r'<label for="src-([a-z]+)">([^<]+)</label>', chips.group(1))
    assert labels == [
        ("all", "all (5)"),
        ("network", "network (1)"),
        ("host", "host (2)"),
        ("document", "document (1)"),
        ("other", "other (1)"),
    ]
    # one radio per chip, "all" checked, before the index and the cards (CSS sibling rules)
    assert section.count('<input type="radio" name="finding-source"') == 5
    assert '<input type="radio" name="finding-source" class="chip" id="src-all" checked>' in (
        section
    )
    assert section.index('id="src-other"') < section.index('<table class="sortable" id="findings')
    rows = re.findall(r'<tr id="row-\d+" data-source="(\w+)">', section)
    cards = re.findall(r'<article class="finding [^"]+" id="finding-\d+" data-source="(\w+)"', html)
    assert sorted(rows) == sorted(cards) == ["document", "host", "host", "network", "other"]
    assert "Findings by source: 1 network, 2 host, 1 document, 1 other." in html


def test_one_source_no_chips() -> None:
    html = render_html(_empty(findings=[_finding("DQ-NET-004", 1), _finding("DQ-NET-002", 2)]))
    assert 'class="chips"' not in html
    assert '<span class="tag src-network">network</span>' in html


def test_finding_source_and_short_path() -> None:
    assert finding_source(_finding("DQ-NET-004")) == "network"
    assert finding_source(_finding("dq-host-001")) == "host"
    assert finding_source(_finding("DQ-DOC-015")) == "document"
    assert finding_source(_finding("SIGMA-1")) == "other"
    assert short_path("/tmp/fs/host/h1/Windows/inf/usbstor.pnf") == "\u2026/Windows/inf/usbstor.pnf"
    assert short_path("C:\\Windows\\inf\\a\\b.pnf") == "\u2026\\inf\\a\\b.pnf"
    assert short_path("/inf/a/b.pnf") == "/inf/a/b.pnf"
    assert short_path("b.pnf") == "b.pnf"
    assert short_path("") == ""


# ---------------------------------------------------------------- terminal summary


def test_summary_documents_and_timeline() -> None:
    verdicts = [
        FileVerdictModel(path=f"/docs/{i:02d}.doc", verdict="suspicious", reasons=["macro"])
        for i in range(22)
    ]
    verdicts += [
        FileVerdictModel(
            path="/docs/[bold red]x[/]\x1b[2J.doc", verdict="malicious", reasons=[XSS]
        ),
        FileVerdictModel(path="/docs/clean-one.docx", verdict="clean"),
    ]
    timeline = [
        {"time": "2011-10-14T01:00:04.000Z", "host": "WS-1", "kind": "pnf", "what": "a"},
        {"time": "2010-12-18T00:00:00.000Z", "host": "WS-2", "kind": "pnf", "what": "b"},
        {"time": None, "host": "WS-2", "kind": "pnf", "what": "c"},
    ]
    text = _summary(_empty(verdicts=verdicts, host_timeline=timeline))
    assert "Documents: 24 scanned: 1 malicious, 22 suspicious, 1 clean." in text
    assert "Not clean (20 of 23)" in text
    assert "+3 more documents in the full report" in text
    assert "/docs/[bold red]x[/]\\x1b[2J.doc" in text  # literal, first (malicious)
    assert text.index("[bold red]x[/]") < text.index("/docs/00.doc")
    assert "clean-one.docx" not in text
    assert XSS in text  # plain text output; the terminal shows it, nothing interprets it
    assert "\x1b" not in text
    assert "Host timeline: 3 events on 2 hosts, 2010-12-18 00:00 to 2011-10-14 01:00." in text


def test_summary_all_clean_and_simulated(simulated: ReportDocument) -> None:
    text = _summary(_empty(verdicts=[FileVerdictModel(path="/a.docx", verdict="clean")]))
    assert "Documents: 1 scanned, all clean." in text
    assert "Host timeline" not in text
    text = _summary(simulated)
    assert f"Host timeline: {len(simulated.host_timeline)} events on" in text
    assert "Documents" not in text


def test_saved_report_renders_the_same(simulated: ReportDocument, tmp_path: Path) -> None:
    from duqhunt.render import load_report, write_outputs

    paths = write_outputs(simulated, tmp_path)
    loaded = load_report(paths["json"])
    assert render_html(loaded) == paths["html"].read_text(encoding="utf-8")
