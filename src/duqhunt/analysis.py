"""The one result every analyser returns, and the one place the report document is built.

Network (hunt: ingest into the case, detectors over SQL), host (hostscan) and documents
(docscan) each return an :class:`AnalysisResult`: findings, the inputs they read, what they
could not analyse and why, warnings, statistics, host timeline events, identity sightings and
document verdicts. :func:`build_report` joins the results of one run into the report document
(``duqhunt hunt``, ``duqhunt host`` and ``duqhunt scan`` all go through it), prefixing each
family's statistics once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from duqhunt import __version__
from duqhunt.campaign.identity import with_identities
from duqhunt.campaign.sightings import Sighting
from duqhunt.model import Finding, severity_rank
from duqhunt.model.grouping import with_summary
from duqhunt.model.report import (
    Campaign,
    FileVerdictModel,
    InputRecord,
    NotAnalysed,
    ReportDocument,
)

Family = Literal["input", "network", "host", "document"]
Stat = int | float | str

# the prefix of a family's statistics in the report; network statistics (rows_conn,
# seconds_DQ-NET-002, window_start) kept their names from before the families shared a report
STAT_PREFIX: dict[Family, str] = {"input": "", "network": "", "host": "host_", "document": "doc_"}

__all__ = ["STAT_PREFIX", "AnalysisResult", "build_report", "family_stats", "most_severe_first"]


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What one analyser made of its inputs."""

    family: Family
    findings: tuple[Finding, ...] = ()
    inputs: tuple[InputRecord, ...] = ()
    not_analysed: tuple[NotAnalysed, ...] = ()
    warnings: tuple[str, ...] = ()
    # names as the analyser gives them; the report prefixes them with the family's prefix once
    stats: tuple[tuple[str, Stat], ...] = ()
    # dated host artefacts (report.host_timeline rows)
    timeline: tuple[dict[str, str | None], ...] = ()
    # the names and addresses the evidence gives each machine (campaign/identity.py)
    sightings: tuple[Sighting, ...] = ()
    verdicts: tuple[FileVerdictModel, ...] = ()


def family_stats(family: str, stats: Iterable[tuple[str, Stat]]) -> dict[str, Stat]:
    """An analyser's stats under its family's prefix (``host_files``, ``doc_seconds``), once:
    the host scan names its own stats for its stand-alone report, the document scan does not,
    and the report must not care which."""
    prefix = f"{family}_" if family else ""
    return {k if k.startswith(prefix) else prefix + k: v for k, v in stats}


def most_severe_first(findings: Iterable[Finding]) -> list[Finding]:
    """The order of findings in every result and report: severity, confidence, then id."""
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), -f.confidence, f.id))


def build_report(
    results: Sequence[AnalysisResult],
    *,
    started: str,
    finished: str,
    engine: str,
    case: str | None = None,
    internal_networks: Sequence[str] = (),
    findings: Sequence[Finding] | None = None,
    campaign: Campaign | None = None,
    sightings: Iterable[Sighting] = (),
    zones: Mapping[str, str] | None = None,
    identities: bool = True,
    summary: bool = False,
) -> ReportDocument:
    """The report document of one run over ``results`` (in the order they were made).

    ``findings`` replaces the results' own findings when the caller has more to say about them
    (a hunt merges repeats, adds earlier runs of the case and the analysts' verdicts); by
    default they are every result's findings, most severe first. ``sightings`` adds to the
    results' own, after them. ``identities`` fills hosts[], host_ids and the timeline
    (campaign/identity.py); ``summary`` the finding groups (model/grouping.py).
    """
    stats: dict[str, Stat] = {}
    for r in results:
        stats.update(family_stats(STAT_PREFIX[r.family].rstrip("_"), r.stats))
    if findings is None:
        findings = most_severe_first(f for r in results for f in r.findings)
    doc = ReportDocument(
        tool_version=__version__,
        started=started,
        finished=finished,
        case=case,
        engine=engine,
        internal_networks=list(internal_networks),
        inputs=[i for r in results for i in r.inputs],
        not_analysed=[n for r in results for n in r.not_analysed],
        warnings=[w for r in results for w in r.warnings],
        host_timeline=[t for r in results for t in r.timeline],
        verdicts=[v for r in results for v in r.verdicts],
        findings=list(findings),
        campaign=campaign or Campaign(),
        stats=stats,
    )
    if identities:
        seen = [*(s for r in results for s in r.sightings), *sightings]
        doc = with_identities(doc, seen, zones)
    return with_summary(doc) if summary else doc
