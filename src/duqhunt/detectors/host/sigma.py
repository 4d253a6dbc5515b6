"""Sigma rules over the host scan's event tables (DQ-HOST-013).

Rules (SigmaHQ YAML) are converted with pySigma and its DuckDB backend
(``pysigma-backend-duckdb``) to SQL, never evaluated by hand. The SQL runs over one in-memory
DuckDB table ``logs`` per host: one row per event, the System fields Sigma rules use
(``EventID``, ``Channel``, ``Provider_Name``, ``Computer``, ``TimeCreated``, ``timestamp``,
``EventRecordID``) and every EventData/UserData field as a column of its own. String columns
are ``COLLATE NOCASE`` so the backend's plain ``=`` and ``IN`` compare case-insensitively as
Sigma says they should; a field a rule names that no event has is added as an all-NULL column.

A small processing pipeline turns a rule's ``logsource`` (product windows, service system /
security / taskscheduler) into a ``Channel`` condition. Rules for another product, correlation
rules and rules that do not parse or convert are skipped with a warning naming the rule file
(and title).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from duqhunt.detectors.host.base import HostContext, HostDetector
from duqhunt.model import Evidence, Finding, finding_id
from duqhunt.model.finding import Severity, Stage, iso_utc
from duqhunt.sources.host.eventlog import HostEvent

log = logging.getLogger(__name__)

SIGMA_DIR = Path(__file__).resolve().parents[2] / "content" / "sigma"
MAX_COLUMNS = 1000
MAX_EVIDENCE = 20
SIGMA_EXTRA_MESSAGE = (
    "Sigma rules need pySigma and its DuckDB backend: pip install pysigma pysigma-backend-duckdb"
)

LEVELS: dict[str, Severity] = {
    "informational": "info",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
CONFIDENCE = {"info": 0.3, "low": 0.4, "medium": 0.6, "high": 0.75, "critical": 0.85}
SERVICE_CHANNELS = {
    "system": "System",
    "security": "Security",
    "taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
}
_ATTACK_TAG = re.compile(r"^t(\d{4})(?:\.(\d{3}))?$", re.I)
# what an event's row shows in the evidence, when it has the field
SHOWN = (
    "ServiceName",
    "ImagePath",
    "ServiceFileName",
    "ServiceType",
    "ShareName",
    "RelativeTargetName",
    "TaskName",
    "IpAddress",
    "TargetUserName",
    "SubjectUserName",
    "LogonType",
)


@dataclass(frozen=True, slots=True)
class SigmaQuery:
    """One converted rule: where it came from, what the finding says, and its SQL."""

    file: str
    title: str
    rule_id: str
    level: str
    tags: tuple[str, ...]
    sql: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        return LEVELS.get(self.level, "medium")

    @property
    def stage(self) -> Stage:
        return "lateral-movement" if "attack.lateral_movement" in self.tags else "installation"

    @property
    def attack(self) -> tuple[str, ...]:
        out: list[str] = []
        for t in self.tags:
            ns, _, name = t.partition(".")
            m = _ATTACK_TAG.match(name) if ns == "attack" else None
            if m:
                tid = f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")
                if tid not in out:
                    out.append(tid)
        return tuple(out)


def builtin_sigma_files() -> list[Path]:
    return sorted(SIGMA_DIR.glob("*.yml"))


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders searched for *.yml / *.yaml (sorted, symlinks not followed)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                q
                for q in p.rglob("*")
                if q.suffix.lower() in (".yml", ".yaml") and q.is_file() and not q.is_symlink()
            )
        else:
            out.append(p)
    return out


def _pipeline() -> Any:
    from sigma.processing.conditions import LogsourceCondition
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import AddConditionTransformation

    items = [
        ProcessingItem(
            identifier=f"duqhunt_channel_{service}",
            transformation=AddConditionTransformation({"Channel": channel}),
            rule_conditions=[LogsourceCondition(product="windows", service=service)],
        )
        for service, channel in SERVICE_CHANNELS.items()
    ]
    return ProcessingPipeline(name="duqhunt host event table", priority=20, items=items)


def _backend_class() -> Any:
    """The DuckDB backend with a null-safe NOT: a field an event does not have is NULL, and
    ``NOT (NULL ILIKE ...)`` is NULL in SQL, but in Sigma "not matched" must hold there, so
    ``NOT x`` becomes ``(x) IS NOT TRUE``."""
    from sigma_backend_duckdb import DuckDBBackend  # type: ignore[import-untyped]

    class NullSafeDuckDBBackend(DuckDBBackend):  # type: ignore[misc]
        def convert_condition_not(self, cond: Any, state: Any) -> Any:
            out = super().convert_condition_not(cond, state)
            prefix = self.not_token + self.token_separator
            if isinstance(out, str) and out.startswith(prefix):
                return f"({out[len(prefix) :]}) IS NOT TRUE"
            return out

    return NullSafeDuckDBBackend


def load_sigma(paths: Sequence[Path]) -> tuple[list[SigmaQuery], list[str]]:
    """Parse and convert rule files; every problem is a warning naming the file (and title).

    Raises ImportError (with what to install) when pySigma or the DuckDB backend is missing.
    """
    import yaml

    try:
        from sigma.collection import SigmaCollection
        from sigma.correlations import SigmaCorrelationRule
        from sigma.exceptions import SigmaError
        from sigma.rule import SigmaRule

        backend_class = _backend_class()
    except ImportError as exc:
        raise ImportError(SIGMA_EXTRA_MESSAGE) from exc

    queries: list[SigmaQuery] = []
    warnings: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8-sig")
            coll = SigmaCollection.from_yaml(text)
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"Sigma rule {path}: not readable: {exc}")
            continue
        except (SigmaError, yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError) as exc:
            # a malformed rule dict can raise the built-in errors too
            warnings.append(f"Sigma rule {path}: does not parse: {exc}")
            continue
        for rule in coll.rules:
            title = str(getattr(rule, "title", "") or "untitled")
            if isinstance(rule, SigmaCorrelationRule) or not isinstance(rule, SigmaRule):
                warnings.append(
                    f"Sigma rule {path} ({title}): correlation rules are not run by the host scan"
                )
                continue
            product = (rule.logsource.product or "windows").lower()
            if product != "windows":
                log.info("Sigma rule %s (%s): product %s, not run", path, title, product)
                continue
            backend = backend_class(processing_pipeline=_pipeline())
            try:
                sql = backend.convert_rule(rule)
            except (SigmaError, NotImplementedError, ValueError, TypeError, KeyError) as exc:
                warnings.append(f"Sigma rule {path} ({title}): does not convert: {exc}")
                continue
            tags = tuple(f"{t.namespace}.{t.name}".lower() for t in rule.tags)
            level = str(rule.level.name).lower() if rule.level is not None else "medium"
            queries.append(
                SigmaQuery(
                    file=str(path),
                    title=title,
                    rule_id=str(rule.id) if rule.id else "",
                    level=level,
                    tags=tags,
                    sql=tuple(str(q) for q in sql),
                )
            )
    return queries, warnings


def _channel(ev: HostEvent) -> str:
    if ev.channel:
        return ev.channel
    if ev.event_id == 7045:
        return "System"
    if 4600 <= ev.event_id < 5200:
        return "Security"
    if ev.event_id in (106, 129, 200, 201):
        return SERVICE_CHANNELS["taskscheduler"]
    return ""


def _provider(ev: HostEvent, channel: str) -> str | None:
    given = ev.get("Provider_Name")
    if given:
        return given
    if channel == "System" and ev.event_id == 7045:
        return "Service Control Manager"
    if channel == "Security":
        return "Microsoft-Windows-Security-Auditing"
    if "taskscheduler" in channel.lower():
        return "Microsoft-Windows-TaskScheduler"
    return None


SYSTEM_COLUMNS = (
    "EventID",
    "Channel",
    "Provider_Name",
    "Computer",
    "TimeCreated",
    "EventRecordID",
    "timestamp",
    "_dq_row",
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def event_table(con: Any, events: Sequence[HostEvent]) -> None:
    """Create ``logs`` in the DuckDB connection ``con``: one row per event (see the module)."""
    import pyarrow as pa

    taken = {c.lower() for c in SYSTEM_COLUMNS}
    data_cols: list[str] = []
    for ev in events:
        for k, _ in ev.data:
            if k and k.lower() not in taken and len(data_cols) < MAX_COLUMNS:
                taken.add(k.lower())
                data_cols.append(k)
    channels = [_channel(e) for e in events]
    cols: dict[str, list[Any]] = {
        "EventID": [e.event_id for e in events],
        "Channel": channels,
        "Provider_Name": [_provider(e, c) for e, c in zip(events, channels, strict=True)],
        "Computer": [e.computer for e in events],
        "TimeCreated": [iso_utc(e.time) for e in events],
        "EventRecordID": [e.record_id for e in events],
        "timestamp": [e.time for e in events],
        "_dq_row": list(range(len(events))),
    }
    index = {c: i for i, c in enumerate(data_cols)}
    rows: list[list[str | None]] = [[None] * len(events) for _ in data_cols]
    for j, ev in enumerate(events):
        for k, v in ev.data:
            i = index.get(k)
            if i is not None:
                rows[i][j] = v
    for c, vals in zip(data_cols, rows, strict=True):
        cols[c] = vals
    types = {"EventID": pa.int64(), "EventRecordID": pa.int64(), "_dq_row": pa.int64()}
    types["timestamp"] = pa.float64()
    arrow = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.items()})
    decl = []
    for name in cols:
        sql_type = {
            "EventID": "INTEGER",
            "EventRecordID": "BIGINT",
            "_dq_row": "BIGINT",
            "timestamp": "TIMESTAMP",
        }.get(name, "VARCHAR COLLATE NOCASE")
        decl.append(f"{_quote(name)} {sql_type}")
    con.execute(f"CREATE OR REPLACE TABLE logs ({', '.join(decl)})")
    con.register("_dq_events", arrow)
    select = ", ".join(
        "to_timestamp(timestamp)::TIMESTAMP" if c == "timestamp" else _quote(c) for c in cols
    )
    con.execute(f"INSERT INTO logs SELECT {select} FROM _dq_events")
    con.unregister("_dq_events")


_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found', re.I)


def run_query(con: Any, sql: str) -> list[int]:
    """Row numbers of the events a rule's SQL selects; a column no event has reads as NULL."""
    import duckdb

    for _ in range(64):
        try:
            rows = con.execute(f"SELECT _dq_row FROM ({sql}) AS m ORDER BY _dq_row").fetchall()
            return [int(r[0]) for r in rows]
        except duckdb.BinderException as exc:
            m = _MISSING_COLUMN.search(str(exc))
            if m is None:
                raise
            con.execute(f"ALTER TABLE logs ADD COLUMN {_quote(m.group(1))} VARCHAR COLLATE NOCASE")
    raise ValueError("too many columns missing")


class SigmaMatches(HostDetector):
    """DQ-HOST-013 Sigma rule match: SigmaHQ-format rules (the built-in pack in content/sigma
    and the user's ``--sigma`` files) converted by pySigma's DuckDB backend to SQL and run over
    each host's event table. One finding per rule and host, with the match count; stage
    lateral-movement for rules tagged attack.lateral_movement, installation otherwise; severity
    from the rule's level; ATT&CK ids from its attack.tNNNN tags.

    Misses: events the host scan does not read: without user rules it keeps only what its own
    detectors need (sources/host/eventlog.py WANTED, the process-start and logon filters), so
    a built-in rule on anything else matches nothing; keyword (full-text) rules, which the
    backend does not convert; correlation rules; rules for other products. A service install
    that content/host/known-good.yaml names is not a match.

    False positives: those of each rule (its ``falsepositives``); the built-in pack flags any
    PsExec use, including an administrator's, and any driver installed from outside the Windows
    driver folders.
    """

    id = "DQ-HOST-013"
    title = "Sigma rule match"
    stage: ClassVar[Stage] = "installation"
    attack = ("T1569.002", "T1021.002", "T1543.003")
    sources = ("evtx", "event-json", "sigma")

    def run(self, ctx: HostContext) -> list[Finding]:
        if not ctx.sigma:
            return []
        import duckdb

        findings: list[Finding] = []
        for h in ctx.hosts:
            if not h.events:
                continue
            con = duckdb.connect()
            try:
                event_table(con, h.events)
                for q in ctx.sigma:
                    rows: list[int] = []
                    for sql in q.sql:
                        try:
                            rows += run_query(con, sql)
                        except (duckdb.Error, ValueError) as exc:
                            log.warning("Sigma rule %s (%s) failed: %s", q.file, q.title, exc)
                    # a known-good service install (Defender's MpKsl drivers, Sysmon) is
                    # known good for every rule, as for DQ-HOST-010
                    matched = [
                        h.events[i]
                        for i in sorted(set(rows))
                        if not _known_good_install(ctx, h.events[i])
                    ]
                    if matched:
                        findings += self._findings(q, matched)
            finally:
                con.close()
        return findings

    def _findings(self, q: SigmaQuery, events: list[HostEvent]) -> list[Finding]:
        by_host: dict[str, list[HostEvent]] = {}
        for e in events:
            by_host.setdefault(e.computer or "unknown", []).append(e)
        out = []
        for host, evs in sorted(by_host.items()):
            evidence = []
            for e in evs[:MAX_EVIDENCE]:
                shown = ", ".join(f"{k}={e.get(k)}" for k in SHOWN if e.get(k))
                evidence.append(
                    Evidence(
                        source=e.source,
                        locator=f"record {e.record_id}",
                        summary=(
                            f"Sigma '{q.title}' ({q.rule_id or 'no id'}): EventID {e.event_id} "
                            f"at {iso_utc(e.time)} on {e.computer or host}"
                            + (f": {shown}" if shown else "")
                        ),
                    )
                )
            first = evs[0]
            sample = {k: first.get(k) for k in SHOWN if first.get(k)}
            details: dict[str, str | int | float | bool | None] = {
                "rule_title": q.title,
                "rule_id": q.rule_id or None,
                "rule_file": q.file,
                "level": q.level,
                "count": len(evs),
                "event_ids": ",".join(str(i) for i in sorted({e.event_id for e in evs})),
                **{f"first_{k}": v for k, v in sample.items()},
            }
            times = [e.time for e in evs]
            out.append(
                Finding(
                    id=finding_id(self.id, host, q.rule_id or q.title),
                    detector=self.id,
                    title=f"Sigma: {q.title}",
                    stage=q.stage,
                    attack=q.attack,
                    severity=q.severity,
                    confidence=CONFIDENCE[q.severity],
                    hosts=(host,),
                    first_seen=iso_utc(min(times)),
                    last_seen=iso_utc(max(times)),
                    evidence=tuple(evidence),
                    details=dict(sorted(details.items())),
                )
            )
        return out


def _known_good_install(ctx: HostContext, ev: HostEvent) -> bool:
    if ev.event_id not in (7045, 4697):
        return False
    image = ev.get("ImagePath") or ev.get("ServiceFileName")
    return ctx.known_good.match(ev.get("ServiceName"), image) is not None
