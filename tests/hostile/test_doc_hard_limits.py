"""The hard time limit of one document (issue #13): every document is analysed in a worker
process with a CPU-time limit per file that the kernel enforces, the same mechanism as the
host readers' (duqhunt.isolation). A parser stuck inside a C extension (oletools, lxml, zlib,
fontTools) never comes back to look at the cooperative 30 s budget; past the hard limit its
worker is killed wherever it is, the file is 'not analysed' with the limit in the reason, and
the other files of the scan are analysed by a new worker. Both paths: one job (the one-worker
path of small scans) and a pool of two.

Outcomes are checked, never the time: the plain-text RTF below (6 MB) needs some 0.6 s of CPU
to analyse (rtfobj reads it in Python, about 10 MB per CPU-second), twelve times the 0.05 s
limit set here, whatever the load (CPU time, not the clock); the small lures need a few
milliseconds."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from hostile_builders import report, run_cli

from duqhunt import docscan
from duqhunt.docscan import scan_documents
from duqhunt.simulate.documents import make_docx, malformed_dexter
from duqhunt.sources.office.limits import DocLimits, builtin_content

LIMIT = 0.05
WANT = f"not analysed: exceeded the hard limit of {LIMIT:g} s of CPU time; its analysis was stopped"
WORDS = ("quarterly", "report", "invitation", "meeting", "budget", "the", "of", "and", "draft")


def _long_rtf(path: Path, paragraphs: int = 60_000) -> None:
    """A sound RTF of plain paragraphs (about 6 MB): nothing hostile, only long."""
    rng = random.Random(7)
    with path.open("w", encoding="ascii") as fh:
        fh.write("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Calibri;}}\n")
        for _ in range(paragraphs):
            fh.write("{\\pard\\f0\\fs20 " + " ".join(rng.choices(WORDS, k=12)) + "\\par}\n")
        fh.write("}")


def _inputs(folder: Path) -> Path:
    """Two lures, the long RTF between them (in the order files are handed out)."""
    folder.mkdir()
    lure = make_docx(malformed_dexter())
    (folder / "a-lure.docx").write_bytes(lure)
    _long_rtf(folder / "b-minutes.rtf")
    (folder / "c-lure.docx").write_bytes(lure)
    return folder / "b-minutes.rtf"


def _tight() -> DocLimits:
    return dataclasses.replace(builtin_content().limits, hard_seconds_per_file=LIMIT)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_document_past_its_cpu_limit_is_stopped_and_the_scan_goes_on(
    tmp_path: Path, jobs: int
) -> None:
    long = _inputs(tmp_path / "in")
    res = scan_documents([tmp_path / "in"], jobs=jobs, limits=_tight())

    assert {Path(n.path).name: n.reason for n in res.not_analysed} == {"b-minutes.rtf": WANT}
    assert {Path(i.path).name: i.status for i in res.inputs} == {
        "a-lure.docx": "analysed",
        "b-minutes.rtf": "not-analysed",
        "c-lure.docx": "analysed",
    }
    assert {Path(v.path).name: v.verdict for v in res.verdicts} == {
        "a-lure.docx": "malicious",
        "b-minutes.rtf": "unsupported",
        "c-lure.docx": "malicious",
    }
    assert f"{long}: {WANT}" in res.warnings
    # the lures' findings are all there; nothing of the stopped file is kept
    assert {Path(f.evidence[0].source).name for f in res.findings} == {
        "a-lure.docx",
        "c-lure.docx",
    }


def test_within_the_default_limit_the_same_document_is_analysed(tmp_path: Path) -> None:
    """The file stopped above is sound: only the limit stopped it."""
    long = tmp_path / "b-minutes.rtf"
    _long_rtf(long)
    res = scan_documents([long], jobs=1)
    assert not res.not_analysed
    assert [(i.status, i.kind) for i in res.inputs] == [("analysed", "doc-rtf")]
    assert [v.verdict for v in res.verdicts] == ["clean"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_report_lists_the_stopped_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """Through the command line: the limit of the built-in content (the workers are forked:
    they see it lowered), the report written with the stopped file under not analysed."""
    content = builtin_content()
    lowered = dataclasses.replace(content, limits=_tight())
    monkeypatch.setattr(docscan, "builtin_content", lambda: lowered)
    long = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert run_cli(["scan", str(tmp_path / "in"), "--out", str(out), "--jobs", jobs]) == 0
    doc = report(out)
    assert doc["not_analysed"] == [{"path": str(long), "reason": WANT}]
    status = {Path(i["path"]).name: i["status"] for i in doc["inputs"]}
    assert status == {
        "a-lure.docx": "analysed",
        "b-minutes.rtf": "not-analysed",
        "c-lure.docx": "analysed",
    }
    assert any(str(long) in w and WANT in w for w in doc["warnings"])
