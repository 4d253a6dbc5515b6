"""The real corpus under ../shared/data/docs (absent: a failure in CI, skipped elsewhere; see
testsupport.need_shared_data)."""

from __future__ import annotations

from pathlib import Path

from duqhunt.docscan import scan_documents
from duqhunt.model import severity_rank
from testsupport import need_shared_data


def test_corpus_verdicts() -> None:
    docs = need_shared_data("docs")
    res = scan_documents([docs], jobs=2)
    v = {Path(x.path).relative_to(docs).as_posix(): x.verdict for x in res.verdicts}
    worst: dict[str, int] = {}
    for f in res.findings:
        key = Path(f.evidence[0].source).relative_to(docs).as_posix()
        worst[key] = max(worst.get(key, 0), severity_rank(f.severity))
    bad = [k for k in v if k.startswith("ots/bad/")]
    missed = [k for k in bad if v[k] == "clean" or worst.get(k, 0) < severity_rank("medium")]
    assert bad and not missed, missed  # every font OTS rejects: medium or above
    good = [k for k in v if k.startswith(("ots/good/", "fonttools/")) and v[k] != "unsupported"]
    flagged = [k for k in good if worst.get(k, 0) > severity_rank("info")]
    assert len(flagged) <= 0.03 * len(good), flagged  # benign fonts above info: at most 3%
    assert v["oletools/basic/empty"] == "unsupported" and v["oletools/basic/text"] == "unsupported"
    assert all(v[k] == "encrypted" for k in v if k.startswith("oletools/encrypted/"))
    assert v["oletools/oleobj/sample_with_calc_embedded.doc"] == "malicious"
    sev = {}
    for f in res.findings:
        sev.setdefault(Path(f.evidence[0].source).relative_to(docs).as_posix(), set()).add(
            f.detector
        )
    assert "DQ-DOC-011" in sev["oletools/olevba/sample_with_vba.ppt"]
    assert "DQ-DOC-012" in sev["oletools/msodde/dde-test.docx"]
    assert "DQ-DOC-013" in sev["oletools/oleobj/embedded-simple-2007.docx"]


def test_sylk_xlm_macro_through_olevba(tmp_path: Path) -> None:
    sylk = need_shared_data("docs", "oletools", "excel4-macros", "excel4_sample_macro.slk")
    res = scan_documents([sylk], jobs=1)
    macros = [f for f in res.findings if f.detector == "DQ-DOC-011"]
    assert len(macros) == 1, res.findings
    summary = macros[0].evidence[0].summary
    assert summary.startswith("XLM macros") and "Auto_Open" in summary
    assert res.inputs[0].kind == "doc-sylk"
    # Excel opens sylk whatever the extension: found by content under a .xls name too
    disguised = tmp_path / "invoice.xls"
    disguised.write_bytes(sylk.read_bytes())
    res = scan_documents([disguised], jobs=1)
    assert [f.detector for f in res.findings] == ["DQ-DOC-011"]
