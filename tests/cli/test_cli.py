"""The command line: exit codes, outputs, stdout for results and stderr for diagnostics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from duqhunt.cli.main import main
from duqhunt.model.report import SCHEMA_VERSION

REAL = Path(__file__).resolve().parents[1] / "data" / "zeek" / "otrf_lsass_campaign_01"


def _logs(tmp_path: Path) -> Path:
    dst = tmp_path / "logs"
    shutil.copytree(REAL, dst)
    return dst


def test_hunt_writes_three_outputs_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(["hunt", str(_logs(tmp_path)), "--out", str(out), "--no-progress"])
    assert rc == 0
    for name in ("report.json", "findings.jsonl", "report.html", "case.duckdb"):
        assert (out / name).is_file(), name
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert {i["log_type"] for i in doc["inputs"]} >= {"conn", "dns", "http", "files", "ssl"}
    assert all(i["skipped_rows"] == 0 for i in doc["inputs"])
    captured = capsys.readouterr()
    assert "report.html" in captured.out


def test_rerun_on_same_case_is_idempotent(tmp_path: Path) -> None:
    logs = _logs(tmp_path)
    case = tmp_path / "case.duckdb"
    assert (
        main(
            ["hunt", str(logs), "--out", str(tmp_path / "a"), "--case", str(case), "--no-progress"]
        )
        == 0
    )
    assert (
        main(
            ["hunt", str(logs), "--out", str(tmp_path / "b"), "--case", str(case), "--no-progress"]
        )
        == 0
    )
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())
    assert a["stats"]["rows_conn"] == b["stats"]["rows_conn"] == 112
    assert {i["status"] for i in b["inputs"]} == {"already-ingested"}


def test_nothing_analysable_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a zeek log\n")
    rc = main(["hunt", str(junk), "--out", str(tmp_path / "out"), "--no-progress"])
    assert rc == 1
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    assert doc["not_analysed"][0]["path"].endswith("notes.txt")
    assert "no input could be analysed" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hunt", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    logs = _logs(tmp_path)
    assert main(["hunt", str(logs), "--out", str(tmp_path / "o"), "--internal", "10.0.0.0/33"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["hunt"])
    assert exc.value.code == 2


def test_bad_ioc_pack_names_file_and_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "pack: p\nindicators:\n  - {type: ip, value: 999.1.1.1, confidence: 0.5, source: x}\n"
    )
    rc = main(["hunt", str(_logs(tmp_path)), "--out", str(tmp_path / "o"), "--ioc", str(pack)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "pack.yaml" in err and "999.1.1.1" in err


def test_user_ioc_pack_is_used(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "pack: lab\nindicators:\n"
        "  - {type: ip, value: 10.0.5.13, confidence: 0.9, source: 'OTRF dataset notes', description: meterpreter}\n"
    )
    out = tmp_path / "o"
    assert (
        main(["hunt", str(_logs(tmp_path)), "--out", str(out), "--ioc", str(pack), "--no-progress"])
        == 0
    )
    doc = json.loads((out / "report.json").read_text())
    assert any(
        f["detector"] == "DQ-NET-001" and f["details"]["indicator"] == "10.0.5.13"
        for f in doc["findings"]
    )


def test_report_rerenders_without_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["hunt", str(_logs(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["report", str(out / "report.json"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tool"] == "duqhunt"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["report", str(bad)]) == 1
    assert "bad.json" in capsys.readouterr().err
