"""Point 4 of issue #13: a document worker that dies (killed for memory, a crash in a C
extension) costs only its own file. The pool is real and the worker really dies (SIGKILL,
through a hook that only exists with DUQHUNT_TEST set); the scan and the hunt finish, the file
is 'not analysed: the analyser died' and every other file is analysed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_builders import conn_log, good_rows, report, run_cli

from duqhunt.docscan import DIED
from duqhunt.simulate.documents import make_docx, malformed_dexter


def _documents(folder: Path, n: int = 10) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lure = make_docx(malformed_dexter())
    for i in range(n):
        (folder / f"doc{i:02d}.docx").write_bytes(lure)


@pytest.mark.parametrize("victim", ["doc00.docx", "doc05.docx", "doc09.docx"])
def test_scan_survives_a_dead_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    _documents(tmp_path / "in")
    monkeypatch.setenv("DUQHUNT_TEST", "1")
    monkeypatch.setenv("DUQHUNT_TEST_KILL_WORKER_ON", victim)
    out = tmp_path / "out"
    assert run_cli(["scan", str(tmp_path / "in"), "--out", str(out), "--jobs", "2"]) == 0
    doc = report(out)
    dead = str(tmp_path / "in" / victim)
    assert {"path": dead, "reason": DIED} in doc["not_analysed"]
    verdicts = {v["path"]: v["verdict"] for v in doc["verdicts"]}
    assert verdicts.pop(dead) == "unsupported"
    assert len(verdicts) == 9 and set(verdicts.values()) == {"malicious"}
    status = {i["path"]: i["status"] for i in doc["inputs"]}
    assert status.pop(dead) == "not-analysed"
    assert set(status.values()) == {"analysed"}


def test_hunt_survives_a_dead_document_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _documents(tmp_path / "in" / "mail")
    conn_log(tmp_path / "in" / "zeek" / "conn.log", good_rows(10))
    monkeypatch.setenv("DUQHUNT_TEST", "1")
    monkeypatch.setenv("DUQHUNT_TEST_KILL_WORKER_ON", "doc03.docx")
    out = tmp_path / "out"
    assert run_cli(["hunt", str(tmp_path / "in"), "--out", str(out), "--no-progress"]) == 0
    doc = report(out)
    assert doc["stats"]["rows_conn"] == 10
    dead = str(tmp_path / "in" / "mail" / "doc03.docx")
    assert {"path": dead, "reason": DIED} in doc["not_analysed"]
    assert sum(v["verdict"] == "malicious" for v in doc["verdicts"]) == 9
