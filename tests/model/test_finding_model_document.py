"""The Finding type, from the README's "The report document": a finding carries id, detector,
title, stage, attack[], severity (info..critical), confidence (0..1), hosts[], first_seen and
last_seen as ISO-8601 UTC, evidence[{source, locator, summary}] and details{}. Detectors build
it (Detector.finding, from epoch seconds) and report.json carries it as built, so a saved
report re-renders without re-analysis and nothing may be lost on the way. Finding ids are left
to their own tests."""

from __future__ import annotations

import pytest

from duqhunt.detectors.net.ioc import IocMatchDetector
from duqhunt.model import SEVERITIES, STAGES, Evidence, Finding, iso_utc, severity_rank
from duqhunt.model.report import ReportDocument

EVIDENCE = (
    Evidence(source="conn.log", locator="field id.resp_h, uid C1", summary="3 match(es)"),
    Evidence(source="dns.log", locator="field answers, uid D1", summary="1 match(es)"),
)


def _built(**kw: object) -> Finding:
    """A finding as a detector builds it (epoch seconds in, ISO strings kept)."""
    base: dict[str, object] = {
        "key": ("203.0.113.7",),
        "title": "10.0.0.5 contacted known indicator 203.0.113.7",
        "severity": "high",
        "confidence": 0.9,
        "hosts": ("10.0.0.5", "10.0.0.6"),
        "first": 1318550400.25,
        "last": 1318636800.5,
        "evidence": EVIDENCE,
        "details": [("indicator", "203.0.113.7"), ("matches", 4), ("known", True), ("x", None)],
        "attack": ("T1071.001", "T1573"),
    }
    base.update(kw)
    return IocMatchDetector.finding(**base)  # type: ignore[arg-type]


def _finding(**kw: object) -> Finding:
    """A finding given field by field (as a saved report gives it back)."""
    base = _built().model_dump()
    base.update(kw)
    return Finding(**base)


def test_iso_utc_is_millisecond_utc_with_z() -> None:
    assert iso_utc(1318550400.25) == "2011-10-14T00:00:00.250Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"  # the epoch is a time, not "unknown"
    assert iso_utc(0.0004) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(None) is None
    assert iso_utc(1700000000) == "2023-11-14T22:13:20.000Z"


def test_a_built_finding_carries_every_field() -> None:
    m = _built()
    assert m.id.startswith("DQ-NET-001-") and m.detector == "DQ-NET-001"
    assert m.title == "10.0.0.5 contacted known indicator 203.0.113.7"
    assert m.stage == "command-and-control"
    assert m.attack == ("T1071.001", "T1573")
    assert m.severity == "high"
    assert m.confidence == 0.9
    assert m.hosts == ("10.0.0.5", "10.0.0.6")
    assert m.first_seen == "2011-10-14T00:00:00.250Z"
    assert m.last_seen == "2011-10-15T00:00:00.500Z"
    assert [(e.source, e.locator, e.summary) for e in m.evidence] == [
        ("conn.log", "field id.resp_h, uid C1", "3 match(es)"),
        ("dns.log", "field answers, uid D1", "1 match(es)"),
    ]
    assert m.details == {"indicator": "203.0.113.7", "matches": 4, "known": True, "x": None}
    # what the report adds later starts empty
    assert m.triage is None and m.count == 1 and m.occurrences == [] and m.host_ids == []


def test_a_finding_without_times_and_evidence() -> None:
    m = _built(first=None, last=None, evidence=(), details=None)
    assert m.first_seen is None and m.last_seen is None
    assert m.evidence == () and m.details == {}


def test_confidence_is_kept_to_four_places() -> None:
    assert _built(confidence=0.123456).confidence == 0.1235
    assert _built(confidence=1.0).confidence == 1.0
    # however the finding is made: a detector may build one field by field
    assert _finding(confidence=0.987654).confidence == 0.9877


def test_report_document_round_trips_through_json() -> None:
    doc = ReportDocument(
        tool_version="0.1.0",
        started="2011-10-14T00:00:00.000Z",
        finished="2011-10-14T00:01:00.000Z",
        findings=[_built()],
    )
    again = ReportDocument.model_validate_json(doc.model_dump_json())
    assert again == doc
    assert again.findings[0] == _built()
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
