"""The one Finding type: what every detector builds and what report.json carries.

A finding is made once, by a detector, and then only travels: from a worker process, through
the merging of repeats, the identity join and the analysts' verdicts, into report.json, the
case store and every renderer, and back from a saved report. So it has one definition, a
frozen pydantic model in the report's own form (times as ISO-8601 UTC strings, details as a
mapping), rather than a dataclass for detectors and a model for the report that would have to
be kept field for field alike and converted between.

It is validated where it enters: when a detector builds it (``Detector.finding`` turns epoch
seconds into ISO strings once, and is the usual way in) and when a saved report or finding is
read back. Reading a field is plain attribute access. The sequences a detector fills (attack,
hosts, evidence) are tuples, so a frozen finding cannot be changed through them; what the
report adds later (host_ids, occurrences) are lists like the rest of the report document. Both
are JSON arrays: report.json and its schema do not tell them apart.

``stage`` is typed as a string in the schema (the report keeps it open for readers) and
checked against STAGES when a finding is built or read, as severity is by its type.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import Field, field_validator

from duqhunt.model.frozen import Frozen

Stage = Literal[
    "delivery",
    "exploitation",
    "installation",
    "lateral-movement",
    "internal-relay",
    "command-and-control",
    "exfiltration",
    "discovery",
    "posture",
]
Severity = Literal["info", "low", "medium", "high", "critical"]

STAGES: tuple[str, ...] = get_args(Stage)
SEVERITIES: tuple[str, ...] = get_args(Severity)


def severity_rank(severity: str) -> int:
    """0 for info up to 4 for critical."""
    return SEVERITIES.index(severity)


# a detector id names its family; the detectors' registries and the report's readers (which
# tell a finding's source apart by it) read this one table
DETECTOR_PREFIXES: dict[str, str] = {
    "network": "DQ-NET-",
    "host": "DQ-HOST-",
    "document": "DQ-DOC-",
}


def family_of(detector_id: str) -> str | None:
    """network, host or document for a detector id (any letter case), None for another."""
    upper = detector_id.upper()
    return next((fam for fam, pre in DETECTOR_PREFIXES.items() if upper.startswith(pre)), None)


def finding_id(detector: str, *key: object) -> str:
    """A finding id that is stable across runs for the same evidence.

    It hashes the detector id and the detector's natural key (for a beacon: source, destination),
    never run-dependent values such as timestamps of the run or row order.
    """
    text = "\x1f".join([detector, *(str(k) for k in key)])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"{detector}-{digest}"


def iso_utc(epoch: float | None) -> str | None:
    """Epoch seconds to ISO-8601 UTC with a Z suffix (millisecond precision)."""
    if epoch is None:
        return None
    dt = datetime.fromtimestamp(float(epoch), tz=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Detail = str | int | float | bool | None


class Evidence(Frozen):
    """Where a finding comes from: the log or file, the place in it, and what was seen."""

    source: str
    locator: str
    summary: str


class TriageModel(Frozen):
    """An analyst's current verdict on a finding (duqhunt serve, kept in the case)."""

    status: Literal["new", "investigating", "confirmed", "benign"]
    note: str = ""
    analyst: str
    time: str


class OccurrenceModel(Frozen):
    """One repeat merged into a finding (see model/grouping.py): the id it had on its own, its
    time, where its evidence is, its own title and its own details (what it alone says: the
    destination of one beacon, the source of one move; the merged finding keeps only the
    details all its repeats share)."""

    id: str
    time: str | None
    source: str
    locator: str
    title: str
    details: dict[str, Detail] = Field(default_factory=dict)


class Finding(Frozen):
    """One detection. Built by detectors (``Detector.finding``), carried as is by report.json."""

    id: str
    detector: str
    title: str
    stage: str
    attack: tuple[str, ...]
    severity: Severity
    # kept to four places, as the report shows it, so sorting by it agrees with what is shown
    confidence: float = Field(ge=0.0, le=1.0)
    hosts: tuple[str, ...]
    first_seen: str | None  # ISO-8601 UTC (iso_utc)
    last_seen: str | None
    evidence: tuple[Evidence, ...]
    details: dict[str, Detail] = Field(default_factory=dict)
    triage: TriageModel | None = None
    # repeats of one thing merged into this finding (an event storm): count is how many, and
    # occurrences lists them (capped in report.json, every one in findings.jsonl); a finding
    # that reports one thing once has count 1 and no occurrences
    count: int = Field(default=1, ge=1)
    occurrences: list[OccurrenceModel] = Field(default_factory=list)
    # the machines (hosts[].id) the finding is about; see campaign/identity.py
    host_ids: list[str] = Field(default_factory=list)

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, stage: str) -> str:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        return stage

    @field_validator("confidence")
    @classmethod
    def _four_places(cls, confidence: float) -> float:
        return round(confidence, 4)
