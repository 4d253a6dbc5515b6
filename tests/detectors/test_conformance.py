"""One conformance test over every registered detector of every family (network, host,
document): the contract of duqhunt.detectors.contract, the catalogue in docs/detectors.md, and
findings built through the contract's helper that the report schema accepts."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from duqhunt.detectors.contract import ATTACK_PATTERN, ID_PATTERN, ContextDetector, Detector
from duqhunt.detectors.registry import families
from duqhunt.intel.attack import attack_techniques
from duqhunt.model import STAGES, Evidence
from duqhunt.model.report import ReportDocument

ROOT = Path(__file__).resolve().parents[2]
ALL = [(family.family, family.prefix, cls) for family in families() for cls in family]


def _name(param: tuple[str, str, type[Detector]]) -> str:
    return param[2].id


def test_every_family_registers_detectors_with_unique_ids() -> None:
    assert [f.family for f in families()] == ["network", "host", "document"]
    ids = [cls.id for _, _, cls in ALL]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(len(f) for f in families())


@pytest.mark.parametrize("entry", ALL, ids=_name)
def test_detector_metadata(entry: tuple[str, str, type[Detector]]) -> None:
    family, prefix, cls = entry
    assert issubclass(cls, Detector)
    assert ID_PATTERN.fullmatch(cls.id) and cls.id.startswith(prefix), cls.id
    assert cls.title and cls.title == cls.title.strip()
    assert cls.stage in STAGES
    assert cls.sources
    assert set(cls.severities) <= {"info", "low", "medium", "high", "critical"}
    assert cls.attack or cls.attack_from_rules, f"{cls.id}: no ATT&CK technique"
    known = attack_techniques()
    for technique in cls.attack:
        assert ATTACK_PATTERN.fullmatch(technique), (cls.id, technique)
        assert technique in known, f"{cls.id}: {technique} not in the ATT&CK subset"
    doc = (cls.__doc__ or "").lower()
    assert "misses" in doc and "false positive" in doc, cls.id
    if family == "document":
        assert cls.stage in ("delivery", "exploitation")
    else:
        # a detector that runs implements the abstract run of the contract
        assert issubclass(cls, ContextDetector) and not inspect.isabstract(cls), cls.id


def test_catalogue_mentions_every_detector() -> None:
    catalogue = (ROOT / "docs" / "detectors.md").read_text(encoding="utf-8")
    missing = [cls.id for _, _, cls in ALL if f"### {cls.id}:" not in catalogue]
    assert not missing, f"docs/detectors.md lacks {missing}"


@pytest.mark.parametrize("entry", ALL, ids=_name)
def test_finding_helper_output_fits_the_report_schema(
    entry: tuple[str, str, type[Detector]],
) -> None:
    _, _, cls = entry
    ev = [Evidence(source="conn.log", locator="line 3", summary="seen")]
    per_host = cls.finding(("k",), "t", cls.severities[-1], 1.7, "WS1", 1.0e9, 1.0e9 + 5, ev, {})
    multi = cls.finding(("k",), "t", cls.severities[0], -0.2, ("10.0.0.1", "10.0.0.2"), None, None)
    assert per_host.detector == multi.detector == cls.id
    assert per_host.stage == cls.stage and per_host.attack == cls.attack
    assert per_host.confidence == 1.0 and multi.confidence == 0.0  # clamped
    # the host of a per-host finding keys its id: the same thing on two hosts is two findings
    assert per_host.id != cls.finding(("k",), "t", "info", 0.5, "WS2", None, None).id
    assert multi.id == cls.finding(("k",), "other title", "info", 0.5, (), None, None).id
    doc = ReportDocument(
        tool_version="0",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:01Z",
        findings=[per_host, multi],
    )
    again = ReportDocument.model_validate_json(doc.model_dump_json())
    assert again.findings == [per_host, multi]  # the report carries the findings as built
    assert again.findings[0].first_seen == "2001-09-09T01:46:40.000Z"
    assert [f.id for f in again.findings] == [per_host.id, multi.id]


def test_finding_helper_refuses_a_severity_the_detector_does_not_give() -> None:
    class Narrow(Detector):
        """Test detector. Misses: all. False positives: none."""

        id = "DQ-NET-999"
        title = "narrow"
        stage = "discovery"
        attack = ("T1046",)
        sources = ("conn",)
        severities = ("info", "low")

    with pytest.raises(ValueError, match="DQ-NET-999 gives severity 'high'"):
        Narrow.finding(("k",), "t", "high", 0.5, (), None, None)
    assert Narrow.finding(("k",), "t", "low", 0.5, (), None, None).severity == "low"
