"""Renderers of the report document: JSON, JSON Lines, offline HTML, terminal summary."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from duqhunt.errors import InputError
from duqhunt.model.finding import Evidence, Finding
from duqhunt.model.report import (
    BeaconModel,
    C2Model,
    Campaign,
    HostModel,
    InputRecord,
    NotAnalysed,
    ReportDocument,
)
from duqhunt.render import (
    load_report,
    render_html,
    render_json,
    render_jsonl,
    render_summary,
    write_outputs,
)
from duqhunt.render.common import format_interval
from duqhunt.render.topology import MAX_PER_COLUMN, build_topology

XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
C2_IP = "203.0.113.66"
BRIDGE_IP = "10.1.2.3"


def _finding(
    n: int,
    severity: str = "medium",
    confidence: float = 0.5,
    stage: str = "command-and-control",
    **kw: object,
) -> Finding:
    data: dict[str, object] = {
        "id": f"DQ-NET-004-{n:016x}",
        "detector": "DQ-NET-004",
        "title": f"Periodic HTTP beacon {n}",
        "stage": stage,
        "attack": ["T1071.001"],
        "severity": severity,
        "confidence": confidence,
        "hosts": [BRIDGE_IP],
        "first_seen": "2011-10-01T10:00:00.000Z",
        "last_seen": "2011-10-03T10:00:00.000Z",
        "evidence": [Evidence(source="http.log", locator=f"row {n}", summary="GET /index.php")],
        "details": {},
    }
    data.update(kw)
    return Finding.model_validate(data)


def _doc(**overrides: object) -> ReportDocument:
    findings = [
        _finding(
            1,
            "high",
            0.9,
            title=f"Beacon with hostile user agent {XSS}",
            hosts=[BRIDGE_IP, f"evil{XSS}.example"],
            evidence=[
                Evidence(
                    source="http.log",
                    locator="row 17",
                    summary=f"user_agent={XSS} uri=https://evil.example/pic.jpg",
                ),
                Evidence(
                    source="conn.log", locator='uid "C1"', summary="jitter 3%, 1440 connections"
                ),
            ],
            details={"zeta": 1, "alpha": "x" + XSS, "ratio": 0.125, "flag": True, "none": None},
        ),
        _finding(2, "critical", 0.7, stage="internal-relay", title="SMB named pipe relay"),
        _finding(3, "critical", 0.95, stage="installation", title="Driver posing as JMicron"),
        _finding(4, "low", 0.3, stage="discovery"),
        _finding(5, "high", 0.4, stage="lateral-movement", attack=["T1021.002", "T1053.005"]),
    ]
    data: dict[str, object] = {
        "tool_version": "0.1.0",
        "started": "2024-05-01T12:00:00.000Z",
        "finished": "2024-05-01T12:03:30.000Z",
        "case": f"case-{XSS}",
        "internal_networks": ["10.0.0.0/8", "192.168.0.0/16"],
        "inputs": [
            InputRecord(
                path="/evidence/zeek/conn.log",
                kind="zeek",
                sha256="ab" * 32,
                status="analysed",
                log_type="conn",
                rows=1000,
            ),
            InputRecord(
                path="/evidence/zeek/http.log",
                kind="zeek",
                status="partial",
                log_type="http",
                rows=90,
                skipped_rows=10,
            ),
            InputRecord(path=f"/evidence/{XSS}.pcap", kind="pcap", status="not-analysed"),
        ],
        "not_analysed": [NotAnalysed(path=f"/evidence/{XSS}.pcap", reason=f"truncated {XSS}")],
        "warnings": [f"warning {XSS}"],
        "findings": findings,
        "campaign": Campaign(
            hosts=[
                HostModel(ip=BRIDGE_IP, name=f"ws{XSS}", roles=["bridge"], zone="egress"),
                HostModel(ip="10.9.9.9", name="scada-hmi", roles=["infected"], zone="no-egress"),
            ],
            c2=[
                C2Model(
                    ip=C2_IP,
                    domain=f"{XSS}.example",
                    score=0.97,
                    known_ioc=True,
                    sources=["intel:kaspersky-duqu"],
                ),
                C2Model(ip="198.51.100.7", score=0.41, known_ioc=False),
            ],
            beacons=[
                BeaconModel(src=BRIDGE_IP, dst=C2_IP, score=0.93, interval_s=300.0, count=1440),
                BeaconModel(
                    src="10.1.2.4",
                    dst=f"{XSS}.example",
                    kind="http-host",
                    score=0.51,
                    interval_s=3600.0,
                    count=24,
                    suppressed=True,
                ),
            ],
            relay_edges=[{"src": "10.9.9.9", "dst": BRIDGE_IP, "pipe": XSS}],
        ),
        "stats": {"rows": 1090, "engine_seconds": 1.5},
    }
    data.update(overrides)
    return ReportDocument.model_validate(data)


def _attr_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|action|xlink:href)\s*=\s*["']?\s*([^"'\s>]*)""", html, re.I)


# ---------------------------------------------------------------- HTML


def test_html_escapes_hostile_strings() -> None:
    html = render_html(_doc())
    assert XSS not in html
    assert XSS_ESCAPED in html
    # The only script element is ours, at the end of the body.
    assert html.count("<script") == 1
    assert "alert(1)</script>" not in html


def test_html_loads_nothing_from_the_network() -> None:
    html = render_html(_doc())
    # The only outside addresses are links to ATT&CK technique pages: a click navigates, the
    # page itself loads nothing.
    links = re.findall(r"<a [^>]*href=\"(https?://[^\"]*)\"", html)
    assert links
    for link in links:
        assert re.fullmatch(r"https://attack\.mitre\.org/techniques/T\d{4}/(\d{3}/)?", link), link
    html = re.sub(r'(<a [^>]*)href="https://attack\.mitre\.org/techniques/[^"]*"', r"\1", html)
    for url in _attr_urls(html):
        assert url.startswith(("#", "data:")), url
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert "@import" not in html
    assert "url(" not in html
    assert '<link rel="stylesheet"' not in html
    # The hostile URL from evidence is there, as text only.
    assert "uri=https://evil.example/pic.jpg" in html


def test_html_content_security_policy_matches_inline_code() -> None:
    html = render_html(_doc())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = csp.group(1)
    assert "default-src 'none'" in policy
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


def test_html_shows_control_and_bidi_characters_as_escapes() -> None:
    doc = _doc(warnings=["invoice\u202excod.scr", "esc\x1b[31mred"])
    html = render_html(doc)
    assert "\u202e" not in html and "\x1b" not in html
    assert "invoice\\u202excod.scr" in html
    assert "esc\\x1b[31mred" in html


def test_html_sections_and_sorting() -> None:
    html = render_html(_doc())
    assert html.startswith("<!DOCTYPE html>")
    for section in ("summary", "campaign", "findings", "inputs", "not-analysed", "warnings"):
        assert f'id="{section}"' in html
    # Findings: severity desc, then confidence desc (the index, not the groups above it).
    index = html[html.index('<section id="findings">') :]
    order = [index.index(f'<a href="#finding-{n}">') for n in range(1, 6)]
    assert order == sorted(order)
    cards = re.findall(r'<article class="finding sev-(\w+)"', html)
    assert cards == ["critical", "critical", "high", "high", "low"]
    first_card = html[html.index('id="finding-1"') :]
    assert "Driver posing as JMicron" in first_card[:2000]
    # Lateral moves and bridges are empty, relay edges are not.
    assert html.count("none found") == 2
    assert "T1021.002" in html and "T1053.005" in html
    assert "abababababab&hellip;" in html  # sha256 shortened
    assert '<svg class="chart"' in html
    assert "known IOC" in html


def test_html_caps_warnings() -> None:
    doc = _doc(warnings=[f"w{i}" for i in range(250)])
    html = render_html(doc)
    assert '<li class="wrap">w199</li>' in html
    assert "w200<" not in html
    assert "and 50 more warnings" in html


def test_html_empty_document() -> None:
    doc = ReportDocument(tool_version="0.1.0", started="x", finished="y")
    html = render_html(doc)
    assert html.count("none found") == 8  # groups, c2, hosts, beacons, 3 edge lists, findings
    assert "everything given was analysed" in html


# ---------------------------------------------------------------- campaign: topology and tables

SVG_NS = "{http://www.w3.org/2000/svg}"
PZ_IP = "10.1.0.232"
SECURE = [f"10.50.0.{i}" for i in range(10, 13)]
HOSTILE_PIPE = f"pipe{XSS}&\u202e\x1b[2J"
HOSTILE_FILE = f"Windows\\Temp\\{XSS}.exe"
HOSTILE_ACCOUNT = f"CORP\\{XSS}"


def _campaign(**overrides: object) -> Campaign:
    data: dict[str, object] = {
        "hosts": [
            HostModel(ip=PZ_IP, name=f"pc{XSS}", roles=["patient-zero", "infected"], zone="egress"),
            HostModel(ip=BRIDGE_IP, roles=["infected", "bridge"], zone="egress"),
            HostModel(ip="10.1.0.16", roles=["infected"], zone="egress"),
            HostModel(ip="10.1.0.17", roles=["infected"], zone="egress"),
            *[HostModel(ip=ip, roles=["infected"], zone="no-egress") for ip in SECURE],
            HostModel(ip=C2_IP, roles=["c2"]),
        ],
        "c2": [C2Model(ip=C2_IP, score=0.95, known_ioc=True)],
        "beacons": [
            BeaconModel(src=BRIDGE_IP, dst=C2_IP, score=0.9, interval_s=600.0, count=100),
            BeaconModel(src=PZ_IP, dst=C2_IP, score=0.8, interval_s=600.0, count=90),
        ],
        "lateral_moves": [
            {
                "src": PZ_IP,
                "dst": BRIDGE_IP,
                "time": "2011-10-14T11:48:56.808Z",
                "method": "service",
                "share": "ADMIN$",
                "file": HOSTILE_FILE,
                "account": HOSTILE_ACCOUNT,
                "admin_tool": None,
            },
            {
                "src": PZ_IP,
                "dst": "10.1.0.16",
                "time": "2011-10-14T12:00:00.000Z",
                "method": "task",
                "share": "C$",
                "file": "Windows\\Temp\\a.exe",
                "account": "CORP\\adm",
                "admin_tool": None,
            },
            *[
                {
                    "src": BRIDGE_IP,
                    "dst": ip,
                    "time": f"2011-10-14T15:2{i}:00.000Z",
                    "method": "service",
                    "share": "ADMIN$",
                    "file": "system32\\drivers\\jminet7.sys",
                    "account": "CORP\\adm",
                    "admin_tool": None,
                }
                for i, ip in enumerate(SECURE)
            ],
            {
                "src": "10.0.1.30",
                "dst": "10.1.0.45",
                "time": "2011-10-14T09:00:00.000Z",
                "method": "service",
                "share": "ADMIN$",
                "file": "ccmsetup.exe",
                "account": "CORP\\svc_sccm",
                "admin_tool": f"learned admin tooling {XSS}",
            },
        ],
        "relay_edges": [
            {
                "src": ip,
                "dst": BRIDGE_IP,
                "pipe": HOSTILE_PIPE if i == 0 else None,
                "first_seen": "2011-10-14T15:24:32.954Z",
                "last_seen": "2011-10-15T23:51:55.317Z",
                "score": 0.8 + i / 100,
            }
            for i, ip in enumerate(SECURE)
        ],
        "bridges": [
            {
                "ip": BRIDGE_IP,
                "c2": C2_IP,
                "served": SECURE,
                "chains": [f"{ip} -> {BRIDGE_IP}" for ip in SECURE],
                "correlation": 0.97,
                "baseline": 0.25,
                "lift": 3.9,
                "relayed_sessions": 1162,
                "beacons": [C2_IP],
            }
        ],
    }
    data.update(overrides)
    return Campaign.model_validate(data)


def _topology_svg(html: str) -> str:
    found = re.findall(r"<svg\b[^>]*\bclass=\"topology\".*?</svg>", html, re.S)
    assert len(found) == 1
    return found[0]


def _rects(root: ET.Element, cls: str) -> list[tuple[float, float, float, float]]:
    out = []
    for g in root.iter(f"{SVG_NS}g"):
        if cls in (g.get("class") or "").split():
            rect = g.find(f"{SVG_NS}rect")
            assert rect is not None
            out.append(tuple(float(rect.get(k, "0")) for k in ("x", "y", "width", "height")))
    return out  # type: ignore[return-value]


def test_topology_svg_is_well_formed_and_complete() -> None:
    html = render_html(_doc(campaign=_campaign()))
    root = ET.fromstring(_topology_svg(html))
    assert root.tag == f"{SVG_NS}svg"
    assert float(root.get("width", "0")) <= 1200
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    for label in ("secure zone (no egress)", "corporate network (egress)", "internet"):
        assert label in texts
    for ip in (PZ_IP, BRIDGE_IP, C2_IP, *SECURE):
        assert ip in texts
    assert f"pc{XSS}" in texts  # the host name, a literal string once parsed
    kinds = [
        (g.get("class") or "").split()[1]
        for g in root.iter(f"{SVG_NS}g")
        if (g.get("class") or "").startswith("edge ") and g.find(f"{SVG_NS}title") is not None
    ]
    # 3 relay edges, 5 drawn lateral moves (the admin-tool one is not), 2 beacons to the C&C
    assert sorted(kinds) == ["beacon"] * 2 + ["lateral"] * 5 + ["relay"] * 3
    roles = {
        (g.get("class") or "").split()[1]
        for g in root.iter(f"{SVG_NS}g")
        if (g.get("class") or "").startswith("node ") and g.find(f"{SVG_NS}title") is not None
    }
    assert roles == {"patient-zero", "bridge", "infected", "c2"}
    assert "1 lateral move by learned or allow-listed admin tooling not drawn" in html
    # no style attributes (CSP) and no url() references anywhere in the drawing
    assert all("style" not in el.attrib for el in root.iter())
    assert "url(" not in _topology_svg(html)


def test_topology_escapes_hostile_strings() -> None:
    html = render_html(_doc(campaign=_campaign()))
    svg = _topology_svg(html)
    assert XSS not in html
    assert html.count("<script") == 1
    assert "\u202e" not in html and "\x1b" not in html
    assert "&lt;script&gt;" in svg
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter()]
    pipe_labels = [t for t in texts if t.startswith("pipe pipe<script>")]
    assert pipe_labels, "the named pipe is drawn above the bridge"
    tooltips = "\n".join(t.text or "" for t in root.iter(f"{SVG_NS}title"))
    assert HOSTILE_FILE in tooltips and HOSTILE_ACCOUNT in tooltips
    assert "\\u202e" in tooltips and "\\x1b[2J" in tooltips


def test_topology_edges_do_not_pass_behind_hosts() -> None:
    root = ET.fromstring(_topology_svg(render_html(_doc(campaign=_campaign()))))
    boxes = _rects(root, "node")
    runs = 0
    for g in root.iter(f"{SVG_NS}g"):
        if not (g.get("class") or "").startswith("edge "):
            continue
        path = g.find(f"{SVG_NS}path")
        assert path is not None
        # horizontal runs across a column in between ("... x1,y L x2,y")
        for x1, y1, x2, y2 in re.findall(
            r"(-?[\d.]+),(-?[\d.]+) L(-?[\d.]+),(-?[\d.]+)", path.get("d", "")
        ):
            runs += 1
            assert y1 == y2
            lo, hi = sorted((float(x1), float(x2)))
            for bx, by, bw, bh in boxes:
                if lo < bx + bw and bx < hi:
                    assert not by <= float(y1) <= by + bh
    # the bridge's beacon crosses the column of the other corporate hosts, whose middle host
    # sits level with the bridge and the C&C
    assert runs >= 1


def test_topology_is_deterministic_and_bounded() -> None:
    camp = _campaign()
    shuffled = camp.model_copy(
        update={
            "hosts": list(reversed(camp.hosts)),
            "relay_edges": list(reversed(camp.relay_edges)),
            "lateral_moves": list(reversed(camp.lateral_moves)),
        }
    )
    assert build_topology(camp).svg == build_topology(shuffled).svg

    many = [HostModel(ip=f"10.50.{i // 200}.{i % 200}", zone="no-egress") for i in range(300)]
    big = build_topology(_campaign(hosts=many))
    assert big.svg is not None
    root = ET.fromstring(str(big.svg))
    assert float(root.get("height", "0")) < 1300
    # the patient zero, bridge, 10.1.0.16 and the C&C come from the edges and the C&C list
    assert big.hosts_total == 300 + 4
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert f"+{300 - (MAX_PER_COLUMN - 1)} more hosts" in texts
    assert any("hosts drawn" in n for n in big.notes)


def test_topology_empty_and_unknown_shapes() -> None:
    assert build_topology(Campaign()).svg is None
    html = render_html(_doc(campaign=Campaign()))
    assert "no campaign hosts to draw" in html
    # free-form edges with missing or odd values still draw
    odd = Campaign(
        lateral_moves=[{"src": "10.0.0.1", "dst": None}, {"src": ["x"], "dst": 7, "admin_tool": 0}],
        relay_edges=[{"src": "10.60.0.1", "dst": "10.0.0.2", "pipe": 12, "score": "high"}],
        bridges=[{"ip": "10.0.0.2", "c2": None, "served": "n/a", "chains": None, "lift": None}],
    )
    topo = build_topology(odd)
    assert topo.svg is not None
    ET.fromstring(str(topo.svg))
    html = render_html(_doc(campaign=odd))
    assert html.count("none found") == 3  # c2, beacons, and hosts; the edge tables have rows


def test_campaign_tables_empty() -> None:
    html = render_html(_doc(campaign=Campaign()))
    for key in ("bridges", "relay", "lateral"):
        section = html[html.index(f'<h3 id="{key}">') :]
        section = section[: section.index("</h3>") + 40]
        assert '<p class="none">none found</p>' in section


def test_campaign_tables_rows() -> None:
    camp = _campaign()
    extra = dict(camp.relay_edges[1], zz_new_field="from a newer duqhunt")
    camp = camp.model_copy(update={"relay_edges": [*camp.relay_edges, extra]})
    html = render_html(_doc(campaign=camp))

    def section(key: str) -> str:
        start = html.index(f'<h3 id="{key}">')
        return html[start : html.index("<h3", start + 10)]

    lateral = section("lateral")
    assert "Lateral movement (6)" in lateral
    for header in ("Time", "Source", "Target", "Method", "Share", "File", "Account"):
        assert f"<th>{header}</th>" in lateral
    assert "Windows\\Temp\\&lt;script&gt;alert(1)&lt;/script&gt;.exe" in lateral
    assert "CORP\\&lt;script&gt;" in lateral
    assert lateral.count('<tr class="dim">') == 1
    assert '<span class="tag admin">admin tool</span>' in lateral
    assert "learned admin tooling &lt;script&gt;" in lateral
    # attackers' moves first, by time; admin tooling last
    assert lateral.index(PZ_IP) < lateral.index("10.0.1.30")

    relay = section("relay")
    assert "Internal relay edges (4)" in relay
    assert relay.count("not logged") == 3
    assert "pipe&lt;script&gt;alert(1)&lt;/script&gt;&amp;\\u202e\\x1b[2J" in relay
    assert "<th>zz_new_field</th>" in relay and "from a newer duqhunt" in relay
    # highest score first
    rows = re.findall(r"<tr>(.*?)</tr>", relay, re.S)
    assert SECURE[2] in rows[1] and "0.82" in rows[1]

    bridges = section("bridges")
    assert "Bridges (1)" in bridges
    assert f'title="{", ".join(SECURE)}">3</td>' in bridges  # served count, list on hover
    assert "0.97" in bridges and "3.9\u00d7" in bridges and "1162" in bridges
    assert f"{SECURE[0]} -&gt; {BRIDGE_IP}<br>" in bridges


# ---------------------------------------------------------------- JSON


def test_json_round_trip_through_files(tmp_path: Path) -> None:
    doc = _doc()
    paths = write_outputs(doc, tmp_path / "out")
    assert set(paths) == {"json", "jsonl", "html"}
    assert {p.name for p in paths.values()} == {"report.json", "findings.jsonl", "report.html"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "findings.jsonl",
        "report.html",
        "report.json",
    ]
    loaded = load_report(paths["json"])
    assert loaded == doc
    # A loaded report re-renders to the same bytes.
    assert render_json(loaded) == paths["json"].read_text(encoding="utf-8")
    assert render_html(loaded) == paths["html"].read_text(encoding="utf-8")


def test_write_outputs_replaces_existing_files(tmp_path: Path) -> None:
    write_outputs(_doc(), tmp_path)
    paths = write_outputs(_doc(warnings=[]), tmp_path)
    assert load_report(paths["json"]).warnings == []
    assert not list(tmp_path.glob(".*.tmp"))


def test_json_is_stable() -> None:
    a = _doc(stats={"b": 1, "a": 2})
    b = _doc(stats={"a": 2, "b": 1})
    assert render_json(a) == render_json(b)
    text = render_json(a)
    assert text.endswith("\n")
    keys = list(json.loads(text))
    assert keys[:3] == ["schema_version", "tool", "tool_version"]
    details = json.loads(text)["findings"][0]["details"]
    assert list(details) == sorted(details)


def test_model_refuses_non_finite_numbers() -> None:
    # the model refuses NaN where it is built, so the detector that made it is in the traceback
    with pytest.raises(ValueError, match=r"interval_s"):
        BeaconModel(src="a", dst="b", score=0.5, interval_s=math.nan, count=1)


def test_jsonl_one_finding_per_line() -> None:
    doc = _doc()
    text = render_jsonl(doc)
    lines = text.splitlines()
    assert len(lines) == len(doc.findings)
    assert text.isascii()
    for line, finding in zip(lines, doc.findings, strict=True):
        record = json.loads(line)
        assert record.pop("report_started") == doc.started
        assert record.pop("tool_version") == doc.tool_version
        assert Finding.model_validate(record) == finding
    assert render_jsonl(_doc(findings=[])) == ""


def test_load_report_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{\n  "tool_version": "0.1.0",\n  oops\n}', encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_report(path)
    assert info.value.path == str(path)
    assert info.value.line == 3
    assert str(path) in str(info.value)


def test_load_report_schema_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    data = json.loads(render_json(_doc()))
    data["findings"][0]["severity"] = "apocalyptic"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"findings\.0\.severity") as info:
        load_report(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[1, 2]", "top level is list"),
        ('{"schema_version": "9.0"}', "schema 9.0"),
        ('{"tool_version": "1"}', "started"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_load_report_rejects(tmp_path: Path, content: str | bytes, match: str) -> None:
    path = tmp_path / "report.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        load_report(path)


def test_load_report_missing_and_too_large(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read report"):
        load_report(tmp_path / "nope.json")
    path = tmp_path / "report.json"
    path.write_text(render_json(_doc()), encoding="utf-8")
    with pytest.raises(InputError, match="limit"):
        load_report(path, max_bytes=100)


# ---------------------------------------------------------------- terminal


def _summary(doc: ReportDocument) -> str:
    console = Console(record=True, width=200)
    render_summary(doc, console)
    return console.export_text()


def test_summary_mentions_c2_and_beacons() -> None:
    text = _summary(_doc())
    assert C2_IP in text
    assert BRIDGE_IP in text
    assert "1 analysed, 1 partial, 1 not analysed" in text
    assert "2 critical" in text and "2 high" in text and "1 low" in text
    assert "yes" in text  # known IOC
    assert "5m" in text  # 300 s interval
    assert "truncated" in text  # not-analysed reason


def test_summary_prints_evidence_literally() -> None:
    doc = _doc(
        campaign=Campaign(
            c2=[C2Model(ip=C2_IP, domain="[bold red]x[/]\x1b[2J.example", score=1, known_ioc=False)]
        )
    )
    text = _summary(doc)
    assert "[bold red]x[/]" in text
    assert "\x1b" not in text
    assert "\\x1b[2J.example" in text


def test_summary_caps_findings() -> None:
    findings = [_finding(i) for i in range(25)]
    text = _summary(_doc(findings=findings))
    assert "+5 more findings" in text
    assert "Findings (20 of 25)" in text


def test_summary_is_plain_text_off_terminal() -> None:
    out = io.StringIO()
    render_summary(_doc(), Console(file=out, width=160))
    text = out.getvalue()
    assert "\x1b[" not in text
    assert C2_IP in text


def test_summary_campaign_tables() -> None:
    moves = [
        {
            "src": PZ_IP,
            "dst": f"10.1.0.{i}",
            "time": f"2011-10-14T12:{i:02d}:00.000Z",
            "method": "service",
            "share": "ADMIN$",
            "file": "[bold red]x[/]\x1b[2J.sys",
            "account": "CORP\\adm",
        }
        for i in range(12)
    ]
    moves.append(
        {
            "src": "10.0.1.30",
            "dst": "10.1.0.99",
            "time": "2011-10-14T09:00:00.000Z",
            "method": "service",
            "admin_tool": "learned admin tooling",
        }
    )
    text = _summary(_doc(campaign=_campaign(lateral_moves=moves)))
    bridges = text[text.index("Bridges (1 of 1)") :]
    assert BRIDGE_IP in bridges[: bridges.index("Relay edges")]
    assert "3.9x" in bridges and "0.97" in bridges
    relays = text[text.index("Relay edges (3 of 3)") :]
    assert "not logged" in relays
    assert "pipe<script>alert(1)</script>&\\u202e\\x1b[2J" in relays
    lateral = text[text.index("Lateral moves (10 of 13)") :]
    assert "ADMIN$\\[bold red]x[/]\\x1b[2J.sys" in lateral
    assert "+3 more lateral moves in the full report; 1 by admin tooling" in lateral
    assert "10.0.1.30" not in lateral[: lateral.index("+3 more")]  # admin tooling sorts last
    assert "\x1b" not in text
    # an admin-tool move that makes the top ten is marked
    text = _summary(_doc(campaign=_campaign(lateral_moves=moves[-3:])))
    assert "admin tool" in text
    row = next(line for line in text.splitlines() if "10.0.1.30" in line)
    assert row.rstrip(" │").endswith("yes")


def test_summary_empty_document() -> None:
    text = _summary(ReportDocument(tool_version="0.1.0", started="x", finished="y"))
    assert "no findings" in text
    # nothing was analysed: said instead of 'No findings.' / 'No beacons found.' (issue #13)
    assert "Nothing could be analysed" in text
    assert "No findings." not in text and "No beacons found." not in text
    assert "Bridges" not in text and "Relay edges" not in text and "Lateral moves" not in text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5.0, "5.0s"),
        (60.0, "60s"),
        (300.0, "5m"),
        (3600.0, "1h"),
        (5400.0, "1.5h"),
        (259200.0, "3d"),
    ],
)
def test_format_interval(seconds: float, text: str) -> None:
    assert format_interval(seconds) == text
