"""Beacon histograms in report.json (schema 1.4) and report.html, from known contacts.

One workstation calls a known C&C address every 600 s with a little jitter, retries three of
those calls a second later, and is off for two hours once; it sends 300 bytes, and 4000 bytes
every tenth call. The report's interval histogram counts the gaps between the scored contacts
(the retries collapsed as periodicity.sql does: 59 gaps among 60 calls, one of them the long
one), its size histogram the bytes of those calls (two sizes). A report of schema 1.3 (no
histograms) still re-renders, without the section.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from duqhunt.campaign.beacon_shape import histogram
from duqhunt.cli.main import main
from duqhunt.hunt import HuntOptions, hunt
from duqhunt.model.report import ReportDocument
from duqhunt.render import load_report, render_html, render_json
from duqhunt.render.common import format_interval
from duqhunt.sources.net.zeek_writer import write_zeek_tsv

C2 = "77.241.93.160"  # in the shipped Duqu IOC pack
SRC = "10.0.0.7"
T0 = 1_700_000_000.0
CALLS = 60
RETRIED = (5, 17, 40)
OFF_AFTER = 30  # two hours off after this call


def _calls() -> list[tuple[float, int]]:
    rng = random.Random(7)
    out = []
    ts = T0
    for n in range(CALLS):
        out.append((ts, 4000 if n % 10 == 0 else 300))
        ts += 600 + rng.uniform(-20, 20) + (7200 if n == OFF_AFTER else 0)
    return out


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> ReportDocument:
    tmp = tmp_path_factory.mktemp("shapes")
    rows: list[dict[str, object]] = []
    for n, (ts, size) in enumerate(_calls()):
        tries = [ts, ts + 1.0] if n in RETRIED else [ts]
        for k, t in enumerate(tries):
            rows.append(
                {
                    "ts": t,
                    "uid": f"Cshape{n}x{k}",
                    "id.orig_h": SRC,
                    "id.orig_p": 40000 + n,
                    "id.resp_h": C2,
                    "id.resp_p": 443,
                    "proto": "tcp",
                    "conn_state": "SF",
                    "orig_ip_bytes": size,
                    "resp_ip_bytes": 900,
                }
            )
    logs = tmp / "zeek"
    logs.mkdir()
    write_zeek_tsv(logs / "conn.log", "conn", rows)
    return hunt(HuntOptions(inputs=(logs,), out=tmp / "out", internal=("10.0.0.0/8",), threads=1))


def test_the_report_holds_the_shape_of_the_contacts(doc: ReportDocument) -> None:
    (b,) = [b for b in doc.campaign.beacons if b.src == SRC and b.dst == C2 and b.kind == "ip"]
    assert b.count == CALLS
    gaps, sizes = b.interval_histogram, b.size_histogram
    assert gaps is not None and sizes is not None
    assert sum(gaps.counts) == CALLS - 1  # the retries are not gaps
    assert len(gaps.edges) == len(gaps.counts) + 1 and gaps.edges == sorted(gaps.edges)
    assert gaps.counts[-1] == 1 and gaps.edges[-1] > 7200  # the two hours off
    assert gaps.edges[0] >= 580 and sum(gaps.counts[:-1]) == CALLS - 2
    assert sum(sizes.counts) == CALLS
    filled = [n for n in sizes.counts if n]
    assert sorted(filled) == [CALLS // 10, CALLS - CALLS // 10]  # 4000 bytes, 300 bytes
    assert sizes.edges[0] == 300 and sizes.edges[-1] == 4000


def test_report_html_draws_them_from_the_report(doc: ReportDocument, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(render_json(doc), encoding="utf-8")
    again = load_report(path)
    assert again.schema_version == "1.4" and again.campaign.beacons == doc.campaign.beacons
    html = render_html(again)
    assert 'id="beacon-shapes"' in html
    section = html[html.index('id="beacon-shapes"') :]
    first = section[section.index('<figure class="shape"') : section.index("</figure>")]
    assert f"{SRC} &rarr; {C2}" in first
    assert first.count('class="hb"') == 2 * 20
    assert f": 1 of {CALLS - 1} gaps</title>" in first  # the long gap, on its own bar
    (b,) = [b for b in doc.campaign.beacons if b.src == SRC and b.dst == C2]
    # the dashed line at the reported interval
    assert f"median interval {format_interval(b.interval_s)}</title>" in first
    assert "<script" not in first


def test_a_13_report_without_histograms_still_renders(
    doc: ReportDocument, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(render_json(doc))
    data["schema_version"] = "1.3"
    for b in data["campaign"]["beacons"]:
        del b["interval_histogram"], b["size_histogram"]
    for f in data["findings"]:
        for o in f["occurrences"]:
            del o["details"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    old = load_report(path)
    assert old.schema_version == "1.3"
    assert all(b.interval_histogram is None for b in old.campaign.beacons)
    html = render_html(old)
    assert "beacon-shapes" not in html and "Top beacons" in html
    assert main(["report", str(path), "--format", "csv"]) == 0
    assert C2 in capsys.readouterr().out


def test_histogram_bins() -> None:
    assert histogram([]) is None
    one = histogram([5.0, 5.0, 5.0])
    assert one is not None and one.edges == [5.0, 5.0] and one.counts == [3]
    zero = histogram([0.0, 0.0, 10.0, 1000.0])
    assert zero is not None and zero.edges[0] == 0.0 and zero.edges[-1] == 1000.0
    assert sum(zero.counts) == 4 and zero.counts[0] == 2 and zero.counts[-1] == 1
    spread = histogram([1.0, 10.0, 100.0, 1000.0], bins=3)
    assert spread is not None and spread.edges == [1.0, 10.0, 100.0, 1000.0]
    assert spread.counts == [1, 1, 2]  # the top edge belongs to the last bin
