"""Point 8 of issue #13: names from input (a JSON ``_path``, a ``#path`` header, field names)
holding NUL, slashes or '..' never reach the file system or SQL as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_builders import T0, report, run_cli

HOSTILE = ("conn\u0000evil", "../../../../tmp/escape", "conn/..\\x", "\u202econn", "", "....")


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_json_path_is_sanitised(tmp_path: Path, name: str) -> None:
    log = tmp_path / "logs" / "x.json"
    log.parent.mkdir()
    rows = [
        {
            "_path": name,
            "ts": T0 + i,
            "uid": f"C{i}",
            "id.orig_h": "10.0.0.5",
            "id.resp_h": "203.0.113.9",
            "id.resp_p": 443,
            f"we\u0000ird{i % 2}": "v",
        }
        for i in range(5)
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out"
    # a type no detector reads is stored but skipped (exit 1: nothing was analysed); one that
    # sanitises to a Zeek log's name (conn) is analysed
    assert run_cli(["hunt", str(log.parent), "--out", str(out), "--no-progress"]) in (0, 1)
    doc = report(out)
    (inp,) = doc["inputs"]
    if inp["status"] == "not-analysed":  # a type that cannot be told: nothing stored, said why
        assert any("unknown log type" in n["reason"] for n in doc["not_analysed"])
        assert not list((out / "case.telemetry").rglob("*.parquet"))
    else:
        assert inp["status"] in ("analysed", "skipped") and inp["rows"] == 5
        assert inp["log_type"]
        assert set(inp["log_type"]) <= set("abcdefghijklmnopqrstuvwxyz0123456789_")
    telemetry = out / "case.telemetry"
    for p in telemetry.rglob("*"):
        assert p.resolve().is_relative_to(telemetry.resolve())
    assert not (tmp_path / "tmp").exists() and not Path("/tmp/escape").exists()


def test_a_hostile_tsv_path_header_is_sanitised(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "conn.log"
    log.parent.mkdir()
    log.write_text(
        "#separator \\x09\n#path\t../..\u0000/x\n#fields\tts\tuid\n#types\ttime\tstring\n"
        f"{T0}\tC1\n{T0 + 1}\tC2\n"
    )
    out = tmp_path / "out"
    # 'x' is no Zeek log a detector reads: stored, listed as skipped, exit 1
    assert run_cli(["hunt", str(log.parent), "--out", str(out), "--no-progress"]) == 1
    (inp,) = report(out)["inputs"]
    assert inp["rows"] == 2 and inp["log_type"] == "x" and inp["status"] == "skipped"
