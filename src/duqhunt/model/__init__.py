"""Pure types shared by every analyzer and output. No I/O here."""

from duqhunt.model.finding import (
    SEVERITIES,
    STAGES,
    Evidence,
    Finding,
    finding_id,
    iso_utc,
    severity_rank,
)

__all__ = [
    "SEVERITIES",
    "STAGES",
    "Evidence",
    "Finding",
    "finding_id",
    "iso_utc",
    "severity_rank",
]
