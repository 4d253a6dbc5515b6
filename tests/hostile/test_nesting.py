"""Point 6 of issue #13: what could not be opened is never called clean. The campaign's lure
inside more nested zips than the limit is 'partial: nested deeper than N', not 'clean'."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hostile_builders import report, run_cli

from duqhunt.simulate.documents import make_docx, malformed_dexter
from duqhunt.sources.office.limits import builtin_content


def _nested(levels: int) -> bytes:
    data, name = make_docx(malformed_dexter()), "invitation_2011.docx"
    for i in range(levels):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        data, name = buf.getvalue(), f"level{i}.zip"
    return data


@pytest.mark.parametrize("extra", [1, 3])
def test_past_the_nesting_limit_a_file_is_partial_never_clean(tmp_path: Path, extra: int) -> None:
    limit = builtin_content().limits.max_depth
    path = tmp_path / "in" / "mail.zip"
    path.parent.mkdir()
    path.write_bytes(_nested(limit + extra))
    out = tmp_path / "out"
    assert run_cli(["scan", str(path.parent), "--out", str(out), "--jobs", "1"]) == 0
    doc = report(out)
    (verdict,) = doc["verdicts"]
    assert verdict["verdict"] == "partial"
    assert verdict["reasons"] == [f"nested deeper than {limit}"]
    (inp,) = doc["inputs"]
    assert inp["status"] == "partial"
    assert doc["not_analysed"] == [
        {"path": str(path), "reason": f"partly analysed: nested deeper than {limit}"}
    ]


def test_at_the_nesting_limit_the_lure_is_still_found(tmp_path: Path) -> None:
    limit = builtin_content().limits.max_depth
    path = tmp_path / "in" / "mail.zip"
    path.parent.mkdir()
    path.write_bytes(_nested(limit))
    out = tmp_path / "out"
    assert run_cli(["scan", str(path.parent), "--out", str(out), "--jobs", "1"]) == 0
    (verdict,) = report(out)["verdicts"]
    assert verdict["verdict"] == "malicious"
