"""Points 1 and 2 of issue #13: times that are not times, and times far from the rest.

A NaN, an infinity, 1e300, a time before 1990 or after tomorrow is a bad row: skipped with a
warning naming the file and line, the hunt goes on and so does every later hunt of the case
(a case that stored such rows before they were checked is healed when it is hunted). A finite
row far from the rest (a clock set years ahead) does not stretch the window: the window and
the time-binned scores come from the robust span of the evidence, and the outliers are
reported."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hostile_builders import T0, conn_log, conn_row, good_rows, report, run_cli

from duqhunt.hunt import HuntOptions, hunt, robust_span
from duqhunt.store import CaseStore

BAD_TIMES = ("nan", "inf", "-inf", "1e300", "100.5", "4000000000.0")


def _bad_time_log(tmp_path: Path) -> Path:
    rows = good_rows(20)
    for k, ts in enumerate(BAD_TIMES):
        rows.insert(3 + 2 * k, conn_row(ts, 900 + k))
    return conn_log(tmp_path / "logs" / "conn.log", rows)


def _first_data_line(log: Path, uid: str) -> int:
    for n, line in enumerate(log.read_text().splitlines(), start=1):
        if f"\t{uid}\t" in line:
            return n
    raise AssertionError(uid)


def test_non_finite_and_absurd_times_are_bad_rows_named_by_file_and_line(tmp_path: Path) -> None:
    log = _bad_time_log(tmp_path)
    case = tmp_path / "case.duckdb"
    for run in ("a", "b"):  # a later hunt of the same case works too
        out = tmp_path / run
        rc = run_cli(
            ["hunt", str(log.parent), "--out", str(out), "--case", str(case), "--no-progress"]
        )
        assert rc == 0
        doc = report(out)
        assert doc["stats"]["rows_conn"] == 20
    first = report(tmp_path / "a")
    (inp,) = first["inputs"]
    assert inp["status"] == "partial" and inp["rows"] == 20
    assert inp["skipped_rows"] == len(BAD_TIMES)
    for k, ts in enumerate(BAD_TIMES):
        line = _first_data_line(log, f"C{900 + k:08d}")
        assert any(w.startswith(f"{log}, line {line}: column ts") for w in first["warnings"]), ts
    assert first["not_analysed"] == [
        {"path": str(log), "reason": f"partly analysed: {len(BAD_TIMES)} bad row(s) skipped"}
    ]
    # point 12: a later hunt of the case still shows the file's skipped rows and warnings
    second = report(tmp_path / "b")
    (again,) = second["inputs"]
    assert again["status"] == "already-ingested"
    assert (again["rows"], again["skipped_rows"]) == (20, len(BAD_TIMES))
    assert set(first["warnings"]) <= set(second["warnings"])
    assert second["not_analysed"] == [
        {
            "path": str(log),
            "reason": "partly analysed (when it was ingested into the case): "
            f"{len(BAD_TIMES)} bad row(s) skipped",
        }
    ]


def test_json_nan_and_infinity_tokens_are_bad_rows(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "conn.json"
    log.parent.mkdir()
    lines = []
    for i in range(10):
        ts = f"{T0 + 60 * i}" if i not in (4, 7) else ("NaN" if i == 4 else "-Infinity")
        lines.append(
            f'{{"_path": "conn", "ts": {ts}, "uid": "C{i}", "id.orig_h": "10.0.0.5", '
            f'"id.orig_p": 4000{i}, "id.resp_h": "203.0.113.9", "id.resp_p": 443, '
            f'"proto": "tcp", "duration": {"Infinity" if i == 8 else "1.5"}}}'
        )
    log.write_text("\n".join(lines) + "\n")
    doc = hunt(HuntOptions(inputs=(log,), out=tmp_path / "o"))
    (inp,) = doc.inputs
    assert (inp.status, inp.rows, inp.skipped_rows) == ("partial", 7, 3)
    for line in (5, 8, 9):
        assert any(w.startswith(f"{log}, line {line}: ") for w in doc.warnings), doc.warnings


def test_a_case_that_stored_nan_times_is_healed(tmp_path: Path) -> None:
    """Rows an earlier version stored unchecked: left out, with a warning, never a crash."""
    log = conn_log(tmp_path / "logs" / "conn.log", good_rows(30))
    case = tmp_path / "case.duckdb"
    with CaseStore(case) as store:
        store.ingest_zeek(log)
        (part,) = store.files_by_log()["conn"]
    table = pq.read_table(part)
    poison = table.slice(0, 3).set_column(
        table.schema.get_field_index("ts"),
        "ts",
        pa.array([float("nan"), float("inf"), 1e300], pa.float64()),
    )
    pq.write_table(pa.concat_tables([table, poison]), part)
    doc = hunt(HuntOptions(inputs=(log,), out=tmp_path / "o", case=case))
    assert doc.stats["rows_implausible_time"] == 3
    assert any("3 conn row(s) with a NaN/Inf time" in w for w in doc.warnings), doc.warnings
    assert doc.stats["window_start"] == T0
    assert doc.stats["window_end"] == T0 + 29 * 60


def _with_outliers(src: Path, dst: Path) -> Path:
    """The campaign with two finite, plausible rows far from the rest: a clock set years
    ahead (but not past tomorrow) and one from 1995 (copies of a real row, times changed)."""
    shutil.copytree(src, dst)
    conn = dst / "conn.log"
    lines = conn.read_text().splitlines()
    close = [ln for ln in lines if ln.startswith("#close")]
    body = [ln for ln in lines if not ln.startswith("#close")]
    sample = next(ln for ln in body if not ln.startswith("#")).split("\t")
    for k, ts in enumerate(("1700000000.0", "800000000.0")):
        body.append("\t".join([ts, f"Cfar{k}", *sample[2:]]))
    conn.write_text("\n".join(body + close) + "\n")
    return dst


def _beacons(doc: Any) -> set[str]:
    return {str(f.details.get("dst")) for f in doc.findings if f.detector == "DQ-NET-002"}


def test_a_far_row_does_not_stretch_the_window_or_lose_beacons(
    tmp_path: Path, small_campaign: dict[str, Any]
) -> None:
    clean = hunt(HuntOptions(inputs=(small_campaign["logs"],), out=tmp_path / "a"))
    logs = _with_outliers(small_campaign["logs"], tmp_path / "zeek")
    dirty = hunt(HuntOptions(inputs=(logs,), out=tmp_path / "b"))
    # the same beacon findings and the same ranking, the planted C&C among them
    beacons_clean = sorted(f.id for f in clean.findings if f.detector == "DQ-NET-002")
    assert beacons_clean
    assert sorted(f.id for f in dirty.findings if f.detector == "DQ-NET-002") == beacons_clean
    assert [(b.src, b.dst) for b in dirty.campaign.beacons[:10]] == [
        (b.src, b.dst) for b in clean.campaign.beacons[:10]
    ]
    assert set(small_campaign["c2"]) <= _beacons(dirty)
    assert dirty.stats["window_start"] == clean.stats["window_start"]
    assert dirty.stats["window_end"] == clean.stats["window_end"]
    assert dirty.stats["rows_outside_time_span"] == 2
    assert any("2 conn row(s) lie outside the robust time span" in w for w in dirty.warnings)


def test_robust_span_ignores_a_few_far_rows_but_never_the_bulk() -> None:
    day = [(h, 100) for h in range(400_000, 400_048)]
    for hist in (day, [*day, (500_000, 1), (300_000, 2)]):
        lo, hi = robust_span(hist) or (0.0, 0.0)
        assert lo <= 400_000 * 3600 and hi >= 400_048 * 3600
        assert lo > 300_001 * 3600 and hi < 500_000 * 3600
    # evidence spread over a year keeps all of it
    year = [(h, 5) for h in range(400_000, 400_000 + 24 * 365, 24)]
    lo, hi = robust_span(year) or (0.0, 0.0)
    assert lo <= year[0][0] * 3600 and hi >= (year[-1][0] + 1) * 3600
    assert robust_span([]) is None
