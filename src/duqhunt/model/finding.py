"""The one Finding type every detector emits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

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


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a finding comes from: the log or file, the place in it, and what was seen."""

    source: str
    locator: str
    summary: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection. Times are epoch seconds (UTC); the report renders them as ISO-8601."""

    id: str
    detector: str
    title: str
    stage: Stage
    attack: tuple[str, ...]
    severity: Severity
    confidence: float
    hosts: tuple[str, ...]
    first_seen: float | None
    last_seen: float | None
    evidence: tuple[Evidence, ...] = ()
    details: tuple[tuple[str, str | int | float | bool | None], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence {self.confidence} outside [0, 1]")
