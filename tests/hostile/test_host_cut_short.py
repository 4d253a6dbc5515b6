"""Point 11 of issue #13 (host): nothing skipped is missing from the report. A 0-byte .evtx
or .job, an EVTX file cut in half and a registry hive cut in half are each named in the
report with the reason (they used to be passed over, or called 'analysed' without a word)."""

from __future__ import annotations

import lzma
from pathlib import Path

from hostile_builders import report, run_cli

HOST_DATA = Path(__file__).resolve().parents[1] / "data" / "host"


def test_empty_and_cut_short_artefacts_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "PC"
    logs = root / "Windows" / "System32" / "winevt" / "Logs"
    config = root / "Windows" / "System32" / "config"
    tasks = root / "Windows" / "Tasks"
    for d in (logs, config, tasks):
        d.mkdir(parents=True)
    (logs / "Empty.evtx").write_bytes(b"")
    (tasks / "empty.job").write_bytes(b"")
    evtx = (HOST_DATA / "md_psexec_service_7045.evtx").read_bytes()
    (logs / "System.evtx").write_bytes(evtx[: len(evtx) // 2])
    hive = lzma.decompress((HOST_DATA / "SYSTEM_win7_x86.xz").read_bytes())
    (config / "SYSTEM").write_bytes(hive[: len(hive) // 2])
    out = tmp_path / "out"
    assert run_cli(["host", str(root), "--out", str(out)]) == 0
    doc = report(out)
    reasons = {Path(n["path"]).name: n["reason"] for n in doc["not_analysed"]}
    assert reasons["Empty.evtx"] == "empty file (0 bytes): nothing to analyse"
    assert reasons["empty.job"] == "empty file (0 bytes): nothing to analyse"
    assert reasons["System.evtx"].startswith("partly analysed: EVTX file cut short")
    # the cut may also cost a list the reader walks (the network interfaces): named as well
    assert reasons["SYSTEM"].startswith("partly analysed: ")
    assert "hive is cut short: " in reasons["SYSTEM"]
    status = {Path(i["path"]).name: i["status"] for i in doc["inputs"]}
    assert status["System.evtx"] == status["SYSTEM"] == "partial"
    assert status["Empty.evtx"] == status["empty.job"] == "not-analysed"
    assert any("cut short" in w and "System.evtx" in w for w in doc["warnings"])


def test_whole_artefacts_are_not_called_short(tmp_path: Path) -> None:
    root = tmp_path / "PC"
    logs = root / "Windows" / "System32" / "winevt" / "Logs"
    logs.mkdir(parents=True)
    (logs / "System.evtx").write_bytes((HOST_DATA / "md_psexec_service_7045.evtx").read_bytes())
    out = tmp_path / "out"
    assert run_cli(["host", str(root), "--out", str(out)]) == 0
    doc = report(out)
    assert doc["not_analysed"] == []
    assert {i["status"] for i in doc["inputs"]} == {"analysed"}
