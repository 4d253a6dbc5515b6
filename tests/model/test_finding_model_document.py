"""The Finding type and its report form, from the README's "The report document": a finding
carries id, detector, title, stage, attack[], severity (info..critical), confidence (0..1),
hosts[], first_seen and last_seen as ISO-8601 UTC, evidence[{source, locator, summary}] and
details{}; the report form carries every one of them (a saved report re-renders without
re-analysis, so nothing may be lost on the way). Finding ids are left to their own tests."""

from __future__ import annotations

import pytest

from duqhunt.model import SEVERITIES, STAGES, Evidence, Finding, iso_utc, severity_rank
from duqhunt.model.report import FindingModel, ReportDocument


def _finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "id": "DQ-NET-001-0123456789abcdef",
        "detector": "DQ-NET-001",
        "title": "10.0.0.5 contacted known indicator 203.0.113.7",
        "stage": "command-and-control",
        "attack": ("T1071.001", "T1573"),
        "severity": "high",
        "confidence": 0.9,
        "hosts": ("10.0.0.5", "10.0.0.6"),
        "first_seen": 1318550400.25,
        "last_seen": 1318636800.5,
        "evidence": (
            Evidence("conn.log", "field id.resp_h, uid C1", "3 match(es)"),
            Evidence("dns.log", "field answers, uid D1", "1 match(es)"),
        ),
        "details": (("indicator", "203.0.113.7"), ("matches", 4), ("known", True), ("x", None)),
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_iso_utc_is_millisecond_utc_with_z() -> None:
    assert iso_utc(1318550400.25) == "2011-10-14T00:00:00.250Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"  # the epoch is a time, not "unknown"
    assert iso_utc(0.0004) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(None) is None
    assert iso_utc(1700000000) == "2023-11-14T22:13:20.000Z"


def test_report_form_carries_every_field() -> None:
    f = _finding()
    m = FindingModel.from_finding(f)
    assert m.id == f.id and m.detector == f.detector and m.title == f.title
    assert m.stage == "command-and-control"
    assert m.attack == ["T1071.001", "T1573"]
    assert m.severity == "high"
    assert m.confidence == 0.9
    assert m.hosts == ["10.0.0.5", "10.0.0.6"]
    assert m.first_seen == "2011-10-14T00:00:00.250Z"
    assert m.last_seen == "2011-10-15T00:00:00.500Z"
    assert [(e.source, e.locator, e.summary) for e in m.evidence] == [
        ("conn.log", "field id.resp_h, uid C1", "3 match(es)"),
        ("dns.log", "field answers, uid D1", "1 match(es)"),
    ]
    assert m.details == {"indicator": "203.0.113.7", "matches": 4, "known": True, "x": None}


def test_report_form_without_times_and_evidence() -> None:
    m = FindingModel.from_finding(
        _finding(first_seen=None, last_seen=None, evidence=(), details=())
    )
    assert m.first_seen is None and m.last_seen is None
    assert m.evidence == [] and m.details == {}


def test_confidence_is_kept_to_four_places() -> None:
    assert FindingModel.from_finding(_finding(confidence=0.123456)).confidence == 0.1235
    assert FindingModel.from_finding(_finding(confidence=1.0)).confidence == 1.0


def test_report_document_round_trips_through_json() -> None:
    doc = ReportDocument(
        tool_version="0.1.0",
        started="2011-10-14T00:00:00.000Z",
        finished="2011-10-14T00:01:00.000Z",
        findings=[FindingModel.from_finding(_finding())],
    )
    again = ReportDocument.model_validate_json(doc.model_dump_json())
    assert again == doc
    assert again.findings[0].last_seen == "2011-10-15T00:00:00.500Z"


@pytest.mark.parametrize("confidence", [0.0, 1.0])
def test_confidence_bounds_are_inclusive(confidence: float) -> None:
    assert _finding(confidence=confidence).confidence == confidence


@pytest.mark.parametrize("confidence", [-0.001, 1.001])
def test_confidence_outside_zero_one_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        _finding(confidence=confidence)


def test_unknown_stage_or_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="stage"):
        _finding(stage="persistence")
    with pytest.raises(ValueError, match="severity"):
        _finding(severity="severe")
    for stage in STAGES:
        assert _finding(stage=stage).stage == stage


def test_severity_rank_orders_info_to_critical() -> None:
    assert SEVERITIES == ("info", "low", "medium", "high", "critical")
    assert [severity_rank(s) for s in SEVERITIES] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        severity_rank("severe")
