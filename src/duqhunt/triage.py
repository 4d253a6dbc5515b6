"""Triage: analysts' verdicts on findings and the allow-list entries they turn into.

An investigation runs for weeks over one case: findings are confirmed or dismissed by several
analysts while new evidence keeps arriving. Verdicts are keyed by the stable finding id, so a
later hunt of the same case finds them again and writes each finding's current ``triage`` into
report.json.

Where it lives: ``<case>.triage.sqlite`` beside the case file (``OUT/case.triage.sqlite`` for
``OUT/case.duckdb``). DuckDB lets one process write a database file at a time and a hunt keeps
the case open for its whole run, so verdicts set in ``duqhunt serve`` while a hunt runs could
not be stored in case.duckdb; SQLite takes short locks per write, so both work at once. Every
change is appended (the history is kept, the latest row per finding is the current verdict).

A benign verdict on a beacon (its destination) or on admin tooling (its source) can become a
case allow-list entry; the next hunt of the case applies it like an ``--allow`` file, so what it
suppresses is counted as suppressed, never dropped silently.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from duqhunt.content import AllowEntry, AllowList
from duqhunt.errors import UsageError
from duqhunt.model.finding import Finding, TriageModel, iso_utc
from duqhunt.model.grouping import with_summary
from duqhunt.model.report import ReportDocument

Status = Literal["new", "investigating", "confirmed", "benign"]
STATUSES: tuple[Status, ...] = ("new", "investigating", "confirmed", "benign")
MAX_NOTE = 4000
MAX_ANALYST = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS triage (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL,
    analyst TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS triage_finding ON triage (finding_id, seq);
CREATE TABLE IF NOT EXISTS allow (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id TEXT NOT NULL,
    applies_to TEXT NOT NULL,
    value TEXT NOT NULL,
    value_kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    analyst TEXT NOT NULL,
    time REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    finding_id: str
    status: Status
    note: str
    analyst: str
    time: float


@dataclass(frozen=True, slots=True)
class AllowRecord:
    finding_id: str
    applies_to: Literal["beacon", "lateral"]
    value: str
    value_kind: Literal["cidr", "domain"]
    reason: str
    analyst: str
    time: float


def triage_path(case_path: Path) -> Path:
    """The triage file of a case file: ``OUT/case.duckdb`` -> ``OUT/case.triage.sqlite``."""
    case_path = Path(case_path)
    return case_path.with_name(case_path.stem + ".triage.sqlite")


def default_analyst() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "analyst"


def _clean(text: str, limit: int, what: str) -> str:
    if not isinstance(text, str):
        raise UsageError(f"{what} must be text")
    if len(text) > limit:
        raise UsageError(f"{what} is longer than {limit} characters")
    # control characters other than newline and tab never reach the store
    return "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 0x20)


class TriageStore:
    """Verdicts and allow entries of one case. Opens a short connection per call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_case(cls, case_path: Path) -> TriageStore:
        return cls(triage_path(case_path))

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.exists():
            con = sqlite3.connect(":memory:")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(self.path), timeout=30.0)
        try:
            con.executescript(_SCHEMA)
            yield con
            con.commit()
        finally:
            con.close()

    def set(self, finding_id: str, status: str, note: str = "", analyst: str = "") -> Verdict:
        if status not in STATUSES:
            raise UsageError(f"status {status!r}: choose one of {', '.join(STATUSES)}")
        verdict = Verdict(
            finding_id=_clean(finding_id, 200, "finding id"),
            status=status,
            note=_clean(note, MAX_NOTE, "note"),
            analyst=_clean(analyst or default_analyst(), MAX_ANALYST, "analyst"),
            time=time.time(),
        )
        with self._connect(write=True) as con:
            con.execute(
                "INSERT INTO triage (finding_id, status, note, analyst, time) VALUES (?,?,?,?,?)",
                (verdict.finding_id, verdict.status, verdict.note, verdict.analyst, verdict.time),
            )
        return verdict

    def current(self) -> dict[str, Verdict]:
        """The latest verdict per finding id."""
        with self._connect(write=False) as con:
            rows = con.execute(
                "SELECT finding_id, status, note, analyst, time FROM triage t "
                "WHERE seq = (SELECT MAX(seq) FROM triage u WHERE u.finding_id = t.finding_id)"
            ).fetchall()
        return {r[0]: Verdict(r[0], cast(Status, r[1]), r[2], r[3], float(r[4])) for r in rows}

    def history(self, finding_id: str) -> list[Verdict]:
        with self._connect(write=False) as con:
            rows = con.execute(
                "SELECT finding_id, status, note, analyst, time FROM triage "
                "WHERE finding_id = ? ORDER BY seq",
                (finding_id,),
            ).fetchall()
        return [Verdict(r[0], cast(Status, r[1]), r[2], r[3], float(r[4])) for r in rows]

    def add_allow(self, record: AllowRecord) -> AllowRecord:
        with self._connect(write=True) as con:
            con.execute(
                "INSERT INTO allow (finding_id, applies_to, value, value_kind, reason, analyst, "
                "time) VALUES (?,?,?,?,?,?,?)",
                (
                    record.finding_id,
                    record.applies_to,
                    record.value,
                    record.value_kind,
                    _clean(record.reason, MAX_NOTE, "reason"),
                    _clean(record.analyst, MAX_ANALYST, "analyst"),
                    record.time,
                ),
            )
        return record

    def allow_records(self) -> list[AllowRecord]:
        with self._connect(write=False) as con:
            rows = con.execute(
                "SELECT finding_id, applies_to, value, value_kind, reason, analyst, time "
                "FROM allow ORDER BY seq"
            ).fetchall()
        return [AllowRecord(r[0], r[1], r[2], r[3], r[4], r[5], float(r[6])) for r in rows]

    def allowlist(self) -> AllowList | None:
        """The case's own allow-list (None when it has no entry)."""
        records = self.allow_records()
        if not records:
            return None
        entries = []
        for r in records:
            cidr = r.value_kind == "cidr"
            entries.append(
                AllowEntry(
                    name=f"triage of {r.finding_id} by {r.analyst}",
                    reason=r.reason or "marked benign in triage",
                    applies_to=[r.applies_to],
                    cidrs=[r.value] if cidr else [],
                    domains=[] if cidr else [r.value],
                )
            )
        return AllowList(name="case-triage", entries=entries)


def allow_candidate(
    detector: str, stage: str, details: Mapping[str, object]
) -> tuple[Literal["beacon", "lateral"], str, Literal["cidr", "domain"]] | None:
    """What a benign verdict on this finding can allow-list, or None: a beacon's destination
    (an IP as a /32 or /128, or a domain), or the source of admin tooling (lateral movement)."""
    if stage == "command-and-control" and detector == "DQ-NET-002":
        dst = details.get("dst")
        if isinstance(dst, str) and dst:
            return ("beacon", *_value(dst))
    if stage == "lateral-movement":
        src = details.get("src")
        if isinstance(src, str) and src and _value(src)[1] == "cidr":
            return ("lateral", *_value(src))
    return None


def _value(text: str) -> tuple[str, Literal["cidr", "domain"]]:
    import ipaddress

    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text.lower().rstrip("."), "domain"
    return f"{ip}/{ip.max_prefixlen}", "cidr"


def with_triage(findings: list[Finding], verdicts: Mapping[str, Verdict]) -> list[Finding]:
    """The findings with each one's current verdict (``triage``) set from ``verdicts``. A
    finding merged from repeats (an event storm) has its own id, the id of its first
    occurrence; without a verdict on it, the latest verdict on any of its occurrences (given
    while they were separate findings) applies."""
    out = []
    for f in findings:
        v = verdicts.get(f.id)
        if v is None and f.occurrences:
            given = [verdicts[o.id] for o in f.occurrences if o.id in verdicts]
            v = max(given, key=lambda x: x.time) if given else None
        out.append(f.model_copy(update={"triage": triage_model(v) if v else None}))
    return out


def triage_model(v: Verdict) -> TriageModel:
    return TriageModel(status=v.status, note=v.note, analyst=v.analyst, time=iso_utc(v.time) or "")


def without_benign(doc: ReportDocument) -> ReportDocument:
    """The report with findings an analyst marked benign left out (``--hide-benign``); the
    count left out is in ``stats['findings_hidden_benign']``, so nothing disappears unsaid."""
    kept = [f for f in doc.findings if not (f.triage and f.triage.status == "benign")]
    hidden = len(doc.findings) - len(kept)
    stats = dict(doc.stats)
    stats["findings_hidden_benign"] = hidden
    return with_summary(doc.model_copy(update={"findings": kept, "stats": stats}))


__all__ = [
    "MAX_NOTE",
    "STATUSES",
    "AllowRecord",
    "Status",
    "TriageStore",
    "Verdict",
    "allow_candidate",
    "default_analyst",
    "triage_model",
    "triage_path",
    "with_triage",
    "without_benign",
]
