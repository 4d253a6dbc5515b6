"""Issue #13, point 5: the document memory cap holds on every path. A scan of one file with
one job used to run in the main process, where no cap applies: a file whose analysis needs
more than the cap was analysed there with whatever memory it took. Every scan now runs in
capped workers, and a file past the cap is reported with the limit in the reason.

Deterministic, whatever the machine: the file is an 80 MB sparse file read whole under a
32 MiB cap, the only allocation of that size, so the cap is always met at the same place,
and the test reads the status and reason, not how much memory was used."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest
from hostile_builders import report, run_cli

from duqhunt import docscan
from duqhunt.simulate.documents import make_docx, malformed_dexter
from duqhunt.sources.office.limits import builtin_content

CAP = 32 << 20


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in content with the worker cap lowered (workers are forked: they see it)."""
    content = builtin_content()
    lowered = dataclasses.replace(
        content, limits=dataclasses.replace(content.limits, worker_memory_bytes=CAP)
    )
    monkeypatch.setattr(docscan, "builtin_content", lambda: lowered)


def _big_docx(path: Path) -> None:
    """A docx of one small part, padded with 80 MB of (sparse) zeros after it."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", b"<w:document/>")
    with path.open("r+b") as fh:
        fh.truncate(80 << 20)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_one_file_past_the_memory_cap_with_any_number_of_jobs(
    tmp_path: Path, small_cap: None, jobs: str
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    big = src / "invitation.docx"
    _big_docx(big)
    lure = src / "lure.docx"
    lure.write_bytes(make_docx(malformed_dexter()))
    out = tmp_path / "out"
    assert run_cli(["scan", str(src), "--out", str(out), "--jobs", jobs]) == 0
    doc = report(out)
    reason = (
        "not analysed: exceeded the memory limit of 32 MiB of one file; its analysis was stopped"
    )
    assert doc["not_analysed"] == [{"path": str(big), "reason": reason}]
    status = {Path(i["path"]).name: i["status"] for i in doc["inputs"]}
    assert status == {"invitation.docx": "not-analysed", "lure.docx": "analysed"}
    verdicts = {Path(v["path"]).name: v["verdict"] for v in doc["verdicts"]}
    assert verdicts == {"invitation.docx": "unsupported", "lure.docx": "malicious"}
    assert any(str(big) in w and reason in w for w in doc["warnings"])
